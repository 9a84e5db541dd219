"""9. Inverted dropout in a two-layer network, trained.

Run from the repository:   python examples/curriculum/09_dropout.py
The mask M is drawn every training step (entries 1/keep with probability keep, else 0) and
is all ones at prediction time; the backward pass multiplies by the same mask.
"""

import os

import numpy as np

import symgrad.nn as nn
from symgrad import relu, sigmoid
from symgrad.check import check
from symgrad.train.fit import fit

OUT = os.environ.get("SYMGRAD_EXAMPLES_DIR", "generated/examples")  # generated code

X = nn.data("X", 2)
Y = nn.labels("Y")
W1, b1 = nn.param("W[1]", (16, 2)), nn.param("b[1]", 16)
W2, b2 = nn.param("W[2]", (1, 16)), nn.param("b[2]", 1)

Z1 = nn.name("Z[1]", W1 @ X + b1)
A1 = nn.name("A[1]", nn.dropout(nn.apply(relu, Z1), keep=0.8, text="M[1]"), adjoint=False)
Z2 = nn.name("Z[2]", W2 @ A1 + b2)
A2 = nn.name("A[2]", nn.apply(sigmoid, Z2), adjoint=False)
loss = nn.mean(-(Y * nn.log(A2) + (1 - Y) * nn.log(1 - A2)))
program = nn.Program(loss, output=A2, labels="binary", title="two layers with dropout")
print(nn.derive(program).text(), end="\n\n")
report = check(program)  # with one fixed draw of the mask
print(report)
assert report.all_correct

rng = np.random.default_rng(5)
X_rows = rng.standard_normal((300, 2))
labels = (X_rows[:, 0] ** 2 + X_rows[:, 1] ** 2 < 1.4).astype(float)
result = fit(program, X_rows, labels, lr=0.05, epochs=1000, optimizer="adam", folder=OUT)
accuracy = np.mean((result.predict(X_rows) > 0.5) == labels)
print(f"loss {result.history[0]:.4f} -> {result.history[-1]:.4f}, accuracy {accuracy:.1%}")
assert accuracy > 0.85
