"""Engine: the chain rule as one reverse sweep over a graph.

The adjoint of a node is the sum over its consumers of (consumer's adjoint) ·
(local derivative). :func:`backward` visits the graph once in reverse topological
order, only through nodes that depend on the targets, and collects each node's
adjoint contributions in a list that is summed once. It serves the scalar graph
here, the trace's graph of named steps and the tensor graph alike.

``sympy.diff`` is never called on a whole expression: local derivatives come from
the rule registry (:mod:`symgrad.engine.rules`). The derivative with respect to a symbol the
expression does not contain is 0, so derivatives compose (``grad(grad(f, x), x)``,
``order=n``); a Piecewise's derivative comes out as one Piecewise of its branches'
derivatives. Imports graph, rules, parsing (text input) and errors.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction

import numpy as np
import sympy
from sympy import S

from symgrad.engine.graph import depends_on, quote, scalar_children, topological_order
from symgrad.engine.rules import piecewise_indicator, rule_for
from symgrad.errors import SymgradError
from symgrad.read.parsing import parse_expression


def backward(
    order: list,
    output,
    targets: Iterable,
    *,
    seed=S.One,
    children: Callable = scalar_children,
    contribution: Callable | None = None,
    total: Callable = lambda terms: sympy.Add(*terms),
    is_zero: Callable = lambda c: c is S.Zero,
) -> dict:
    """Adjoints ``∂output/∂node`` of every node on a path from ``targets`` to ``output``.

    Args:
        order: the nodes in topological order (children first), ``output`` among them.
        output: the node whose derivative is taken; its adjoint is ``seed``.
        targets: the nodes the gradient is wanted for.
        children: node -> its argument nodes.
        contribution: (node, g, i) -> what node's adjoint ``g`` adds to argument i's
            adjoint; defaults to the rule registry.
        total: sums a list of contributions (``Add`` for scalars).
        is_zero: contributions for which this is true are skipped (symbolic zeros).

    Returns:
        dict node -> adjoint, for the live nodes that received any contribution.
    """
    contribution = contribution or (lambda node, g, i: rule_for(node).contribution(node, g, i))
    live = depends_on(order, set(targets), children)
    pending: dict = {output: [seed]}
    adjoints: dict = {}
    for node in reversed(order):
        terms = pending.pop(node, None)
        if not terms:
            continue
        g = adjoints[node] = terms[0] if len(terms) == 1 else total(terms)
        for i, child in enumerate(children(node)):
            if child in live:
                c = contribution(node, g, i)
                if not is_zero(c):
                    pending.setdefault(child, []).append(c)
    return adjoints


def _as_expr(expr) -> sympy.Expr:
    """``expr`` as a scalar SymPy expression: numbers are constants, text is parsed."""
    if isinstance(expr, str):
        expr = parse_expression(expr).doit()
    elif isinstance(expr, (int, float, Fraction, np.number)) and not isinstance(expr, bool):
        expr = sympy.sympify(expr, strict=True)
    if not isinstance(expr, sympy.Expr) or isinstance(expr, sympy.MatrixBase):
        raise SymgradError(f"can only differentiate a scalar expression, got {_what(expr)}")
    return expr


def _what(obj) -> str:
    return quote(obj) if isinstance(obj, sympy.Basic) else f"{type(obj).__name__} {obj!r:.80}"


def _as_symbols(wrt, orders: Sequence[list]) -> tuple[tuple, bool]:
    """``wrt`` as a tuple of symbols, and whether a single one was given.

    A name is looked up among the symbols in the graphs' ``orders`` (so ``"x"`` finds a
    real ``x``); a name of no symbol there, or a symbol the graphs do not contain, is still
    a symbol, and its derivative 0. The symbols are read off the topological orders, not
    ``expr.free_symbols``: SymPy's property walks the expression as a tree (exponential in
    a DAG with shared subexpressions) and recursively (a deep one exceeds the recursion limit).
    """
    single = isinstance(wrt, (sympy.Expr, str)) or not isinstance(wrt, Iterable)
    by_name: dict = {}
    for node in (node for order in orders for node in order):
        if isinstance(node, sympy.Symbol):
            by_name.setdefault(node.name, set()).add(node)
    symbols = []
    for w in [wrt] if single else wrt:
        if isinstance(w, str):
            found = by_name.get(w, set())
            if len(found) > 1:
                raise SymgradError(f"{w} names {len(found)} symbols with different assumptions")
            if not (found or w.isidentifier()):
                raise SymgradError(f"can only differentiate with respect to a symbol, got {w!r}")
            w = next(iter(found)) if found else sympy.Symbol(w)
        if not isinstance(w, sympy.Symbol):
            raise SymgradError(f"can only differentiate with respect to a symbol, got {_what(w)}")
        symbols.append(w)
    return tuple(symbols), single


def _gradient(expr: sympy.Expr, symbols: tuple, order: list | None = None) -> tuple:
    order = topological_order([expr]) if order is None else order
    adjoints = backward(order, expr, symbols)
    result = tuple(adjoints.get(s, S.Zero) for s in symbols)
    for node in order:  # inner ones first
        if isinstance(node, sympy.Piecewise):
            result = tuple(_fold(d, node) for d in result)
    return result


def _fold(d, node: sympy.Piecewise):
    """``d`` with ``node``'s branch indicators as one Piecewise under ``node``'s conditions.

    Through a Piecewise the sweep gives a sum over branches of (indicator · the branch's
    derivative); on the region where branch k is selected that is ``d`` with indicator k set
    to 1 and the others to 0, so the result reads as each branch's derivative under its own
    condition. (``xreplace`` walks ``d`` as a tree: only gradients through a Piecewise pay it.)
    """
    n = len(node.args)
    marks = [piecewise_indicator(node, i) for i in range(n)]
    cases = [
        d.xreplace({m: S.One if i == k else S.Zero for i, m in enumerate(marks)}) for k in range(n)
    ]
    rest = d.xreplace(dict.fromkeys(marks, S.Zero))  # where no condition holds
    if all(case == d for case in cases):
        return d  # no indicator of this node in d
    pairs = [(case, pair.cond) for case, pair in zip(cases, node.args, strict=True)]
    return sympy.Piecewise(*pairs, (rest, True))


def _order(order) -> int:
    try:
        n = operator.index(order)
    except TypeError:
        n = None
    if n is None or isinstance(order, bool) or n < 0:
        raise SymgradError(f"order must be a whole number 0, 1, 2, ..., got {order!r}")
    return n


def grad(expr, wrt, *, order: int = 1):
    """Derivative of ``expr`` with respect to ``wrt`` by reverse-mode chain rule.

    The derivative with respect to a symbol ``expr`` does not contain is 0 (as in SymPy
    and JAX), so derivatives compose: ``grad(grad(f, x), x)`` of a linear ``f`` is 0.

    Args:
        expr: a scalar SymPy expression, a number (a constant), or text (parsed by
            :func:`symgrad.read.parsing.parse_expression`).
        wrt: a symbol or its name (result is one expression) or a sequence of them (a tuple).
        order: the derivative's order ``n``: ``n`` reverse sweeps, each over the previous
            result (0 gives ``expr``). With a sequence, each entry is the ``n``-th
            derivative with respect to that symbol alone (mixed ones: :func:`hessian`).

    Raises:
        SymgradError: ``wrt`` holds something that is not a symbol, ``expr`` is not a
            scalar expression, or ``order`` is not a whole number ≥ 0.
        NoDerivativeRuleError: an operation on the path has no rule.

    >>> import sympy, symgrad
    >>> a, b, c, x = sympy.symbols("a b c x")
    >>> symgrad.grad(3 * (a + b * c), [a, b, c])
    (3, 3*c, 3*b)
    >>> symgrad.grad(x**3, x, order=2), symgrad.grad(6, x), symgrad.grad(x**3, x, order=4)
    (6*x, 0, 0)
    """
    n = _order(order)
    expr = _as_expr(expr)
    graph = topological_order([expr])
    symbols, single = _as_symbols(wrt, [graph])
    result = _gradient(expr, symbols, graph) if n else (expr,) * len(symbols)
    for _ in range(n - 1):
        result = tuple(_gradient(d, (s,))[0] for d, s in zip(result, symbols, strict=True))
    return result[0] if single else result


def value_and_grad(expr, wrt):
    """``(expr, grad(expr, wrt))`` from one graph, as JAX's function of that name."""
    expr = _as_expr(expr)
    return expr, grad(expr, wrt)


def jacobian(exprs, wrt) -> sympy.Matrix:
    """Matrix ``J[i, j] = ∂exprs[i]/∂wrt[j]``: one reverse sweep per output."""
    exprs = [_as_expr(e) for e in exprs]
    orders = [topological_order([e]) for e in exprs]
    symbols, _ = _as_symbols(wrt, orders)
    return sympy.Matrix(
        len(exprs),
        len(symbols),
        [d for e, order in zip(exprs, orders, strict=True) for d in _gradient(e, symbols, order)],
    )


def hessian(expr, wrt) -> sympy.Matrix:
    """Matrix of second derivatives: reverse mode over the reverse-mode gradient."""
    expr = _as_expr(expr)
    order = topological_order([expr])
    symbols, _ = _as_symbols(wrt, [order])
    first = _gradient(expr, symbols, order)
    n = len(symbols)
    return sympy.Matrix(n, n, [d for g in first for d in _gradient(g, symbols)])
