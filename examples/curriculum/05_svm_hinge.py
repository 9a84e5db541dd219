"""5. The multiclass SVM loss: Σ_{j≠y} max(0, s_j − s_y + 1), averaged, with L2.

Run from the repository:   python examples/curriculum/05_svm_hinge.py
Y is one-hot, so s_y = Σₖ S ⊙ Y per example; the hinge's derivative is the step 1[margin > 0].
"""

import os

import numpy as np
import sympy

import symgrad.nn as nn
from symgrad.check import check
from symgrad.train.fit import fit

OUT = os.environ.get("SYMGRAD_EXAMPLES_DIR", "generated/examples")  # generated code

X = nn.data("X", 4)
Y = nn.labels("Y", 3)
W = nn.param("W", (3, 4))
b = nn.param("b", 3)

S = nn.name("S", W @ X + b)
s_y = nn.name("s_y", nn.sum(S * Y, "rows"))
margins = nn.apply(lambda s, sy, y: sympy.Max(0, s - sy + 1) * (1 - y), S, s_y, Y)
L = nn.mean(nn.sum(margins, "rows")) + nn.LAMBDA / 2 * nn.sum(W**2)
program = nn.Program(L, output=S, labels="classes", constants={nn.LAMBDA: 0.01})
print(nn.derive(program).text(), end="\n\n")
report = check(program)
print(report)
assert report.all_correct

rng = np.random.default_rng(2)
centers = rng.standard_normal((3, 4)) * 3
classes = rng.integers(0, 3, 300)
X_rows = centers[classes] + rng.standard_normal((300, 4))
result = fit(program, X_rows, classes, lr=0.1, epochs=200, folder=OUT)
accuracy = result.accuracy(X_rows, classes)
print(f"loss {result.history[0]:.4f} -> {result.history[-1]:.4f}, accuracy {accuracy:.1%}")
assert accuracy > 0.9
