"""Check stage: a tensor program's derived gradients against finite differences.

Per target (the parameters, or the leaves and named intermediates given by ``wrt``),
NumPy's evaluation of the derived gradient (:func:`symgrad.check.oracle.values`) is
compared with central differences of NumPy's evaluation of the program's own loss, the
graph the user wrote, not the derived one; a named intermediate is perturbed by cutting
the loss's graph there and feeding it in as a leaf. Leaves without given values are drawn
from a seed, so a program can be checked with nothing but itself.
"""

from __future__ import annotations

import numpy as np

from symgrad.check.network import central_differences
from symgrad.check.oracle import leaf_values, values
from symgrad.check.report import CheckReport, gradient_row, relative_error, value_row
from symgrad.derive.backprop import derive
from symgrad.engine.graph import topological_order
from symgrad.errors import SymgradError
from symgrad.model.numeric import evaluate
from symgrad.model.program import Program
from symgrad.model.rewrite import rewrite
from symgrad.model.tensor import Mask, SoftmaxCrossEntropy, Var, m

#: How many examples (columns) the drawn values have when no given value fixes m.
EXAMPLES = 5


def sample_leaves(program: Program, given: dict | None = None, *, seed: int = 0) -> dict:
    """Values for the leaves of ``program`` missing from ``given``, drawn from ``seed``.

    Data, parameters and upstream gradients are standard normal; labels are one-hot
    columns when they feed a softmax cross-entropy, else standard normal; a dropout mask
    is ``1/keep`` with probability ``keep``, else 0. m is the given values' (else
    :data:`EXAMPLES`).

    Returns:
        ``given`` and the drawn values, ident -> array.
    """
    given = dict(given or {})
    rng = np.random.default_rng(seed)
    order = topological_order([program.loss], lambda n: n.children())
    one_hot = {n.y for n in order if isinstance(n, SoftmaxCrossEntropy)}
    batch = next(
        (
            np.shape(given[leaf.ident])[leaf.shape.index(m)]
            for leaf in program.leaves
            if leaf.ident in given
            and m in leaf.shape
            and np.ndim(given[leaf.ident]) == len(leaf.shape)
        ),
        EXAMPLES,
    )
    for leaf in program.leaves:
        if leaf.ident in given:
            continue
        shape = tuple(batch if d == m else int(d) for d in leaf.shape)
        if isinstance(leaf, Mask):
            keep = float(leaf.keep)
            given[leaf.ident] = (rng.random(shape) < keep) / keep
        elif leaf in one_hot:
            given[leaf.ident] = np.eye(shape[0])[:, rng.integers(0, shape[0], shape[1])]
        else:
            given[leaf.ident] = rng.standard_normal(shape)
    return given


def check_program(
    program: Program, at=None, wrt=None, h: float = 1e-5, per_entry=False, seed=0
) -> CheckReport:
    """:func:`~symgrad.check.check` of a program at leaf values ``at`` (ident -> array;
    the others drawn by :func:`sample_leaves`), for the targets ``wrt`` (default: the
    parameters, else the data)."""
    if not isinstance(at, dict | None):
        raise SymgradError("a program's values are a dict: leaf name -> array")
    if wrt is None:
        wrt = program.params or [v for v in program.leaves if v.role == "data"]
    backprop = derive(program, wrt)
    env = sample_leaves(program, at, seed=seed)
    derived = values(backprop, env)  # checks every leaf's shape
    env, batch = leaf_values(program, env)
    scalars = {m: batch, **program.constants()}
    loss = evaluate([program.loss], env, scalars)[0]
    note = "the derived loss against the program's"
    rows = [value_row("L", derived.loss, relative_error(derived.loss, loss), note)]
    for target in wrt:
        g, text = derived.gradients[target.ident], target.text or target.ident
        node = program.node(target)
        numeric, noise = _differences(program.loss, node, target.ident, env, scalars, h)
        total = float(np.linalg.norm(noise))
        rows.append(gradient_row(text, g, numeric, noise=total))
        for idx in np.ndindex(g.shape) if per_entry else ():
            label = f"{text}[{','.join(map(str, idx))}]"
            rows.append(gradient_row(label, g[idx], numeric[idx], noise=noise[idx]))
    given = sorted(set(at or {}))
    source = (
        "at the given values"
        if len(given) == len(program.leaves)
        else f"at random values (seed {seed})" + (f" but {', '.join(given)} given" if given else "")
    )
    title = (
        f"Gradient of the loss of {program.describe()} on m = {batch} examples {source}, "
        f"checked against central differences (h = {h:g})"
    )
    legend = (
        "target rows: norms ‖·‖ of NumPy's evaluation of the derived gradient and of central "
        "differences of NumPy's evaluation of the program's loss over every entry"
        + ("; entry rows: values" if per_entry else "")
        + "; ref. err.: the derived loss against the program's"
    )
    return CheckReport(title, rows, legend, ("target", "symbolic", "numeric", "ref. err."))


def _differences(loss, node, ident: str, env: dict, scalars: dict, h: float) -> tuple:
    """Central differences of ``loss`` over every entry of ``node``: a leaf's value is
    changed in ``env``; an intermediate is cut out of the graph and fed in as a leaf."""
    if not isinstance(node, Var | Mask):
        cut = Var(ident, node.shape, "data")
        env = {**env, ident: evaluate([node], env, scalars)[0]}
        loss = rewrite([loss], lambda n: cut if n == node else n)[0]
        node = cut
    value = env[node.ident] = np.array(env[node.ident], dtype=float)
    return central_differences(value, lambda: float(evaluate([loss], env, scalars)[0]), h)
