"""Parsing: text and SymPy sources to the lecture's named steps of one operation each."""

import pytest
import sympy

from symgrad.errors import ParseError
from symgrad.functions import leaky_relu, sigmoid
from symgrad.read.parsing import Step, letter_of, parse_expression, parse_steps

a, b, c, j, u, v, w, x, y, z = sympy.symbols("a b c j u v w x y z")


def _strs(steps):
    return [str(s) for s in steps]


def test_parse_expression_keeps_the_written_structure():
    e = parse_expression("3*(a + b*c)")
    assert e.func is sympy.Mul
    assert sympy.Integer(3) in e.args
    inner = next(arg for arg in e.args if arg.is_Add)
    assert set(inner.args) == {a, sympy.Mul(b, c)}
    assert sympy.expand(e) == 3 * a + 3 * b * c


def test_parse_expression_caret_is_power():
    assert sympy.simplify(parse_expression("x^2 + 1") - (x**2 + 1)) == 0


@pytest.mark.parametrize("name", ["E", "I", "S", "N", "Q", "beta", "gamma", "lambda", "zeta", "O"])
def test_every_plain_name_is_a_symbol(name):
    e = parse_expression(f"{name} + x")
    assert sympy.Symbol(name) in e.free_symbols
    assert sympy.Symbol(name) in parse_expression(f"2*{name}").free_symbols


def test_pi_is_sympy_pi():
    assert parse_expression("pi*x").has(sympy.pi)


def test_known_functions():
    e = parse_expression("sigmoid(x) + σ(y) + leaky_relu(z, 0.01) + exp(x) + Abs(y)")
    assert e.has(sigmoid(x)) and e.has(sigmoid(y)) and e.atoms(leaky_relu)
    assert e.has(sympy.exp(x)) and e.has(sympy.Abs(y))


def test_function_name_without_call_is_a_symbol():
    assert parse_expression("step*x").free_symbols == {sympy.Symbol("step"), x}


def test_unknown_function_is_named():
    with pytest.raises(ParseError, match="unknown function 'foo'"):
        parse_expression("foo(x) + 1")


def test_syntax_error_is_one_short_line():
    with pytest.raises(ParseError) as info:
        parse_expression("3*(a +")
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message and len(message) < 120
    with pytest.raises(ParseError, match="invalid syntax"):
        parse_expression("a +* b")


def test_lecture_expression_splits_into_the_lecture_steps():
    steps = parse_steps("j = 3*(a + b*c)")
    assert steps == [Step(u, b * c), Step(v, a + u), Step(j, 3 * v)]
    assert [s.auto for s in steps] == [True, True, False]


def test_assignments_separated_by_semicolons_or_newlines():
    expected = [Step(u, b * c), Step(v, a + u), Step(j, 3 * v)]
    assert parse_steps("u = b*c; v = a + u; j = 3*v") == expected
    assert parse_steps("u = b*c\nv = a + u  # comment\n\nj = 3*v") == expected
    assert not any(s.auto for s in parse_steps("u = b*c; v = a + u; j = 3*v"))


def test_sequences_of_strings_and_pairs_and_sympy():
    expected = [Step(u, b * c), Step(v, a + u), Step(j, 3 * v)]
    assert parse_steps(["u = b*c", "v = a + u", "j = 3*v"]) == expected
    assert parse_steps([("u", "b*c"), ("v", a + u), (j, 3 * v)]) == expected
    # SymPy distributes 3*(a + b*c) itself; x*(a + b*c) keeps its structure
    assert _strs(parse_steps(x * (a + b * c))) == ["u = b*c", "v = a + u", "f = v*x"]


def test_subtraction_and_division_stay_one_step():
    assert _strs(parse_steps("a - b*c")) == ["u = b*c", "f = a - u"]
    assert _strs(parse_steps("a - b")) == ["f = a - b"]
    assert _strs(parse_steps("a/(b + c)")) == ["u = b + c", "f = a/u"]
    assert _strs(parse_steps("a/b")) == ["f = a/b"]
    assert _strs(parse_steps(sympy.sympify("a - b*c"))) == ["u = b*c", "f = a - u"]


def test_logistic_steps():
    steps = parse_steps(
        "z = w1*x1 + w2*x2 + b; a = sigmoid(z); L = -(y*log(a) + (1 - y)*log(1 - a))"
    )
    names = [str(s.name) for s in steps]
    assert names[:5] == ["u", "v", "z", "a", "p"]  # no w beside the user's w1, w2
    assert steps[3] == Step(a, sigmoid(z))
    assert str(steps[-1].name) == "L"
    assert all(len(s.expr.free_symbols) <= 3 for s in steps)
    full = steps[-1].expr
    for s in reversed(steps[:-1]):
        full = full.xreplace({s.name: s.expr})
    w1, w2, x1, x2 = sympy.symbols("w1 w2 x1 x2")
    expected = -(
        y * sympy.log(sigmoid(w1 * x1 + w2 * x2 + b))
        + (1 - y) * sympy.log(1 - sigmoid(w1 * x1 + w2 * x2 + b))
    )
    assert sympy.expand(full - expected) == 0


def test_sigmoid_of_negative_is_a_chain():
    assert _strs(parse_steps("1/(1 + exp(-z))")) == ["u = -z", "v = exp(u)", "w = v + 1", "f = 1/w"]


def test_auto_names_skip_used_names():
    steps = parse_steps("u + v*w")
    assert _strs(steps) == ["p = v*w", "f = p + u"]


def test_auto_names_continue_after_t():
    text = " + ".join(f"x{i}*y{i}" for i in range(10))
    names = [str(s.name) for s in parse_steps(text)]
    assert names == ["u", "v", "w", "p", "q", "r", "s", "t", "u1", "v1", "f"]


def test_auto_names_skip_the_letters_of_the_users_names():
    # w1, w_2 and t_hat are written with w and t: no intermediate is called w or t
    names = [str(s.name) for s in parse_steps("log(w1*x) + exp(w_2*x) + t_hat*sin(x)")]
    assert not {"w", "t"} & set(names) and names[0] == "u"
    assert letter_of("w1") == letter_of("w_2") == letter_of("w") == "w"
    assert letter_of("beta") is None and letter_of("x1y") is None and letter_of("_a") is None


def test_auto_names_when_every_letter_is_taken():
    used = ["u1", "v1", "w1", "p1", "q1", "r1", "s1", "t1"]
    steps = parse_steps(" + ".join(f"{n}*x" for n in used))
    names = [str(s.name) for s in steps]
    assert names[:3] == ["u", "v", "w"] and not set(names) & set(used)


def test_pure_numbers_are_not_steps():
    assert _strs(parse_steps("x*(2 + 3) + sqrt(2)")) == ["u = 5*x", "f = u + sqrt(2)"]


def test_repeated_subexpression_is_one_step():
    assert _strs(parse_steps("(a + b)*(a + b)")) == ["u = a + b", "f = u**2"]


def test_output_name():
    assert str(parse_steps("x*y", output_name="g")[-1].name) == "g"
    assert str(parse_steps("f*x")[-1].name) == "out"  # f is taken
    steps = parse_steps("u = a*b; v = c*c; j = u + 1", output_name="u")
    assert steps == [Step(u, a * b)]


def test_deep_sympy_expression_without_recursion():
    deep = x
    for _ in range(3000):
        deep = (deep + 1) * x
    steps = parse_steps(deep)
    assert len(steps) == 6000
    assert steps[:2] == [Step(u, x + 1), Step(v, u * x)]
    known = {}
    for s in steps[:40]:
        known[s.name] = s.expr.xreplace(known)
    inner = x
    for _ in range(20):
        inner = (inner + 1) * x
    assert known[steps[39].name] == inner


def test_many_assignments():
    text = "\n".join(["s0 = sin(x)"] + [f"s{i} = sin(s{i - 1})*x" for i in range(1, 300)])
    steps = parse_steps(text)
    assert len(steps) == 599
    assert steps[-2] == Step(steps[-2].name, sympy.sin(sympy.Symbol("s298")))
    assert steps[-1] == Step(sympy.Symbol("s299"), steps[-2].name * x)


@pytest.mark.parametrize(
    "source, message",
    [
        ("j = x; j = 2*x", "'j' is assigned twice"),
        ("", "empty"),
        ("   \n ; ", "empty"),
        ([], "empty"),
        ("3*x = y", "cannot assign to '3\\*x'"),
        ("f(x) = x**2", "cannot assign to 'f\\(x\\)'"),
        ("v = a + u; u = b*c", "'u' is used before it is assigned"),
        ("x = x + 1", "'x' is used before it is assigned"),
        ("a + b; j = 3", "only the last statement"),
        ("j = ", "nothing assigned to 'j'"),
        ("j = bar(x)", "unknown function 'bar'"),
        ("a == b", "not an expression"),
    ],
)
def test_errors_name_the_problem(source, message):
    with pytest.raises(ParseError, match=message):
        parse_steps(source)


def test_output_name_errors():
    with pytest.raises(ParseError, match="no assignment to 'k'"):
        parse_steps("j = x*y", output_name="k")
    with pytest.raises(ParseError, match="'x' is already used"):
        parse_steps("x*y", output_name="x")
