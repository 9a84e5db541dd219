"""Check stage: a scalar formula's compiled gradient against finite differences and SymPy.

Per variable, the compiled gradient is compared with central differences of the compiled
value in float64; in exact mode the symbolic value and gradient are also evaluated by SymPy
at the rational point to 30 digits and compared with the compiled float results. The two
oracles see different bugs: finite differences a wrong derivative (a bad rule), the exact
values wrong code for a right derivative.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy

from symgrad.check.kinks import scalar_kinks
from symgrad.check.report import CheckReport, gradient_row, roundoff, value_row
from symgrad.codegen.files import digest
from symgrad.codegen.scalar import CompiledFunction, compile_expr
from symgrad.engine.autodiff import grad
from symgrad.engine.evaluate import value_at
from symgrad.engine.graph import quote
from symgrad.errors import ParseError, SymgradError, UnknownSymbolError
from symgrad.read.reader import as_expression

#: Digits of the exact (SymPy) evaluation.
EXACT_DIGITS = 30
FLOAT64_TINY = 2.2250738585072014e-308  # smallest normal float64: below it, values underflow


def _expression(target) -> tuple[sympy.Expr, sympy.Expr]:
    """The expression as written (for the title) and evaluated (to derive and compile)."""
    try:
        expr = as_expression(target)
    except ParseError:
        if isinstance(target, str):
            raise
        raise SymgradError(
            f"check takes an expression or a network, got {type(target).__name__}"
        ) from None
    return expr, expr.doit()


def _exact_value(value, name: str) -> sympy.Expr:
    """A number as given, exactly: floats as their binary value (the point compiled code sees)."""
    if isinstance(value, (bool, np.bool_)):
        raise SymgradError(f"{name}: expected a number, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return sympy.Integer(int(value))
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise SymgradError(f"{name}: expected a finite number, got {value!r}")
        return sympy.Rational(float(value))
    if isinstance(value, sympy.Basic) and value.is_number and value.is_real:
        return value
    raise SymgradError(f"{name}: expected a number, got {value!r}")


def _point(at, wrt: tuple) -> dict:
    """``at`` as symbol -> exact value, in the order of ``wrt``."""
    if at is None:
        raise SymgradError("give the point: at={name: value, ...}")
    by_name = {str(k): v for k, v in dict(at).items()}
    names = [s.name for s in wrt]
    extra = [k for k in by_name if k not in names]
    if extra:
        raise UnknownSymbolError(
            f"{', '.join(extra)} not in the expression (its symbols: {', '.join(names)})"
        )
    missing = [n for n in names if n not in by_name]
    if missing:
        raise UnknownSymbolError(f"no value for {', '.join(missing)} in at=")
    return {s: _exact_value(by_name[s.name], s.name) for s in wrt}


def _exact_error(computed: float, symbolic: sympy.Expr, point: dict) -> tuple:
    """``(relative error, note)`` of ``computed`` against ``symbolic`` at ``point`` (30 digits).

    Exact while cheap (:func:`symgrad.engine.evaluate.value_at`): ``((x + 1)**1000 + 1)**1000`` at
    x = -1/1000 is evaluated with mpmath, never as a fraction of millions of digits.
    """
    value = value_at(symbolic, point, EXACT_DIGITS)
    if not (value.is_real and value.is_finite):
        return None, f"no exact value ({value})"
    if 0 < abs(value) < FLOAT64_TINY and abs(computed) < FLOAT64_TINY:
        return None, f"{sympy.sstr(value.evalf(3))} underflows float64"
    compiled = sympy.Float(computed, EXACT_DIGITS)  # a float's binary value, exactly
    den = abs(compiled) + abs(value)
    return (0.0 if den == 0 else float(abs(compiled - value) / den)), ""


def check_scalar(target, at, h, exact, name, folder) -> CheckReport:
    """:func:`~symgrad.check.check` of a formula (or a compiled function) at ``at``, step ``h``."""
    if isinstance(target, CompiledFunction):
        compiled, expr, wrt = target, target.expr, target.wrt
        written, point, symbolic = expr, _point(at, wrt), grad(expr, wrt)
    else:
        written, expr = _expression(target)
        wrt = tuple(sorted(expr.free_symbols, key=lambda s: (s.name, sympy.srepr(s))))
        if not wrt:
            raise SymgradError(f"nothing to check: {quote(expr)} has no variables")
        point = _point(at, wrt)  # bad input is reported before anything is compiled
        symbolic = grad(expr, wrt)
        # the module's name covers the derived gradient, so a changed rule is recompiled
        key = digest(f"{sympy.srepr(expr)}\n{sympy.srepr(wrt)}\n{sympy.srepr(symbolic)}")
        compiled = compile_expr(expr, wrt, name=f"check_{key[:12]}", folder=folder)
    x = [float(v) for v in point.values()]
    value, gradient = compiled.value_and_grad(*x)
    kinks = scalar_kinks(expr, point, h)
    rows = [value_row(name, value, *_exact_error(value, expr, point))] if exact else []
    for i, s in enumerate(wrt):
        plus, minus = list(x), list(x)
        plus[i], minus[i] = x[i] + h, x[i] - h
        f_plus, f_minus = compiled(*plus), compiled(*minus)
        width = plus[i] - minus[i]  # the step actually taken, after rounding
        exact_error, note = _exact_error(gradient[i], symbolic[i], point) if exact else (None, "")
        rows.append(
            gradient_row(
                f"∂{name}/∂{s}",
                gradient[i],
                (f_plus - f_minus) / width,
                noise=roundoff(f_plus, f_minus, width),
                exact_error=exact_error,
                kink=kinks.get(s),
                note=note,
            )
        )
    where = ", ".join(f"{s} = {_show(v)}" for s, v in zip(wrt, _given(at, wrt), strict=True))
    title = (
        f"Gradient of {name} = {sympy.sstr(written)} at {where}, "
        f"checked against central differences (h = {h:g})"
    )
    legend = "symbolic: compiled; numeric: central differences of the compiled value"
    if exact:
        legend += (
            f"; exact err.: compiled vs SymPy's value at the rational point ({EXACT_DIGITS} "
            f"digits); row {name}: the value itself"
        )
    if compiled.rewrites:  # what the compiled code computes instead of the naive formula
        legend += "; compiled with stable forms: " + "; ".join(compiled.rewrites)
    return CheckReport(
        title, rows, legend, ("quantity", "symbolic", "numeric", "exact err." if exact else None)
    )


def _given(at, wrt) -> list:
    """The values of ``at`` in the order of ``wrt``, as given."""
    by_name = {str(k): v for k, v in dict(at).items()}
    return [by_name[s.name] for s in wrt]


def _show(value) -> str:
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
