"""Model stage: what a network is fed.

Data from NumPy's usual layout (rows = examples, labels a vector) to the lecture's
(X of n×m, Y of k×m), checked before training with errors that name the bad argument:
examples present, numbers only, no NaN or inf (named by row and column); the
parameters a network or any training program starts from; and its L2 strength λ.
"""

from __future__ import annotations

import numbers

import numpy as np

from symgrad.errors import DataError, ShapeError
from symgrad.model.network import Network
from symgrad.model.program import LAMBDA


def _where(index) -> str:
    """``row 3, column 1`` (from 0) for an index."""
    names = ("row", "column")
    return ", ".join(f"{names[min(a, 1)]} {int(i)}" for a, i in enumerate(index))


def as_numbers(name: str, value) -> np.ndarray:
    """``value`` as a NumPy array of numbers (bool, int or float).

    Raises:
        DataError: text, complex numbers or other objects, naming the first one.
    """
    a = np.asarray(value)
    if a.dtype.kind in "biuf":
        return a
    if a.size == 0:
        raise DataError(f"{name} must hold numbers, got an empty array of {a.dtype}")
    if a.dtype.kind == "O":
        bad = [i for i, v in np.ndenumerate(a) if not isinstance(v, numbers.Real)]
        if not bad:
            return a.astype(float)
        index, kind = bad[0], ""
    else:  # text (even "1.5") or complex: name the first value that is not a number's text
        bad = (i for i, v in np.ndenumerate(a) if not _number_text(v))
        index, kind = next(bad, (0,) * a.ndim), "text " if a.dtype.kind in "SU" else ""
    first = a[index].item() if isinstance(a[index], np.generic) else a[index]
    where = f" at {_where(index)} (counting from 0)" if index else ""
    raise DataError(f"{name} must hold numbers, got {kind}{first!r}{where}")


def _number_text(value) -> bool:
    if not isinstance(value, np.str_ | np.bytes_):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def check_finite(name: str, a: np.ndarray) -> None:
    """Raise DataError naming the first few positions of NaN or inf in ``a``."""
    bad = ~np.isfinite(a)
    if not bad.any():
        return
    flat = np.flatnonzero(bad)
    shown = "; ".join(f"{_where(np.unravel_index(i, a.shape))} ({a.flat[i]})" for i in flat[:3])
    more = f" and {len(flat) - 3} more" if len(flat) > 3 else ""
    raise DataError(f"{name} has NaN or inf at {shown}{more} (counting from 0)")


def check_rows(network, X_rows) -> np.ndarray:
    """``X_rows`` (rows = examples) as a float array, checked: shape, examples, finite.

    Raises:
        ShapeError: the wrong shape; DataError: no rows, NaN or inf, not numbers.
    """
    X_rows = as_numbers("X", X_rows).astype(float, copy=False)
    n = int(network.X.shape[0])
    if X_rows.shape[:1] == (0,):
        raise DataError("no examples: X has 0 rows")
    if X_rows.ndim != 2 or X_rows.shape[1] != n:
        raise ShapeError(f"X must have shape (m, {n}) (rows = examples), got {X_rows.shape}")
    check_finite("X", X_rows)
    return X_rows


def to_columns(network, X_rows, y) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` in the lecture's layout from rows = examples and a label vector.

    The loss's :class:`~symgrad.model.losses.Labels` convert and check the labels: binary
    cross-entropy takes labels in [0, 1]; softmax cross-entropy takes integer class labels
    0..k-1 (made one-hot) or one-hot rows; MSE takes a vector (k = 1) or rows of k targets.

    Raises:
        ShapeError: X or y of the wrong shape, labels out of range.
        DataError: no examples, NaN or inf in X or y, labels that are not numbers.
    """
    X_rows = check_rows(network, X_rows)
    rows = X_rows.shape[0]
    y = as_numbers("y", y)
    if y.ndim == 0:
        raise ShapeError(f"y must hold one label per example ({rows}), got a scalar")
    if y.shape[0] != rows:
        raise ShapeError(f"y has {y.shape[0]} labels for {rows} examples in X")
    check_finite("y", y)
    k = int(network.Y.shape[0])
    return X_rows.T, network.labels.to_columns(y, k, network.labels_owner)


def l2_strength(program) -> float:
    """The value of λ (:data:`~symgrad.model.program.LAMBDA`) the program is given, else 0."""
    return float(program.constants().get(LAMBDA, 0.0))


def init_params(network, *, seed: int = 0, dtype=np.float64) -> dict:
    """Scaled random initialization: W[l] ~ N(0, gain/n_in), b = 0; the gain is the
    activation's (He's 2 for ReLU-like functions, else 1). A program's parameters start
    as their ``init`` says: ``normal`` N(0, 1/columns) (matrices' default), ``zeros``
    (vectors' default) or ``ones``."""
    rng = np.random.default_rng(seed)
    if not isinstance(network, Network):
        return {p.ident: _start(p, rng).astype(dtype) for p in network.params}
    params = {}
    for l, layer in enumerate(network.layers, start=1):
        W, b = network.layer_params(l)
        gain = layer.init_gain()
        params[W.ident] = (
            rng.standard_normal((layer.n_out, layer.n_in)) * np.sqrt(gain / layer.n_in)
        ).astype(dtype)
        params[b.ident] = np.zeros(layer.n_out, dtype=dtype)
    return params


def _start(p, rng: np.random.Generator) -> np.ndarray:
    shape = tuple(int(d) for d in p.shape)
    init = p.init or ("normal" if len(shape) == 2 else "zeros")
    if init == "normal":
        return rng.standard_normal(shape) * np.sqrt(1.0 / shape[-1])
    return np.ones(shape) if init == "ones" else np.zeros(shape)
