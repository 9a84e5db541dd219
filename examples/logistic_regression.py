"""Logistic regression on the breast-cancer data: its gradients, training, a gradient check.

Run from the repository:   python examples/logistic_regression.py [OUT]
OUT defaults to $SYMGRAD_EXAMPLES_DIR or generated/examples; the equations go to
OUT/logistic_regression.md and the generated training code to OUT/code/. Needs scikit-learn.
"""

import os
import sys
from pathlib import Path

from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

import symgrad
from symgrad.check import check
from symgrad.nn import derive, logistic_regression
from symgrad.train.fit import fit

OUT = "generated/examples"  # the default output folder
out = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SYMGRAD_EXAMPLES_DIR", OUT))
out.mkdir(parents=True, exist_ok=True)

# One example, step by step: the chain rule through σ and the loss gives ∂L/∂z = a - y.
steps = "z = w1*x1 + w2*x2 + b; a = sigmoid(z); L = -(y*log(a) + (1 - y)*log(1 - a))"
point = {"w1": 0.5, "w2": -1, "b": 0.1, "x1": 1, "x2": 2, "y": 1}
trace = symgrad.explain(steps, at=point, wrt=["w1", "w2", "b"])  # the parameters, not the data
print("∂L/∂z =", trace.gradients["z"][0])

# A batch of m examples: the matrix form, dZ = A - Y, dW = (1/m) dZ Xᵀ, db = (1/m) Σ dZ.
X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
network = logistic_regression(X.shape[1])
print(derive(network).text())
(out / "logistic_regression.md").write_text(derive(network).markdown(), encoding="utf-8")

result = fit(network, X, y, lr=0.5, epochs=500, folder=out / "code")
print(
    f"loss {result.history[0]:.4f} -> {result.history[-1]:.4f}, "
    f"training accuracy {100 * result.accuracy(X, y):.1f}%"
)

report = check(result.compiled, data=(X, y), params=result.params)
print(report.text())
assert report.passed and result.accuracy(X, y) > 0.95
