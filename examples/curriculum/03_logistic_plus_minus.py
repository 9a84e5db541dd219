"""3. Logistic regression with labels y ∈ {−1, +1}: L = mean log(1 + exp(−y (wᵀx + b))).

Run from the repository:   python examples/curriculum/03_logistic_plus_minus.py
The gradient of each example's loss is −y σ(−y s) times the input: the printed form says so.
"""

import os

import numpy as np
import sympy

import symgrad.nn as nn
from symgrad.check import check
from symgrad.train.fit import fit

OUT = os.environ.get("SYMGRAD_EXAMPLES_DIR", "generated/examples")  # generated code

X = nn.data("X", 2)
y = nn.labels("y")
w = nn.param("w", (1, 2))
b = nn.param("b", 1)

s = nn.name("s", w @ X + b, adjoint=False)
L = nn.mean(nn.apply(lambda s, y: sympy.log(1 + sympy.exp(-y * s)), s, y))
program = nn.Program(L, output=s, title="logistic regression, labels ±1")
print(nn.derive(program).text(), end="\n\n")
report = check(program)
print(report)
assert report.all_correct

rng = np.random.default_rng(0)
X_rows = rng.standard_normal((200, 2))
labels = np.where(X_rows @ [2.0, -1.0] + 0.5 > 0, 1.0, -1.0)
result = fit(program, X_rows, labels, lr=0.5, epochs=300, folder=OUT)
accuracy = np.mean(np.sign(result.predict(X_rows)) == labels)
print(f"loss {result.history[0]:.4f} -> {result.history[-1]:.4f}, accuracy {accuracy:.1%}")
assert accuracy > 0.95
