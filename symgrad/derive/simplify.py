"""Derive stage: fusion, stability rewrites, naming.

- :func:`fuse` merges consecutive elementwise maps into one kernel and rewrites it
  into its stable form (:func:`symgrad.derive.stabilize.stabilize`: ``log σ(z)`` as
  ``log_sigmoid(z)`` = −softplus(−z), ...), so a loss after σ stays finite at logits
  of ±1000.
- :func:`reuse_forward` writes derivative kernels in terms of the forward tensors
  they contain (σ(Z[2]) becomes A[2], 1 − tanh²(Z[1]) becomes 1 − A[1]²): the
  textbook forms, and work the compiled code shares with the forward pass.
"""

from __future__ import annotations

from symgrad.derive.stabilize import stabilize
from symgrad.derive.vjp import shift, simplify_kernel
from symgrad.engine.graph import topological_order
from symgrad.model.rewrite import children, with_children
from symgrad.model.tensor import ARG, Map, Tensor, elementwise


def _inline_maps(node: Tensor, kept: set) -> Tensor:
    if not isinstance(node, Map) or not any(
        isinstance(a, Map) and a not in kept for a in node.args
    ):
        return node
    kernel, args, mapping = node.kernel, [], {}
    for i, a in enumerate(node.args):
        if isinstance(a, Map) and a not in kept:
            mapping[ARG[i]] = shift(a.kernel, len(args) + len(node.args))
            args.extend(a.args)
        else:
            mapping[ARG[i]] = ARG[len(args) + len(node.args)]
            args.append(a)
    kernel = shift(kernel.xreplace(mapping), -len(node.args))
    return elementwise(simplify_kernel(stabilize(kernel)), tuple(args))


def fuse(root: Tensor, keep=frozenset(), memo: dict | None = None) -> Tensor:
    """``root`` with chains of elementwise maps merged into stable fused kernels.

    A map in ``keep`` (a named tensor whose gradient is wanted) is not merged into its
    consumers, so its adjoint exists; ``memo`` receives each old node's fused form.
    """
    memo = {} if memo is None else memo
    kept: set = set()
    for node in topological_order([root], children):
        if node not in memo:
            memo[node] = _inline_maps(with_children(node, [memo[c] for c in node.children()]), kept)
        if node in keep:
            kept.add(memo[node])
    return memo[root]


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
