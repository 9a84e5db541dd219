"""Model stage: rebuilding tensor graphs node by node.

Nodes are immutable, so a change anywhere in a graph is a rebuild from the leaves up:
the tensor front end strips its names this way, and the derive stage fuses, stabilizes
and names derived graphs through the same :func:`rewrite`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from symgrad.engine.graph import topological_order
from symgrad.model.tensor import Tensor


def children(node: Tensor) -> tuple:
    return node.children()


def with_children(node: Tensor, kids: list) -> Tensor:
    """A copy of ``node`` with its tensor arguments replaced, in ``children()`` order."""
    if list(node.children()) == kids:
        return node
    it = iter(kids)
    changes = {}
    for f in dataclasses.fields(node):
        if not f.init:
            continue
        value = getattr(node, f.name)
        if isinstance(value, Tensor):
            changes[f.name] = next(it)
        elif isinstance(value, tuple) and value and isinstance(value[0], Tensor):
            changes[f.name] = tuple(next(it) for _ in value)
    return dataclasses.replace(node, **changes)


def rewrite(roots: list, fn: Callable[[Tensor], Tensor], memo: dict | None = None) -> list:
    """Rebuild the graphs under ``roots`` bottom-up, applying ``fn`` to every rebuilt node.

    ``memo`` (old node -> new node) may be shared by calls that apply the same ``fn``;
    afterwards it maps every node under ``roots`` to its rebuilt form.
    """
    new: dict = {} if memo is None else memo
    for node in topological_order(roots, children):
        if node not in new:
            new[node] = fn(with_children(node, [new[c] for c in node.children()]))
    return [new[r] for r in roots]
