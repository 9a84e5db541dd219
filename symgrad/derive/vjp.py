"""Derive stage: vector–Jacobian rules of the tensor nodes.

The rules are one table, :data:`TENSOR_RULES`, keyed by node class; the tensor front end
hands :func:`contribution` to the one reverse sweep (:func:`symgrad.engine.autodiff.backward`)
that also serves the scalar front end. Nothing is registered when this module is imported:
a derivation finds these rules whatever was imported before. A rule registered with
:func:`symgrad.engine.rules.register` for a node class comes first.

``g`` is the incoming adjoint; scalar factors (1/m, λ/m) are kept outside as a
:class:`~symgrad.model.tensor.Scale` so they print where a teacher puts them. A rule returns
``None`` for a contribution that is symbolically zero.

An elementwise map's local derivative is the scalar engine's gradient of its small
kernel. When the incoming adjoint is itself elementwise, the two kernels are fused
into one and simplified as a scalar expression — that is where
``(-y/a + (1-y)/(1-a)) · a(1-a)`` becomes ``a - y``.
"""

from __future__ import annotations

from collections import ChainMap

import sympy

from symgrad.engine.autodiff import grad
from symgrad.engine.rules import RULES, Rule, rule_for
from symgrad.errors import NoDerivativeRuleError
from symgrad.model.tensor import (
    ARG,
    REDUCTIONS,
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
    broadcast,
    broadcast_axis,
    elementwise,
    scale,
    split_scale,
)


def transpose(a):
    """``aᵀ``, with ``(aᵀ)ᵀ = a``."""
    return a.a if isinstance(a, Transpose) else Transpose(a)


def tensor_sum(terms: list):
    """Sum adjoint contributions, flattening nested sums; a scalar factor common to every
    term (up to a number) goes outside: ``(1/m) (A + 2 B)``, not ``(1/m) A + (2/m) B``."""
    pairs = [split_scale(t) for t in terms]
    common = pairs[0][0]
    ratios = [c / common for c, _ in pairs]
    if len(terms) > 1 and common != 1 and all(r.is_Number for r in ratios):
        inner = [scale(r, core) for r, (_, core) in zip(ratios, pairs, strict=True)]
        return scale(common, tensor_sum(inner))
    flat = []
    for t in terms:
        flat.extend(t.terms if isinstance(t, Sum) else [t])
    return flat[0] if len(flat) == 1 else Sum(tuple(flat))


def simplify_kernel(kernel: sympy.Expr) -> sympy.Expr:
    """The shortest of the kernel, its expansion and its factorization."""
    candidates = [kernel, sympy.expand(kernel), sympy.factor(kernel)]
    return min(candidates, key=sympy.count_ops)


def shift(kernel: sympy.Expr, offset: int) -> sympy.Expr:
    """Renumber a kernel's placeholders ``ARG[i] -> ARG[i + offset]``."""
    if offset == 0:
        return kernel
    used = sorted((s for s in kernel.free_symbols if s in ARG), key=ARG.index, reverse=True)
    return kernel.xreplace({s: ARG[ARG.index(s) + offset] for s in used})


def _matmul(node, g, i):
    c, core = split_scale(g)
    if i == 0:
        return scale(c, MatMul(core, transpose(node.b)))
    return scale(c, MatMul(transpose(node.a), core))


def _map(node, g, i):
    d = grad(node.kernel, ARG[i]) if ARG[i] in node.kernel.free_symbols else sympy.S.Zero
    if d == 0:
        return None
    c, core = split_scale(g)
    if isinstance(core, Ones):
        if not d.free_symbols & set(ARG):  # a constant slope (Z + 2): c·d times the ones
            return scale(c * d, core)
        kernel, args = d, node.args
    elif isinstance(core, Map):
        kernel, args = core.kernel * shift(d, len(core.args)), core.args + node.args
    else:
        kernel, args = ARG[0] * shift(d, 1), (core,) + node.args
    if c.could_extract_minus_sign():  # -(1/m) (Y - A) is (1/m) (A - Y): the sign goes inside
        c, kernel = -c, -kernel
    return scale(c, elementwise(simplify_kernel(kernel), args))


def _softmax_cross_entropy(node, g, i):
    """``A − Y`` under a summed loss (labels are probability columns), else ``(A − Y) ⊙ G``."""
    if i == 1:
        raise NoDerivativeRuleError("no derivative of SoftmaxCrossEntropy with respect to labels")
    c, core = split_scale(g)
    a = Softmax(node.z)
    if isinstance(core, Ones):
        return scale(c, elementwise(ARG[0] - ARG[1], (a, node.y)))
    upstream = broadcast(core, node.z.shape)
    return scale(c, elementwise((ARG[0] - ARG[1]) * ARG[2], (a, node.y, upstream)))


def _add_bias(node, g, i):
    if i == 0:
        return g
    c, core = split_scale(g)
    return scale(c, SumExamples(core))


def _sum(node, g, i):
    """Every reduction's adjoint: ``g`` repeated over what it summed."""
    return broadcast(g, node.a.shape)


def _transpose(node, g, i):
    c, core = split_scale(g)
    return scale(c, transpose(core))


def _pad(g, start: int, rows: int):
    c, core = split_scale(g)
    return scale(c, PadRows(core, start, rows))


def _slice(g, start: int, stop):
    c, core = split_scale(g)
    return scale(c, RowSlice(core, start, int(stop)))


def reduce_to(g, shape: tuple):
    """``g`` summed back down to ``shape``: the adjoint of a broadcast."""
    axis = broadcast_axis(shape, g.shape)
    if axis == "same":
        return g
    c, core = split_scale(g)
    if isinstance(core, Ones):  # a sum of ones is a count
        count = sympy.Mul(*g.shape) / sympy.Mul(*shape)
        return scale(c * count, Ones(tuple(shape)))
    return scale(c, REDUCTIONS[axis](core))


def _softmax(node, g, i):
    """``A ⊙ (G − Σₖ A ⊙ G)`` with A = softmax(Z), the sum over each column broadcast."""
    c, core = split_scale(g)
    a = Softmax(node.z)
    inner = broadcast(SumRows(elementwise(ARG[0] * ARG[1], (a, core))), node.shape)
    return scale(c, elementwise(ARG[1] * (ARG[0] - ARG[2]), (core, a, inner)))


def _log_softmax(node, g, i):
    """``G − softmax(Z) ⊙ Σₖ G``, the sum over each column broadcast."""
    c, core = split_scale(g)
    total = broadcast(SumRows(core), node.shape)
    return scale(c, elementwise(ARG[0] - ARG[1] * ARG[2], (core, Softmax(node.z), total)))


#: The vector–Jacobian rule of each tensor operation, keyed by node class.
TENSOR_RULES: dict[type, Rule] = {
    rule.op: rule
    for rule in (
        Rule(MatMul, vjp=_matmul),
        Rule(Transpose, vjp=_transpose),
        Rule(AddBias, vjp=_add_bias),
        Rule(Map, vjp=_map),
        Rule(SoftmaxCrossEntropy, vjp=_softmax_cross_entropy),
        Rule(SumAll, vjp=_sum),
        Rule(SumExamples, vjp=_sum),
        Rule(SumRows, vjp=_sum),
        Rule(Broadcast, vjp=lambda node, g, i: reduce_to(g, node.a.shape)),
        Rule(Softmax, vjp=_softmax),
        Rule(RowSlice, vjp=lambda node, g, i: _pad(g, node.start, int(node.a.shape[0]))),
        Rule(PadRows, vjp=lambda node, g, i: _slice(g, node.start, node.start + node.a.shape[0])),
        Rule(LogSoftmax, vjp=_log_softmax),
        Rule(Scale, vjp=lambda node, g, i: scale(node.c, g)),
        Rule(Sum, vjp=lambda node, g, i: g),
    )
}

#: Node classes without a rule, on purpose: the leaves (Var, Ones, a dropout Mask) pass no
#: adjoint on; Ref appears only in derived gradients, which are not differentiated again.
NO_VJP = frozenset({Var, Ones, Mask, Ref})


def contribution(node, g, i):
    """What ``node``'s adjoint ``g`` adds to its argument i's adjoint (None: nothing).

    A user's rule (:data:`symgrad.engine.rules.RULES`) comes before the built-in table.
    """
    return rule_for(node, ChainMap(RULES, TENSOR_RULES)).contribution(node, g, i)
