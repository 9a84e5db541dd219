"""The command line, called in-process through main(argv); one subprocess test of python -m."""

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

from symgrad.cli import COMMANDS, main, point

LECTURE = "j = 3*(a + b*c)"
LOGISTIC = "L = -(y*log(sigmoid(w*x + b)) + (1 - y)*log(1 - sigmoid(w*x + b)))"


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def fails(capsys, *argv) -> str:
    """The one-line message of a command that must fail with status 2."""
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.startswith("symgrad: error: ")
    assert err.count("\n") == 1 and err.endswith("\n")
    assert "Traceback" not in err
    return err


# ---- grad ----


def test_grad_polynomial(capsys):
    status, out, err = run(capsys, "grad", "x**2*y", "--wrt", "x,y")
    assert (status, err) == (0, "")
    assert out == "∂f/∂x = 2*x*y\n∂f/∂y = x**2\n"


def test_grad_names_the_function_and_takes_steps(capsys):
    expected = "∂j/∂a = 3\n∂j/∂b = 3*c\n∂j/∂c = 3*b\n"
    assert run(capsys, "grad", LECTURE) == (0, expected, "")
    assert run(capsys, "grad", "u = b*c; v = a + u; j = 3*v") == (0, expected, "")


def test_grad_logistic_three_formats(capsys):
    _, text, _ = run(capsys, "grad", LOGISTIC, "--wrt", "w,b")
    assert text == "∂L/∂w = x*(-y + sigmoid(b + w*x))\n∂L/∂b = -y + sigmoid(b + w*x)\n"
    _, md, _ = run(capsys, "grad", LOGISTIC, "--wrt", "b", "--format", "markdown")
    assert md == "- $\\frac{\\partial L}{\\partial b} = - y + \\sigma\\left(b + w x\\right)$\n"
    _, tex, _ = run(capsys, "grad", LOGISTIC, "--wrt", "b", "--format", "latex")
    assert tex.startswith("\\begin{align*}\n") and tex.endswith("\\end{align*}\n")
    assert "\\sigma\\left(b + w x\\right)" in tex


def test_grad_negative_expression_after_double_dash(capsys):
    assert run(capsys, "grad", "--", "-x**2") == (0, "∂f/∂x = -2*x\n", "")


def test_grad_relu_latex(capsys):
    _, tex, _ = run(capsys, "grad", "relu(w*x)", "--wrt", "w", "--format", "latex")
    assert "\\mathbb{1}\\left[w x > 0\\right]" in tex


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grad", "x +"], "cannot parse 'x +'"),
        (["grad", "foo(x)"], "unknown function 'foo'"),
        (["grad", "x**2", "--wrt", "z"], "z not in the expression"),
        (["grad", "x**2", "--wrt", "x,,y"], "argument --wrt"),
        (["grad", "x**2", "--format", "html"], "invalid choice: 'html'"),
        (["grad", "3"], "nothing to differentiate"),
        (["grad", "x = 1; x = 2"], "assigned twice"),
        (["grad"], "required: EXPR"),
        (["grad", "-x**2"], "goes after '--'"),
        ([], "required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_grad_bad_input(capsys, argv, message):
    assert message in fails(capsys, *argv)


# ---- --at ----


def test_point_values():
    at = point("a=1, b=-2.5,c=1/2 ,d=4/2,e=1e-3,f=1.5/2")
    assert at == {
        "a": 1,
        "b": Fraction(-5, 2),
        "c": Fraction(1, 2),
        "d": 2,
        "e": Fraction(1, 1000),
        "f": Fraction(3, 4),
    }
    assert [type(v) for v in at.values()] == [int, Fraction, Fraction, int, Fraction, Fraction]
    assert point("g=pi/4")["g"] == sympy.pi / 4  # values are constant formulas


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("a", "expected name=value"),
        ("a=", "expected a number"),
        ("a=x", "expected a number"),
        ("a=1/0", "expected a number"),
        ("a=1e5000", "too large"),
        ("a=f'{1}'", "refused an f-string"),
        ("a=__import__('os')", "refused"),
        ("1=2", "expected name=value"),
        ("a=1,a=2", "a is given twice"),
        ("a=1,,b=2", "expected name=value"),
    ],
)
def test_bad_point(capsys, at, message):
    err = fails(capsys, "explain", LECTURE, "--at", at)
    assert "argument --at" in err and message in err


# ---- explain and graph (symgrad.show.trace, symgrad.show.draw) ----


def test_explain_lecture(capsys):
    status, out, err = run(capsys, "explain", LECTURE, "--at", "a=1,b=2,c=3")
    assert (status, err) == (0, "")
    assert "21" in out
    lines = [line.strip() for line in out.splitlines()]
    assert any(line.startswith("j = ") and line.endswith("= 21") for line in lines)
    assert any(line.startswith("∂j/∂b = ") and line.endswith("= 9") for line in lines)


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_explain_formats(capsys, fmt):
    status, out, _ = run(capsys, "explain", LECTURE, "--at", "a=1,b=2,c=3", "--format", fmt)
    assert status == 0 and "21" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", LECTURE, "--at", "a=1,b=2"], "c"),  # a missing value
        (["explain", LECTURE, "--at", "a=1,b=2,c=3,z=4"], "z"),  # not in the expression
        (["explain", "j = a/(b - c)", "--at", "a=1,b=2,c=2"], "zero"),
        (["explain", "j = log(a)", "--at", "a=0"], "log of a non-positive number"),
        (["explain", "u = b*c; j = a + u", "--at", "a=1,b=2,c=3,u=4"], "u is computed by a step"),
        (["explain", "j = bar(a)", "--at", "a=1"], "unknown function 'bar'"),
        (["explain", "j = 3*(a +", "--at", "a=1"], "cannot parse"),
        (["explain", LECTURE], "required: --at"),
    ],
)
def test_explain_bad_input(capsys, argv, message):
    assert message in fails(capsys, *argv)


def test_explain_wrt_lists_only_those_gradients(capsys):
    logistic = "z = w1*x1 + w2*x2 + b; a = sigmoid(z); L = -(y*log(a) + (1 - y)*log(1 - a))"
    at = "w1=0.5,w2=-1,b=0.1,x1=1,x2=2,y=1"
    status, out, err = run(capsys, "explain", logistic, "--at", at, "--wrt", "w1,w2,b")
    assert (status, err) == (0, "")
    gradient = out.split("Gradient\n")[1].splitlines()
    assert [line.split(" = ")[0].strip() for line in gradient] == [
        "∂L/∂a",
        "∂L/∂z",
        "∂L/∂b",
        "∂L/∂w1",
        "∂L/∂w2",
    ]
    assert "∂L/∂x1" not in out and "∂L/∂y" not in out
    assert "∂L/∂w2 = x2·(a - y) = -1.60437" in out  # 2·(σ(-1.4) - 1), by hand
    assert "--wrt" in fails(capsys, "explain", LECTURE, "--at", "a=1,b=2,c=3", "--wrt", "a,,")
    assert "u is computed by a step" in fails(
        capsys, "explain", "u = b*c; j = a + u", "--at", "a=1,b=2,c=3", "--wrt", "u"
    )


def test_graph_wrt_draws_no_grad_where_none_was_taken(capsys, tmp_path):
    path = tmp_path / "lecture.dot"
    status, _, _ = run(
        capsys, "graph", LECTURE, "--at", "a=1,b=2,c=3", "--wrt", "b", "-o", str(path)
    )
    dot = path.read_text(encoding="utf-8")
    assert status == 0 and '"{ input b | value 2 | grad 9 }"' in dot
    assert '"{ input a | value 1 }"' in dot and '"{ input c | value 3 }"' in dot


def test_graph_writes_dot(capsys, tmp_path):
    path = tmp_path / "lecture.dot"
    status, out, err = run(capsys, "graph", LECTURE, "--at", "a=1,b=2,c=3", "-o", str(path))
    assert (status, err) == (0, "")
    assert out == f"wrote {path}\n"
    assert path.read_text().lstrip().startswith("digraph")


def test_explain_exact_fractions_and_decimals(capsys):
    status, out, _ = run(capsys, "explain", "j = a*b", "--at", "a=1/2,b=0.25")
    assert status == 0
    assert "j = a·b = 0.125" in out


def test_graph_bad_suffix(capsys, tmp_path):
    err = fails(capsys, "graph", LECTURE, "--at", "a=1,b=2,c=3", "-o", str(tmp_path / "g.txt"))
    assert "cannot render 'g.txt'" in err


def test_graph_picture_without_graphviz(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot program on it
    err = fails(capsys, "graph", LECTURE, "--at", "a=1,b=2,c=3", "-o", str(tmp_path / "g.svg"))
    assert "Graphviz" in err or "graphviz" in err


def test_graph_unwritable_file(capsys, tmp_path):
    path = tmp_path / "no" / "such" / "dir" / "g.dot"
    assert "cannot write" in fails(capsys, "graph", LECTURE, "--at", "a=1,b=2,c=3", "-o", str(path))


# ---- the command table and the entry point ----


def test_every_command_has_help(capsys):
    assert {"grad", "explain", "graph"} <= set(COMMANDS)
    for name in COMMANDS:
        assert main([name, "--help"]) == 0
        assert capsys.readouterr().out.startswith(f"usage: symgrad {name}")


def test_python_dash_m_entry_point():
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONIOENCODING": "utf-8"}
    ok = subprocess.run(
        [sys.executable, "-m", "symgrad", "grad", "x**2*y", "--wrt", "x,y"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=False,
    )
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "∂f/∂x = 2*x*y\n∂f/∂y = x**2\n", "")
    bad = subprocess.run(
        [sys.executable, "-m", "symgrad", "grad", "x**2", "--wrt", "z"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=False,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "symgrad: error: z not in the expression (its symbols: x)\n"
