"""Derive stage: the backprop equations of a network.

One reverse sweep (:func:`symgrad.engine.autodiff.backward`) over the fused loss graph
gives every parameter's gradient. The adjoint of each pre-activation Z[l] is then
named ``dZ[l]`` without its scalar factor — the lecture's convention,
``dZ[l] = m ∂L/∂Z[l]`` — so the gradients print as ``dW[2] = (1/m) dZ[2] A[1]ᵀ``.
Layout convention: every gradient has its parameter's shape (dW[l] is h×n, db[l]
has h entries). A :class:`Backprop` prints itself through :mod:`symgrad.show.equations`,
which knows nothing of this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from symgrad.derive.simplify import children, fuse, reuse_forward, rewrite
from symgrad.derive.vjp import contribution, tensor_sum
from symgrad.engine.autodiff import backward
from symgrad.engine.graph import topological_order
from symgrad.model.network import Named, Network
from symgrad.model.tensor import Map, Ones, Ref, split_scale
from symgrad.show.equations import render


@dataclass
class Backprop:
    """A network's forward equations, its loss and every gradient, as tensor graphs.

    ``backward`` lists, from the output layer down, ``dZ[l]`` then ``dW[l]`` and
    ``db[l]``; ``gradients`` maps each parameter's ident (``W1``) to its gradient.
    """

    network: Network
    forward: list
    loss: object
    fused_loss: object
    backward: list
    gradients: dict

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


def derive(network: Network) -> Backprop:
    """Derive the gradients of ``network``'s loss with respect to all its parameters.

    >>> from symgrad.model.network import logistic_regression
    >>> bp = derive(logistic_regression(3))
    >>> print(bp.text().split("Backward pass")[1].strip())
    dZ = A - Y
    dW = (1/m) dZ Xᵀ
    db = (1/m) Σᵢ dZ⁽ⁱ⁾
    """
    loss = fuse(network.loss)
    order = topological_order([loss], children)
    adjoints = backward(
        order,
        loss,
        network.params,
        seed=Ones(()),
        children=children,
        contribution=contribution,
        total=tensor_sum,
        is_zero=lambda c: c is None,
    )
    maps = [f.node for f in network.forward if isinstance(f.node, Map)]
    refs: dict = {}
    memo: dict = {}  # shared by the rewrites below: refs only grow downwards

    def name(node):
        node = reuse_forward(node, maps)
        return refs.get(node, node)

    layers = len(network.layers)
    single = layers == 1
    equations, gradients = [], {}
    for l in range(layers, 0, -1):
        z = network.layer_tensor(l, "Z")
        tag = "" if single else f"[{l}]"
        tex_tag = "" if single else f"^{{[{l}]}}"
        _, old = split_scale(adjoints[z])
        core = rewrite([old], name, memo)[0]
        ref = refs[core] = memo[old] = Ref(f"dZ{tag}", f"dZ{tex_tag}", f"dZ{l}", core)
        equations.append(Named(ref.text, ref.tex, ref.ident, core, l, "dZ"))
        for p in network.layer_params(l):
            g = gradients[p.ident] = rewrite([adjoints[p]], name, memo)[0]
            d = f"d{p.kind}"
            equations.append(Named(f"{d}{tag}", f"{d}{tex_tag}", f"d{p.ident}", g, l, d))
    return Backprop(network, network.forward, network.loss, loss, equations, gradients)
