"""6. Linear regression with MSE, MAE and Huber loss: the closed forms of the gradients.

Run from the repository:   python examples/curriculum/06_linear_regression.py
With r = w X + b − y: MSE gives (1/m) r Xᵀ, MAE (1/m) sign(r) Xᵀ, Huber clips r to [−δ, δ].
"""

import os

import numpy as np
import sympy

import symgrad.nn as nn
from symgrad.check import check
from symgrad.train.fit import fit

OUT = os.environ.get("SYMGRAD_EXAMPLES_DIR", "generated/examples")  # generated code

LOSSES = {
    "MSE": lambda a, y: (a - y) ** 2 / 2,
    "MAE": lambda a, y: sympy.Abs(a - y),
    "Huber": lambda a, y: sympy.Piecewise(
        ((a - y) ** 2 / 2, sympy.Abs(a - y) <= 1), (sympy.Abs(a - y) - sympy.Rational(1, 2), True)
    ),
}

X = nn.data("X", 3)
y = nn.labels("y")
w = nn.param("w", (1, 3))
b = nn.param("b", 1)
rng = np.random.default_rng(3)
X_rows = rng.standard_normal((200, 3))
targets = X_rows @ [1.0, -2.0, 0.5] + 0.3 + 0.1 * rng.standard_normal(200)

for title, loss in LOSSES.items():
    a = nn.name("a", w @ X + b, adjoint=False)
    program = nn.Program(nn.mean(nn.apply(loss, a, y)), output=a, title=f"linear, {title}")
    print(f"{title}\n" + nn.derive(program).text(), end="\n\n")
    report = check(program)
    print(report)
    assert report.all_correct
    result = fit(program, X_rows, targets, lr=0.1, epochs=500, folder=OUT)
    error = np.abs(result.predict(X_rows) - targets).mean()
    print(f"{title}: loss {result.history[0]:.4f} -> {result.history[-1]:.4f}, |error| {error:.3f}")
    assert error < 0.2
