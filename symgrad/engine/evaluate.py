"""Engine: an expression's value at a point, exact where that is cheap.

Exact rational arithmetic is what makes the lecture's numbers exact (u = 6, v = 7, j = 21) and
what decides a kink exactly (``Max(0, 1 - s*t)`` at s·t = 1), but it has no bound on its cost:
``((x + 1)**1000 + 1)**1000`` at x = -1/1000 is a fraction of millions of digits. So the value
is computed exactly only when its estimated size in bits is small, and numerically with mpmath
from the exact point otherwise. Imports SymPy and :mod:`symgrad.engine.graph`.
"""

from __future__ import annotations

import math

import sympy

from symgrad.engine.graph import topological_order

#: Exact evaluation only while the result's estimated size stays below this many bits.
MAX_EXACT_BITS = 200_000


def value_at(expr: sympy.Expr, values: dict, digits: int) -> sympy.Expr:
    """``expr`` at ``values``: exactly (then to ``digits`` if irrational) when cheap, else
    numerically with ``digits`` digits (``evalf`` with ``subs=``, which never expands powers).

    Returns:
        A Rational, a Float, or a non-finite SymPy value (``zoo``, ``nan``, ``oo``).
    """
    if exact_is_cheap(expr, values):
        exact = expr.xreplace(values)
        return exact if exact.is_Rational else exact.evalf(digits)
    return expr.evalf(digits, subs=values)


def exact_is_cheap(expr: sympy.Expr, values: dict) -> bool:
    """Whether the exact value of ``expr`` at ``values`` has at most :data:`MAX_EXACT_BITS`.

    An upper estimate, node by node: a number's numerator and denominator bits; the sum over
    the operands of a product or a sum (a/b + c/d has denominator bd); |exponent| × the
    base's for a power (its exponent approximated at the point, so ``x**y`` counts y's
    value); the largest argument's for a function, which is evaluated numerically anyway.
    """
    bits: dict = {}
    for node in topological_order([expr]):
        if node in values or node.is_Number:
            b = _bits(values.get(node, node))
        elif not node.args:
            b = 1
        elif node.is_Pow:
            exponent = node.exp.evalf(15, subs=values)
            if not (exponent.is_Number and exponent.is_finite):
                return False
            b = bits[node.base] * max(1, math.ceil(abs(exponent)))
        elif node.is_Mul or node.is_Add:
            b = sum(bits[arg] for arg in node.args)
        else:
            b = max((bits.get(arg, 1) for arg in node.args), default=1)
        if b > MAX_EXACT_BITS:
            return False
        bits[node] = b
    return True


def _bits(number) -> int:
    """Bits of a number's exact form: numerator and denominator, or a float's 64."""
    number = sympy.sympify(number, strict=True)
    if number.is_Rational:
        return max(1, int(number.p).bit_length() + int(number.q).bit_length())
    return 64
