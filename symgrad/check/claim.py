"""Check stage: the user's own partial derivatives of a formula against symgrad's derivation.

A student asks "is my derivation right?". Each claimed ∂f/∂v (text read by the whitelisting
reader, never run) is compared with the derivative of symgrad's reverse sweep
(:func:`symgrad.engine.autodiff.grad`): at seeded random points, where one point that differs
decides "wrong"; by SymPy's ``simplify`` of the difference, run in a child process with a
time budget so it cannot hang; and at the given point. A wrong claim gets a diagnosis where
one is found: a constant factor (−1: the sign), or a missing or extra factor of the chain
rule, a local derivative of a node of the formula's graph (:mod:`symgrad.engine.rules`) or
the inner derivative of a node's argument. The report is a
:class:`~symgrad.check.claim_report.ClaimReport`.
"""

from __future__ import annotations

import multiprocessing
import time

import numpy as np
import sympy

from symgrad.check.claim_report import Claim, ClaimReport
from symgrad.check.scalar import _expression, _point
from symgrad.engine.autodiff import grad
from symgrad.engine.evaluate import value_at
from symgrad.engine.graph import depends_on, topological_order
from symgrad.engine.rules import rule_for
from symgrad.errors import ParseError, SymgradError, UnknownSymbolError, shorten
from symgrad.read.reader import as_expression
from symgrad.show.printing import SIMPLIFY_LIMIT, has_high_power
from symgrad.show.trace.render import format_expr, format_value

#: Random points a claim is compared at; seconds ``simplify`` may take per claim.
POINTS = 24
SIMPLIFY_SECONDS = 5.0
#: Relative tolerance of two values that count as equal (both are evaluated to 30 digits).
TOLERANCE = 1e-10
_DIGITS = 30


def read_claims(claims, wrt: tuple) -> dict:
    """The claims as symbol -> expression, every one read by the whitelisting reader.

    Args:
        claims: ``{"w": "x*sigmoid(w*x)", ...}`` (values text or SymPy expressions) or text
            ``"w = x*sigmoid(w*x); b = sigmoid(w*x)"``.
        wrt: the formula's variables.

    Raises:
        ParseError: text that is not ``name = formula`` items, or a formula the reader refuses.
        UnknownSymbolError: a claim for, or a claim using, a name that is not a variable.

    >>> w, x = sympy.symbols("w x")
    >>> read_claims("w = x*sigmoid(w*x); x = w*sigmoid(w*x)", (w, x))
    {w: x*sigmoid(w*x), x: w*sigmoid(w*x)}
    """
    if isinstance(claims, str):
        items = []
        for item in claims.replace("\n", ";").split(";"):
            if item.strip():
                name, eq, formula = item.partition("=")
                if not eq:
                    raise ParseError(
                        f"expected name = formula in a claim, got {shorten(item, 40)!r}"
                    )
                items.append((name.strip(), formula))
    elif isinstance(claims, dict):
        items = [(str(k), v) for k, v in claims.items()]
    else:
        raise SymgradError(f"claim= takes a dict name -> formula, got {type(claims).__name__}")
    if not items:
        raise ParseError("no claim given")
    by_name = {s.name: s for s in wrt}
    variables = ", ".join(by_name)
    read: dict = {}
    for name, formula in items:
        if name not in by_name:
            raise UnknownSymbolError(
                f"claim for {shorten(name, 40)!r}: not a variable of the formula (its "
                f"variables: {variables})"
            )
        if by_name[name] in read:
            raise ParseError(f"two claims for {name}")
        try:
            expr = as_expression(formula).doit()
        except ParseError as error:
            raise ParseError(f"claim for {name}: {error}") from None
        unknown = sorted(s.name for s in expr.free_symbols if s not in set(wrt))
        if unknown:
            raise UnknownSymbolError(
                f"claim for {name} uses {', '.join(unknown)}, not a variable of the formula "
                f"(its variables: {variables})"
            )
        read[by_name[name]] = expr
    return read


def check_claims(target, at, claims, name: str = "f", seed: int = 0) -> ClaimReport:
    """:func:`~symgrad.check.check` with ``claim=``: each claimed partial against symgrad's."""
    written, expr = _expression(target)
    wrt = tuple(sorted(expr.free_symbols, key=lambda s: (s.name, sympy.srepr(s))))
    if not wrt:
        raise SymgradError(f"nothing to check: {format_expr(expr)} has no variables")
    read = read_claims(claims, wrt)
    point = _point(at, wrt)
    symbols = tuple(read)
    derived = dict(zip(symbols, grad(expr, symbols), strict=True))
    samples = _sample_points(wrt, seed)
    rows = [
        _claim(written, s, derived[s], read[s], point, samples, f"∂{name}/∂{s}") for s in symbols
    ]
    where = ", ".join(f"{s} = {sympy.sstr(v)}" for s, v in point.items())
    title = f"check your derivatives of {name} = {format_expr(written)} at {where}"
    legend = (
        f"compared with symgrad's reverse-mode derivative at {POINTS} seeded random points "
        f"(seed {seed}), by simplify (at most {SIMPLIFY_SECONDS:g} s) and at the point"
    )
    return ClaimReport(title, rows, legend)


def _claim(written, s, derived, claimed, point, samples, label) -> Claim:
    ours, yours = _values(derived, samples), _values(claimed, samples)
    both = ~(np.isnan(ours) | np.isnan(yours))
    # a point where only one of them is defined differs too
    differ = (both & ~_close(ours, yours)) | (np.isnan(ours) != np.isnan(yours))
    here = np.array([_value(e, point) for e in (claimed, derived)])
    here_ok = bool(np.isnan(here).all() or _close(here[:1], here[1:])[0])
    form, zero = _simplified(derived, claimed)
    if differ.any():
        defined = (~np.isnan(ours) | ~np.isnan(yours)).sum()
        evidence = f"differs at {differ.sum()} of {defined} random points"
    elif not both.any():
        evidence = "no random point where both are defined"
    elif not here_ok:
        evidence = "equal at random points, but not at the given point"
    else:
        evidence = "equal after simplification" if zero else f"equal at {both.sum()} random points"
    right = both.any() and not differ.any() and here_ok
    lines = (
        ("yours", _form(format_expr(claimed), here[0])),
        ("symgrad", _form(form or format_expr(derived), here[1])),
    )
    diagnosis = "" if right else _diagnose(written, s, ours[both], yours[both], samples, both)
    return Claim(label, bool(right), evidence, lines, diagnosis)


def _sample_points(wrt: tuple, seed: int) -> list[dict]:
    """Seeded rational points, every other one with positive values only (log, sqrt)."""
    rng = np.random.default_rng(seed)
    points = []
    for k in range(POINTS):
        numerators = rng.integers(5, 300, len(wrt)) * (
            1 if k % 2 else rng.choice([-1, 1], len(wrt))
        )
        points.append(
            {s: sympy.Rational(int(n), 100) for s, n in zip(wrt, numerators, strict=True)}
        )
    return points


def _value(expr, point: dict) -> float:
    """``expr`` at ``point`` to 30 digits, as a float; NaN where it is not a finite real."""
    try:
        v = value_at(expr, point, _DIGITS)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError):
        return np.nan
    if not (v.is_number and v.is_real and v.is_finite):
        return np.nan
    return float(v)


def _values(expr, samples: list) -> np.ndarray:
    return np.array([_value(expr, p) for p in samples])


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) <= TOLERANCE * np.maximum(np.abs(a), np.abs(b)) + 1e-300


def _form(form: str, value: float) -> str:
    """A form and its value at the point (the value alone when the form is a number)."""
    shown = "undefined" if np.isnan(value) else format_value(sympy.Float(value))
    return shown if form == shown else f"{form} = {shown}"


# ---- simplify, with a time budget ---------------------------------------------------------


def _simplified(derived, claimed) -> tuple[str | None, bool]:
    """(symgrad's derivative simplified, as text; whether derived − claimed simplifies to 0),
    from a child process given :data:`SIMPLIFY_SECONDS`; ``(None, False)`` for what it did
    not finish, or where processes cannot be forked."""
    if has_high_power(derived) or sympy.count_ops(derived) + sympy.count_ops(claimed) > (
        SIMPLIFY_LIMIT
    ):
        return None, False
    if "fork" not in multiprocessing.get_all_start_methods():
        return None, False
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_simplify, args=(derived, claimed, send), daemon=True)
    child.start()
    send.close()
    found: list = []
    deadline = time.monotonic() + SIMPLIFY_SECONDS
    try:
        while len(found) < 2 and receive.poll(max(0.0, deadline - time.monotonic())):
            found.append(receive.recv())
    except EOFError:  # the child failed
        pass
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    found += [None, False][len(found) :]
    return found[0], bool(found[1])


def _simplify(derived, claimed, send) -> None:
    """In the child: send the simplest form of ``derived`` as text, then whether the
    difference simplifies to 0."""
    try:
        tidy = sympy.simplify(derived)
        send.send(format_expr(min((tidy, derived), key=sympy.count_ops)))
        send.send(bool(sympy.simplify(derived - claimed) == 0))
    except Exception:  # SymPy failed: the parent goes on without (no traceback on stderr)
        send.close()


# ---- diagnosis ----------------------------------------------------------------------------


def _diagnose(expr, s, ours, yours, samples, used) -> str:
    """A constant factor, a sign, or a missing or extra factor of the chain rule, if the values
    at the random points show one."""
    if not len(ours):
        return ""
    factor = constant_factor(ours, yours)
    if factor is not None:
        return _factor_text(factor, expr, s)
    points = [p for p, ok in zip(samples, used, strict=True) if ok]
    for label, node, local in chain_factors(expr, s):
        values = _values(local, points)
        if np.isnan(values).any():
            continue
        through = f"from the chain rule through {format_expr(node)}"
        shown = f"{label} = {format_expr(local)}" if label != format_expr(local) else label
        if _close(yours * values, ours).all():
            return f"missing the factor {shown} {through}"
        if _close(yours, ours * values).all():
            return f"an extra factor {shown} {through}"
    return ""


def constant_factor(ours: np.ndarray, yours: np.ndarray):
    """The number c with yours = c·ours at every point (as a simple SymPy number where one
    fits), or None."""
    nonzero = np.abs(ours) > 1e-300
    if not nonzero.any() or not np.all(np.abs(yours[~nonzero]) <= 1e-300):
        return None
    ratios = yours[nonzero] / ours[nonzero]
    c = float(ratios[0])
    if not _close(ratios, np.full_like(ratios, c)).all():
        return None
    nice = sympy.nsimplify(c, [sympy.pi], tolerance=1e-9, rational=False)
    return nice if abs(float(nice) - c) <= 1e-9 * abs(c) else sympy.Float(c, 6)


def _factor_text(c, expr, s) -> str:
    if c == -1:
        return "wrong sign: your claim is −1 × symgrad's derivative"
    if c == 0:
        return "your claim is 0 where symgrad's derivative is not"
    text = f"off by a constant factor {format_expr(c)}: your claim is {format_expr(c)} × symgrad's"
    for label, _, local in chain_factors(expr, s, constants=True):
        if not local.free_symbols and sympy.simplify(local * c - 1) == 0:
            return f"{text} (missing the factor {label} = {format_expr(local)} from the chain rule)"
        if not local.free_symbols and sympy.simplify(local - c) == 0 and local != 1:
            return f"{text} (an extra factor {label} = {format_expr(local)})"
    return text


def chain_factors(expr, s, *, constants: bool = False) -> list[tuple[str, object, object]]:
    """The factors the chain rule multiplies on the way from ``expr`` down to ``s``:
    ``(label, node, factor)`` for each node's local derivative with respect to an argument
    that depends on ``s`` (``σ′(w·x)``, ``∂(w·x)/∂w``), and the inner derivative of each such
    argument (``∂(w·x + b)/∂w``), outermost first. Constants only with ``constants``.
    """
    try:  # the formula as written (3·(a + b·c), not 3·a + 3·b·c), if the rules read it
        return _chain_factors(expr, s, constants)
    except SymgradError:
        return _chain_factors(expr.doit(), s, constants)


def _chain_factors(expr, s, constants: bool) -> list[tuple[str, object, object]]:
    order = topological_order([expr])
    live = depends_on(order, {s})
    found, seen = [], set()

    def add(label, node, factor):
        if factor in seen or factor == 1 or not (constants or factor.free_symbols):
            return
        seen.add(factor)
        found.append((label, node, factor))

    for node in reversed(order):
        if node not in live or not node.args or isinstance(node, sympy.Piecewise):
            continue
        rule = rule_for(node)
        for i, child in enumerate(node.args):
            if child not in live or rule.partial is None:
                continue
            add(_local_label(node, child), node, rule.partial(node, i))
            if child != s:
                add(f"∂({format_expr(child)})/∂{s}", node, grad(child, s))
    return found


def _local_label(node, child) -> str:
    """``σ′(w·x)`` for a function of one argument, else ``∂(w·x)/∂w``."""
    if isinstance(node, sympy.Function) and len(node.args) == 1:
        text = format_expr(node)
        head = text.split("(", 1)[0]
        return f"{head}′({format_expr(child)})"
    inner = format_expr(child)
    return f"∂({format_expr(node)})/∂{inner if child.is_Symbol else f'({inner})'}"
