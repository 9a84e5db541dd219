"""Check stage: symbolic gradients against numbers, as a table.

:func:`check` takes a scalar expression at a point (:mod:`~symgrad.check.scalar`), a
network with data and parameters (:mod:`~symgrad.check.network`), or a tensor program at
values of its leaves (:mod:`~symgrad.check.program`), and gives a
:class:`~symgrad.check.report.CheckReport` (:mod:`~symgrad.check.report`): per variable or
parameter, the compiled symbolic gradient against central finite differences, and the
compiled results against an independent evaluation (SymPy's exact value, NumPy's
reference). Rows whose perturbation may cross a kink (:mod:`~symgrad.check.kinks`) are
"near a kink" and do not fail. With ``claim=`` (:mod:`~symgrad.check.claim`) a formula's
partials as the user derived them are checked against symgrad's derivation instead; with
``backward=`` (:mod:`~symgrad.check.backward`) the user's own backward pass of a network; both
give a :class:`~symgrad.check.claim_report.ClaimReport` with a diagnosis of each mistake found.
Each kind of check is a module of its own that builds rows
with :mod:`~symgrad.check.report`; :func:`check` dispatches on the target.

The last stage: may import every stage to its left (autodiff, nn, codegen, train).
"""

from __future__ import annotations

import numpy as np

from symgrad.check.backward import check_backward
from symgrad.check.claim import check_claims
from symgrad.check.claim_report import Claim, ClaimReport
from symgrad.check.kinks import KINK_MARGIN
from symgrad.check.network import check_network, synthetic_data
from symgrad.check.program import check_program
from symgrad.check.report import (
    CORRECT,
    KINK,
    LOOK_CLOSER,
    ROUNDOFF_ULPS,
    CheckReport,
    Row,
    relative_error,
    verdict,
)
from symgrad.check.scalar import EXACT_DIGITS, FLOAT64_TINY, check_scalar
from symgrad.errors import SymgradError
from symgrad.model.network import Network
from symgrad.model.program import Program
from symgrad.train.compiled import CompiledNetwork

__all__ = [
    "CORRECT",
    "EXACT_DIGITS",
    "FLOAT64_TINY",
    "KINK",
    "KINK_MARGIN",
    "LOOK_CLOSER",
    "ROUNDOFF_ULPS",
    "CheckReport",
    "Claim",
    "ClaimReport",
    "Row",
    "check",
    "relative_error",
    "synthetic_data",
    "verdict",
]


def check(
    target,
    *,
    at: dict | None = None,
    data=None,
    params: dict | None = None,
    step: float = 1e-5,
    per_entry: bool = False,
    direction: bool = False,
    seed: int = 0,
    exact: bool = True,
    name: str = "f",
    folder=None,
    wrt=None,
    claim=None,
    backward=None,
) -> CheckReport | ClaimReport:
    """Compare symbolic (compiled) gradients with finite differences and exact values.

    Args:
        target: a scalar SymPy expression, its text, or a
            :class:`~symgrad.codegen.scalar.CompiledFunction` (then ``at`` is needed); or a
            :class:`~symgrad.nn.Network` or
            :class:`~symgrad.train.compiled.CompiledNetwork`; or a tensor
            :class:`~symgrad.model.program.Program` (its gradients evaluated with NumPy).
        at: scalar: the point, name (or symbol) -> number, one per variable. Integers,
            fractions and floats are taken exactly for the exact evaluation. Program: leaf
            ident -> array (data, labels, parameters, upstream gradients, dropout masks);
            the leaves left out are drawn from ``seed`` (see
            :func:`~symgrad.check.program.sample_leaves`).
        data: network: ``(X_rows, y)``, rows = examples; default :func:`synthetic_data`.
        params: network: ident -> array; default ``init_params(network, seed=seed)``.
        step: the finite-difference step ``h``.
        per_entry: network: add a row per parameter entry.
        direction: network: compare directional derivatives along random unit directions
            (one per parameter and one for all together) instead of every entry.
        seed: for the default parameters, the synthetic data and the directions.
        exact: scalar: also evaluate the value and the symbolic gradient with SymPy to 30
            digits at the rational point and compare the compiled results with them. (A
            network's results are always compared with the NumPy reference evaluator.)
        name: scalar: the function's name in the rows (``∂f/∂a``).
        folder: where generated modules go (default ``generated/``).
        wrt: program: the targets, leaves and named intermediates (default: the
            parameters).
        claim: scalar: the user's partial derivatives, ``{"w": "x*sigmoid(w*x)", ...}`` or
            text ``"w = x*sigmoid(w*x); b = ..."``, read by the whitelisting reader (never
            run), each checked against symgrad's derivative (see :mod:`~symgrad.check.claim`).
        backward: network: the user's ``backward(params, X, Y) -> dict`` in NumPy (X and Y
            one column per example), checked against the compiled gradient (see
            :mod:`~symgrad.check.backward`).

    Returns:
        A :class:`CheckReport`; ``.passed`` is False when some row is "wrong". With
        ``claim`` or ``backward``: a :class:`ClaimReport`, ``.passed`` when every claim is right.

    Raises:
        SymgradError: a missing or extra value in ``at``, a bad step, data or parameters
            that do not fit the network, or options that do not fit the target.

    >>> import sympy, tempfile
    >>> a, b, c = sympy.symbols("a b c")
    >>> report = check(3 * (a + b * c), at={"a": 5, "b": 3, "c": 2}, folder=tempfile.mkdtemp())
    >>> report.passed, [(r.name, r.symbolic, r.verdict) for r in report.rows[1:]]
    (True, [('∂f/∂a', 3.0, 'correct'), ('∂f/∂b', 6.0, 'correct'), ('∂f/∂c', 9.0, 'correct')])
    >>> print(report.text().splitlines()[3])
    quantity  symbolic  numeric  rel. error  exact err.  verdict  note
    """
    if not (isinstance(step, (int, float)) and 0 < step < np.inf):
        raise SymgradError(f"the step must be a positive number, got {step!r}")
    if wrt is not None and (isinstance(target, Network) or not isinstance(target, Program)):
        raise SymgradError("wrt= is for tensor programs")
    if backward is not None or claim is not None:
        return _check_yours(
            target, at, data, params, per_entry, direction, seed, name, folder, claim, backward
        )
    if isinstance(target, (Network, CompiledNetwork)):
        if at is not None:
            raise SymgradError("at= is for scalar expressions and programs; a network takes data=")
        return check_network(target, data, params, float(step), per_entry, direction, seed, folder)
    if isinstance(target, Program):
        if data is not None or params is not None or direction:
            raise SymgradError("a program takes its leaves' values in at=, by name")
        return check_program(target, at, wrt, float(step), per_entry, seed)
    if data is not None or params is not None or per_entry or direction:
        raise SymgradError("data, params, per_entry and direction are for networks")
    return check_scalar(target, at, float(step), exact, name, folder)


def _check_yours(
    target, at, data, params, per_entry, direction, seed, name, folder, claim, backward
):
    """:func:`check` of the user's own derivatives: ``claim=`` or ``backward=``."""
    network = isinstance(target, (Network, CompiledNetwork))
    if claim is not None and backward is not None:
        raise SymgradError(
            "give claim= (a formula's partials) or backward= (a network's), not both"
        )
    if per_entry or direction:
        raise SymgradError("per_entry and direction are for checks against finite differences")
    if backward is not None:
        if not network:
            raise SymgradError("backward= is for networks; a formula's partials go in claim=")
        if at is not None:
            raise SymgradError("at= is for scalar expressions; a network takes data=")
        return check_backward(target, backward, data, params, seed, folder)
    if network or isinstance(target, Program):
        raise SymgradError(
            "claim= is for formulas; a network's own backward pass goes in backward="
        )
    if data is not None or params is not None:
        raise SymgradError("data and params are for networks")
    return check_claims(target, at, claim, name, seed)
