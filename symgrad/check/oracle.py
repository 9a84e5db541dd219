"""Check stage, the oracle: evaluate derived graphs with plain NumPy.

Straight from the derived tensor graphs, through :mod:`symgrad.model.numeric`, with no
Numba: the forward pass, the loss and every gradient, on given numbers. It is what
compiled code is tested against. Data reach it through
:func:`symgrad.model.data.to_columns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from symgrad.errors import ShapeError
from symgrad.model.data import as_numbers, to_columns
from symgrad.model.numeric import evaluate, extents
from symgrad.model.tensor import m


@dataclass
class Evaluation:
    """The reference values: the loss, gradients by target ident, named forward tensors by
    ident, and named backward tensors (``dZ[1]``, without their scalar factor) by ident."""

    loss: float
    gradients: dict
    forward: dict
    backward: dict = field(default_factory=dict)


def values(backprop, env: dict) -> Evaluation:
    """Evaluate a derived program on given numbers: its loss, every gradient, and the value
    of every named tensor of the forward and of the backward pass.

    Args:
        backprop: from :func:`symgrad.derive.backprop.derive`.
        env: leaf ident -> array in the lecture's layout (one column per example): data,
            labels, parameters, upstream gradients and dropout masks, one for each leaf.

    Raises:
        ShapeError: a leaf without a value, a value of the wrong shape or an unknown ident.
        DataError: a value that is not numbers.

    >>> import numpy as np
    >>> import symgrad.model.program as tp
    >>> from symgrad.derive.backprop import derive
    >>> X, w = tp.data("X", 2), tp.param("w", (1, 2))
    >>> bp = derive(tp.Program(tp.sum(tp.name("z", w @ X) ** 2)))
    >>> v = values(bp, {"X": np.array([[1.0], [2.0]]), "w": np.array([[3.0, 4.0]])})
    >>> v.loss, v.forward["z"], v.gradients["w"]
    (121.0, array([[11.]]), array([[22., 44.]]))
    """
    program = backprop.program
    env, batch = leaf_values(program, env)
    scalars = {m: batch, **program.constants()}
    grads = list(backprop.gradients.values())
    named = [f.node for f in [*backprop.forward, *backprop.backward]]
    found = evaluate([backprop.fused_loss, *grads, *named], env, scalars)
    loss, found = float(found[0]), found[1:]
    gradients = dict(zip(backprop.gradients, found[: len(grads)], strict=True))
    named, n = found[len(grads) :], len(backprop.forward)
    forward = {f.ident: v for f, v in zip(backprop.forward, named[:n], strict=True)}
    backward = {f.ident: v for f, v in zip(backprop.backward, named[n:], strict=True)}
    return Evaluation(loss, gradients, forward, backward)


def leaf_values(program, env: dict) -> tuple[dict, int]:
    """``env`` as float arrays, one per leaf of ``program``, each of its leaf's shape; and
    the batch size m, read off the first leaf with a column per example (1 when none has)."""
    leaves = {leaf.ident: leaf for leaf in program.leaves}
    unknown = sorted(set(env) - set(leaves))
    if unknown:
        raise ShapeError(
            f"no leaf is named {', '.join(unknown)} (the program's: {', '.join(leaves)})"
        )
    missing = [leaf for ident, leaf in leaves.items() if ident not in env]
    if missing:
        leaf = missing[0]
        raise ShapeError(f"{leaf.text or leaf.ident} of shape {_fmt(leaf.shape)} needs a value")
    arrays = {ident: as_numbers(ident, env[ident]).astype(float) for ident in leaves}
    batch = next(
        (
            arrays[i].shape[leaf.shape.index(m)]
            for i, leaf in leaves.items()
            if m in leaf.shape and arrays[i].ndim == len(leaf.shape)
        ),
        1,
    )
    if batch < 1:
        raise ShapeError("no examples: the data have 0 columns")
    for ident, leaf in leaves.items():
        if arrays[ident].shape != extents(leaf.shape, {m: batch}):
            raise ShapeError(
                f"{leaf.text or ident} must have shape {_fmt(leaf.shape)} with m = {batch}, "
                f"got {arrays[ident].shape}"
            )
    return arrays, batch


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def reference(backprop, params: dict, X_rows, y) -> Evaluation:
    """Evaluate loss, gradients and forward tensors of a network's ``backprop`` with NumPy,
    on data in NumPy's layout (rows = examples) converted by :func:`to_columns`.

    Args:
        backprop: from :func:`symgrad.derive.backprop.derive` of a network.
        params: ident (``W1``, ``b1``, ...) -> array of that parameter's shape.
        X_rows: data, one row per example; y: labels (see :func:`to_columns`).
    """
    net = backprop.network
    X, Y = to_columns(net, X_rows, y)
    for p in net.params:
        want = tuple(int(d) for d in p.shape)
        if p.ident not in params:
            raise ShapeError(f"parameter {p.ident} of shape {want} is missing from params")
        got = np.shape(params[p.ident])
        if got != want:
            raise ShapeError(f"parameter {p.ident} must have shape {want}, got {got}")
    mine = {p.ident: params[p.ident] for p in net.params}
    return values(backprop, {net.X.ident: X, net.Y.ident: Y, **mine})
