"""Check stage's oracle, tensor front end: evaluate derived graphs with plain NumPy.

Straight from the derived tensor graphs, node by node, with no Numba: the forward
pass, the loss and every gradient. It is what compiled code is tested against.
A scaled sum (the loss's ``(1/m) Σ``) scales each term before adding it, as the
compiled code does, so a mean of terms near 1e308 stays finite.
Also converts data from NumPy's usual layout (rows = examples, labels a vector) to
the lecture's (X of n×m, Y of k×m) with checks that name the bad argument, and
checks data before training: examples present, numbers only, no NaN or inf (named by
row and column).
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy

from symgrad.errors import DataError, ShapeError
from symgrad.functions import NUMPY_EXTRAS, NUMPY_IMPLS
from symgrad.graph import topological_order
from symgrad.nn.tensor import (
    ARG,
    AddBias,
    Map,
    MatMul,
    Ones,
    Ref,
    Scale,
    Softmax,
    SoftmaxCrossEntropy,
    Sum,
    SumAll,
    SumExamples,
    Transpose,
    Var,
    entry,
    m,
)


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
    n = network.layers[0].n_in
    if X_rows.shape[:1] == (0,):
        raise DataError("no examples: X has 0 rows")
    if X_rows.ndim != 2 or X_rows.shape[1] != n:
        raise ShapeError(f"X must have shape (m, {n}) (rows = examples), got {X_rows.shape}")
    check_finite("X", X_rows)
    return X_rows


def to_columns(network, X_rows, y) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` in the lecture's layout from rows = examples and a label vector.

    The loss's :class:`~symgrad.nn.losses.Labels` convert and check the labels: binary
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
    return X_rows.T, network.loss_fn.labels.to_columns(y, network.classes, network.loss_fn)


@cache
def _kernel_function(kernel: sympy.Expr, arity: int):
    return sympy.lambdify(ARG[:arity], kernel, modules=[NUMPY_IMPLS, NUMPY_EXTRAS, "numpy"])


def _softmax(z):
    with np.errstate(over="ignore"):  # z − max below −1.8e308 is −inf, its exp 0
        e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _softmax_cross_entropy(z, y, scale=1.0):
    """``scale`` · −Σ_k y_k log softmax(z)_k per example (1×m), as ``(top − z) + log Σ``.

    A zero label adds nothing (never 0·inf); where ``top − z`` overflows, its scaled form
    ``top·scale − z·scale`` is used instead."""
    top = z.max(axis=0, keepdims=True)
    with np.errstate(over="ignore"):
        log_total = np.log(np.exp(z - top).sum(axis=0, keepdims=True))
        gap = top - z
        wide = np.isinf(gap) & np.isfinite(z)
        gap = np.where(wide, top * scale - z * scale, gap * scale)
    terms = np.zeros(np.broadcast_shapes(z.shape, y.shape))
    np.multiply(y, gap + log_total * scale, out=terms, where=y != 0)
    return terms.sum(axis=0, keepdims=True)


def evaluate(roots: list, env: dict, scalars: dict) -> list:
    """Values of ``roots`` given leaf values ``env`` (ident -> array) and ``scalars``.

    ``c · Σ a`` (a :class:`Scale` of a :class:`SumAll` used nowhere else) is summed as
    ``Σ c·a``; the unscaled sum (and a softmax cross-entropy only it uses) is not formed.
    """
    order = topological_order(roots, lambda n: n.children())
    uses = Counter(c for n in order for c in n.children())
    sums = {
        n.a for n in order if isinstance(n, Scale) and isinstance(n.a, SumAll) and uses[n.a] == 1
    } - set(roots)
    losses = {s.a for s in sums if isinstance(s.a, SoftmaxCrossEntropy) and uses[s.a] == 1}
    folded = sums | (losses - set(roots))
    values: dict = {}
    for node in order:
        if node in folded:
            continue
        if isinstance(node, Scale) and node.a in folded:
            values[node] = _scaled_sum(float(node.c.subs(scalars)), node.a.a, values)
        else:
            args = [values[c] for c in node.children()]
            values[node] = _evaluate(node, args, env, scalars)
    return [values[r] for r in roots]


def _scaled_sum(c: float, a, values: dict) -> float:
    """``Σ c·a`` over every entry of ``a``'s value, each term scaled before the sum."""
    if a in values:
        return np.sum(c * values[a])
    return np.sum(_softmax_cross_entropy(values[a.z], values[a.y], c))


def _ones(node, args, env, scalars):
    return np.ones(tuple(int(sympy.sympify(d, strict=True).subs(scalars)) for d in node.shape))


def _map(node, args, env, scalars):
    return _kernel_function(node.kernel, len(args))(*args) + np.zeros_like(args[0])


#: The NumPy value of each tensor node class from its children's values ``args``, the leaf
#: values ``env`` (ident -> array) and ``scalars`` (m, λ): ``(node, args, env, scalars)``.
EVALUATORS: dict[type, Callable] = {
    Var: lambda node, args, env, scalars: env[node.ident],
    Ones: _ones,
    MatMul: lambda node, args, env, scalars: args[0] @ args[1],
    Transpose: lambda node, args, env, scalars: args[0].T,
    AddBias: lambda node, args, env, scalars: args[0] + args[1][:, None],
    Map: _map,
    Softmax: lambda node, args, env, scalars: _softmax(args[0]),
    SoftmaxCrossEntropy: lambda node, args, env, scalars: _softmax_cross_entropy(*args),
    SumAll: lambda node, args, env, scalars: np.sum(args[0]),
    SumExamples: lambda node, args, env, scalars: args[0].sum(axis=1),
    Scale: lambda node, args, env, scalars: float(node.c.subs(scalars)) * args[0],
    Sum: lambda node, args, env, scalars: sum(args[1:], args[0]),
    Ref: lambda node, args, env, scalars: args[0],
}


def _evaluate(node, args, env, scalars):
    return entry(EVALUATORS, node, "NumPy evaluation (reference.EVALUATORS)")(
        node, args, env, scalars
    )


@dataclass
class Evaluation:
    """The reference values: loss, gradients by parameter ident, forward tensors by ident."""

    loss: float
    gradients: dict
    forward: dict


def reference(backprop, params: dict, X_rows, y) -> Evaluation:
    """Evaluate loss, gradients and forward tensors of ``backprop`` with NumPy.

    Args:
        backprop: from :func:`symgrad.nn.backprop.derive`.
        params: ident (``W1``, ``b1``, ...) -> array of that parameter's shape.
        X_rows: data, one row per example; y: labels (see :func:`to_columns`).
    """
    net = backprop.network
    X, Y = to_columns(net, X_rows, y)
    for p in net.params:
        want = tuple(int(d) for d in p.shape)
        if p.ident not in params:
            raise ShapeError(f"parameter {p.ident} of shape {want} is missing from params")
        got = np.shape(params[p.ident])
        if got != want:
            raise ShapeError(f"parameter {p.ident} must have shape {want}, got {got}")
    env = {"X": X, "Y": Y, **{k: np.asarray(v, dtype=float) for k, v in params.items()}}
    scalars = {m: X.shape[1], **net.constants()}
    grads = list(backprop.gradients.values())
    forward = [f.node for f in backprop.forward]
    values = evaluate([backprop.fused_loss, *grads, *forward], env, scalars)
    loss, values = float(values[0]), values[1:]
    return Evaluation(
        loss,
        dict(zip(backprop.gradients, values[: len(grads)], strict=False)),
        {f.ident: v for f, v in zip(backprop.forward, values[len(grads) :], strict=False)},
    )


def init_params(network, *, seed: int = 0, dtype=np.float64) -> dict:
    """Scaled random initialization: W[l] ~ N(0, gain/n_in), b = 0; the gain is the
    activation's (He's 2 for ReLU-like functions, else 1)."""
    rng = np.random.default_rng(seed)
    params = {}
    for l, layer in enumerate(network.layers, start=1):
        W, b = network.layer_params(l)
        gain = layer.init_gain()
        params[W.ident] = (
            rng.standard_normal((layer.n_out, layer.n_in)) * np.sqrt(gain / layer.n_in)
        ).astype(dtype)
        params[b.ident] = np.zeros(layer.n_out, dtype=dtype)
    return params
