"""Engine: an expression as a DAG of distinct subexpressions.

SymPy expressions compare and hash structurally, so keying nodes by expression
makes every distinct subexpression one node. The order is built with an explicit
stack (no recursion limit on deep expressions). The same helpers serve the scalar
graph, the trace's graph of named steps and the tensor graph: each passes its own
``children`` function. :func:`quote` prints a node for a message, however big its tree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable

import sympy

from symgrad.errors import shorten

#: Quoted expressions in messages are cut to this many characters.
QUOTE_LIMIT = 80


def scalar_children(expr) -> tuple:
    """Children of a SymPy node: its arguments (atoms have none)."""
    return expr.args


def topological_order(
    roots: Iterable[Hashable], children: Callable[[Hashable], Iterable] = scalar_children
) -> list:
    """Every node reachable from ``roots``, each once, children before parents."""
    order: list = []
    seen: set = set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(children(root)))]
        while stack:
            node, pending = stack[-1]
            for child in pending:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(children(child))))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def depends_on(order: list, targets: set, children: Callable = scalar_children) -> set:
    """The nodes of ``order`` whose value depends on some node in ``targets``.

    Reverse mode only visits these: a gradient is computed only for what was asked.
    """
    live: set = set()
    for node in order:
        if node in targets or any(child in live for child in children(node)):
            live.add(node)
    return live


def quote(expr, limit: int = QUOTE_LIMIT) -> str:
    """``expr`` as text for a message, cut to ``limit`` characters with an ellipsis.

    Only the top levels that fit in about ``limit`` nodes are printed (deeper subtrees become
    ``…``), so a deep or shared expression, whose tree can be exponentially large, costs
    little to quote.
    """
    depth, size, level = 0, 0, Counter([expr])
    while level:
        size += level.total()
        if size > limit:
            break
        nxt: Counter = Counter()
        for node, n in level.items():
            for child in getattr(node, "args", ()):
                nxt[child] += n
        depth, level = depth + 1, nxt
    text = sympy.sstr(expr if not level else _cut(expr, depth)).replace("_…", "…")
    return shorten(text, limit)


def _cut(expr, depth: int):
    """``expr`` with every subtree below ``depth`` levels replaced by a placeholder ``…``."""
    if not getattr(expr, "args", ()):
        return expr
    if depth == 0:
        return sympy.Dummy("…")
    try:
        return expr.func(*(_cut(a, depth - 1) for a in expr.args))
    except (TypeError, ValueError, AttributeError):  # e.g. a condition that became a symbol
        return sympy.Dummy("…")
