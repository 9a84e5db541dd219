"""Codegen stage: a tiny network's one-example training step as straight-line code.

In per-example SGD a step of a small network is a few dozen floating-point operations;
loops over 3×1 buffers cost more than the arithmetic. For networks with few weights the
per-example loss is written out as one scalar expression of every weight (the fused,
stable loss graph evaluated on symbols), its gradient derived by the scalar engine's
reverse sweep, CSE'd, and printed as straight-line code: what one would write by hand.
Larger networks, and softmax outputs (whose stable form needs a running maximum), keep
the loop version.
"""

from __future__ import annotations

import sympy

from symgrad.autodiff import grad
from symgrad.codegen.kernels import KernelPrinter
from symgrad.graph import topological_order
from symgrad.nn.network import LAMBDA
from symgrad.nn.tensor import (
    ARG,
    AddBias,
    Map,
    MatMul,
    Ones,
    Scale,
    Sum,
    SumAll,
    Transpose,
    Var,
    m,
)

#: Networks with at most this many weights and biases get the straight-line step.
MAX_SCALARS = 128


def _symbols(var: Var) -> sympy.Matrix:
    rows, cols = (int(sympy.sympify(var.shape[0], strict=True).subs(m, 1)), 1)
    if len(var.shape) == 2:
        cols = int(sympy.sympify(var.shape[1], strict=True).subs(m, 1))
    if len(var.shape) == 1:
        return sympy.Matrix(rows, 1, lambda i, _: sympy.Symbol(f"{var.ident}_{i}"))
    return sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(f"{var.ident}_{i}_{j}"))


def _value(node, args: list, env: dict):
    """The node's value for one example: a Matrix (one column per example) or a scalar."""
    if isinstance(node, Var):
        return env[node.ident]
    if isinstance(node, MatMul):
        return args[0] * args[1]
    if isinstance(node, Transpose):
        return args[0].T
    if isinstance(node, AddBias):
        z, b = args
        return sympy.Matrix(z.rows, z.cols, lambda i, j: z[i, j] + b[i, 0])
    if isinstance(node, Map):
        first = args[0]
        return sympy.Matrix(
            first.rows,
            first.cols,
            lambda i, j: node.kernel.xreplace({ARG[k]: a[i, j] for k, a in enumerate(args)}),
        )
    if isinstance(node, SumAll):
        return sum(args[0], sympy.S.Zero)
    if isinstance(node, Scale):
        return node.c.xreplace({m: sympy.S.One, LAMBDA: sympy.Symbol("lam")}) * args[0]
    if isinstance(node, Sum):
        return sum(args[1:], args[0])
    if isinstance(node, Ones):
        return sympy.ones(*[int(sympy.sympify(d, strict=True).subs(m, 1)) for d in node.shape])
    return None  # softmax and the rest: not scalarized


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
    values: dict = {}
    for node in topological_order([backprop.fused_loss], lambda n: n.children()):
        values[node] = _value(node, [values[c] for c in node.children()], env)
        if values[node] is None:
            return None
    loss = values[backprop.fused_loss]
    flat = [s for p in params for s in env[p.ident]]
    replacements, reduced = sympy.cse(
        [loss, *grad(loss, flat)], symbols=sympy.numbered_symbols("_s")
    )
    lines = [
        f"{s} = {p.ident}{_at(p, i, j)}" for p in params for (i, j), s in _entries(env[p.ident])
    ]
    lines += [f"{s} = X_rows[r, {i}]" for (i, _), s in _entries(env["X"])]
    lines += [f"{s} = Y[{i}, r]" for (i, _), s in _entries(env["Y"])]
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
