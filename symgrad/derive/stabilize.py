"""Derive stage: naive formulas rewritten into numerically stable forms.

Written by hand, ``log(1 + e^z)`` is ``inf`` at z = 1000 and ``e^z / (1 + e^z)`` is NaN;
the functions they spell out have stable implementations. :func:`stable_form` rewrites,
bottom-up, with the terms in any order or sign:

- ``log(1 + e^z)`` → ``softplus(z)``; ``log(e^a + e^b + ...)`` → nested ``logaddexp``
  (a positive constant c counts as ``e^{log c}``, a term ``c·e^x`` as ``e^{x + log c}``);
- ``log σ(z)`` → ``log_sigmoid(z)``; ``log(1 − σ(z))`` → ``log_sigmoid(−z)``;
- ``e^a / (e^a + e^b)`` → ``σ(a − b)`` (so ``e^z / (1 + e^z)`` → ``σ(z)``), and
  ``e^a / (e^a + e^b + ...)`` → ``exp(a − logaddexp(...))``;
- ``1 / (1 + e^{−z})`` → ``σ(z)``.

Expressions that match no pattern come back unchanged (the same object). Each rewrite is
recorded as ``"before → after"``, so what a compiled module computes can be printed.
Imports SymPy, :mod:`symgrad.engine.graph` and :mod:`symgrad.functions` only.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy

from symgrad.engine.graph import topological_order
from symgrad.functions import log_sigmoid, logaddexp, sigmoid, softplus


def stable_form(expr: sympy.Expr) -> tuple[sympy.Expr, list[str]]:
    """``expr`` with naive formulas replaced by stable functions, and what was replaced.

    >>> z = sympy.Symbol("z")
    >>> stable_form(sympy.log(1 + sympy.exp(z)))
    (softplus(z), ['log(exp(z) + 1) → softplus(z)'])
    """
    rewrites: list[str] = []
    expr = _bottom_up(expr, _quotient, rewrites)  # before 1/(1 + e^z) loses its numerator
    return _bottom_up(expr, _single, rewrites), rewrites


def stabilize(expr: sympy.Expr) -> sympy.Expr:
    """:func:`stable_form` without the record."""
    return stable_form(expr)[0]


def _bottom_up(expr, rule: Callable, rewrites: list[str]):
    """Rebuild ``expr`` children first, replacing each node where ``rule`` gives a form."""
    new: dict = {}
    for node in topological_order([expr]):
        args = [new[a] for a in node.args]
        built = node.func(*args) if args != list(node.args) else node
        stable = rule(built) if isinstance(built, sympy.Expr) else None
        if stable is not None and stable != built:
            line = f"{sympy.sstr(built)} → {sympy.sstr(stable)}"
            if line not in rewrites:
                rewrites.append(line)
            built = stable
        new[node] = built
    return new[expr]


def _exponents(total) -> list | None:
    """``[x_1, ...]`` with ``total = Σ e^{x_i}``, or None; terms may be e^x, c·e^x and c > 0."""
    exponents, seen_exp = [], False
    for term in sympy.Add.make_args(total):
        c, rest = term.as_coeff_Mul()
        if c.is_positive and rest == 1:
            exponents.append(sympy.log(c))
        elif c.is_positive and isinstance(rest, sympy.exp):
            exponents.append(rest.args[0] + sympy.log(c))
            seen_exp = True
        else:
            return None
    return exponents if seen_exp else None


def _log_sum_exp(exponents: list) -> sympy.Expr:
    """``log Σ e^{x_i}`` as ``x``, ``softplus`` or nested ``logaddexp``."""
    total = exponents[0]
    for x in exponents[1:]:
        if total == 0 or x == 0:
            total = softplus(total + x)
        else:
            total = logaddexp(total, x)
    return total


def _quotient(node):
    """``e^a / (e^a + e^b)`` → ``σ(a − b)``; ``e^a / (e^a + ...)`` → ``exp(a − logaddexp)``."""
    if not isinstance(node, sympy.Mul):
        return None
    factors = list(node.args)
    for f in factors:
        if not (f.is_Pow and f.exp == -1):
            continue
        exponents = _exponents(f.base)
        for top in factors:
            if exponents and isinstance(top, sympy.exp) and top.args[0] in exponents:
                a = top.args[0]
                if len(exponents) == 2:
                    b = exponents[1 - exponents.index(a)]
                    stable = sigmoid(a - b)
                else:
                    stable = sympy.exp(a - _log_sum_exp(exponents))
                rest = [g for g in factors if g is not f and g is not top]
                return sympy.Mul(*rest, stable)
    return None


def _single(node):
    """The rules about one node: logs of sums of exponentials and of σ, ``1/(1 + e^x)``."""
    if isinstance(node, sympy.log):
        arg = node.args[0]
        if isinstance(arg, sigmoid):
            return log_sigmoid(arg.args[0])
        if isinstance(1 - arg, sigmoid):
            return log_sigmoid(-(1 - arg).args[0])
        exponents = _exponents(arg)
        return None if exponents is None else _log_sum_exp(exponents)
    if node.is_Pow and node.exp == -1:
        exponents = _exponents(node.base)
        if exponents and len(exponents) == 2 and 0 in exponents:
            return sigmoid(-exponents[1 - exponents.index(0)])
    return None
