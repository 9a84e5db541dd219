"""4. Softmax cross-entropy: dZ = A − Y, once fused and once through log-softmax.

Run from the repository:   python examples/curriculum/04_softmax_cross_entropy.py
Written with the fused loss the gradient is A − Y at once; written as −Σ Y ⊙ log softmax(Z)
it is Y's column sum times A minus Y, which is A − Y for one-hot labels.
"""

import os

import numpy as np

import symgrad.nn as nn
from symgrad.check import check
from symgrad.train.fit import fit

OUT = os.environ.get("SYMGRAD_EXAMPLES_DIR", "generated/examples")  # generated code

X = nn.data("X", 4)
Y = nn.labels("Y", 3)
W = nn.param("W", (3, 4))
b = nn.param("b", 3)
Z = nn.name("Z", W @ X + b)
A = nn.name("A", nn.softmax(Z), adjoint=False)

fused = nn.Program(nn.mean(nn.softmax_cross_entropy(Z, Y)), output=A, labels="classes")
print(nn.derive(fused).text(), end="\n\n")
by_hand = nn.Program(-nn.mean(nn.sum(Y * nn.log_softmax(Z), "rows")), output=A, labels="classes")
print(nn.derive(by_hand).text(), end="\n\n")
for program in (fused, by_hand):
    report = check(program)
    print(report)
    assert report.all_correct

rng = np.random.default_rng(1)
centers = 4 * np.eye(3, 4)  # one class per axis
classes = rng.integers(0, 3, 300)
X_rows = centers[classes] + rng.standard_normal((300, 4))
result = fit(fused, X_rows, classes, lr=0.5, epochs=200, folder=OUT)
accuracy = result.accuracy(X_rows, classes)
print(f"loss {result.history[0]:.4f} -> {result.history[-1]:.4f}, accuracy {accuracy:.1%}")
assert accuracy > 0.9
