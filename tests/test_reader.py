"""The whitelisting reader: formula text is data, never code, and no input makes it hang.

Every hostile string below would run code, read files or spin for minutes if it reached
``eval``, ``sympify`` or ``parse_expr``; each goes through every command that takes a formula
(and through ``--at``), and none may create the marker file the payloads aim at.
"""

import ast
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sympy

from symgrad.cli import main
from symgrad.errors import ParseError
from symgrad.read.reader import (
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    as_expression,
    read_expression,
    read_number,
)

M = "MARKER"  # the file every payload tries to create in the working folder
x, y = sympy.symbols("x y")

HOSTILE = [
    f'f\'{{__import__("os").system("touch {M}")}}\'',
    f"__import__('os').system('touch {M}')",
    f'__import__("os").system("touch {M}")',
    f"open('{M}', 'w')",
    f"exec(\"open('{M}','w')\")",
    f"eval(\"open('{M}','w')\")",
    f"compile('open(\"{M}\",\"w\")', 'f', 'exec')",
    f"getattr(__builtins__, 'open')('{M}', 'w')",
    "x.__class__.__base__.__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    f"(lambda: __import__('os').system('touch {M}'))()",
    f"lambda: open('{M}', 'w')",
    f'x + f\'{{open("{M}", "w")}}\'',
    f'F\'{{open("{M}","w")}}\'',
    f'rf\'{{open("{M}","w")}}\'',
    f"'{M}'",
    f"b'{M}'",
    "exp(x)[0]",
    "exp.__globals__",
    "sigmoid.__init__.__globals__['os']",
    "Symbol('x')",
    f'sympify(\'open("{M}","w")\')',
    f"exp(x=open('{M}', 'w'))",
    f"exp(*[open('{M}', 'w')])",
    "exp(**{'x': 1})",
    f"(x := open('{M}', 'w'))",
    f"x if open('{M}', 'w') else y",
    f"x and open('{M}', 'w')",
    "x or __import__('os')",
    f"{{open('{M}','w'): 1}}",
    f"[open('{M}', 'w')]",
    f"(open('{M}', 'w'), 1)",
    "{i for i in range(3)}",
    f"(i for i in open('{M}', 'w'))",
    f"x == open('{M}', 'w')",
    f"x < y < open('{M}')",
    f"not open('{M}', 'w')",
    "~x",
    "x // 2 + x % 3",
    "x @ y",
    "x | y & x",
    "x << 2",
    "__debug__",
    "__name__",
    f"x; __import__('os').system('touch {M}')",
    "x\nimport os",
    "import os",
    "from os import system",
    "del x",
    "await x",
    "yield x",
    "x.real",
    "1j * x",
    "True + x",
    "None",
    "...",
    "x[1:2]",
    "\\x41",
    "exp(x)(y)",
    "Function('f')(x)",
    "N(x)",
    f"print('{M}')",
    "globals()",
    "type(x)",
]

HANGS = [  # (argv, fragment of the answer) — each must answer within MAX_SECONDS
    (["grad", "x*10**10**10"], "too large"),
    (["grad", "x**(10**10**10)"], "too large"),
    (["grad", "x**10**10"], "too large"),
    (["grad", "(x + 1)**(9**9**9)"], "too large"),
    (["grad", "2**4096*x"], "too large"),
    (["grad", "exp(exp(exp(100)))*x"], "too large"),
    (["grad", "x*" + "9" * 5000], "too many digits"),
    (["grad", "x*2**(Max(1, 1)*10**300)"], "too large"),
    (["grad", "x**(Max(2, 2)*10**300) + x"], "too large"),
    (["explain", "x", "--at", "x=2**(sign(1)*10**12)"], "too large"),
    (["grad", "x**(sigmoid(1)*10**300)"], "must be a number symgrad can bound"),
    (["grad", "1e5000*x"], "too large"),
    (["explain", "x**x", "--at", "x=1e5000"], "too large"),
    (["explain", "x**x", "--at", "x=1e300"], "overflow"),
    (["explain", "x**y", "--at", "x=3,y=1e300"], "overflow"),
    (["explain", "exp(x)", "--at", "x=1e400"], "too large"),
    (["explain", "exp(x)", "--at", "x=1000"], "overflow"),
    (["explain", "x*y", "--at", "x=1e300,y=1e300"], "overflow"),
    (["explain", "((x + 1)**1000 + 1)**1000", "--at", "x=1/1000"], "overflow"),
    (["grad", "(" * 2000 + "x" + ")" * 2000], "nested too deeply"),
    (["grad", "--", "-" * 5000 + "x"], "cannot parse"),
    (["grad", "x" + "**x" * 500], "nested too deeply"),
    (["grad", "sigmoid(" * 300 + "x" + ")" * 300], "nested too deeply"),
    (["grad", "+".join(f"x{i}" for i in range(3000))], "too long"),
    (["grad", "*".join(f"(x{i}+1)" for i in range(900))], "too large"),
    (["grad", "x" * (MAX_LENGTH + 1)], "too long"),
]
MAX_SECONDS = 5.0
FORMULA_COMMANDS = [
    lambda s: ["grad", s],
    lambda s: ["grad", s, "--wrt", "x"],
    lambda s: ["explain", s, "--at", "x=1"],
    lambda s: ["explain", f"j = x + {s}", "--at", "x=1"],
    lambda s: ["graph", s, "--at", "x=1", "-o", "g.dot"],
    lambda s: ["check", s, "--at", "x=1"],
    lambda s: ["explain", "x*y", "--at", f"x=1,y={s}"],
]


def _one_error_line(capsys, argv) -> str:
    status = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2, (argv, captured.out, captured.err)
    assert len(lines) == 1 and lines[0].startswith("symgrad: error:"), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_the_table_is_big_enough():
    assert len(HOSTILE) >= 40 and len(set(HOSTILE)) == len(HOSTILE)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_refused_by_every_command(hostile, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for make in FORMULA_COMMANDS:
        _one_error_line(capsys, make(hostile))
        assert not (tmp_path / M).exists(), make(hostile)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written at all


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_refused_by_the_python_api(hostile, tmp_path, monkeypatch):
    import symgrad

    monkeypatch.chdir(tmp_path)
    for call in (
        lambda: symgrad.parse_expression(hostile),
        lambda: symgrad.parse_steps(f"u = {hostile}; f = u*x"),
        lambda: symgrad.explain(hostile, {"x": 1}),
        lambda: symgrad.explain("x*y", {"x": 1, "y": hostile}),
        lambda: as_expression(hostile),
    ):
        with pytest.raises(ParseError):
            call()
    assert not (tmp_path / M).exists()


def test_the_reported_exploits_in_a_real_process(tmp_path):
    """The issue's two command lines, verbatim, as a user's shell runs them."""
    payload = 'f\'{__import__("os").system("touch pwned")}\''
    for argv in (["grad", payload], ["explain", f"j = x + {payload}", "--at", "x=1"]):
        done = subprocess.run(
            [sys.executable, "-m", "symgrad", *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and "refused an f-string" in done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(("argv", "fragment"), HANGS, ids=[" ".join(a)[:40] for a, _ in HANGS])
def test_nothing_hangs(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    line = _one_error_line(capsys, argv)
    assert time.perf_counter() - start < MAX_SECONDS
    assert fragment in line


@pytest.mark.parametrize(
    "formula",
    ["(x + 1)**1000*(y + 2)**1000", "((x + 1)**1000 + 1)**1000", "(x**1000)**1000"],
)
def test_high_powers_within_the_bound_answer_quickly(formula, capsys):
    start = time.perf_counter()
    assert main(["grad", formula]) == 0
    assert time.perf_counter() - start < MAX_SECONDS
    assert "∂f/∂x" in capsys.readouterr().out


def test_an_answer_at_a_huge_exponent_is_numeric_not_exact():
    """(1 + 1/10⁹)^(10⁹) ≈ e: computed in floats, not as a billion-digit fraction."""
    start = time.perf_counter()
    from symgrad.show.trace import explain

    t = explain("(1 + x)**y", {"x": sympy.Rational(1, 10**9), "y": 10**9})
    assert time.perf_counter() - start < MAX_SECONDS
    assert math.isclose(float(t.steps[-1].value), math.e, rel_tol=1e-8)


def test_bounds_name_their_limit():
    with pytest.raises(ParseError, match=f"at most {MAX_EXPONENT}"):
        read_expression(f"x**{MAX_EXPONENT + 1}")
    assert read_expression(f"x**{MAX_EXPONENT}") == x**MAX_EXPONENT
    deep = "(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH
    assert read_expression(deep) == x
    with pytest.raises(ParseError, match=f"at most {MAX_DEPTH}"):
        read_expression("(" + deep + ")")
    with pytest.raises(ParseError, match="too large"):
        read_expression("1e309*x")
    assert read_expression("1e308*x") == sympy.Float("1e308") * x


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x²", x**2),
        ("x² + y³", x**2 + y**3),
        ("(x + y)²", (x + y) ** 2),
        ("x⁻¹", 1 / x),
        ("x¹⁰", x**10),
        ("x·y − 1", x * y - 1),
        ("x × y ÷ 2", x * y / 2),
        ("x^2", x**2),
        ("lambda*x", sympy.Symbol("lambda") * x),
    ],
)
def test_lecture_notation_is_read(text, expected):
    assert sympy.simplify(read_expression(text) - expected) == 0


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("-0.5", sympy.Rational(-1, 2)),
        ("1/2", sympy.Rational(1, 2)),
        ("0.1", sympy.Rational(1, 10)),
        ("pi/4", sympy.pi / 4),
        ("2**-3", sympy.Rational(1, 8)),
    ],
)
def test_numbers_are_exact(text, value):
    assert read_number(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x", "not a number"),
        ("1/0", "not a finite"),
        ("sqrt(-1)", "not a finite"),
        ("1e400", "too large"),
    ],
)
def test_bad_numbers(text, message):
    with pytest.raises(ParseError, match=message):
        read_number(text)


def test_sympy_objects_pass_through_and_other_objects_are_refused():
    assert as_expression(x + 1) == x + 1
    assert as_expression(2.5) == sympy.Float(2.5)

    class Sneaky:
        def __str__(self):
            return f"open('{M}', 'w')"

    with pytest.raises(ParseError, match="expected an expression"):
        as_expression(Sneaky())


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            yield name, node


def test_no_user_string_can_reach_eval_sympify_or_parse_expr():
    """The package never calls eval/exec/parse_expr, and sympify only with strict=True
    (which refuses strings): text reaches SymPy through the reader alone."""
    package = Path(__file__).resolve().parents[1] / "symgrad"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for name, node in _calls(tree):
            strict = any(
                k.arg == "strict" and getattr(k.value, "value", None) is True for k in node.keywords
            )
            if name in {"eval", "exec", "parse_expr"} or (
                name in {"sympify", "S"} and not strict and node.args
            ):
                offenders.append(f"{path.name}:{node.lineno} {name}")
    assert offenders == []


def test_check_evaluates_huge_powers_numerically():
    """check's exact column: 30 digits from the rational point, never a million-digit fraction."""
    from symgrad.check.scalar import _exact_error

    expr = ((x + 1) ** 1000 + 1) ** 1000
    point = {x: sympy.Rational(-1, 1000)}
    start = time.perf_counter()
    error, note = _exact_error(9.758748321e135, expr, point)
    assert time.perf_counter() - start < MAX_SECONDS
    assert error < 1e-9 and note == ""
    error, note = _exact_error(0.0, (x + 1) ** 1000 * (y + 2) ** 1000, {x: -0.5, y: -1.5})
    assert error is None and "underflows float64" in note


def test_kink_functions_can_be_typed():
    """Functions with derivative rules at their kinks: hinge and Abs in a student's text."""
    z = sympy.Symbol("z")
    hinge = read_expression("max(0, 1 - y*z)")
    assert hinge.func is sympy.Max and sympy.Max(0, 1 - y * z) == hinge.doit()
    assert read_expression("Min(x, y)").func is sympy.Min
    e = read_expression("Abs(x) + sign(x)*Heaviside(x)").doit()
    assert e == sympy.Abs(x) + sympy.sign(x) * sympy.Heaviside(x)
