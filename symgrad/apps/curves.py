"""Apps stage, beside the study: a verdict on one learning rate from its loss curve.

Takes a run's epoch losses (and where it diverged) and the lowest final loss of the study's
runs; gives ``good``, ``too small``, ``too large`` (overshooting, or stuck on a plateau after
big first steps) or ``diverges``. Only the curve is read, never the rate or its place in the
list: a rate that reaches the lowest loss is good though its first epochs jump about, and one
that stalls high (dead ReLUs, saturated σ: the loss of predicting the class shares) is too
large though its curve is flat. Imports NumPy only.
"""

from __future__ import annotations

import numpy as np

#: A final loss within this factor of the study's lowest counts as reaching it.
NEAR_BEST = 2.0
#: Relative change below which a stretch of the curve counts as flat.
FLAT = 1e-3
#: In the last half, rises worth this fraction of the falls: the loss goes up and down.
WOBBLE = 0.5


def verdict(history, best: float, diverged_at: int | None = None) -> str:
    """What a run's loss curve says about its learning rate.

    Args:
        history: the epoch losses (before a divergence).
        best: the lowest final loss among the study's runs that did not diverge.
        diverged_at: the epoch training diverged at, or None.

    Returns:
        ``diverges (epoch n)``, ``too large: overshoots, …`` (the loss keeps going up and
        down to the end, and ends above the lowest), ``too large: stuck at …`` (big early
        steps, then flat far above the lowest), ``too small: slow progress`` (far above the
        lowest, not stuck) or ``good`` (within ``NEAR_BEST`` of the lowest).

    >>> verdict([1.0, 0.5, 0.3, 0.25, 0.24, 0.239], best=0.239)
    'good'
    >>> verdict([1.0, 0.9, 0.8, 0.7, 0.6, 0.55], best=0.239)
    'too small: slow progress'
    >>> verdict([1.0, 9.0, 0.64, 0.64, 0.64, 0.64], best=0.239)
    'too large: stuck at loss 0.64 from epoch 3'
    """
    if diverged_at is not None:
        return f"diverges (epoch {diverged_at})"
    h = np.asarray(history, dtype=float)
    if len(h) < 2:
        return "good" if len(h) and h[-1] <= NEAR_BEST * best else "too small: slow progress"
    final = h[-1]
    late = np.diff(h[len(h) // 2 :])
    rises, falls = late[late > 0].sum(), -late[late < 0].sum()
    if rises > WOBBLE * falls and rises > FLAT * final:
        if final > best * (1 + FLAT):
            return "too large: overshoots, the loss goes up and down"
        return "good: the lowest loss, though it goes up and down"
    if final <= NEAR_BEST * best:
        return "good"
    off = np.abs(h - final) > FLAT * max(final, 1e-12)
    settled = int(np.flatnonzero(off)[-1]) + 1 if off.any() else 0  # index from which flat
    moved = np.abs(np.diff(h[: settled + 1])).sum()  # big early steps, then nothing
    if settled <= len(h) // 2 and moved > 0.1 * abs(h[0]):
        return f"too large: stuck at loss {final:.4g} from epoch {settled + 1}"
    return "too small: slow progress"
