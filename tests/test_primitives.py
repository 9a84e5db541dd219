"""Tests of symgrad.functions.primitive and the registry: a scalar primitive is one definition.

The issue's GELU example runs as written, trains with ``fit`` and passes ``check`` against
finite differences. GELU, ELU and SiLU (built in) and a GELU made by ``symgrad.function``:
values against 50-digit mpmath (±1000 included), derivatives against ``sympy.diff`` of an
independent formula and against central differences, compiled scalar kernels against both,
and networks through both code paths (Numba loops, and NumPy above ``LARGE_MAP``) against
the reference evaluator. The tables that used to be parallel lists are derived: every
registered primitive has a rule, a reader name, helpers in both code printers.
"""

import math
import warnings

import mpmath
import numpy as np
import pytest
import sympy
from sympy import Rational

import symgrad
from symgrad import functions as F
from symgrad.check import check, synthetic_data
from symgrad.cli import main
from symgrad.codegen.emit import LARGE_MAP
from symgrad.codegen.kernels import (
    KernelPrinter,
    NumpyKernelPrinter,
    helper_source,
    numpy_helper_source,
    slow_in_numba,
)
from symgrad.codegen.scalar import compile_expr
from symgrad.engine.rules import RULES, rule_for
from symgrad.model.network import ACTIVATIONS
from symgrad.model.tensor import ARG
from symgrad.nn import Dense, Network, derive, init_params, reference
from symgrad.read.reader import KNOWN_FUNCTIONS
from symgrad.show.equations import sections
from symgrad.show.notes import notes
from symgrad.show.trace import format_expr
from symgrad.train.compiled import CompiledNetwork
from symgrad.train.fit import fit

x = sympy.Symbol("x", real=True)


def _gelu_formula(x):
    return x / 2 * (1 + sympy.erf(x / sympy.sqrt(2)))


USER_GELU = symgrad.function("gelu", _gelu_formula, latex=r"\operatorname{GELU}")

#: name -> (primitive, exact value as an mpmath function, an independent SymPy formula)
CASES = {
    "gelu": (
        F.gelu,
        lambda v: v * mpmath.ncdf(v),
        lambda a: a * sympy.erfc(-a / sympy.sqrt(2)) / 2,
    ),
    "user gelu": (
        USER_GELU,
        lambda v: v * mpmath.ncdf(v),
        lambda a: a * sympy.erfc(-a / sympy.sqrt(2)) / 2,
    ),
    "elu": (
        F.elu,
        lambda v: v if v > 0 else mpmath.expm1(v),
        lambda a: sympy.Piecewise((a, a > 0), (sympy.exp(a) - 1, True)),
    ),
    "silu": (F.silu, lambda v: v / (1 + mpmath.exp(-v)), lambda a: a / (1 + sympy.exp(-a))),
}
EXTREME = [-1000.0, -700.0, -40.0, -10.0, -3.5, -1e-3, 1e-3, 0.7, 40.0, 700.0, 1000.0]
#: The issue's GELU formula as written, x(1 + erf(x/√2))/2, cancels for x < 0 (-3.5: 6e-14
#: relative; -10: 0 for -7.6e-23); the built-in GELU computes through erfc.
TOLERANCE = {"user gelu": {"rtol": 1e-12, "atol": 1e-16}}


@pytest.fixture
def rng():
    return np.random.default_rng(20261201)


# ---- the example ------------------------------------------------------------------


def test_the_gelu_example_runs_as_written_trains_and_checks(tmp_path):
    import sympy, symgrad  # noqa: E401, I001  (as written in the issue)
    from symgrad.nn import Dense, Network

    gelu = symgrad.function(
        "gelu", lambda x: x / 2 * (1 + sympy.erf(x / sympy.sqrt(2))), latex=r"\operatorname{GELU}"
    )
    net = Network([Dense(3, 4, gelu), Dense(4, 1, "sigmoid")], loss="bce")

    X = np.random.default_rng(1).standard_normal((64, 3))
    y = (X @ [1.0, -1.0, 0.5] > 0).astype(float)  # linearly separable
    result = fit(net, X, y, lr=0.5, epochs=300, seed=4, folder=tmp_path)
    assert result.history[-1] < 0.5 * result.history[0]
    report = check(net, data=(X, y), params=result.params, per_entry=True, folder=tmp_path)
    assert report.passed and {row.verdict for row in report.rows} == {"correct"}, report.text()

    text = dict(sections(derive(net), "text"))
    latex = dict(sections(derive(net), "latex"))
    assert "A[1] = GELU(Z[1])" in [f"{lhs} = {rhs}" for lhs, rhs in text["Forward pass"]]
    assert any(r"\operatorname{GELU}" in rhs for _, rhs in latex["Forward pass"])
    assert "It applies GELU elementwise." in notes(derive(net))


# ---- values, derivatives, compiled kernels -------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_values_are_finite_and_accurate_at_extreme_inputs(name):
    fn, exact, _ = CASES[name]
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        got = fn.numpy_impl(np.array(EXTREME))
    with mpmath.workdps(50):
        want = np.array([float(exact(mpmath.mpf(v))) for v in EXTREME])
    np.testing.assert_allclose(got, want, **TOLERANCE.get(name, {"rtol": 1e-14, "atol": 1e-300}))


@pytest.mark.parametrize("name", list(CASES))
def test_derivative_matches_sympy_diff_of_an_independent_formula(name, rng):
    fn, _, formula = CASES[name]
    got = symgrad.grad(fn(x), x)
    want = sympy.diff(formula(x), x)
    for v in rng.uniform(-4.0, 4.0, 8):
        point = {x: sympy.Float(v, 30)}
        assert float(got.xreplace(point).evalf(30)) == pytest.approx(
            float(want.xreplace(point).evalf(30)), rel=1e-13, abs=1e-15
        )


@pytest.mark.parametrize("name", list(CASES))
def test_derivative_matches_central_differences(name, rng):
    fn, _, _ = CASES[name]
    v = rng.uniform(-6.0, 6.0, 50)
    d = sympy.lambdify(x, symgrad.grad(fn(x), x), modules=[F.NUMPY_EXTRAS, "numpy"])
    h = 1e-6
    numeric = (fn.numpy_impl(v + h) - fn.numpy_impl(v - h)) / (2 * h)
    np.testing.assert_allclose(np.broadcast_to(d(v), v.shape), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(CASES))
def test_compiled_value_and_gradient(name, tmp_path):
    fn, exact, formula = CASES[name]
    compiled = compile_expr(fn(x), folder=tmp_path)
    derivative = sympy.diff(formula(x), x)
    tolerance = TOLERANCE.get(name, {"rtol": 1e-14, "atol": 1e-300})
    for v in EXTREME:
        value, (slope,) = compiled.value_and_grad(v)
        with mpmath.workdps(50):
            want = float(exact(mpmath.mpf(v)))
        assert value == pytest.approx(want, rel=tolerance["rtol"], abs=tolerance["atol"]), v
        want = float(derivative.subs(x, sympy.Float(v, 50)).evalf(50))
        # ELU' = ELU + 1 for x ≤ 0 (from its output) is 0 for e^-40 ≈ 4e-18: absolute 1e-16
        assert slope == pytest.approx(want, rel=1e-12, abs=1e-16), v


def test_erf_prints_as_math_erf_for_numba_and_scipy_free_numpy():
    z = sympy.Symbol("z")
    # the helpers of a primitive given only by its formula are that formula, printed
    assert helper_source({USER_GELU}) == (
        "@numba.njit(cache=True)\n"
        "def gelu(x):\n"
        '    """GELU(x) = x*(erf(sqrt(2)*x/2) + 1)/2."""\n'
        "    return (0.5)*x*(math.erf((0.5)*math.sqrt(2.0)*x) + 1.0)"
    )
    numpy_source = numpy_helper_source({USER_GELU})
    assert "_np_erf = np.vectorize(math.erf" in numpy_source and "scipy" not in numpy_source
    printer = NumpyKernelPrinter()
    assert printer.doprint(sympy.erf(z)) == "_np_erf(z)" and printer.helpers == {"erf"}
    assert KernelPrinter().doprint(sympy.erf(z)) == "math.erf(z)"
    assert F.np_erf(np.array([0.5, -2.0])).tolist() == [math.erf(0.5), math.erf(-2.0)]


def test_erfc_has_its_numpy_stand_in_too():
    """A user's primitive in erfc runs on big batches (NumPy kernels), not only in Numba loops."""
    z = sympy.Symbol("z")
    printer = NumpyKernelPrinter()
    assert printer.doprint(sympy.erfc(z)) == "_np_erfc(z)" and printer.helpers == {"erfc"}
    source = numpy_helper_source({"erfc"})
    assert "_np_erfc = np.vectorize(math.erfc, otypes=[float])" in source
    namespace = {"np": np, "math": math}
    exec(source, namespace)  # the generated module's own text, run as it runs there
    assert namespace["_np_erfc"](np.array([0.5, 3.0])).tolist() == [math.erfc(0.5), math.erfc(3.0)]


def test_helpers_of_formula_primitives_bring_what_they_call():
    # SiLU's helpers are printed from x·σ(x): σ's stable helper comes along, in both printers
    numba = helper_source({F.silu})
    assert "def silu(x):" in numba and "return x*sigmoid(x)" in numba and "def sigmoid(x):" in numba
    numpy = numpy_helper_source({F.silu})
    assert "def _np_silu(x):" in numpy and "def _np_sigmoid(x):" in numpy


@pytest.mark.parametrize("activation", ["gelu", "elu", "silu", USER_GELU])
@pytest.mark.parametrize("m", [7, LARGE_MAP // 4 + 100])  # Numba loops; NumPy's ufuncs
def test_networks_compile_through_both_code_paths(activation, m, tmp_path):
    net = Network([Dense(3, 4, activation), Dense(4, 1, "sigmoid")], loss="bce")
    compiled = CompiledNetwork(net, "gd", folder=tmp_path)
    X, y = synthetic_data(net, m, seed=m)
    params = init_params(net, seed=3)
    loss, grads = compiled.loss_and_grad(params, X, y)
    ref = reference(derive(net), params, X, y)
    assert loss == pytest.approx(ref.loss, rel=1e-12)
    for ident, g in grads.items():
        np.testing.assert_allclose(g, ref.gradients[ident], rtol=1e-10, atol=1e-14)


# ---- the registry and what is derived from it -----------------------------------------------


def test_every_primitive_is_in_every_table():
    for name, cls in F.PRIMITIVES.items():
        assert rule_for(cls(*[x] * max(cls.nargs))) is RULES[cls], name
        assert (KNOWN_FUNCTIONS.get(name) is cls) == cls.public, name
        assert f"def {name}(" in helper_source({cls}), name
        assert f"def _np_{name}(" in numpy_helper_source({cls}), name
        # only GELU's erfc has no vectorizable form: its big kernels go through NumPy
        assert slow_in_numba(cls(*[x] * max(cls.nargs))) == (name == "gelu"), name
    assert {"gelu", "elu", "silu", "tanh"} <= set(F.ACTIVATIONS) <= set(ACTIVATIONS)


def test_activation_names_build_the_primitive():
    assert Dense(3, 4, "gelu").kernel("layer 1") == F.gelu(ARG[0])
    assert Dense(3, 4, "silu").kernel("layer 1") == F.silu(ARG[0])
    assert Dense(3, 4, "tanh").kernel("layer 1") == sympy.tanh(ARG[0])
    leaky = Dense(3, 4, "leaky_relu", slope=0.25).kernel("layer 1")
    assert leaky == F.leaky_relu(ARG[0], sympy.Rational(1, 4))


def test_printed_forms():
    z = sympy.Symbol("z")
    assert sympy.latex(F.gelu(z)) == r"\operatorname{GELU}\left(z\right)"
    assert sympy.latex(F.elu(z) ** 2) == r"\operatorname{ELU}\left(z\right)^{2}"
    assert sympy.latex(F.silu(z)) == r"\operatorname{SiLU}\left(z\right)"
    assert sympy.latex(USER_GELU(z)) == r"\operatorname{GELU}\left(z\right)"
    assert str(F.gelu(z)) == "gelu(z)"  # the name users type, so text round-trips
    assert format_expr(F.sigmoid(z) + USER_GELU(z)) == "GELU(z) + σ(z)"
    # a primitive without a LaTeX head prints its name in both
    plain = symgrad.function("cube", lambda x: x**3)
    assert sympy.latex(plain(z)) == r"\operatorname{cube}\left(z\right)"
    assert format_expr(plain(z)) == "cube(z)"


def test_function_numbers_evalf_and_a_given_derivative(rng):
    assert USER_GELU(0) == 0
    assert float(USER_GELU(sympy.Float(1.5)).evalf()) == pytest.approx(
        1.5 * float(mpmath.ncdf(1.5))
    )
    assert USER_GELU(x).func is USER_GELU
    # a derivative given in terms of the output is the one the rule uses
    softsign = symgrad.function(
        "softsign",
        lambda x: x / (1 + sympy.Abs(x)),
        derivative=lambda x, out: (1 - sympy.Abs(out)) ** 2,
    )
    assert symgrad.grad(softsign(x), x) == (1 - sympy.Abs(softsign(x))) ** 2
    v = rng.uniform(-3, 3, 20)
    d = sympy.lambdify(x, sympy.diff(x / (1 + sympy.Abs(x)), x), "numpy")
    got = sympy.lambdify(x, symgrad.grad(softsign(x), x), "numpy")(v)
    np.testing.assert_allclose(got, d(v), rtol=1e-12)


def test_cli_offers_the_new_activations(capsys, tmp_path):
    for name, head in [("gelu", "GELU"), ("elu", "ELU"), ("silu", "SiLU")]:
        out = tmp_path / f"{name}.md"
        status = main(["notes", "--layers", "2,3,1", "--hidden", name, "-o", str(out)])
        assert status == 0, capsys.readouterr().err
        assert rf"\operatorname{{{head}}}" in out.read_text()


def test_check_reports_a_primitives_own_kink(tmp_path):
    # ReLU mirrored; its derivative given by the kink convention (0 at 0), since sympy.diff
    # of a Max would answer with Heaviside(0) = 1/2
    mirrored = symgrad.function(
        "mirrored", lambda x: sympy.Max(-x, 0), derivative=lambda x, out: -F.step(-x), kink="M"
    )
    away = check(mirrored(x) * 2, at={"x": Rational(-1, 2)}, folder=tmp_path)
    assert {row.verdict for row in away.rows} == {"correct"} and "M at" not in away.text()
    at_kink = check(mirrored(x) * 2, at={"x": 0}, folder=tmp_path)
    assert at_kink.passed and "near a kink (M at x = 0)" in at_kink.text()


@pytest.mark.parametrize(
    "activation, gain",
    [
        ("relu", 2.0),
        ("leaky_relu", 2.0),
        ("gelu", 2.0),
        ("elu", 2.0),
        ("silu", 2.0),
        ("sigmoid", 1.0),
        ("tanh", 1.0),
        ("identity", 1.0),
        (symgrad.function("ramp", lambda x: sympy.Max(x, 0)), 2.0),  # ReLU by another name
        (symgrad.function("squash", lambda x: x / (1 + sympy.Abs(x))), 1.0),  # tanh-like
        (USER_GELU, 2.0),
        (sympy.sin, 1.0),
    ],
)
def test_init_scale_is_the_activations_gain(activation, gain):
    """W[1] ~ N(0, gain/n_in): the seeded normals times √(gain/n_in), gain from the function."""
    net = Network([Dense(5, 4, activation), Dense(4, 1, "sigmoid")], loss="bce")
    rng = np.random.default_rng(3)
    want_w1 = rng.standard_normal((4, 5)) * math.sqrt(gain / 5)
    want_w2 = rng.standard_normal((1, 4)) * math.sqrt(1 / 4)
    params = init_params(net, seed=3)
    np.testing.assert_array_equal(params["W1"], want_w1)
    np.testing.assert_array_equal(params["W2"], want_w2)
    assert not params["b1"].any() and params["b1"].shape == (4,)


def test_a_given_gain_wins():
    flat = symgrad.function("flat", lambda x: sympy.tanh(x), gain=25 / 9)
    assert flat.gain() == 25 / 9
