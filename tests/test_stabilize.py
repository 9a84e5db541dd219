"""Stability rewrites: each naive pattern's stable form, its record, and what is left alone.

Oracles: the expected stable form written here; the naive and the stable forms evaluated
in 50-digit arithmetic (mpmath) at random points, where they must agree; ``sympy.diff`` of
``logaddexp``'s definition for its derivative.
"""

import mpmath
import numpy as np
import pytest
import sympy

from symgrad.derive.stabilize import stabilize, stable_form
from symgrad.functions import log_sigmoid, logaddexp, sigmoid, softplus

a, b, c, y, z = sympy.symbols("a b c y z")
E, L = sympy.exp, sympy.log

#: (naive formula, its stable form).
PATTERNS = [
    (L(1 + E(z)), softplus(z)),
    (L(E(-z) + 1), softplus(-z)),
    (L(sigmoid(z)), log_sigmoid(z)),
    (L(1 - sigmoid(z)), log_sigmoid(-z)),
    (E(z) / (1 + E(z)), sigmoid(z)),
    (E(-z) / (E(-z) + 1), sigmoid(-z)),
    (1 / (1 + E(-z)), sigmoid(z)),
    (1 / (E(z) + 1), sigmoid(-z)),
    (L(1 / (1 + E(-z))), log_sigmoid(z)),
    (L(E(a) + E(b)), logaddexp(a, b)),
    (L(E(b) + E(a)), logaddexp(a, b)),
    (L(E(a) + E(b) + E(c)), logaddexp(logaddexp(a, b), c)),
    (L(1 + E(a) + E(b)), logaddexp(softplus(a), b)),
    (L(E(z) + E(-z)), logaddexp(z, -z)),
    (L(2 + E(z)), logaddexp(L(2), z)),
    (L(1 + 3 * E(z)), softplus(z + L(3))),
    (L(E(z)), z),
    (E(a) / (E(a) + E(b)), sigmoid(a - b)),
    (E(b) / (E(a) + E(b)), sigmoid(b - a)),
    (E(a) / (E(a) + E(b) + E(c)), E(a - logaddexp(logaddexp(a, b), c))),
    (y * E(z) / (1 + E(z)), y * sigmoid(z)),
    (-y * L(1 + E(-z)) - (1 - y) * L(1 + E(z)), -y * softplus(-z) - (1 - y) * softplus(z)),
]

#: Expressions with no naive pattern: they must come back as the same object.
UNCHANGED = [
    sympy.exp(a * b) / (1 + c**2) ** 2 + sympy.sqrt(1 + a**2) * L(1 + b**2) + sympy.tanh(c),
    L(1 + z**2),
    L(E(z) - 1),
    E(z) / (1 + z),
    1 / (2 + E(z)),
    L(1 + y * E(z)),
    E(a) / (E(b) + E(c)),
    softplus(z) + log_sigmoid(a) + sigmoid(b),
]


@pytest.fixture
def rng():
    return np.random.default_rng(8)


def _mp(expr, symbols):
    """``expr`` as a 50-digit mpmath function (our functions written out in exp and log)."""
    return sympy.lambdify(symbols, expr.rewrite(sympy.exp), modules="mpmath")


@pytest.mark.parametrize("naive, stable", PATTERNS, ids=[str(p[0]) for p in PATTERNS])
def test_each_pattern_becomes_its_stable_form(naive, stable):
    got, rewrites = stable_form(naive)
    assert got == stable
    assert rewrites and all(" → " in line for line in rewrites)


@pytest.mark.parametrize("naive, stable", PATTERNS, ids=[str(p[0]) for p in PATTERNS])
def test_stable_form_equals_the_naive_one(naive, stable, rng):
    symbols = sorted(naive.free_symbols, key=str)
    f, g = _mp(naive, symbols), _mp(stable_form(naive)[0], symbols)
    with mpmath.workdps(50):
        for point in rng.uniform(-4, 4, (5, len(symbols))):
            args = [mpmath.mpf(float(v)) for v in point]
            assert mpmath.almosteq(f(*args), g(*args), rel_eps=mpmath.mpf(10) ** -40)


def test_the_record_names_each_rewrite():
    assert stable_form(L(1 + E(z))) == (softplus(z), ["log(exp(z) + 1) → softplus(z)"])
    _, rewrites = stable_form(L(1 / (1 + E(-z))) + L(E(a) + E(b)))
    assert rewrites == [
        "1/(1 + exp(-z)) → sigmoid(z)",
        "log(sigmoid(z)) → log_sigmoid(z)",
        "log(exp(a) + exp(b)) → logaddexp(a, b)",
    ]


@pytest.mark.parametrize("expr", UNCHANGED, ids=[str(e) for e in UNCHANGED])
def test_expressions_without_a_pattern_are_left_alone(expr):
    got, rewrites = stable_form(expr)
    assert got is expr and rewrites == []
    assert stabilize(expr) is expr


def test_a_shared_subexpression_is_rewritten_once():
    inner = L(1 + E(z))
    got, rewrites = stable_form(inner**2 + sympy.sin(inner))
    assert got == softplus(z) ** 2 + sympy.sin(softplus(z))
    assert rewrites == ["log(exp(z) + 1) → softplus(z)"]


def test_logaddexp_derivative_and_values(rng):
    definition = L(E(a) + E(b))
    for _ in range(3):
        point = {a: sympy.Float(rng.uniform(-3, 3), 30), b: sympy.Float(rng.uniform(-3, 3), 30)}
        for i, s in enumerate((a, b)):
            want = sympy.diff(definition, s).evalf(30, subs=point)
            got = logaddexp(a, b).fdiff(i + 1).evalf(30, subs=point)
            assert float(got) == pytest.approx(float(want), rel=1e-14)
        assert float(logaddexp(a, b).evalf(30, subs=point)) == pytest.approx(
            float(definition.evalf(30, subs=point)), rel=1e-14
        )
    assert logaddexp(sympy.Integer(0), sympy.Integer(0)) == L(2)
    big = np.array([1000.0, -1000.0, 1e308])
    np.testing.assert_array_equal(logaddexp.numpy_impl(big, big), big + np.log(2))
