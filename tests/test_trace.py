"""Trace: the lecture's chain rule step by step, checked against sympy.diff and by hand."""

import math
import random
from fractions import Fraction

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from symgrad.errors import EvaluationError, ParseError, UnknownSymbolError
from symgrad.functions import sigmoid
from symgrad.show.trace import explain, format_value

a, b, c, u, v, x, y, z = sympy.symbols("a b c u v x y z")
w1, w2, x1, x2 = sympy.symbols("w1 w2 x1 x2")
LECTURE = "j = 3*(a + b*c)"
LOGISTIC = "z = w1*x1 + w2*x2 + b; a = sigmoid(z); L = -(y*log(a) + (1 - y)*log(1 - a))"
LOGISTIC_POINT = {"w1": 0.5, "w2": -0.25, "x1": 1, "x2": 2, "b": 0.1, "y": 1}

LECTURE_TEXT = """\
Forward at a = 1, b = 2, c = 3
  u = b·c = 6
  v = a + u = 7
  j = 3·v = 21

Local derivatives
  ∂u/∂b = c = 3
  ∂u/∂c = b = 2
  ∂v/∂a = 1
  ∂v/∂u = 1
  ∂j/∂v = 3

Backward (chain rule)
  ∂j/∂j = 1
  ∂j/∂v = 3
  ∂j/∂u = ∂j/∂v · ∂v/∂u = 3 · 1 = 3
  ∂j/∂a = ∂j/∂v · ∂v/∂a = 3 · 1 = 3
  ∂j/∂b = ∂j/∂u · ∂u/∂b = 3 · 3 = 9
  ∂j/∂c = ∂j/∂u · ∂u/∂c = 3 · 2 = 6

Gradient
  ∂j/∂a = 3
  ∂j/∂b = 3·c = 9
  ∂j/∂c = 3·b = 6"""


def test_lecture_forward_values():
    t = explain(LECTURE, {"a": 1, "b": 2, "c": 3})
    assert [(str(s.name), s.value) for s in t.steps] == [("u", 6), ("v", 7), ("j", 21)]


def test_lecture_gradients():
    t = explain(LECTURE, {"a": 1, "b": 2, "c": 3})
    values = {name: value for name, (_, value) in t.gradients.items()}
    assert values == {"v": 3, "u": 3, "a": 3, "b": 9, "c": 6}
    j = 3 * (a + b * c)
    for s in (a, b, c):
        assert sympy.expand(t.gradients[str(s)][0] - sympy.diff(j, s)) == 0


def test_lecture_chain_product_for_b():
    t = explain(LECTURE, {"a": 1, "b": 2, "c": 3})
    (term,) = next(adj for adj in t.adjoints if adj.name == b).terms
    assert (term.consumer, term.upstream, term.local, term.value) == (u, 3, 3, 9)
    assert "∂j/∂b = ∂j/∂u · ∂u/∂b = 3 · 3 = 9" in t.text()


def test_lecture_text_golden():
    t = explain(LECTURE, {"a": 1, "b": 2, "c": 3})
    assert t.text() == LECTURE_TEXT
    assert str(t) == LECTURE_TEXT


def test_same_trace_from_hand_written_steps():
    t = explain("u = b*c; v = a + u; j = 3*v", {"a": 1, "b": 2, "c": 3})
    assert t.text().split("Gradient")[0] == LECTURE_TEXT.split("Gradient")[0]
    assert [k for k in t.gradients] == ["v", "u", "a", "b", "c"]


def _d(f, x):
    return rf"\frac{{\partial {f}}}{{\partial {x}}}"


def _chain(out, mid, x, up, local):
    return rf"{_d(out, mid)} \cdot {_d(mid, x)} = {up} \cdot {local}"


LECTURE_MARKDOWN = f"""**Forward** at $a = 1$, $b = 2$, $c = 3$

| step | expression | value |
|---|---|---|
| $u$ | $b c$ | $6$ |
| $v$ | $a + u$ | $7$ |
| $j$ | $3 v$ | $21$ |

**Local derivatives**

| derivative | expression | value |
|---|---|---|
| ${_d("u", "b")}$ | $c$ | $3$ |
| ${_d("u", "c")}$ | $b$ | $2$ |
| ${_d("v", "a")}$ |  | $1$ |
| ${_d("v", "u")}$ |  | $1$ |
| ${_d("j", "v")}$ |  | $3$ |

**Backward (chain rule)**

| adjoint | chain rule | value |
|---|---|---|
| ${_d("j", "j")}$ |  | $1$ |
| ${_d("j", "v")}$ |  | $3$ |
| ${_d("j", "u")}$ | ${_chain("j", "v", "u", 3, 1)}$ | $3$ |
| ${_d("j", "a")}$ | ${_chain("j", "v", "a", 3, 1)}$ | $3$ |
| ${_d("j", "b")}$ | ${_chain("j", "u", "b", 3, 3)}$ | $9$ |
| ${_d("j", "c")}$ | ${_chain("j", "u", "c", 3, 2)}$ | $6$ |

**Gradient**

| gradient | closed form | value |
|---|---|---|
| ${_d("j", "a")}$ |  | $3$ |
| ${_d("j", "b")}$ | $3 c$ | $9$ |
| ${_d("j", "c")}$ | $3 b$ | $6$ |
"""


def test_markdown_golden():
    md = explain(LECTURE, {"a": 1, "b": 2, "c": 3}).markdown()
    assert md == LECTURE_MARKDOWN
    assert r"| $\frac{\partial j}{\partial b}$ | $\frac{\partial j}{\partial u} \cdot" in md


def test_markdown_escapes_pipes_and_handles_no_inputs():
    md = explain("f = Abs(x)", {"x": -2}).markdown()
    assert r"$\left\|{x}\right\|$" in md  # GFM: a pipe in a cell is escaped
    assert explain("f = 3", {}).markdown().startswith("**Forward**\n")


def test_latex_golden_lines():
    t = explain(LECTURE, {"a": 1, "b": 2, "c": 3})
    tex = t.latex()
    assert tex.startswith("\\begin{align*}\n&\\text{Forward at } a = 1,\\; b = 2,\\; c = 3 \\\\\n")
    assert "u &= b c = 6 \\\\\n" in tex
    assert (
        r"\frac{\partial j}{\partial b} &= \frac{\partial j}{\partial u} \cdot "
        r"\frac{\partial u}{\partial b} = 3 \cdot 3 = 9"
    ) in tex
    assert tex.endswith("\\frac{\\partial j}{\\partial c} &= 3 b = 6\n\\end{align*}")
    assert t._repr_latex_().startswith("$$\\begin{aligned}\n")
    assert t._repr_latex_().endswith("\\end{aligned}$$")


def test_logistic_closed_forms():
    t = explain(LOGISTIC, LOGISTIC_POINT)
    g = {name: expr for name, (expr, _) in t.gradients.items()}
    expected = {"z": a - y, "w1": x1 * (a - y), "w2": x2 * (a - y), "b": a - y}
    for name, want in expected.items():
        assert sympy.simplify(g[name] - want) == 0, name
    assert str(g["z"]) == "a - y"
    assert str(g["w1"]) == "x1*(a - y)"
    assert "∂L/∂w1 = x1·(a - y) = -0.475021" in t.text()


def test_logistic_values_match_sympy_diff():
    t = explain(LOGISTIC, LOGISTIC_POINT)
    zz = w1 * x1 + w2 * x2 + b
    loss = -(
        y * sympy.log(1 / (1 + sympy.exp(-zz))) + (1 - y) * sympy.log(1 - 1 / (1 + sympy.exp(-zz)))
    )
    point = {sympy.Symbol(k): val for k, val in LOGISTIC_POINT.items()}
    for s in (w1, w2, x1, x2, b, y):
        want = float(sympy.diff(loss, s).subs(point).evalf())
        assert float(t.gradients[str(s)][1]) == pytest.approx(want, rel=1e-12), s
    assert format_value(t.steps[3].value) == "0.524979"  # a = σ(0.1)


def test_local_derivative_uses_the_step_name():
    t = explain("a = sigmoid(z); e = exp(a); h = tanh(e)", {"z": 0})
    local = {(str(ld.step), str(ld.wrt)): ld.expr for ld in t.local_derivatives}
    e, h = sympy.symbols("e h")
    assert local["a", "z"] == a * (1 - a)
    assert local["e", "a"] == e
    assert local["h", "e"] == 1 - h**2
    assert t.steps[0].value == sympy.Rational(1, 2)


def test_sum_over_several_consumers():
    t = explain("u = x*x; f = u + x", {"x": 3})
    adj = next(adj for adj in t.adjoints if adj.name == x)
    assert len(adj.terms) == 2 and adj.value == 7 == sum(term.value for term in adj.terms)
    assert sympy.expand(adj.expr - sympy.diff(x * x + x, x)) == 0
    assert "∂f/∂x = ∂f/∂f · ∂f/∂x + ∂f/∂u · ∂u/∂x = 1 · 1 + 1 · 6 = 7" in t.text()


def test_shared_intermediate_two_paths():
    t = explain("u = a*b; v = u + a; w = u*v", {"a": 2, "b": 5})
    ww = (a * b) * (a * b + a)
    point = {a: 2, b: 5}
    for s in (a, b):
        assert t.gradients[str(s)][1] == sympy.diff(ww, s).subs(point)
        assert (
            sympy.expand(t.gradients[str(s)][0].subs({u: a * b, v: a * b + a}) - sympy.diff(ww, s))
            == 0
        )


@settings(max_examples=25, deadline=None)
@given(st.fractions(), st.fractions(), st.fractions())
def test_lecture_gradient_exact_at_rational_points(fa, fb, fc):
    t = explain(LECTURE, {"a": fa, "b": fb, "c": fc})
    assert t.gradients["a"][1] == 3
    assert t.gradients["b"][1] == 3 * sympy.Rational(fc.numerator, fc.denominator)
    assert t.gradients["c"][1] == 3 * sympy.Rational(fb.numerator, fb.denominator)


def test_against_sympy_diff_at_random_points():
    source = "h = tanh(w*x + b); f = h*exp(-x)/(1 + x**2) + relu(x - b)"
    full = sympy.tanh(sympy.Symbol("w") * x + b) * sympy.exp(-x) / (1 + x**2) + sympy.Max(x - b, 0)
    rng = random.Random(0)
    for _ in range(5):
        point = {"w": rng.uniform(-2, 2), "x": rng.uniform(-2, 2), "b": rng.uniform(-1, 1)}
        t = explain(source, point)
        subs = {sympy.Symbol(k): val for k, val in point.items()}
        for name in point:
            want = float(sympy.diff(full, sympy.Symbol(name)).subs(subs).evalf())
            assert float(t.gradients[name][1]) == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_values_given_in_many_forms():
    t = explain(LECTURE, {a: Fraction(1, 2), "b": "0.5", sympy.Symbol("c"): 2.0})
    assert t.steps[0].value == 1.0 and t.gradients["a"][1] == 3
    assert format_value(t.steps[1].value) == "1.5"
    assert format_value(sympy.Integer(10) ** 30) == "1" + "0" * 30


def test_step_that_does_not_reach_the_output():
    t = explain("u = b*c; j = 3*a", {"a": 1, "b": 2, "c": 3})
    assert t.gradients["u"] == (0, 0) and t.gradients["b"] == (0, 0)
    assert t.gradients["a"] == (3, 3)


def test_missing_value():
    with pytest.raises(UnknownSymbolError, match="no value for c"):
        explain(LECTURE, {"a": 1, "b": 2})


def test_extra_value():
    with pytest.raises(UnknownSymbolError, match="d is not in the expression"):
        explain(LECTURE, {"a": 1, "b": 2, "c": 3, "d": 4})
    with pytest.raises(UnknownSymbolError, match="u is computed by a step"):
        explain("u = b*c; j = 3*u", {"b": 1, "c": 2, "u": 3})


def test_division_by_zero_names_the_step():
    with pytest.raises(EvaluationError, match=r"^division by zero in v = a/b at the given point$"):
        explain("v = a/b; j = v + 1", {"a": 1, "b": 0})


def test_log_of_non_positive_and_bad_derivative():
    with pytest.raises(EvaluationError, match="log of a non-positive number in f = log"):
        explain("f = log(x)", {"x": -1.5})
    with pytest.raises(EvaluationError, match=r"division by zero in ∂f/∂x"):
        explain("f = sqrt(x)", {"x": 0})
    with pytest.raises(EvaluationError, match="not a finite real number"):
        explain("f = x", {"x": float("nan")})


def test_parse_errors_pass_through():
    with pytest.raises(ParseError, match="unknown function 'foo'"):
        explain("j = foo(a)", {"a": 1})
    with pytest.raises(ParseError, match="cannot parse"):
        explain("j = (a +", {"a": 1})


def test_deep_chain_does_not_hit_the_recursion_limit():
    n = 3000
    deep = x
    for _ in range(n):
        deep = (deep + 1) * x  # nested 3000 deep: 6000 steps, x used by 3001 of them
    t = explain(deep, {"x": 1})
    value, slope = 1, 1  # t -> (t + 1)·x and its derivative in x, at x = 1, by hand
    for _ in range(n):
        value, slope = value + 1, slope + value + 1
    assert len(t.steps) == 2 * n
    assert t.steps[-1].value == value == n + 1
    assert t.gradients["x"][1] == slope
    assert t.gradients["x"][0] is None  # the closed form grew too large to keep
    text = t.text()
    assert f"∂f/∂x = (too large to show) = {slope}" in text
    assert len(text.splitlines()) > 3 * 2 * n


def test_float_chain_matches_a_hand_loop():
    n = 200
    pairs = [("t1", sympy.sin(x))]
    pairs += [(f"t{i + 1}", sympy.sin(sympy.Symbol(f"t{i}"))) for i in range(1, n)]
    t = explain(pairs, {"x": 0.5})
    value, grad = 0.5, 1.0
    for _ in range(n):
        grad *= math.cos(value)
        value = math.sin(value)
    assert float(t.steps[-1].value) == pytest.approx(value, rel=1e-12)
    assert float(t.gradients["x"][1]) == pytest.approx(grad, rel=1e-10)


def test_sigmoid_chain_matches_closed_form():
    t = explain("z = w1*x1 + b; a = sigmoid(z)", {"w1": 2, "x1": 3, "b": -6})
    assert t.steps[-1].value == sympy.Rational(1, 2)  # σ(0), exactly
    closed, value = t.gradients["w1"]
    assert sympy.expand(closed - x1 * a * (1 - a)) == 0
    assert value == sympy.Rational(3, 4)
    assert sympy.diff(sigmoid(w1 * x1 + b), w1).subs({w1: 2, x1: 3, b: -6}) == value


# ---- wrt: the gradient for some inputs only ----


def _loss_in_inputs():
    zz = w1 * x1 + w2 * x2 + b
    s = 1 / (1 + sympy.exp(-zz))
    return -(y * sympy.log(s) + (1 - y) * sympy.log(1 - s))


def test_wrt_leaves_out_the_data():
    t = explain(LOGISTIC, LOGISTIC_POINT, wrt=["w1", "w2", "b"])
    assert {"w1", "w2", "b", "z", "a"} <= set(t.gradients)
    assert not {"x1", "x2", "y"} & set(t.gradients)
    assert not {str(ld.wrt) for ld in t.local_derivatives} & {"x1", "x2", "y"}
    text = t.text()
    assert "∂L/∂x1" not in text and "∂L/∂y" not in text and "∂p/∂y" not in text
    assert "∂L/∂w1 = x1·(a - y) = -0.475021" in text
    point = {sympy.Symbol(k): val for k, val in LOGISTIC_POINT.items()}
    for s in (w1, w2, b):  # the same values as the full trace, by sympy.diff
        want = float(sympy.diff(_loss_in_inputs(), s).subs(point).evalf())
        assert float(t.gradients[str(s)][1]) == pytest.approx(want, rel=1e-12), s
    # only the steps on a path to w1, w2, b are swept: 1 - y is not
    one_minus_y = next(st.name for st in t.steps if st.expr == 1 - y)
    assert one_minus_y not in {adj.name for adj in t.adjoints}
    assert [str(s.name) for s in t.steps] == [
        str(s.name) for s in explain(LOGISTIC, LOGISTIC_POINT).steps
    ]


def test_wrt_one_name_and_errors():
    t = explain(LECTURE, {"a": 1, "b": 2, "c": 3}, wrt="b")
    assert t.text().split("Gradient\n")[1] == "  ∂j/∂b = 3·c = 9"
    assert [str(adj.name) for adj in t.adjoints] == ["v", "u", "b"]
    with pytest.raises(UnknownSymbolError, match="u is computed by a step"):
        explain("u = b*c; j = a + u", {"a": 1, "b": 2, "c": 3}, wrt=["u"])
    with pytest.raises(UnknownSymbolError, match="k is not in the expression"):
        explain(LECTURE, {"a": 1, "b": 2, "c": 3}, wrt=["b", "k"])
    with pytest.raises(UnknownSymbolError, match="names no input"):
        explain(LECTURE, {"a": 1, "b": 2, "c": 3}, wrt=[])


def test_auto_names_skip_the_letters_of_the_users_names():
    t = explain(LOGISTIC, LOGISTIC_POINT)
    auto = [str(s.name) for s in t.steps if s.auto]
    assert auto == ["u", "v", "p", "q", "r", "s", "t", "u1"]  # no w beside w1, w2
    assert "p = log(a) = -0.644397" in t.text()


def test_tanh_derivative_reads_the_same_in_grad_and_explain():
    from symgrad.show import printing

    ww = sympy.Symbol("w")
    expr = sympy.tanh(ww * x)
    grad_text = printing.text(expr, wrt=[ww])
    assert grad_text == "∂f/∂w = x*(1 - tanh(w*x)**2)"  # not x/cosh(w*x)**2
    t = explain("f = tanh(w*x)", {"w": 1, "x": 2})
    assert "∂f/∂u = 1 - f^2 = 0.0706508" in t.text()
    assert "∂f/∂w = x·(1 - f^2) = 0.141302" in t.text()
    want = sympy.diff(expr, ww).subs({ww: 1, x: 2})
    assert float(t.gradients["w"][1]) == pytest.approx(float(want), rel=1e-12)
    assert "x \\left(1 - \\tanh^{2}{\\left(w x \\right)}\\right)" in printing.latex(expr, wrt=[ww])
