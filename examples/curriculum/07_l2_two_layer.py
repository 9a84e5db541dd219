"""7. The lecture's two-layer network with an L2 penalty (λ/2m) Σ‖W‖², written as a program.

Run from the repository:   python examples/curriculum/07_l2_two_layer.py
The penalty adds (λ/m) W[l] to each dW[l] and nothing to the biases.
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
W1, b1 = nn.param("W[1]", (8, 2)), nn.param("b[1]", 8)
W2, b2 = nn.param("W[2]", (1, 8)), nn.param("b[2]", 1)

Z1 = nn.name("Z[1]", W1 @ X + b1)
A1 = nn.name("A[1]", nn.apply(relu, Z1), adjoint=False)
Z2 = nn.name("Z[2]", W2 @ A1 + b2)
A2 = nn.name("A[2]", nn.apply(sigmoid, Z2), adjoint=False)
cross_entropy = -(Y * nn.log(A2) + (1 - Y) * nn.log(1 - A2))
penalty = nn.LAMBDA / (2 * nn.m) * (nn.sum(W1**2) + nn.sum(W2**2))
program = nn.Program(
    nn.mean(cross_entropy) + penalty, output=A2, labels="binary", constants={nn.LAMBDA: 0.1}
)
print(nn.derive(program).text(), end="\n\n")
report = check(program)
print(report)
assert report.all_correct

rng = np.random.default_rng(4)
X_rows = rng.standard_normal((300, 2))
labels = (X_rows[:, 0] * X_rows[:, 1] > 0).astype(float)
result = fit(program, X_rows, labels, lr=1.0, epochs=2000, optimizer="adam", folder=OUT)
accuracy = np.mean((result.predict(X_rows) > 0.5) == labels)
print(f"loss {result.history[0]:.4f} -> {result.history[-1]:.4f}, accuracy {accuracy:.1%}")
assert accuracy > 0.9
