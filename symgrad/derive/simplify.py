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

import math

import sympy

from symgrad.derive.stabilize import stabilize
from symgrad.derive.vjp import shift, simplify_kernel
from symgrad.engine.graph import topological_order
from symgrad.model.rewrite import children, with_children
from symgrad.model.tensor import ARG, Map, Scale, Tensor, elementwise, scale


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


def content(kernel: sympy.Expr) -> tuple:
    """``(k, rest)`` with ``kernel = k · rest`` and ``k`` the positive rational common to its
    terms' coefficients (``2*h - 2*y`` -> ``(2, h - y)``), factor by factor in a product;
    nothing is taken out of roots or powers."""
    if kernel.is_Rational:
        return abs(kernel), sympy.sign(kernel)
    if kernel.is_Mul:
        pairs = [content(f) for f in kernel.args]
        return sympy.Mul(*(k for k, _ in pairs)), sympy.Mul(*(r for _, r in pairs))
    if not kernel.is_Add:
        return sympy.S.One, kernel
    coeffs = [t.as_coeff_Mul()[0] for t in kernel.args]
    if not all(c.is_Rational for c in coeffs):
        return sympy.S.One, kernel
    k = sympy.Rational(math.gcd(*(c.p for c in coeffs)), math.lcm(*(c.q for c in coeffs)))
    return k, sympy.Add(*(t / k for t in kernel.args))


def hoist_content(node: Tensor) -> Tensor:
    """``c · map`` with the map's numeric factor moved into ``c``: ``(1/m) (dv ⊙ (X - μ))``
    for ``(1/(2m)) (dv ⊙ (2X - 2μ))``."""
    if not (isinstance(node, Scale) and isinstance(node.a, Map)):
        return node
    k, kernel = content(node.a.kernel)
    return node if k == 1 else scale(node.c * k, elementwise(kernel, node.a.args))


def reuse_forward(node: Tensor, forward: list) -> Tensor:
    """Write an elementwise ``node`` in terms of the forward maps it recomputes."""
    if not isinstance(node, Map):
        return node
    kernel, args = node.kernel, list(node.args)
    for f in forward:
        if not all(a in args for a in f.args):
            continue
        pattern = f.kernel.xreplace({ARG[j]: ARG[args.index(a)] for j, a in enumerate(f.args)})
        found = kernel.subs(pattern, ARG[len(args)])  # also powers: 1/(2 √v) -> 1/(2 σ)
        if found != kernel:
            kernel = found
            args.append(f)
    return elementwise(kernel, tuple(args)) if args != list(node.args) else node
