"""Codegen stage: a tiny network's one-example training step as straight-line code.

In per-example SGD a step of a small network is a few dozen floating-point operations;
loops over 3×1 buffers cost more than the arithmetic. For networks with few weights the
fused, stable loss graph and the derived gradient graphs (the backprop equations that
print, not a second derivation) are evaluated on symbols at m = 1 through one table,
:data:`SCALARIZERS`, CSE'd together, and printed as straight-line code: what one would
write by hand. Larger networks, and softmax outputs (whose stable form needs a running
maximum), keep the loop version.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy

from symgrad.codegen.kernels import KernelPrinter, stable_form
from symgrad.engine.graph import topological_order
from symgrad.model.program import LAMBDA
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
    entry,
    m,
)

#: Networks with at most this many weights and biases get the straight-line step.
MAX_SCALARS = 128


def _symbols(var: Var) -> sympy.Matrix:
    if len(var.shape) == 1:
        return sympy.Matrix(*_one(var.shape), 1, lambda i, _: sympy.Symbol(f"{var.ident}_{i}"))
    rows, cols = _one(var.shape)
    return sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(f"{var.ident}_{i}_{j}"))


def _one(shape) -> list[int]:
    """A shape's extents at m = 1."""
    return [int(sympy.sympify(d, strict=True).subs(m, 1)) for d in shape]


def _add_bias(node, args, env):
    z, b = args
    return sympy.Matrix(z.rows, z.cols, lambda i, j: z[i, j] + b[i, 0])


def _broadcast(node, value):
    """One example's broadcast: a scalar or a 1×1 row repeated down the rows; a vector
    (already one column) stays."""
    rows = _one(node.shape)[0] if node.shape else 1
    if isinstance(value, sympy.MatrixBase):
        return value if value.rows == rows else sympy.Matrix(rows, 1, lambda i, j: value[0, 0])
    return sympy.Matrix(*_one(node.shape), lambda i, j: value) if node.shape else value


def _map(node, args, env):
    if node.shape == ():  # a formula of scalars, such as two loss terms added
        return node.kernel.xreplace(dict(zip(ARG, args, strict=False)))
    first = args[0]
    return sympy.Matrix(
        first.rows,
        first.cols,
        lambda i, j: node.kernel.xreplace({ARG[k]: a[i, j] for k, a in enumerate(args)}),
    )


#: Each tensor node class's value for one example, from its children's values ``args`` and
#: the leaves' symbols ``env``: a Matrix (one column: the example) or a scalar.
SCALARIZERS: dict[type, Callable] = {
    Var: lambda node, args, env: env[node.ident],
    MatMul: lambda node, args, env: args[0] * args[1],
    Transpose: lambda node, args, env: args[0].T,
    AddBias: _add_bias,
    Map: _map,
    SumAll: lambda node, args, env: sum(args[0], sympy.S.Zero),
    Scale: lambda node, args, env: (
        node.c.xreplace({m: sympy.S.One, LAMBDA: sympy.Symbol("lam")}) * args[0]
    ),
    SumExamples: lambda node, args, env: args[0] * sympy.ones(args[0].cols, 1),
    Sum: lambda node, args, env: sum(args[1:], args[0]),
    Ones: lambda node, args, env: sympy.ones(*_one(node.shape)) if node.shape else sympy.S.One,
    Ref: lambda node, args, env: args[0],
    SumRows: lambda node, args, env: sympy.ones(1, args[0].rows) * args[0],
    Broadcast: lambda node, args, env: _broadcast(node, args[0]),
    RowSlice: lambda node, args, env: args[0][node.start : node.stop, :],
    PadRows: lambda node, args, env: sympy.zeros(node.start, args[0].cols).col_join(
        args[0].col_join(sympy.zeros(node.rows - node.start - args[0].rows, args[0].cols))
    ),
}

#: Node classes not scalarized, on purpose: a softmax's stable form needs a running maximum
#: over the classes, so softmax outputs keep the loop version of the step; a dropout mask is
#: drawn at random each step.
NOT_SCALARIZED = frozenset({Softmax, SoftmaxCrossEntropy, LogSoftmax, Mask})


def straight_line_sgd(backprop, printer: KernelPrinter, rule: list[str], state) -> list | None:
    """Body of ``_step_one``: one example's forward, loss, backward and update, or None.

    Reads the parameters and example ``r`` of ``X_rows`` and ``Y`` into scalars, computes
    the CSE'd loss and gradient, and updates each parameter entry where its gradient is
    computed (``rule``: the optimizer's lines over ``_theta``, ``_g`` and ``_<state>``;
    every gradient uses the values read before any update). Returns the loss.
    """
    net = backprop.network
    params = net.params
    if sum(int(sympy.Mul(*p.shape)) for p in params) > MAX_SCALARS:  # before any symbol
        return None
    env = {v.ident: _symbols(v) for v in (*params, net.X, net.Y)}
    grads = [backprop.gradients[p.ident] for p in params]
    values: dict = {}
    for node in topological_order([backprop.fused_loss, *grads], lambda n: n.children()):
        if type(node) in NOT_SCALARIZED:
            return None
        scalarize = entry(SCALARIZERS, node, "scalarization (codegen.scalarized.SCALARIZERS)")
        values[node] = scalarize(node, [values[c] for c in node.children()], env)
    flat = [g for node in grads for _, g in _entries(values[node])]
    # in stable forms, σ and the loss's log σ share one e^-|z| after CSE
    replacements, reduced = sympy.cse(
        [stable_form(e) for e in [values[backprop.fused_loss], *flat]],
        symbols=sympy.numbered_symbols("_s"),
    )
    lines = [
        f"{s} = {p.ident}{_at(p, i, j)}" for p in params for (i, j), s in _entries(env[p.ident])
    ]
    lines += [f"{s} = X_rows[r, {i}]" for (i, _), s in _entries(env[net.X.ident])]
    lines += [f"{s} = Y[{i}, r]" for (i, _), s in _entries(env[net.Y.ident])]
    lines += [f"{s} = {printer.doprint(e)}" for s, e in replacements]
    gradients = iter(reduced[1:])
    for p in params:
        for (i, j), scalar in _entries(env[p.ident]):
            at = _at(p, i, j)
            lines += [f"_g = {printer.doprint(next(gradients))}", f"_theta = {scalar}"]
            lines += [f"_{st} = {st}_{p.ident}{at}" for st in state]
            lines += [*rule, f"{p.ident}{at} = _theta"]
            lines += [f"{st}_{p.ident}{at} = _{st}" for st in state]
    lines.append(f"return {printer.doprint(reduced[0])}")
    return lines


def _at(p: Var, i: int, j: int) -> str:
    return f"[{i}, {j}]" if len(p.shape) == 2 else f"[{i}]"


def _entries(matrix: sympy.Matrix):
    return (((i, j), matrix[i, j]) for i in range(matrix.rows) for j in range(matrix.cols))
