"""Printing: golden strings for the three formats, and gradients checked against sympy.diff."""

import random

import pytest
import sympy

from symgrad.errors import UnknownSymbolError
from symgrad.functions import relu, sigmoid
from symgrad.show import printing
from symgrad.show.printing import GradientEquations, gradient_equations

a, b, c, w, x, y = sympy.symbols("a b c w x y")
w1, w2, b1, b2 = sympy.symbols("w1 w2 b1 b2")
LOGISTIC = -(y * sympy.log(sigmoid(w * x + b)) + (1 - y) * sympy.log(1 - sigmoid(w * x + b)))
NET = (w2 * sigmoid(w1 * x + b1) + b2 - y) ** 2 / 2


def _numeric(e, point):
    return complex(e.subs(point).rewrite(sympy.exp).evalf()).real


def _inline(eqs: GradientEquations) -> dict:
    """Each gradient with the intermediates substituted back."""
    subs = {}
    for s, e in eqs.intermediates:
        subs[s] = e.xreplace(subs)
    return {s: e.xreplace(subs) for s, e in eqs.equations}


def test_polynomial_golden_text():
    assert printing.text(x**2 * y, wrt=[x, y]) == "∂f/∂x = 2*x*y\n∂f/∂y = x**2"


def test_polynomial_golden_markdown_and_latex():
    eqs = gradient_equations(x**2 * y)
    assert eqs.markdown() == (
        "- $\\frac{\\partial f}{\\partial x} = 2 x y$\n- $\\frac{\\partial f}{\\partial y} = x^{2}$"
    )
    assert eqs.latex() == (
        "\\begin{align*}\n"
        "\\frac{\\partial f}{\\partial x} &= 2 x y \\\\\n"
        "\\frac{\\partial f}{\\partial y} &= x^{2}\n"
        "\\end{align*}"
    )
    assert eqs._repr_latex_() == eqs.latex()


def test_lecture_example_and_name():
    eqs = gradient_equations(3 * (a + b * c), name="j")
    assert eqs.equations == [(a, 3), (b, 3 * c), (c, 3 * b)]
    assert eqs.intermediates == []
    assert str(eqs) == "∂j/∂a = 3\n∂j/∂b = 3*c\n∂j/∂c = 3*b"


def test_logistic_gradients_simplify_to_prediction_minus_label():
    eqs = gradient_equations(LOGISTIC, wrt=[w, b], name="L")
    p = sigmoid(w * x + b)
    assert eqs.equations == [(w, x * (p - y)), (b, p - y)]
    assert eqs.text() == "∂L/∂w = x*(-y + sigmoid(b + w*x))\n∂L/∂b = -y + sigmoid(b + w*x)"


def test_logistic_golden_all_symbols():
    eqs = gradient_equations(LOGISTIC, name="L")
    assert [s for s, _ in eqs.equations] == [b, w, x, y]
    assert eqs.intermediates == []  # the plain form is short enough
    assert eqs.text().splitlines()[-1] == (
        "∂L/∂y = log(1 - sigmoid(b + w*x)) - log(sigmoid(b + w*x))"
    )


def test_latex_uses_sigma_and_relu_operator():
    assert printing.latex(LOGISTIC, wrt=[b], name="L") == (
        "\\begin{align*}\n"
        "\\frac{\\partial L}{\\partial b} &= - y + \\sigma\\left(b + w x\\right)\n"
        "\\end{align*}"
    )
    md = printing.markdown(relu(w * x + b) ** 2, wrt=[b])
    assert md == (
        "- $\\frac{\\partial f}{\\partial b} = 2 \\operatorname{ReLU}\\left(b + w x\\right) "
        "\\mathbb{1}\\left[b + w x > 0\\right]$"
    )


def test_intermediates_when_clearly_shorter():
    eqs = gradient_equations(NET)
    names = [str(s) for s, _ in eqs.intermediates]
    assert names[:2] == ["u", "v"]
    assert "w1" not in names and "b1" not in names
    assert eqs.intermediates[0] == (sympy.Symbol("u"), sigmoid(b1 + w1 * x))
    assert eqs.text() == (
        "where u = sigmoid(b1 + w1*x)\n"
        "where v = u*w2\n"
        "where p = b2 + v - y\n"  # not w: the formula has w1, w2
        "where q = p*v*(1 - u)\n"
        "∂f/∂b1 = q\n"
        "∂f/∂b2 = p\n"
        "∂f/∂w1 = q*x\n"
        "∂f/∂w2 = p*u\n"
        "∂f/∂x = q*w1\n"
        "∂f/∂y = -p"
    )
    assert "\\text{where } u &= \\sigma\\left(b_{1} + w_{1} x\\right) \\\\\n" in eqs.latex()
    assert eqs.markdown().splitlines()[0] == "- where $u = \\sigma\\left(b_{1} + w_{1} x\\right)$"


def test_intermediate_names_skip_the_expressions_own():
    u, v = sympy.symbols("u v")
    eqs = gradient_equations(NET.subs(w1, u).subs(b1, v))
    assert [str(s) for s, _ in eqs.intermediates][:2] == ["p", "q"]  # u, v taken; w as in w2


@pytest.mark.parametrize(
    "expr",
    [
        LOGISTIC,
        NET,
        sympy.exp(w2 * sympy.exp(w1 * x + b1) + b2),
        sympy.exp(x * y) * sympy.sin(x) / (1 + x**2),
        sigmoid(a * b) ** 3 + c,
    ],
)
def test_gradients_agree_with_sympy_diff(expr):
    eqs = gradient_equations(expr)
    rng = random.Random(0)
    point = {s: sympy.Rational(rng.randint(-9, 9), rng.randint(1, 5)) for s in expr.free_symbols}
    for s, g in _inline(eqs).items():
        assert _numeric(g, point) == pytest.approx(_numeric(sympy.diff(expr, s), point))


def test_wrt_by_name_and_single_symbol():
    assert gradient_equations(x**2 * y, wrt="y").equations == [(y, x**2)]
    assert gradient_equations(x**2 * y, wrt=["y", "x"]).equations == [(y, x**2), (x, 2 * x * y)]


def test_symbol_not_in_expression():
    with pytest.raises(UnknownSymbolError, match="z not in the expression"):
        gradient_equations(x**2 * y, wrt=["x", "z"])


def test_strings_are_not_parsed():
    with pytest.raises(TypeError, match="parse"):
        gradient_equations("x**2")


def test_objects_print_themselves():
    class Trace:
        def text(self):
            return "t"

        def markdown(self):
            return "m"

        def latex(self):
            return "l"

    trace = Trace()
    assert (printing.text(trace), printing.markdown(trace), printing.latex(trace)) == (
        "t",
        "m",
        "l",
    )
