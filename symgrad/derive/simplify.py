"""Derive stage: fusion, stability rewrites, naming.

- :func:`fuse` merges consecutive elementwise maps into one kernel and rewrites it
  into its stable form (:func:`symgrad.derive.stabilize.stabilize`: ``log σ(z)`` as
  ``log_sigmoid(z)`` = −softplus(−z), ...), so a loss after σ stays finite at logits
  of ±1000.
- :func:`reuse_forward` writes derivative kernels in terms of the forward tensors
  they contain (σ(Z[2]) becomes A[2], 1 − tanh²(Z[1]) becomes 1 − A[1]²): the
  textbook forms, and work the compiled code shares with the forward pass.
- :func:`rewrite` rebuilds a graph bottom-up through a node-replacing function.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from symgrad.derive.stabilize import stabilize
from symgrad.derive.vjp import shift, simplify_kernel
from symgrad.engine.graph import topological_order
from symgrad.model.tensor import ARG, Map, Tensor, elementwise


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

    ``memo`` (old node -> new node) may be shared by calls that apply the same ``fn``.
    """
    new: dict = {} if memo is None else memo
    for node in topological_order(roots, children):
        if node not in new:
            new[node] = fn(with_children(node, [new[c] for c in node.children()]))
    return [new[r] for r in roots]


def _inline_maps(node: Tensor) -> Tensor:
    if not isinstance(node, Map) or not any(isinstance(a, Map) for a in node.args):
        return node
    kernel, args, mapping = node.kernel, [], {}
    for i, a in enumerate(node.args):
        if isinstance(a, Map):
            mapping[ARG[i]] = shift(a.kernel, len(args) + len(node.args))
            args.extend(a.args)
        else:
            mapping[ARG[i]] = ARG[len(args) + len(node.args)]
            args.append(a)
    kernel = shift(kernel.xreplace(mapping), -len(node.args))
    return elementwise(simplify_kernel(stabilize(kernel)), tuple(args))


def fuse(root: Tensor) -> Tensor:
    """``root`` with chains of elementwise maps merged into stable fused kernels."""
    return rewrite([root], _inline_maps)[0]


def reuse_forward(node: Tensor, forward: list) -> Tensor:
    """Write an elementwise ``node`` in terms of the forward maps it recomputes."""
    if not isinstance(node, Map):
        return node
    kernel, args = node.kernel, list(node.args)
    for f in forward:
        if not all(a in args for a in f.args):
            continue
        pattern = f.kernel.xreplace({ARG[j]: ARG[args.index(a)] for j, a in enumerate(f.args)})
        if kernel.has(pattern):
            kernel = kernel.subs(pattern, ARG[len(args)])
            args.append(f)
    return elementwise(kernel, tuple(args)) if args != list(node.args) else node
