"""Model stage: the losses, each one object in :data:`LOSSES`.

A :class:`Loss` knows its per-example formula (a scalar kernel of ``ARG[0]`` = the
output a and ``ARG[1]`` = the label y, summed over the outputs; the network averages
it over the m examples), the output activation it needs, the kind of :class:`Labels`
it takes (which converts and checks them, makes predictions and says whether accuracy
means anything) and its words for the notes. ``Network(..., loss="bce")`` looks the
name up here; a new loss is one entry (see ``huber`` and ``mae``).

Imports the tensor IR and NumPy only.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import sympy

from symgrad.errors import ShapeError, SymgradError
from symgrad.model.tensor import ARG, Map, SoftmaxCrossEntropy, Tensor

_A, _Y = ARG[0], ARG[1]


# ---- labels -----------------------------------------------------------------------------


class Labels:
    """Real targets, rows of k (or a vector when k = 1); predictions are the outputs."""

    #: Whether predictions are classes, so that accuracy means something.
    classify = False

    def to_columns(self, y: np.ndarray, k: int, owner: str) -> np.ndarray:
        """``y`` (one row or label per example, checked finite) as the k×m matrix Y; ``owner``
        names whose labels they are in messages (a loss's title, a program's)."""
        Y = y.reshape(y.shape[0], -1).astype(float)
        if Y.shape[1] != k:
            raise ShapeError(f"y must have {k} target(s) per example, got {Y.shape[1]}")
        return Y.T

    def predict(self, out: np.ndarray) -> np.ndarray:
        """Predictions from the outputs (m×k)."""
        return out[:, 0] if out.shape[1] == 1 else out

    def comparable(self, y: np.ndarray) -> np.ndarray:
        """``y`` in the form :meth:`predict` gives, for accuracy."""
        return y

    def sample(self, rng: np.random.Generator, m: int, k: int) -> np.ndarray:
        """Seeded labels of this kind for m examples (a vector when k = 1)."""
        y = rng.standard_normal((m, k))
        return y[:, 0] if k == 1 else y


class BinaryLabels(Labels):
    """Labels in [0, 1] (0/1 classes), one per output; predictions are 0/1."""

    classify = True

    def to_columns(self, y, k, owner):
        Y = super().to_columns(y, k, owner)
        if Y.min() < 0 or Y.max() > 1:
            raise ShapeError(f"y: {owner} labels must lie in [0, 1], got {Y.min():g}..{Y.max():g}")
        return Y

    def predict(self, out):
        return (out[:, 0] >= 0.5).astype(int) if out.shape[1] == 1 else (out >= 0.5).astype(int)

    def sample(self, rng, m, k):
        y = rng.integers(0, 2, (m, k)).astype(float)
        return y[:, 0] if k == 1 else y


class ClassLabels(Labels):
    """Integer class labels 0..k-1 (made one-hot) or one-hot rows; predictions are argmax."""

    classify = True

    def to_columns(self, y, k, owner):
        rows = y.shape[0]
        if y.ndim == 1:
            if not np.issubdtype(y.dtype, np.integer) and not np.all(y == np.round(y)):
                raise ShapeError("y must hold integer class labels 0..k-1 or one-hot rows")
            labels = y.astype(int)
            if labels.min() < 0 or labels.max() >= k:
                raise ShapeError(
                    f"y: class labels must lie in 0..{k - 1}, got {labels.min()}..{labels.max()}"
                )
            Y = np.zeros((k, rows))
            Y[labels, np.arange(rows)] = 1.0
            return Y
        if y.shape != (rows, k) or not np.allclose(y.sum(axis=1), 1.0):
            raise ShapeError(f"one-hot y must have shape ({rows}, {k}) with rows summing to 1")
        return y.T.astype(float)

    def predict(self, out):
        return out.argmax(axis=1)

    def comparable(self, y):
        return y.argmax(axis=1) if y.ndim == 2 else y

    def sample(self, rng, m, k):
        return rng.integers(0, k, m)


TARGETS, BINARY, CLASSES = Labels(), BinaryLabels(), ClassLabels()


# ---- losses -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """A loss: ``formula`` per output of one example, of ``ARG[0]`` (a) and ``ARG[1]`` (y).

    ``title`` names it in errors and labels checks, ``words`` in the notes' sentences.
    Elementwise losses take any output activation but softmax.
    """

    name: str
    title: str
    words: str
    labels: Labels
    formula: sympy.Expr | None = None

    def check_output(self, activation, classes: int, layer: int) -> None:
        """Raise SymgradError when the output layer's activation does not suit the loss."""
        if activation == "softmax":
            raise SymgradError(f"{self.title} after softmax (layer {layer}) is not supported")

    def per_example(self, a: Tensor, z: Tensor, y: Tensor) -> Tensor:
        """The per-example loss (1×m) from the output a, its pre-activation z, the labels y."""
        return Map(self.formula, (a, y))


class _BinaryCrossEntropy(Loss):
    def check_output(self, activation, classes, layer):
        if activation != "sigmoid":
            raise SymgradError(
                f"{self.title} needs a sigmoid output, but layer {layer} has {activation}"
                + (
                    f" with {classes} classes: use loss='cross_entropy'"
                    if activation == "softmax"
                    else ""
                )
            )


class _SoftmaxCrossEntropy(Loss):
    def check_output(self, activation, classes, layer):
        if activation != "softmax" or classes < 2:
            raise SymgradError(
                f"{self.title} needs a softmax output of at least 2 classes, "
                f"but layer {layer} has {activation} with {classes} outputs"
            )

    def per_example(self, a, z, y):
        return SoftmaxCrossEntropy(z, y)


def huber(delta=1) -> Loss:
    """The Huber loss: ``r²/2`` for ``|r| ≤ δ``, else ``δ(|r| − δ/2)``, with r = a − y."""
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not 0 < delta < math.inf:
        raise SymgradError(f"Huber's δ must be a finite number > 0, got {delta!r}")
    d = sympy.nsimplify(delta)
    r = _A - _Y
    formula = sympy.Piecewise((r**2 / 2, sympy.Abs(r) <= d), (d * (sympy.Abs(r) - d / 2), True))
    name = "huber" if d == 1 else f"huber_{float(d)!r}"  # every digit: one file per δ
    return Loss(name, "Huber loss", f"Huber loss (δ = {float(d):g})", TARGETS, formula)


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        _BinaryCrossEntropy(
            "bce",
            "binary cross-entropy",
            "binary cross-entropy",
            BINARY,
            -(_Y * sympy.log(_A) + (1 - _Y) * sympy.log(1 - _A)),
        ),
        _SoftmaxCrossEntropy(
            "cross_entropy", "softmax cross-entropy", "softmax cross-entropy", CLASSES
        ),
        Loss("mse", "mean squared error", "half the squared error", TARGETS, (_A - _Y) ** 2 / 2),
        huber(),
        Loss("mae", "mean absolute error", "absolute error", TARGETS, sympy.Abs(_A - _Y)),
    )
}


def get(loss) -> Loss:
    """A Loss from its name in :data:`LOSSES` or a Loss."""
    if isinstance(loss, Loss):
        return loss
    if not isinstance(loss, str) or loss not in LOSSES:
        raise SymgradError(f"unknown loss {loss!r} (known: {', '.join(LOSSES)})")
    return LOSSES[loss]
