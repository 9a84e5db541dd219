"""Scalar compile: generated Numba functions against sympy.diff, finite differences, files.

Each expression is compiled once (module-scoped fixtures, one session folder), so Numba
compiles each generated function once per run.
"""

import ast
import math

import mpmath
import numpy as np
import pytest
import sympy

from symgrad.codegen.scalar import compile_expr
from symgrad.errors import (
    EvaluationError,
    GeneratedFileError,
    NoDerivativeRuleError,
    ShapeError,
    SymgradError,
    UnknownSymbolError,
)
from symgrad.functions import log_sigmoid, relu, sigmoid, softplus

a, b, c, d = sympy.symbols("a b c d")
w1, w2, bias, x1, x2, y = sympy.symbols("w1 w2 b x1 x2 y")
LECTURE = 3 * (a + b * c)
Z = w1 * x1 + w2 * x2 + bias
LOGISTIC = -(y * sympy.log(sigmoid(Z)) + (1 - y) * sympy.log(1 - sigmoid(Z)))
ACTIVATIONS = sigmoid(a) + softplus(b) + log_sigmoid(c) + relu(d)
MIXED = (  # its gradient divides by a square: (1 + c²)³ and (1 + c²)²
    sympy.exp(a * b) / (1 + c**2) ** 2 + sympy.sqrt(1 + a**2) * sympy.log(1 + b**2) + sympy.tanh(c)
)


@pytest.fixture(scope="session")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("generated")


@pytest.fixture(scope="module")
def lecture(folder):
    return compile_expr(LECTURE, folder=folder)


@pytest.fixture(scope="module")
def logistic(folder):
    return compile_expr(LOGISTIC, folder=folder)


@pytest.fixture(scope="module")
def activations(folder):
    return compile_expr(ACTIVATIONS, folder=folder)


@pytest.fixture(scope="module")
def mixed(folder):
    return compile_expr(MIXED, folder=folder)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _oracle(expr, wrt, point):
    """Value and gradient by sympy.diff of the expression rewritten into exp, at 30 digits."""
    plain = expr.rewrite(sympy.exp)
    subs = {s: sympy.Float(v, 30) for s, v in zip(wrt, point, strict=True)}

    def number(e):  # evalf may leave a zero imaginary part (0.e-44*I)
        return complex(e.evalf(30, subs=subs)).real

    return number(plain), np.array([number(sympy.diff(plain, s)) for s in wrt])


def _relative(u, v) -> float:
    u, v = np.atleast_1d(u), np.atleast_1d(v)
    return float(np.linalg.norm(u - v) / (np.linalg.norm(u) + np.linalg.norm(v) + 1e-300))


def test_lecture_value_and_gradient(lecture):
    assert lecture.wrt == (a, b, c)
    assert lecture(1, 2, 3) == 21.0
    assert lecture.value_and_grad(1, 2, 3) == (21.0, (3.0, 9.0, 6.0))


def test_lecture_module_golden(lecture):
    source = lecture.source()
    assert "∂f/∂a = 3\n∂f/∂b = 3*c\n∂f/∂c = 3*b\n" in source
    assert (
        "@numba.njit(cache=True)\n"
        "def value_and_grad(a, b, c):\n"
        '    """(f, (∂f/∂a, ∂f/∂b, ∂f/∂c)) at one point."""\n'
        "    _t0 = 3.0*c\n"
        "    return _t0*b + 3.0*a, (3.0, _t0, 3.0*b)\n"
    ) in source


@pytest.mark.parametrize("case", ["logistic", "mixed"])
def test_matches_sympy_diff_at_random_points(case, request, rng):
    compiled = request.getfixturevalue(case)
    low = np.array([0.0 if s == y else -2.0 for s in compiled.wrt])
    for _ in range(4):
        point = rng.uniform(low, 2.0)
        value, gradient = compiled.value_and_grad(*point)
        exact_value, exact_gradient = _oracle(compiled.expr, compiled.wrt, point)
        assert _relative(value, exact_value) < 1e-12
        assert _relative(gradient, exact_gradient) < 1e-12


@pytest.mark.parametrize("case", ["logistic", "mixed"])
def test_gradient_matches_central_differences(case, request, rng):
    compiled = request.getfixturevalue(case)
    h = 1e-6
    for _ in range(3):
        point = rng.uniform(-1.5, 1.5, len(compiled.wrt))
        direction = rng.standard_normal(len(compiled.wrt))
        numeric = (compiled(*(point + h * direction)) - compiled(*(point - h * direction))) / (
            2 * h
        )
        _, gradient = compiled.value_and_grad(*point)
        assert _relative(numeric, np.dot(gradient, direction)) < 1e-7


@pytest.mark.parametrize("logit", [-1000.0, 1000.0])
def test_activations_stay_finite_at_large_logits(activations, logit):
    value, gradient = activations.value_and_grad(logit, logit, logit, logit)
    expected = sum(f.numpy_impl(logit) for f in (sigmoid, softplus, log_sigmoid, relu))
    assert math.isfinite(value) and all(map(math.isfinite, gradient))
    assert value == pytest.approx(expected, rel=1e-12)
    up = logit > 0
    assert gradient == pytest.approx((0.0, float(up), float(not up), float(up)), abs=1e-300)


@pytest.mark.parametrize("logit", [-1000.0, 1000.0])
@pytest.mark.parametrize("label", [0.0, 1.0])
def test_logistic_loss_stays_finite_at_large_logits(logistic, logit, label):
    # inputs in sorted order: b, w1, w2, x1, x2, y; z = logit
    value, gradient = logistic.value_and_grad(0.0, logit, 0.0, 1.0, 0.0, label)
    assert math.isfinite(value) and all(map(math.isfinite, gradient))
    wrong = (logit > 0) != (label == 1.0)
    assert value == pytest.approx(1000.0 if wrong else 0.0, abs=1e-12)
    assert gradient[0] == pytest.approx((logit > 0) - label)  # ∂L/∂b = σ(z) - y


def test_vectorized_entry_matches_scalar_one(logistic, rng):
    points = rng.uniform(-3, 3, (20, 6))
    points[:, 5] = rng.uniform(0, 1, 20)
    values, gradients = logistic.value_and_grad_many(*points.T)
    assert values.shape == (20,) and gradients.shape == (20, 6)
    for point, value, gradient in zip(points, values, gradients, strict=True):
        one_value, one_gradient = logistic.value_and_grad(*point)
        assert value == pytest.approx(one_value, rel=1e-14)
        np.testing.assert_allclose(gradient, one_gradient, rtol=1e-14)
    assert logistic(*points[0]) == pytest.approx(values[0], rel=1e-14)


def test_vectorized_entry_broadcasts_scalars_and_checks_shapes(lecture):
    values, gradients = lecture.value_and_grad_many([1.0, 2.0], 2.0, [3.0, 3.0])
    np.testing.assert_array_equal(values, [21.0, 24.0])
    np.testing.assert_array_equal(gradients, [[3.0, 9.0, 6.0], [3.0, 9.0, 6.0]])
    with pytest.raises(ShapeError, match="different lengths"):
        lecture.value_and_grad_many([1.0, 2.0], [1.0, 2.0, 3.0], 1.0)
    with pytest.raises(ShapeError, match="1-D"):
        lecture.value_and_grad_many([[1.0]], [[2.0]], [[3.0]])


def test_source_imports_math_numba_numpy_only(logistic):
    tree = ast.parse(logistic.source())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"math", "numba", "numpy"}
    doc = ast.get_docstring(tree)
    assert "do not edit" in doc and "log_sigmoid" in doc and "∂f/∂w1 = v*x1" in doc
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert functions == ["log_sigmoid", "sigmoid", "value", "value_and_grad", "value_and_grad_many"]


def test_generation_is_deterministic(lecture, tmp_path):
    again = compile_expr(LECTURE, folder=tmp_path)
    assert again.source() == lecture.source()
    assert again.path.read_text() == lecture.path.read_text() == lecture.source()
    assert again.name == lecture.name and again.name.startswith("f_") and len(again.name) == 10


def test_reused_file_skips_the_derivation(lecture, folder):
    again = compile_expr(LECTURE, folder=folder)
    assert again.path == lecture.path and again.module is lecture.module
    assert "equations" not in vars(again) and "_body" not in vars(again)


def test_generate_twice_reuses_the_file(lecture, tmp_path):
    path = lecture.generate(tmp_path)
    assert path == tmp_path / f"{lecture.name}.py"
    before = path.stat()
    assert lecture.generate(tmp_path) == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    path.write_text(path.read_text().replace("3.0*a", "4.0*a"))
    with pytest.raises(GeneratedFileError, match="edited"):
        lecture.generate(tmp_path)
    assert lecture.generate(tmp_path, overwrite=True).read_text() == lecture.source()


def test_text_input_and_explicit_order(lecture, folder):
    assert compile_expr("3*(a + b*c)", folder=folder).path == lecture.path
    reordered = compile_expr(LECTURE, [c, "b", a], folder=folder)
    assert reordered.wrt == (c, b, a) and reordered.name != lecture.name
    assert "def value_and_grad(c, b, a):" in reordered.source()


def test_unusable_names_are_renamed(folder):
    lam, s = sympy.symbols("lambda σ")
    compiled = compile_expr(lam * s**2, folder=folder)
    assert compiled.inputs == ["x0", "x1"]
    assert "def value(x0, x1):" in compiled.source()
    assert "x0 = lambda, x1 = σ" in compiled.source()


def test_latex_prints_the_gradient_equations(lecture):
    latex = lecture.latex()
    assert r"\frac{\partial f}{\partial b} &= 3 c" in latex
    assert latex.startswith("\\begin{align*}")


def test_wrong_number_of_arguments_names_the_inputs(lecture):
    with pytest.raises(SymgradError, match=r"takes 3 inputs \(a, b, c\), got 2"):
        lecture(1.0, 2.0)
    with pytest.raises(SymgradError, match=r"\(a, b, c\), got 4"):
        lecture.value_and_grad(1.0, 2.0, 3.0, 4.0)


def test_division_by_zero_is_an_evaluation_error(folder):
    compiled = compile_expr(1 / a, folder=folder)
    assert compiled.value_and_grad(2.0) == (0.5, (-0.25,))
    with pytest.raises(EvaluationError, match="a=0.0"):
        compiled(0.0)


def test_function_without_numba_form_is_named(folder):
    class wobble(sympy.Function):
        def fdiff(self, argindex=1):
            return sympy.cos(self.args[0])

    with pytest.raises(SymgradError, match="cannot compile wobble"):
        compile_expr(wobble(a) + b, folder=folder)
    with pytest.raises(NoDerivativeRuleError, match="floor"):
        compile_expr(sympy.floor(a), folder=folder)


def test_inputs_must_cover_the_expression(folder):
    with pytest.raises(UnknownSymbolError, match="b, c must be inputs"):
        compile_expr(LECTURE, [a], folder=folder)
    with pytest.raises(UnknownSymbolError, match="d not in the expression"):
        compile_expr(LECTURE, [a, b, c, d], folder=folder)
    with pytest.raises(SymgradError, match="no input symbols"):
        compile_expr(sympy.Integer(3), folder=folder)


# ---- naive formulas compile stably ---------------------------------------------------------

u = sympy.Symbol("u")
E, L = sympy.exp, sympy.log
#: Naive formulas in u, v, w, with what each is rewritten to.
NAIVE = [
    (L(1 + E(u)), "softplus(u)"),
    (L(E(-u) + 1), "softplus(-u)"),
    (L(1 - sigmoid(u)), "-u + log_sigmoid(u)"),
    (L(sigmoid(u)), "log_sigmoid(u)"),
    (E(u) / (1 + E(u)), "sigmoid(u)"),
    (1 / (1 + E(-u)), "sigmoid(u)"),
    (L(E(a) + E(b)), "logaddexp(a, b)"),
    (L(E(a) + E(b) + E(c)), "logaddexp(logaddexp(a, b), c)"),
    (E(a) / (E(a) + E(b) + E(c)), "exp(a - logaddexp(logaddexp(a, b), c))"),
    (-y * L(1 + E(-u)) - (1 - y) * L(1 + E(u)), "-y*softplus(-u) - (1 - y)*softplus(u)"),
]
#: One input t per point; inputs are a = t, b = -t/2 + 1/4, c = 3t/10 - 1, u = t, y = 0.3.
POINTS = np.array([-1000.0, -2.5, -0.3, 0.0, 0.8, 3.0, 1000.0])
ORDINARY = np.abs(POINTS) < 10


def _inputs_at(symbols, t):
    at = {a: t, b: -t / 2 + 0.25, c: 0.3 * t - 1, u: t, y: np.full_like(t, 0.3)}
    return [at[s] for s in symbols]


def _exact(naive, symbols, points):
    """Value and gradient of the naive formula by sympy.diff, in 1500-digit arithmetic
    (enough for e^-1000 next to 1: no cancellation in the oracle)."""
    plain = naive.rewrite(sympy.exp)
    f = sympy.lambdify(symbols, plain, "mpmath")
    df = [sympy.lambdify(symbols, sympy.diff(plain, s), "mpmath") for s in symbols]
    values, grads = [], []
    with mpmath.workdps(1500):
        for point in zip(*points, strict=True):
            args = [mpmath.mpf(float(x)) for x in point]
            values.append(float(f(*args)))
            grads.append([float(d(*args)) for d in df])
    return np.array(values), np.array(grads)


@pytest.fixture(scope="module")
def naive_compiled(folder):
    return {str(e): compile_expr(e, folder=folder) for e, _ in NAIVE}


@pytest.mark.parametrize("naive, stable", NAIVE, ids=[str(e) for e, _ in NAIVE])
def test_naive_formula_compiles_stably(naive_compiled, naive, stable):
    compiled = naive_compiled[str(naive)]
    assert sympy.sstr(compiled.stable) == stable and compiled.rewrites
    inputs = _inputs_at(compiled.wrt, POINTS)
    values, grads = compiled.value_and_grad_many(*inputs)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(grads))
    exact_values, exact_grads = _exact(naive, compiled.wrt, inputs)
    np.testing.assert_allclose(values, exact_values, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(grads, exact_grads, rtol=1e-12, atol=1e-15)
    # at ordinary points the naive formula itself, in float64, gives the same numbers
    plain = sympy.lambdify(compiled.wrt, naive.rewrite(sympy.exp), "numpy")
    ordinary = [x[ORDINARY] for x in inputs]
    np.testing.assert_allclose(values[ORDINARY], plain(*ordinary), rtol=1e-12)


def test_naive_formula_overflows_where_its_compiled_form_does_not(naive_compiled):
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.log(1 + np.exp(1000.0)) == np.inf
        assert np.isnan(np.exp(1000.0) / (1 + np.exp(1000.0)))
    assert naive_compiled[str(L(1 + E(u)))](1000.0) == 1000.0
    assert naive_compiled[str(E(u) / (1 + E(u)))](1000.0) == 1.0


def test_logaddexp_of_equal_and_extreme_arguments(naive_compiled):
    compiled = naive_compiled[str(L(E(a) + E(b)))]
    for x in (-1000.0, 0.0, 1000.0, 1e308):
        value, (da, db) = compiled.value_and_grad(x, x)
        assert value == pytest.approx(x + math.log(2.0), rel=1e-15, abs=1e-15)
        assert (da, db) == (0.5, 0.5)
    assert compiled.value_and_grad(1e308, -1e308) == (1e308, (1.0, 0.0))


def test_rewrites_are_printed_in_the_module_and_the_gradient_is_of_the_stable_form(
    naive_compiled,
):
    compiled = naive_compiled[str(L(1 + E(u)))]
    assert compiled.rewrites == ["log(exp(u) + 1) → softplus(u)"]
    doc = ast.get_docstring(ast.parse(compiled.source()))
    assert "f(u) = log(exp(u) + 1)\n  computed as softplus(u)\n" in doc
    assert "Rewritten for numerical stability:\n  log(exp(u) + 1) → softplus(u)\n" in doc
    assert "∂f/∂u = sigmoid(u)" in doc
    assert "sigma" in compiled.latex()


def test_expression_without_a_naive_pattern_is_compiled_as_given(mixed):
    assert mixed.rewrites == [] and mixed.stable is mixed.expr
    assert "Rewritten" not in mixed.source() and "computed as" not in mixed.source()
