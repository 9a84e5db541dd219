"""The verdict on a learning rate, read from its loss curve alone (symgrad.apps.curves).

Curves written by hand, each the shape of a kind of run; the verdict must not depend on the
rate or its place in the study's list (the studies on real data are in test_study.py).
"""

import numpy as np

from symgrad.apps.curves import verdict

EPOCHS = np.arange(200)
SMOOTH = 0.1 + 0.9 * np.exp(-EPOCHS / 20)  # falls fast, then levels off at 0.1
SLOW = 1.0 - 0.002 * EPOCHS  # still falling at the end, far above 0.1
#: Jumps about in the first epochs, then falls steadily to the lowest loss.
JUMPY_START = np.r_[[1.0, 2.5, 0.7, 1.2, 0.8], 0.09 + 0.6 * np.exp(-np.arange(195) / 30)]
#: Big first steps, then stuck (dead units): 0.6365 is the loss of predicting 1/3 of ones.
SHARE = -(np.log(1 / 3) / 3 + 2 * np.log(2 / 3) / 3)
STUCK = np.r_[[0.9, 28.0, 3.0, 0.7], np.full(196, SHARE)]
#: Up and down to the end, around 0.3.
WOBBLY = 0.3 + 0.1 * np.sin(EPOCHS * 2.0) ** 2


def test_each_shape():
    best = 0.09
    assert verdict(SMOOTH, best) == "good"
    assert verdict(SLOW, best) == "too small: slow progress"
    assert verdict(JUMPY_START, best) == "good"
    assert verdict(STUCK, best) == "too large: stuck at loss 0.6365 from epoch 5"
    assert verdict(WOBBLY, best) == "too large: overshoots, the loss goes up and down"
    assert verdict(SMOOTH[:3], best, diverged_at=4) == "diverges (epoch 4)"


def test_the_lowest_loss_is_good_even_when_it_wobbles():
    assert verdict(WOBBLY, best=WOBBLY[-1]) == "good: the lowest loss, though it goes up and down"


def test_a_flat_curve_that_never_moved_is_too_small_not_stuck():
    barely = 0.7 - 1e-6 * EPOCHS
    assert verdict(barely, best=0.1) == "too small: slow progress"


def test_the_verdict_reads_the_curve_not_the_order():
    curves = [SLOW, JUMPY_START, STUCK]
    best = min(c[-1] for c in curves)
    forward = [verdict(c, best) for c in curves]
    backward = [verdict(c, best) for c in reversed(curves)]
    assert forward == backward[::-1]
    assert forward == ["too small: slow progress", "good", forward[2]]
    assert forward[2].startswith("too large: stuck")
