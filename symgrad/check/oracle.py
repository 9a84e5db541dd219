"""Check stage, the oracle: evaluate derived graphs with plain NumPy.

Straight from the derived tensor graphs, node by node, with no Numba: the forward
pass, the loss and every gradient. It is what compiled code is tested against.
A scaled sum (the loss's ``(1/m) Σ``) scales each term before adding it, as the
compiled code does, so a mean of terms near 1e308 stays finite.
Data reach it through :func:`symgrad.model.data.to_columns`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import sympy

from symgrad.engine.graph import topological_order
from symgrad.errors import ShapeError
from symgrad.functions import NUMPY_EXTRAS, NUMPY_IMPLS
from symgrad.model.data import as_numbers, to_columns
from symgrad.model.tensor import (
    ARG,
    AddBias,
    Broadcast,
    LogSoftmax,
    Map,
    Mask,
    MatMul,
    Ones,
    PadRows,
    Ref,
    RowSlice,
    Scale,
    Softmax,
    SoftmaxCrossEntropy,
    Sum,
    SumAll,
    SumExamples,
    SumRows,
    Transpose,
    Var,
    broadcast_axis,
    entry,
    m,
)


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


def _extents(shape: tuple, scalars: dict) -> tuple:
    return tuple(int(sympy.sympify(d, strict=True).subs(scalars)) for d in shape)


def _ones(node, args, env, scalars):
    return np.ones(_extents(node.shape, scalars))


def _broadcast(node, args, env, scalars):
    a = np.asarray(args[0])
    if broadcast_axis(node.a.shape, node.shape) == "examples":
        a = a[:, None]
    return np.broadcast_to(a, _extents(node.shape, scalars))


def _log_softmax(z):
    top = z.max(axis=0, keepdims=True)
    with np.errstate(over="ignore"):
        return (z - top) - np.log(np.exp(z - top).sum(axis=0, keepdims=True))


def _pad_rows(node, args, env, scalars):
    out = np.zeros((node.rows, np.shape(args[0])[1]))
    out[node.start : node.start + np.shape(args[0])[0]] = args[0]
    return out


def _mask(node, args, env, scalars):
    if node.ident not in env:
        raise ShapeError(f"the dropout mask {node.text or node.ident} needs values")
    return np.asarray(env[node.ident], dtype=float)


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
    SumRows: lambda node, args, env, scalars: args[0].sum(axis=0, keepdims=True),
    Broadcast: _broadcast,
    LogSoftmax: lambda node, args, env, scalars: _log_softmax(args[0]),
    Mask: _mask,
    RowSlice: lambda node, args, env, scalars: args[0][node.start : node.stop],
    PadRows: _pad_rows,
    Scale: lambda node, args, env, scalars: float(node.c.subs(scalars)) * args[0],
    Sum: lambda node, args, env, scalars: sum(args[1:], args[0]),
    Ref: lambda node, args, env, scalars: args[0],
}


def _evaluate(node, args, env, scalars):
    return entry(EVALUATORS, node, "NumPy evaluation (check.oracle.EVALUATORS)")(
        node, args, env, scalars
    )


@dataclass
class Evaluation:
    """The reference values: the loss, gradients by target ident, named forward tensors by
    ident, and named backward tensors (``dZ[1]``, without their scalar factor) by ident."""

    loss: float
    gradients: dict
    forward: dict
    backward: dict = field(default_factory=dict)


def values(backprop, env: dict) -> Evaluation:
    """Evaluate a derived program on given numbers: its loss, every gradient, and the value
    of every named tensor of the forward and of the backward pass.

    Args:
        backprop: from :func:`symgrad.derive.backprop.derive`.
        env: leaf ident -> array in the lecture's layout (one column per example): data,
            labels, parameters, upstream gradients and dropout masks, one for each leaf.

    Raises:
        ShapeError: a leaf without a value, a value of the wrong shape or an unknown ident.
        DataError: a value that is not numbers.

    >>> import numpy as np
    >>> import symgrad.model.program as tp
    >>> from symgrad.derive.backprop import derive
    >>> X, w = tp.data("X", 2), tp.param("w", (1, 2))
    >>> bp = derive(tp.Program(tp.sum(tp.name("z", w @ X) ** 2)))
    >>> v = values(bp, {"X": np.array([[1.0], [2.0]]), "w": np.array([[3.0, 4.0]])})
    >>> v.loss, v.forward["z"], v.gradients["w"]
    (121.0, array([[11.]]), array([[22., 44.]]))
    """
    program = backprop.program
    env, batch = leaf_values(program, env)
    scalars = {m: batch, **program.constants()}
    grads = list(backprop.gradients.values())
    named = [f.node for f in [*backprop.forward, *backprop.backward]]
    found = evaluate([backprop.fused_loss, *grads, *named], env, scalars)
    loss, found = float(found[0]), found[1:]
    gradients = dict(zip(backprop.gradients, found[: len(grads)], strict=True))
    named, n = found[len(grads) :], len(backprop.forward)
    forward = {f.ident: v for f, v in zip(backprop.forward, named[:n], strict=True)}
    backward = {f.ident: v for f, v in zip(backprop.backward, named[n:], strict=True)}
    return Evaluation(loss, gradients, forward, backward)


def leaf_values(program, env: dict) -> tuple[dict, int]:
    """``env`` as float arrays, one per leaf of ``program``, each of its leaf's shape; and
    the batch size m, read off the first leaf with a column per example (1 when none has)."""
    leaves = {leaf.ident: leaf for leaf in program.leaves}
    unknown = sorted(set(env) - set(leaves))
    if unknown:
        raise ShapeError(
            f"no leaf is named {', '.join(unknown)} (the program's: {', '.join(leaves)})"
        )
    missing = [leaf for ident, leaf in leaves.items() if ident not in env]
    if missing:
        leaf = missing[0]
        raise ShapeError(f"{leaf.text or leaf.ident} of shape {_fmt(leaf.shape)} needs a value")
    arrays = {ident: as_numbers(ident, env[ident]).astype(float) for ident in leaves}
    batch = next(
        (
            arrays[i].shape[leaf.shape.index(m)]
            for i, leaf in leaves.items()
            if m in leaf.shape and arrays[i].ndim == len(leaf.shape)
        ),
        1,
    )
    if batch < 1:
        raise ShapeError("no examples: the data have 0 columns")
    for ident, leaf in leaves.items():
        if arrays[ident].shape != _extents(leaf.shape, {m: batch}):
            raise ShapeError(
                f"{leaf.text or ident} must have shape {_fmt(leaf.shape)} with m = {batch}, "
                f"got {arrays[ident].shape}"
            )
    return arrays, batch


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def reference(backprop, params: dict, X_rows, y) -> Evaluation:
    """Evaluate loss, gradients and forward tensors of a network's ``backprop`` with NumPy,
    on data in NumPy's layout (rows = examples) converted by :func:`to_columns`.

    Args:
        backprop: from :func:`symgrad.derive.backprop.derive` of a network.
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
    mine = {p.ident: params[p.ident] for p in net.params}
    return values(backprop, {net.X.ident: X, net.Y.ident: Y, **mine})
