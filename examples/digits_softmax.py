"""A softmax network on scikit-learn's bundled digits (8×8 images), tested on held-out images.

Run from the repository:   python examples/digits_softmax.py [OUT]
OUT defaults to $SYMGRAD_EXAMPLES_DIR or generated/examples; the generated training code goes
to OUT/code/. Needs scikit-learn (the digits come with it: no download). Asserts a test
accuracy of at least 95%.
"""

import os
import sys
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from symgrad.nn import Network, derive, mlp
from symgrad.train.fit import fit

OUT = "generated/examples"  # the default output folder
out = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SYMGRAD_EXAMPLES_DIR", OUT))

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixel intensities 0..16 -> 0..1
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# 64 pixels -> 32 ReLU units -> 10 classes; softmax + cross-entropy fuse into dZ[2] = A[2] - Y.
network = Network(mlp([64, 32, 10], hidden="relu", output="softmax"), loss="cross_entropy")
print(derive(network).text())

options = dict(optimizer="momentum", lr=0.1, epochs=40, batch_size=32, seed=0)
result = fit(network, X_train, y_train, folder=out / "code", **options)
train_accuracy = result.accuracy(X_train, y_train)
test_accuracy = result.accuracy(X_test, y_test)
print(f"{len(X_train)} training images, {len(X_test)} test images")
print(f"loss {result.history[0]:.4f} -> {result.history[-1]:.4f}")
print(f"training accuracy {100 * train_accuracy:.2f}%")
print(f"test accuracy {100 * test_accuracy:.2f}%")
assert test_accuracy >= 0.95, f"test accuracy {test_accuracy:.4f} is below 95%"
