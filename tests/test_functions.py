"""Tests of symgrad.functions: the ML activations as SymPy functions.

Each function's NumPy implementation is checked against a textbook formula on ordinary inputs
and against 50-digit mpmath values at ±1000 (where the textbook formulas overflow), its
``fdiff`` against central differences of the implementation, and its printing and exact
evaluation against values written by hand.
"""

import warnings

import mpmath
import numpy as np
import pytest
import sympy
from sympy import Rational, S

import symgrad
from symgrad.functions import (
    ML_FUNCTIONS,
    NUMPY_IMPLS,
    leaky_relu,
    log_sigmoid,
    relu,
    sigmoid,
    softplus,
    step,
)

x, s = sympy.symbols("x s")

ORDINARY = np.concatenate([np.linspace(-30.0, 30.0, 601), [-1e-8, 1e-8, 0.5, -0.5]])

#: name -> (implementation taking x only, a textbook float64 formula valid for |x| <= 30)
TEXTBOOK = {
    "sigmoid": (sigmoid.numpy_impl, lambda v: 1.0 / (1.0 + np.exp(-v))),
    "relu": (relu.numpy_impl, lambda v: (v + np.abs(v)) / 2),
    "leaky_relu 0.1": (lambda v: leaky_relu.numpy_impl(v, 0.1), lambda v: np.maximum(v, 0.1 * v)),
    "leaky_relu 0.3": (lambda v: leaky_relu.numpy_impl(v, 0.3), lambda v: np.maximum(v, 0.3 * v)),
    "leaky_relu 2.0": (lambda v: leaky_relu.numpy_impl(v, 2.0), lambda v: np.minimum(v, 2.0 * v)),
    "softplus": (softplus.numpy_impl, lambda v: np.log1p(np.exp(v))),
    "log_sigmoid": (log_sigmoid.numpy_impl, lambda v: -np.log1p(np.exp(-v))),
    "step": (step.numpy_impl, lambda v: np.heaviside(v, 0.0)),
}


@pytest.mark.parametrize("name", list(TEXTBOOK))
def test_numpy_impl_matches_textbook_formula(name):
    impl, formula = TEXTBOOK[name]
    np.testing.assert_allclose(impl(ORDINARY), formula(ORDINARY), rtol=1e-13, atol=0)


#: name -> (implementation taking x only, the exact value as an mpmath function)
EXACT = {
    "sigmoid": (sigmoid.numpy_impl, lambda v: 1 / (1 + mpmath.exp(-v))),
    "relu": (relu.numpy_impl, lambda v: max(v, 0)),
    "leaky_relu 0.1": (lambda v: leaky_relu.numpy_impl(v, 0.1), lambda v: v if v > 0 else v / 10),
    "softplus": (softplus.numpy_impl, lambda v: mpmath.log1p(mpmath.exp(v))),
    "log_sigmoid": (log_sigmoid.numpy_impl, lambda v: -mpmath.log1p(mpmath.exp(-v))),
    "step": (step.numpy_impl, lambda v: 1 if v > 0 else 0),
}
EXTREME = [-1000.0, -700.0, -100.0, -40.0, 40.0, 100.0, 700.0, 1000.0]


@pytest.mark.parametrize("name", list(EXACT))
def test_numpy_impl_is_finite_and_accurate_at_extreme_inputs(name):
    impl, exact = EXACT[name]
    # Overflow, division by zero and invalid operations raise; underflow may not: the exact
    # σ(-1000) = e^-1000 ≈ 5e-435 is below the smallest float, so 0.0 is the correctly
    # rounded answer and NumPy's logaddexp sets the underflow flag on the way to it.
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        got = impl(np.array(EXTREME))
    assert np.all(np.isfinite(got))
    with mpmath.workdps(50):
        want = np.array([float(exact(mpmath.mpf(v))) for v in EXTREME])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


def test_textbook_formulas_do_overflow_where_the_implementations_do_not():
    # the reason for the stable forms: the naive formulas fail at the extremes checked above
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        np.log1p(np.exp(np.array([1000.0])))
    with np.errstate(over="ignore"):
        assert np.isinf(-np.log1p(np.exp(np.array([1000.0])))[0])
    assert softplus.numpy_impl(np.array([1000.0]))[0] == 1000.0
    assert log_sigmoid.numpy_impl(np.array([-1000.0]))[0] == -1000.0


def _lambdify(expr, *args):
    return sympy.lambdify(args, expr, modules=[NUMPY_IMPLS, "numpy"])


def _away_from_kink(rng, n=200):
    v = rng.uniform(-6.0, 6.0, n)
    return v[np.abs(v) > 1e-2]


def _central_difference(f, v, h=1e-6):
    return (f(v + h) - f(v - h)) / (2 * h)


@pytest.mark.parametrize("fn", [sigmoid, relu, softplus, log_sigmoid, step])
def test_fdiff_matches_central_differences(fn, rng):
    v = _away_from_kink(rng)
    derivative = _lambdify(fn(x).fdiff(1), x)
    got = np.broadcast_to(derivative(v), v.shape)
    np.testing.assert_allclose(got, _central_difference(fn.numpy_impl, v), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("slope", [0.01, 0.2, 1.5])
def test_leaky_relu_fdiff_in_both_arguments_matches_central_differences(slope, rng):
    v = _away_from_kink(rng)
    impl = leaky_relu.numpy_impl
    d_x = _lambdify(leaky_relu(x, s).fdiff(1), x, s)(v, slope)
    d_s = _lambdify(leaky_relu(x, s).fdiff(2), x, s)(v, slope)
    fd_x = _central_difference(lambda u: impl(u, slope), v)
    fd_s = _central_difference(lambda t: impl(v, t), np.full_like(v, slope))
    np.testing.assert_allclose(d_x, fd_x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(d_s, fd_s, rtol=1e-6, atol=1e-8)


def test_relu_derivative_at_zero_is_zero():
    assert step(0) is S.Zero
    assert step(sympy.Float(0.0)) == 0
    assert step.numpy_impl(np.array(0.0)) == 0.0
    d = symgrad.grad(relu(x), x)
    assert d == step(x)
    assert d.subs(x, 0) == 0
    assert _lambdify(d, x)(0.0) == 0.0
    # and a leaky ReLU's derivative at 0 is its slope (the left branch), by the same convention
    assert symgrad.grad(leaky_relu(x, s), x).subs({x: 0, s: Rational(1, 10)}) == Rational(1, 10)


def test_step_evaluates_from_assumptions():
    assert step(sympy.Symbol("p", positive=True)) == 1
    assert step(sympy.Symbol("q", nonpositive=True)) == 0
    assert step(-sympy.Symbol("p", positive=True)) == 0
    assert isinstance(step(x), step)


@pytest.mark.parametrize(
    "expr, latex",
    [
        (sigmoid(x), r"\sigma\left(x\right)"),
        (sigmoid(x) ** 2, r"\sigma\left(x\right)^{2}"),
        (relu(x), r"\operatorname{ReLU}\left(x\right)"),
        (leaky_relu(x, s), r"\operatorname{LeakyReLU}_{s}\left(x\right)"),
        (softplus(x), r"\operatorname{softplus}\left(x\right)"),
        (log_sigmoid(x), r"\log \sigma\left(x\right)"),
        (step(x), r"\mathbb{1}\left[x > 0\right]"),
        (step(x) ** 2, r"\mathbb{1}\left[x > 0\right]^{2}"),
    ],
)
def test_latex(expr, latex):
    assert sympy.latex(expr) == latex


def test_latex_inside_a_larger_expression():
    assert sympy.latex(relu(x + 1)) == r"\operatorname{ReLU}\left(x + 1\right)"
    assert r"\sigma\left(x\right)" in sympy.latex(3 * sigmoid(x) + x)


def test_exact_values_at_numbers():
    assert sigmoid(0) == S.Half
    assert sigmoid(2) == 1 / (1 + sympy.exp(-2))
    assert relu(-3) == 0
    assert relu(5) == 5
    assert relu(Rational(7, 2)) == Rational(7, 2)
    assert softplus(0) == sympy.log(2)
    assert log_sigmoid(0) == -sympy.log(2)
    assert leaky_relu(-2, Rational(1, 10)) == Rational(-1, 5)
    assert leaky_relu(3, Rational(1, 10)) == 3
    assert step(3) == 1
    assert step(-3) == 0


def test_float_evaluation_agrees_with_numpy_impl():
    for fn in (sigmoid, relu, softplus, log_sigmoid, step):
        for v in (-3.5, -0.25, 0.75, 4.0):
            assert float(fn(sympy.Float(v))) == pytest.approx(float(fn.numpy_impl(v)), rel=1e-14)


def test_evalf_at_numeric_arguments_that_are_not_numbers():
    # softplus(log 2) = log 3, log σ(log 2) = log(2/3), σ(log 2) = 2/3: exact values by hand
    log2 = sympy.log(2)
    assert sympy.N(softplus(log2), 30) == pytest.approx(float(sympy.log(3)), rel=1e-15)
    assert sympy.N(log_sigmoid(log2), 30) == pytest.approx(float(sympy.log(Rational(2, 3))))
    assert sympy.N(sigmoid(log2)) == pytest.approx(2 / 3, rel=1e-15)
    assert sympy.N(relu(sympy.pi)) == pytest.approx(np.pi, rel=1e-15)
    assert sympy.N(relu(log2 - 1)) == 0
    assert sympy.N(leaky_relu(-sympy.pi, Rational(1, 10))) == pytest.approx(-np.pi / 10)
    # a gradient at a float point where exp(0.0) becomes an exact 1 on the way
    assert float(softplus(x + softplus(x)).subs(x, 0.0)) == pytest.approx(np.log(3), rel=1e-15)
    # symbolic arguments are left alone
    assert sympy.N(softplus(x) + relu(x)) == softplus(x) + relu(x)


def test_symbolic_arguments_stay_unevaluated():
    for fn in (sigmoid, relu, softplus, log_sigmoid, step):
        assert fn(x).func is fn


def test_canonical_forms_keep_their_values(rng):
    # σ(-u) is written 1 - σ(u) and log σ(-u) as log σ(u) - u; the rewritten forms must
    # still be the same functions
    v = rng.uniform(-8.0, 8.0, 50)
    np.testing.assert_allclose(_lambdify(sigmoid(-x), x)(v), 1 / (1 + np.exp(v)), rtol=1e-12)
    np.testing.assert_allclose(
        _lambdify(log_sigmoid(-x), x)(v), -np.log1p(np.exp(v)), rtol=1e-12, atol=1e-15
    )


def test_rewrites_agree_with_numpy_impl(rng):
    v = rng.uniform(-8.0, 8.0, 50)
    for fn in (sigmoid, softplus, log_sigmoid):
        rewritten = fn(x).rewrite(sympy.exp)
        assert not rewritten.has(fn)
        np.testing.assert_allclose(_lambdify(rewritten, x)(v), fn.numpy_impl(v), rtol=1e-12)
    as_max = relu(x).rewrite(sympy.Max)
    assert as_max == sympy.Max(x, 0)
    # and the rewritten form has ReLU's derivative, 0 at the kink included
    assert symgrad.grad(as_max, x) == symgrad.grad(relu(x), x) == step(x)
    assert symgrad.grad(as_max, x).subs(x, 0) == 0


def test_every_function_has_a_numpy_impl_under_its_name():
    assert set(NUMPY_IMPLS) == {name for name in ML_FUNCTIONS if name != "σ"}
    assert ML_FUNCTIONS["σ"] is sigmoid
    for name, cls in ML_FUNCTIONS.items():
        if name != "σ":
            assert NUMPY_IMPLS[name] is cls.numpy_impl


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)
