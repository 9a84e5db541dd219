"""Autodiff stage: the chain rule as one reverse sweep over a graph.

The adjoint of a node is the sum over its consumers of (consumer's adjoint) ·
(local derivative). :func:`backward` visits the graph once in reverse topological
order, only through nodes that depend on the targets, and collects each node's
adjoint contributions in a list that is summed once. It serves the scalar graph
here, the trace's graph of named steps and the tensor graph alike.

``sympy.diff`` is never called on a whole expression: local derivatives come from
the rule registry (:mod:`symgrad.rules`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import sympy
from sympy import S

from symgrad.errors import UnknownSymbolError
from symgrad.graph import depends_on, scalar_children, topological_order
from symgrad.rules import rule_for


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


def _as_symbols(wrt, orders: Sequence[list]) -> tuple[tuple, bool]:
    """``wrt`` as a tuple of symbols, each checked against the graphs' nodes in ``orders``.

    The symbols are read off the topological orders, not ``expr.free_symbols``: SymPy's
    property walks the expression as a tree (exponential in a DAG with shared subexpressions)
    and recursively (a deep expression exceeds the recursion limit).
    """
    single = isinstance(wrt, (sympy.Basic, str))
    symbols = tuple(
        sympy.Symbol(w) if isinstance(w, str) else w for w in ([wrt] if single else wrt)
    )
    free = {node for order in orders for node in order if isinstance(node, sympy.Symbol)}
    missing = [str(s) for s in symbols if s not in free]
    if missing:
        have = ", ".join(sorted(map(str, free))) or "none"
        raise UnknownSymbolError(
            f"{', '.join(missing)} not in the expression (its symbols: {have})"
        )
    return symbols, single


def _gradient(expr: sympy.Expr, symbols: tuple, order: list | None = None) -> tuple:
    order = topological_order([expr]) if order is None else order
    adjoints = backward(order, expr, symbols)
    return tuple(adjoints.get(s, S.Zero) for s in symbols)


def grad(expr, wrt):
    """Derivative of ``expr`` with respect to ``wrt`` by reverse-mode chain rule.

    Args:
        expr: a SymPy expression (or something ``sympify`` accepts).
        wrt: a symbol (result is one expression) or a sequence of them (a tuple).

    Raises:
        UnknownSymbolError: a symbol in ``wrt`` does not occur in ``expr``.
        NoDerivativeRuleError: an operation on the path has no rule.

    >>> import sympy, symgrad
    >>> a, b, c = sympy.symbols("a b c")
    >>> symgrad.grad(3 * (a + b * c), [a, b, c])
    (3, 3*c, 3*b)
    """
    expr = sympy.sympify(expr)
    order = topological_order([expr])
    symbols, single = _as_symbols(wrt, [order])
    result = _gradient(expr, symbols, order)
    return result[0] if single else result


def value_and_grad(expr, wrt):
    """``(expr, grad(expr, wrt))`` from one graph, as JAX's function of that name."""
    expr = sympy.sympify(expr)
    return expr, grad(expr, wrt)


def jacobian(exprs, wrt) -> sympy.Matrix:
    """Matrix ``J[i, j] = ∂exprs[i]/∂wrt[j]``: one reverse sweep per output."""
    exprs = [sympy.sympify(e) for e in exprs]
    orders = [topological_order([e]) for e in exprs]
    symbols, _ = _as_symbols(wrt, orders)
    return sympy.Matrix(
        [list(_gradient(e, symbols, order)) for e, order in zip(exprs, orders, strict=True)]
    )


def hessian(expr, wrt) -> sympy.Matrix:
    """Matrix of second derivatives: reverse mode over the reverse-mode gradient."""
    expr = sympy.sympify(expr)
    order = topological_order([expr])
    symbols, _ = _as_symbols(wrt, [order])
    first = _gradient(expr, symbols, order)
    return sympy.Matrix([list(_gradient(g, symbols)) for g in first])
