"""Derive stage: the backprop equations of a tensor program.

One reverse sweep (:func:`symgrad.engine.autodiff.backward`) over the fused loss graph
gives every gradient. The adjoint of each named tensor that wants one (a network's
pre-activations Z[l]) is then named ``dZ[l]`` without its scalar factor — the lecture's
convention, ``dZ[l] = m ∂L/∂Z[l]`` — so the gradients print as ``dW[2] = (1/m) dZ[2] A[1]ᵀ``.
A parameter used in several places gets the sum of its adjoints, printed as that sum.
Layout convention: every gradient has its parameter's shape (dW[l] is h×n, db[l]
has h entries). A :class:`Backprop` prints itself through :mod:`symgrad.show.equations`,
which knows nothing of this module.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from symgrad.derive.simplify import content, fuse, hoist_content, reuse_forward
from symgrad.derive.vjp import contribution, tensor_sum
from symgrad.engine.autodiff import backward
from symgrad.engine.graph import topological_order
from symgrad.errors import SymgradError
from symgrad.model.program import Named, Program
from symgrad.model.rewrite import children, rewrite, with_children
from symgrad.model.tensor import Map, Ones, Ref, Var, elementwise, scale, split_scale
from symgrad.show.equations import render


@dataclass
class Backprop:
    """A program's forward equations, its loss and every gradient, as tensor graphs.

    ``backward`` lists the named adjoints from the loss down, each followed by the
    gradients placed after it (a network's ``dZ[l]``, ``dW[l]``, ``db[l]``);
    ``gradients`` maps each target's ident (``W1``) to its gradient.
    """

    program: Program
    forward: list
    loss: object
    fused_loss: object
    backward: list
    gradients: dict

    @property
    def network(self) -> Program:
        """The program; a :class:`~symgrad.model.network.Network` for the network builders."""
        return self.program

    def text(self) -> str:
        return render(self, "text")

    def markdown(self) -> str:
        return render(self, "markdown")

    def latex(self) -> str:
        return render(self, "latex")

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def __str__(self) -> str:
        return self.text()


def derive(program: Program, wrt=None) -> Backprop:
    """Derive the gradients of ``program``'s loss with respect to its parameters (or to
    ``wrt``: leaves and named intermediates, such as ``X`` or ``A_prev``).

    Each named intermediate whose adjoint is wanted gets an equation ``d<name>`` (its
    adjoint without the scalar factor, the lecture's ``dZ = m ∂L/∂Z``), from the loss down;
    each gradient follows the first named tensor that uses its target, and later
    equations use the names.

    >>> from symgrad.model.network import logistic_regression
    >>> bp = derive(logistic_regression(3))
    >>> print(bp.text().split("Backward pass")[1].strip())
    dZ = A - Y
    dW = (1/m) dZ Xᵀ
    db = (1/m) Σᵢ dZ⁽ⁱ⁾
    """
    targets = [_target(program, t) for t in (program.params if wrt is None else wrt)]
    named = [f for f in program.forward if f.adjoint]
    fused: dict = {}
    loss = fuse(program.loss, {f.node for f in named} | {t.node for t in targets}, fused)
    order = topological_order([loss], children)
    in_loss = set(order)
    live = [f for f in named if f.node in fused and fused[f.node] in in_loss]
    nodes = [fused.get(t.node, t.node) for t in targets]
    staged: dict = {}  # each live named node -> its adjoint, c · Ref(d<name>, core)
    by_node = {fused[f.node]: f for f in live}

    def stage(node, g, i):
        """Downstream of a named tensor, its adjoint is its name: dh3 = W_hhᵀ (dh4 ⊙ …)."""
        if node in by_node:
            g = staged.setdefault(node, _named_adjoint(by_node[node], g))
        return contribution(node, g, i)

    adjoints = backward(
        order,
        loss,
        [*nodes, *(fused[f.node] for f in live)],
        seed=Ones(()),
        children=children,
        contribution=stage,
        total=tensor_sum,
        is_zero=lambda c: c is None,
    )
    maps = [fused.get(f.node, f.node) for f in program.forward]
    maps = [n for n in maps if isinstance(n, Map)]
    refs: dict = {}
    memo: dict = {}  # shared by the rewrites below: refs only grow downwards

    def name(node):
        node = hoist_content(reuse_forward(node, maps))
        return refs.get(node, node)

    placed = _first_users(order, [fused[f.node] for f in live], nodes)
    equations, gradients = [], {}

    def gradient(target: Named, node):
        if node not in adjoints:
            raise SymgradError(f"the loss does not depend on {target.text}")
        adjoint = staged.get(node, adjoints[node])
        g = gradients[target.ident] = rewrite([adjoint], name, memo)[0]
        kind = "d" + target.kind if target.kind else ""
        equations.append(
            Named(f"d{target.text}", f"d{target.tex}", f"d{target.ident}", g, target.layer, kind)
        )

    for f in reversed(live):
        node = fused[f.node]
        if node in staged:
            _, ref = split_scale(staged[node])
            ref = rewrite([ref], name, memo)[0]
            refs[ref.target] = ref
            equations.append(Named(ref.text, ref.tex, ref.ident, ref.target, f.layer, "d" + f.kind))
        for target, t_node in zip(targets, nodes, strict=True):
            if placed.get(t_node) is node:
                gradient(target, t_node)
    for target, t_node in zip(targets, nodes, strict=True):
        if t_node not in placed:
            gradient(target, t_node)
    forward = [replace(f, node=fused.get(f.node, f.node)) for f in program.forward]
    shown_loss = _with_fused_names(program.loss, fused, {f.node for f in program.forward})
    return Backprop(program, forward, shown_loss, loss, equations, gradients)


def _with_fused_names(root, fused: dict, named: set):
    """``root`` with each named tensor in its fused form, as the forward pass prints it, so
    the printed loss uses the names (fusion merges a named map's arguments into it)."""
    new: dict = {}
    for node in topological_order([root], children):
        if node in named and node in fused:
            new[node] = fused[node]
        else:
            new[node] = with_children(node, [new[c] for c in node.children()])
    return new[root]


def _named_adjoint(f: Named, g):
    """``g`` as ``c · d<name>``: the name stands for the adjoint without its scalar factor,
    whole-number factors of an elementwise kernel included (dh = h - y, not 2*h - 2*y)."""
    c, core = split_scale(g)
    if isinstance(core, Map):
        k, kernel = content(core.kernel)
        if k.is_Integer and k > 1:  # dvar keeps its 1/2: it is ∂L/∂var up to c
            c, core = c * k, elementwise(kernel, core.args)
        if c.could_extract_minus_sign():  # dS = softmax(S) - Y under a positive (1/m)
            c, core = -c, elementwise(-core.kernel, core.args)
    return scale(c, Ref(f"d{f.text}", f"d{f.tex}", f"d{f.ident}", core))


def _target(program: Program, tensor) -> Named:
    """What a gradient is taken with respect to, with its names: a leaf or a named tensor."""
    if isinstance(tensor, Var):
        return Named(
            tensor.text or tensor.ident,
            tensor.tex or tensor.ident,
            tensor.ident,
            tensor,
            tensor.layer,
            tensor.kind,
        )
    if isinstance(tensor, Ref):
        return Named(tensor.text, tensor.tex, tensor.ident, program.node(tensor))
    raise SymgradError("gradients are taken with respect to leaves and named tensors")


def _first_users(order: list, named: list, targets: list) -> dict:
    """target -> the first named node (in ``order``) whose graph contains it."""
    below: dict = {}
    for node in order:
        below[node] = {node}.union(*(below[c] for c in node.children()))
    first: dict = {}
    named = set(named)
    for node in [n for n in order if n in named]:
        for t in targets:
            if t in below[node]:
                first.setdefault(t, node)
    return first
