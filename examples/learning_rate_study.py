"""The learning rate: gradient descent on a parabola, and one network trained with four rates.

Run from the repository:   python examples/learning_rate_study.py [OUT]
OUT defaults to $SYMGRAD_EXAMPLES_DIR or generated/examples. Writes OUT/descent_1d.png/.svg
(the steps of α = 0.1 and α = 0.9 on L(w) = (w - 3)² + 1) and OUT/learning_rate_study.png/.svg
(loss curves of a 2-16-1 network on two moons, the same start, α = 0.01, 1, 10 and 50).
Needs matplotlib and scikit-learn.
"""

import os
import sys
from pathlib import Path

import sympy
from sklearn.datasets import make_moons

from symgrad.apps.study import descent_picture, learning_rate_study
from symgrad.nn import Network, mlp

OUT = "generated/examples"  # the default output folder
out = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SYMGRAD_EXAMPLES_DIR", OUT))

# 1-D: w ← w − α L'(w), with L'(w) = 2w − 6 derived by symgrad.grad.
w = sympy.Symbol("w")
descent = descent_picture((w - 3) ** 2 + 1, w, rates=(0.1, 0.9), folder=out, name="descent_1d")
for rate, path in descent.paths.items():
    print(
        f"α = {rate:g}: w = {', '.join(f'{x:.2f}' for x in path[:6])}, ... "
        f"({descent.behaviour(rate)})"
    )

# A network: too small, good, too large, divergent.
X, y = make_moons(400, noise=0.2, random_state=0)
network = Network(mlp([2, 16, 1], hidden="relu", output="sigmoid"), loss="bce")
study = learning_rate_study(network, X, y, rates=(0.01, 1, 10, 50), epochs=500, folder=out)
print(study.markdown())
print("wrote", ", ".join(str(p) for p in descent.files + study.files))
assert study.runs[-1].diverged and not study.runs[1].diverged
