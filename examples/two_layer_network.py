"""A network with one hidden layer (ReLU, then σ, binary cross-entropy) on two moons.

Run from the repository:   python examples/two_layer_network.py [OUT]
OUT defaults to $SYMGRAD_EXAMPLES_DIR or generated/examples; the lecture notes (forward and
backward equations, a sentence per step) go to OUT/two_layer_network.md and the generated
training code to OUT/code/. Needs scikit-learn.
"""

import os
import sys
from pathlib import Path

from sklearn.datasets import make_moons

from symgrad.nn import Network, derive, mlp
from symgrad.show.notes import write_notes
from symgrad.train.fit import fit

OUT = "generated/examples"  # the default output folder
out = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SYMGRAD_EXAMPLES_DIR", OUT))

# Z[1] = W[1] X + b[1], A[1] = ReLU(Z[1]), Z[2] = W[2] A[1] + b[2], A[2] = σ(Z[2])
network = Network(mlp([2, 16, 1], hidden="relu", output="sigmoid"), loss="bce")
backprop = derive(network)
print(backprop.text())  # dZ[2] = A[2] - Y, dW[2] = (1/m) dZ[2] A[1]ᵀ, ...
print(f"wrote {write_notes(backprop, out / 'two_layer_network.md')}")

X, y = make_moons(400, noise=0.2, random_state=0)
result = fit(network, X, y, lr=1.0, epochs=3000, folder=out / "code")
accuracy = result.accuracy(X, y)
print(
    f"loss {result.history[0]:.4f} -> {result.history[-1]:.4f}, "
    f"training accuracy {100 * accuracy:.1f}%"
)
print(f"the training code: {result.compiled.path}")
assert accuracy > 0.9
