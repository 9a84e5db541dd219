"""Check stage: kinks near the point, where finite differences are unreliable.

ReLU, leaky ReLU, step, ``Abs``, ``sign``, ``Heaviside``, ``Max``/``Min`` and a
``Piecewise`` condition's boundary have a kink; a perturbation that may cross one makes
its row "near a kink" instead of failing. Scalar formulas: per variable at a point;
networks: per layer, from the activations' distances to their kinks and how far a
perturbation moves them.
"""

from __future__ import annotations

import numpy as np
import sympy
from sympy.core.relational import Relational

from symgrad import functions as F
from symgrad.check.report import KINK
from symgrad.engine.graph import quote
from symgrad.model.network import Network
from symgrad.model.tensor import ARG

#: A kink closer than this many steps (times the perturbation's reach) is "near".
KINK_MARGIN = 10
#: Functions with a kink where their (first) argument is 0, by the name reports use (our
#: primitives name theirs in ``kink``: ReLU, leaky ReLU, step).
_KINKS = {
    sympy.Heaviside: "Heaviside",
    sympy.Abs: "|·|",
    sympy.sign: "sign",
}
_KINK_NODES = (*_KINKS, F.Primitive, sympy.Max, sympy.Min, sympy.Piecewise)


def scalar_kinks(expr: sympy.Expr, point: dict, h: float) -> dict:
    """Variable -> description of a kink within ``KINK_MARGIN·h`` of the point."""
    found: dict = {}
    for node in sorted(expr.atoms(*_KINK_NODES), key=sympy.default_sort_key):
        label, args = _kink_arguments(node)
        for arg in args:
            value = sympy.N(arg.xreplace(point), 17)
            if not value.is_real or abs(float(value)) > KINK_MARGIN * h:
                continue
            where = f"{label} at {quote(arg)} = {float(value):.2g}"
            for s in sorted(arg.free_symbols & set(point), key=sympy.default_sort_key):
                found.setdefault(s, f"{KINK} ({where})")
    return found


def _kink_arguments(node) -> tuple[str, list]:
    """``(label, expressions)``: ``node`` has a kink where one of the expressions is 0.

    Max and Min: where two arguments tie; a Piecewise: on its conditions' boundaries.
    """
    if isinstance(node, (sympy.Max, sympy.Min)):
        args = [a - b for i, a in enumerate(node.args) for b in node.args[i + 1 :]]
        return type(node).__name__, args
    if isinstance(node, sympy.Piecewise):
        relations = set().union(*(pair.cond.atoms(Relational) for pair in node.args))
        args = [r.lhs - r.rhs for r in sorted(relations, key=sympy.default_sort_key)]
        return "Piecewise", args
    label = _KINKS.get(type(node)) or getattr(node, "kink", None)
    return label, [node.args[0]] if label else []


def _layer_kink(kernel, Z: np.ndarray):
    """``(label, per-unit distance to the nearest kink)`` of an activation at Z, or None."""
    if kernel is None:
        return None
    nearest, label = None, None
    z = sympy.Symbol("z")
    for node in sorted(kernel.atoms(*_KINK_NODES), key=sympy.default_sort_key):
        name, args = _kink_arguments(node)
        for arg in args:
            if ARG[0] not in arg.free_symbols:
                continue
            f = sympy.lambdify(ARG[0], arg, modules=[F.NUMPY_IMPLS, F.NUMPY_EXTRAS, "numpy"])
            distance = np.abs(f(Z) + np.zeros_like(Z)).min(axis=1)
            if nearest is None or distance.min() < nearest.min():
                where = "at 0" if arg == ARG[0] else f"where {quote(arg.xreplace({ARG[0]: z}))} = 0"
                label = f"{name} {where}"
            nearest = distance if nearest is None else np.minimum(nearest, distance)
    return None if nearest is None else (label, nearest)


def network_kinks(net: Network, params: dict, forward: dict, X: np.ndarray, h: float):
    """Where finite differences of a step ``h`` may cross a kink of an activation.

    A perturbation of layer l's parameters (one entry, or a unit direction) moves each entry
    of Z[l] by at most ``h (1 + max column norm of A[l-1])``, and then Z[k] by at most
    ‖W[k]‖∞ times the move of Z[k-1] (activations taken as 1-Lipschitz). Kinks closer than
    ``KINK_MARGIN`` such moves are near.

    Returns:
        ``(whole, units, everything)``: per layer, a note when a kink of a later layer is
        near (every entry affected) and a boolean array of its own units near a kink (with a
        note); and a note for a perturbation of all parameters together.
    """
    L = len(net.layers)
    inputs = [X] + [forward[f"A{k}"] for k in range(1, L)]
    reach_in = [h * (1 + float(np.sqrt((a * a).sum(axis=0)).max())) for a in inputs]
    weights = [net.layer_params(k)[0].ident for k in range(1, L + 1)]
    spread = [float(np.abs(params[w]).sum(axis=1).max()) for w in weights]
    z_names = {f.ident: f.text for f in net.forward}
    kinks = [
        _layer_kink(layer.kernel(f"layer {k}"), forward[f"Z{k}"])
        for k, layer in enumerate(net.layers, start=1)
    ]

    def note(k):
        return f"{KINK} ({kinks[k][0]} in {z_names[f'Z{k + 1}']})"

    whole, units, total = [None] * L, [], np.zeros(L)
    for start in range(L):
        reach = np.zeros(L)
        reach[start] = reach_in[start]
        for k in range(start + 1, L):
            reach[k] = reach[k - 1] * spread[k]
        total += reach
        near = kinks[start] is not None and kinks[start][1] < KINK_MARGIN * reach[start]
        units.append(
            (
                np.broadcast_to(near, (net.layers[start].n_out,)),
                note(start) if kinks[start] else None,
            )
        )
        for k in range(start + 1, L):
            if (
                whole[start] is None
                and kinks[k] is not None
                and (kinks[k][1] < KINK_MARGIN * reach[k]).any()
            ):
                whole[start] = note(k)
    everything = next(
        (note(k) for k in range(L) if kinks[k] and (kinks[k][1] < KINK_MARGIN * total[k]).any()),
        None,
    )
    return whole, units, everything
