"""Graph stage: an expression as a DAG of distinct subexpressions.

SymPy expressions compare and hash structurally, so keying nodes by expression
makes every distinct subexpression one node. The order is built with an explicit
stack (no recursion limit on deep expressions). The same helpers serve the scalar
graph, the trace's graph of named steps and the tensor graph: each passes its own
``children`` function.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable


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
