"""11. A vanilla RNN, h_t = tanh(W_hh h_{t−1} + W_xh x_t + b), unrolled over 4 steps with
shared weights, a squared loss on the last state, trained.

Run from the repository:   python examples/curriculum/11_rnn.py
Each example's 4 inputs of 2 features are one row of X (8 columns): x_t is rows 2t−2..2t of
the lecture's X, and h_0 = 0. Each shared weight's gradient is a sum over the time steps,
printed as that sum.
"""

import os

import numpy as np

import symgrad.nn as nn
from symgrad.check import check
from symgrad.train.fit import fit

OUT = os.environ.get("SYMGRAD_EXAMPLES_DIR", "generated/examples")  # generated code

STEPS, FEATURES, STATE = 4, 2, 3
X = nn.data("X", STEPS * FEATURES)
y = nn.labels("y", STATE)
W_hh = nn.param("W_hh", (STATE, STATE))
W_xh = nn.param("W_xh", (STATE, FEATURES))
b = nn.param("b", STATE)

h = None  # h_0 = 0
for t in range(1, STEPS + 1):
    x = nn.name(f"x_{t}", X[FEATURES * (t - 1) : FEATURES * t], adjoint=False)
    a = nn.name(f"a_{t}", W_xh @ x + b if h is None else W_hh @ h + W_xh @ x + b)
    h = nn.name(f"h_{t}", nn.tanh(a))
program = nn.Program(nn.mean(nn.sum((h - y) ** 2, "rows") / 2), output=h, title="RNN, 4 steps")
print(nn.derive(program).text(), end="\n\n")
report = check(program)
print(report)
assert report.all_correct

# the targets: the last state of a teacher RNN of the same shape
rng = np.random.default_rng(6)
teacher = {k: rng.standard_normal(s) for k, s in (("hh", (3, 3)), ("xh", (3, 2)), ("b", 3))}
X_rows = rng.standard_normal((400, STEPS * FEATURES))
state = np.zeros((400, STATE))
for t in range(STEPS):
    x_t = X_rows[:, FEATURES * t : FEATURES * (t + 1)]
    state = np.tanh(state @ teacher["hh"].T + x_t @ teacher["xh"].T + teacher["b"])
result = fit(program, X_rows, state, lr=0.05, epochs=500, optimizer="adam", folder=OUT)
print(f"loss {result.history[0]:.4f} -> {result.history[-1]:.4f}")
assert result.history[-1] < 0.1 * result.history[0]
