"""Model stage: the NumPy value of a tensor graph, node by node, with no Numba.

One table, :data:`EVALUATORS`, gives each tensor node class its NumPy value; a
:class:`Plan` orders a graph once and evaluates it on many inputs. The checks use it as
their oracle (:mod:`symgrad.check.oracle`) and training as the tier that runs while Numba
compiles (:mod:`symgrad.train.numpy_tier`), both on the derived graphs themselves.
A scaled sum (the loss's ``(1/m) Σ``) scales each term before adding it, as the
compiled code does, so a mean of terms near 1e308 stays finite.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import cache

import numpy as np
import sympy

from symgrad.engine.graph import topological_order
from symgrad.errors import ShapeError
from symgrad.functions import NUMPY_EXTRAS, NUMPY_IMPLS
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


class Plan:
    """The evaluation order of ``roots``, worked out once, for evaluating them many times
    (a training tier calls it every step).

    ``c · Σ a`` (a :class:`Scale` of a :class:`SumAll` used nowhere else) is summed as
    ``Σ c·a``; the unscaled sum (and a softmax cross-entropy only it uses) is not formed.
    """

    def __init__(self, roots: list):
        self.roots = list(roots)
        self.order = topological_order(self.roots, lambda n: n.children())
        uses = Counter(c for n in self.order for c in n.children())
        sums = {
            n.a
            for n in self.order
            if isinstance(n, Scale) and isinstance(n.a, SumAll) and uses[n.a] == 1
        } - set(self.roots)
        losses = {s.a for s in sums if isinstance(s.a, SoftmaxCrossEntropy) and uses[s.a] == 1}
        self.folded = sums | (losses - set(self.roots))
        for node in self.order:  # lambdify now, not inside the first (timed) evaluation
            if isinstance(node, Map):
                _kernel_function(node.kernel, len(node.children()))

    def __call__(self, env: dict, scalars: dict) -> list:
        """Values of the roots given leaf values ``env`` (ident -> array) and ``scalars``."""
        values: dict = {}
        for node in self.order:
            if node in self.folded:
                continue
            if isinstance(node, Scale) and node.a in self.folded:
                values[node] = _scaled_sum(number(node.c, scalars), node.a.a, values)
            else:
                args = [values[c] for c in node.children()]
                values[node] = _evaluate(node, args, env, scalars)
        return [values[r] for r in self.roots]


def evaluate(roots: list, env: dict, scalars: dict) -> list:
    """Values of ``roots`` given leaf values ``env`` (ident -> array) and ``scalars``."""
    return Plan(roots)(env, scalars)


def _scaled_sum(c: float, a, values: dict) -> float:
    """``Σ c·a`` over every entry of ``a``'s value, each term scaled before the sum."""
    if a in values:
        return np.sum(c * values[a])
    return np.sum(_softmax_cross_entropy(values[a.z], values[a.y], c))


def number(expr, scalars: dict) -> float:
    """The value of a symbolic constant (``1/m``, ``λ/m``) given its symbols' values."""
    return _number(expr, frozenset(scalars.items()))


@cache
def _number(expr, scalars: frozenset) -> float:  # subs takes 0.1 ms; a training step asks often
    return float(sympy.sympify(expr, strict=True).subs(dict(scalars)))


def extents(shape: tuple, scalars: dict) -> tuple:
    """A symbolic shape's extents as integers, given the values of its symbols."""
    return tuple(int(number(d, scalars)) for d in shape)


def _ones(node, args, env, scalars):
    return np.ones(extents(node.shape, scalars))


def _broadcast(node, args, env, scalars):
    a = np.asarray(args[0])
    if broadcast_axis(node.a.shape, node.shape) == "examples":
        a = a[:, None]
    return np.broadcast_to(a, extents(node.shape, scalars))


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
    Scale: lambda node, args, env, scalars: number(node.c, scalars) * args[0],
    Sum: lambda node, args, env, scalars: sum(args[1:], args[0]),
    Ref: lambda node, args, env, scalars: args[0],
}


def _evaluate(node, args, env, scalars):
    return entry(EVALUATORS, node, "NumPy evaluation (model.numeric.EVALUATORS)")(
        node, args, env, scalars
    )
