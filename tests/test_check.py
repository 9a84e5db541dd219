"""symgrad.check and ``symgrad check``: symbolic gradients against numbers.

Verdicts on constructed errors; the lecture's j = 3(a + bc) and logistic regression pass; a
wrong derivative rule planted in the registry (scalar tanh, the network's bias broadcast) is
caught; kinks (ReLU at 0, Abs, sign, Heaviside, Max, Min, Piecewise) are reported and do not
fail, and those functions compile to SymPy's values and derivatives; exact values agree to
~1e-15; random directions on a 30-20-5 network; a code-generation bug that finite
differences cannot see (loss and gradients halved alike) is caught by the reference evaluator;
the tables; the CLI's exit codes.

Compiled networks are built once per session in one folder (module-scoped fixtures); the
planted network bug compiles into a folder of its own, so the good module is not replaced.
"""

import copy
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
import sympy

from symgrad.check import KINK, CheckReport, Row, check, relative_error, synthetic_data, verdict
from symgrad.cli import main
from symgrad.codegen.scalar import compile_expr
from symgrad.engine import rules
from symgrad.errors import SymgradError
from symgrad.model.tensor import AddBias, SumExamples, scale, split_scale
from symgrad.nn import Network, init_params, logistic_regression, mlp
from symgrad.train.compiled import CompiledNetwork

a, b, c, x, y = sympy.symbols("a b c x y")
HALF_SLOPE = np.tanh(0.5) + 0.5 * (1 - np.tanh(0.5))  # d/dx x·tanh(x) with tanh' = 1 - tanh


@pytest.fixture(scope="session")
def folder(tmp_path_factory):
    """The one folder for the generated modules of this file."""
    return tmp_path_factory.mktemp("check_generated")


@pytest.fixture(scope="module")
def relu_net(folder):
    """A 2-3-1 ReLU/σ network with binary cross-entropy, compiled once."""
    network = Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")
    return CompiledNetwork(network, "gd", folder=folder)


@pytest.fixture
def restore_rules():
    """The rule registry, put back as it was after a test that plants a wrong rule."""
    saved = dict(rules.RULES)
    yield rules
    rules.RULES.clear()
    rules.RULES.update(saved)


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# ---- verdicts and tables -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "error, expected",
    [
        (0.0, "correct"),
        (9.9e-8, "correct"),
        (1e-7, "look closer"),
        (1e-5, "look closer"),
        (1.01e-5, "wrong"),
        (0.5, "wrong"),
        (float("nan"), "wrong"),
    ],
)
def test_verdict_thresholds(error, expected):
    assert verdict(error) == expected


def test_relative_error_on_constructed_gradients():
    g = np.array([3.0, 4.0])  # ‖g‖ = 5
    assert relative_error(g, g) == 0.0
    assert relative_error([0.0, 0.0], [0.0, 0.0]) == 0.0  # 0/0 = 0
    assert relative_error(g, -g) == 1.0
    assert relative_error(g, g + [0.0, 1e-6]) == pytest.approx(1e-6 / 10, rel=1e-6)
    for size, expected in [(1e-9, "correct"), (1e-6, "look closer"), (1e-3, "wrong")]:
        assert verdict(relative_error(g, g * (1 + 2 * size))) == expected


def _report(*verdicts) -> CheckReport:
    rows = [Row(f"r{i}", 1.0, 1.0, 1e-9 * (i + 1), v) for i, v in enumerate(verdicts)]
    return CheckReport("check something", rows)


def test_report_passes_unless_a_row_is_wrong():
    assert _report("correct", "look closer", KINK).passed
    assert not _report("correct", "wrong").passed
    assert _report("correct", "look closer").worst.name == "r1"
    assert _report(KINK).worst is None  # rows near a kink are not judged
    assert _report("correct", "wrong").summary().startswith("FAILED: 1 of 2 wrong (r1)")


def test_text_and_markdown_tables(folder):
    report = check(3 * (a + b * c), at={"a": 5, "b": 3, "c": 2}, name="j", folder=folder)
    text = report.text()
    lines = text.splitlines()
    assert lines[0] == (
        "Gradient of j = 3*a + 3*b*c at a = 5, b = 3, c = 2, "
        "checked against central differences (h = 1e-05)"
    )
    assert lines[1].startswith("symbolic: compiled; numeric: central differences")
    assert lines[3] == "quantity  symbolic  numeric  rel. error  exact err.  verdict  note"
    assert lines[4].split() == ["j", "33", "—", "—", "0", "correct"]
    assert [line.split()[:3] for line in lines[5:8]] == [
        ["∂j/∂a", "3", "3"],
        ["∂j/∂b", "6", "6"],
        ["∂j/∂c", "9", "9"],
    ]
    assert {line.index("correct") for line in lines[4:8]} == {lines[3].index("verdict")}
    assert lines[-1].startswith("passed: 4 of 4 correct; largest error ")
    assert str(report) == text
    md = report.markdown().splitlines()
    assert md[0] == f"**{lines[0]}**"
    header = md.index(
        "| quantity | symbolic | numeric | rel. error | exact err. | verdict | note |"
    )
    assert md[header + 1] == "|---|--:|--:|--:|--:|---|---|"
    assert md[header + 2] == "| j | 33 | — | — | 0 | correct |  |"
    assert md[header + 3].startswith("| ∂j/∂a | 3 | 3 | ")
    assert md[-1] == lines[-1]


# ---- scalar expressions ------------------------------------------------------------------------


def test_lecture_example_passes_with_exact_values(folder):
    report = check("3*(a + b*c)", at={"a": 5, "b": 3, "c": 2}, folder=folder)
    assert report.passed
    assert [(r.name, r.symbolic, r.verdict) for r in report.rows] == [
        ("f", 33.0, "correct"),
        ("∂f/∂a", 3.0, "correct"),
        ("∂f/∂b", 6.0, "correct"),
        ("∂f/∂c", 9.0, "correct"),
    ]
    assert all(r.exact_error == 0 for r in report.rows)
    assert all(r.rel_error < 1e-9 for r in report.rows[1:])


def test_exact_mode_agrees_to_about_1e_15(folder):
    expr = x * sympy.exp(-x * y) + sympy.log(1 + y**2) / x
    report = check(expr, at={"x": Fraction(1, 3), "y": -0.75}, folder=folder)
    assert report.passed and [r.name for r in report.rows] == ["f", "∂f/∂x", "∂f/∂y"]
    assert all(r.exact_error is not None and r.exact_error < 1e-14 for r in report.rows)
    without = check(expr, at={"x": Fraction(1, 3), "y": -0.75}, exact=False, folder=folder)
    assert [r.exact_error for r in without.rows] == [None, None]
    assert [r.symbolic for r in without.rows] == [r.symbolic for r in report.rows[1:]]
    assert "exact err." not in without.text()


def test_logistic_loss_of_one_example_passes(folder):
    text = "-(y*log(sigmoid(w*x + b)) + (1 - y)*log(1 - sigmoid(w*x + b)))"
    report = check(text, at={"w": 0.5, "x": 1.5, "b": -0.2, "y": 1}, folder=folder)
    assert report.passed and {r.verdict for r in report.rows} == {"correct"}
    assert [r.name for r in report.rows] == ["f", "∂f/∂b", "∂f/∂w", "∂f/∂x", "∂f/∂y"]


def test_planted_wrong_tanh_rule_is_caught(folder, restore_rules):
    assert check(sympy.tanh(x) * x, at={"x": 0.5}, folder=folder).passed
    restore_rules.register(sympy.tanh, partial=lambda node, i: 1 - node)  # should be 1 - node²
    bad = check(sympy.tanh(x) * x, at={"x": 0.5}, folder=folder)
    value, row = bad.rows
    assert not bad.passed and row.verdict == "wrong" and value.verdict == "correct"
    # the compiled gradient follows the wrong rule; the finite difference uses values only
    assert row.symbolic == pytest.approx(HALF_SLOPE)
    assert row.numeric == pytest.approx(np.tanh(0.5) + 0.5 * (1 - np.tanh(0.5) ** 2))
    assert row.exact_error < 1e-15  # compiled and symbolic agree: both follow the rule
    assert bad.summary().startswith("FAILED: 1 of 2 wrong (∂f/∂x)")


def test_relu_at_its_kink_is_reported_not_failed(folder):
    report = check("relu(x)*y", at={"x": 0, "y": 2}, folder=folder)
    _, kink, other = report.rows
    assert kink.verdict == KINK and kink.rel_error == 1.0  # FD: slope 1/2 · 2; symbolic 0
    assert kink.note == f"{KINK} (ReLU at x = 0): finite differences unreliable"
    assert other.verdict == "correct"
    assert report.passed
    assert "1 near a kink" in report.summary()
    assert KINK in report.text() and KINK in report.markdown()
    away = check("relu(x)*y", at={"x": 0.01, "y": 2}, folder=folder)
    assert {r.verdict for r in away.rows} == {"correct"}


r, s, t = sympy.symbols("r s t", real=True)
HUBER = sympy.Piecewise(
    ((r - s) ** 2 / 2, sympy.Abs(r - s) <= 1), (sympy.Abs(r - s) - sympy.S.Half, True)
)
#: (expression, a point at one of its kinks, the kink's note, a point away from kinks)
KINKED = [
    (sympy.Abs(r), {"r": 0}, "|·| at r = 0", {"r": -0.7}),
    (sympy.Max(0, 1 - s * t), {"s": 1, "t": 1}, "Max at s*t - 1 = 0", {"s": 0.5, "t": 1.5}),
    (HUBER, {"r": 1, "s": 0}, "Piecewise at Abs(r - s) - 1 = 0", {"r": 0.3, "s": -1.2}),
    (sympy.sign(r) * s, {"r": 0, "s": 2}, "sign at r = 0", {"r": 0.4, "s": 2}),
    (sympy.Heaviside(r) * s, {"r": 0, "s": 2}, "Heaviside at r = 0", {"r": -0.4, "s": 2}),
    (sympy.Min(r, s) * t, {"r": 1, "s": 1, "t": 2}, "Min at r - s = 0", {"r": 1, "s": 2, "t": 2}),
]


@pytest.mark.parametrize("expr, kink, note, away", KINKED, ids=[str(k[0]) for k in KINKED])
def test_functions_with_kinks_compile_and_check(expr, kink, note, away, folder):
    compiled = compile_expr(expr, folder=folder)
    # the compiled value and gradient against SymPy's own (its DiracDelta terms are 0 here)
    rng = np.random.default_rng(5)
    for values in rng.uniform(-2, 2, (5, len(compiled.wrt))):
        point = dict(zip(compiled.wrt, values, strict=True))
        value, gradient = compiled.value_and_grad(*values)
        assert value == pytest.approx(float(expr.subs(point)), rel=1e-13, abs=1e-15)
        want = [float(sympy.diff(expr, v).subs(point)) for v in compiled.wrt]
        assert gradient == pytest.approx(want, rel=1e-13, abs=1e-15)
    at_kink = check(compiled, at=kink)
    assert at_kink.passed
    noted = [row for row in at_kink.rows if note in row.note]
    assert noted and all(row.note.startswith(KINK) for row in noted), at_kink.text()
    assert all(row.verdict in ("correct", KINK) for row in at_kink.rows)
    assert {row.verdict for row in check(compiled, at=away).rows} == {"correct"}


def test_kinks_that_finite_differences_straddle_are_not_failures(folder):
    # the hinge loss at its kink: the symbolic slope is ReLU's (0), the difference half of -1
    report = check(sympy.Max(0, 1 - s * t), at={"s": 1, "t": 1}, folder=folder)
    assert [row.verdict for row in report.rows] == ["correct", KINK, KINK]
    assert report.rows[1].symbolic == 0 and report.rows[1].numeric == pytest.approx(-0.5)
    assert "2 near a kink" in report.summary()


def test_bad_scalar_input():
    with pytest.raises(SymgradError, match="give the point"):
        check(x**2)
    with pytest.raises(SymgradError, match="no value for y"):
        check(x * y, at={"x": 1})
    with pytest.raises(SymgradError, match="z not in the expression"):
        check(x, at={"x": 1, "z": 2})
    with pytest.raises(SymgradError, match="step"):
        check(x, at={"x": 1}, step=0)
    with pytest.raises(SymgradError, match="for networks"):
        check(x, at={"x": 1}, direction=True)


# ---- networks ----------------------------------------------------------------------------------


def test_relu_network_passes_entry_by_entry(relu_net):
    report = check(relu_net, per_entry=True)
    assert report.passed
    names = [r.name for r in report.rows if r.name.count("[") < 2]
    assert names == ["L", "W[1]", "b[1]", "W[2]", "b[2]"]
    assert len(report.rows) == 5 + 13
    assert {r.verdict for r in report.rows} == {"correct"}
    assert all(r.exact_error < 1e-12 for r in report.rows if r.exact_error is not None)
    header = report.text().splitlines()[3].split()
    assert header == ["parameter", "symbolic", "numeric", "rel.", "error", "ref.", "err.",
                      "verdict", "note"]  # fmt: skip


def test_logistic_regression_passes(folder):
    report = check(logistic_regression(3), folder=folder, seed=1)
    assert report.passed and [r.name for r in report.rows] == ["L", "W", "b"]
    assert max(r.rel_error for r in report.rows[1:]) < 1e-7


def test_relu_network_with_a_pre_activation_at_zero(relu_net):
    X, labels = synthetic_data(relu_net.network, seed=0)
    params = init_params(relu_net.network, seed=0)
    params["b1"][0] = -(params["W1"][0] @ X[0])  # Z[1] of unit 0, example 0 is 0
    report = check(relu_net, data=(X, labels), params=params, per_entry=True)
    rows = {r.name: r for r in report.rows}
    assert report.passed
    for name in ("W[1]", "b[1]", "b[1][0]", "W[1][0,1]"):
        assert rows[name].note.startswith(f"{KINK} (ReLU at 0 in Z[1])"), name
    assert rows["b[1][0]"].verdict == KINK and rows["b[1][0]"].rel_error > 1e-5
    assert rows["b[1][1]"].note == "" and rows["b[1][1]"].verdict == "correct"
    assert rows["W[2]"].verdict == rows["b[2]"].verdict == "correct"
    assert "near a kink, where finite differences are unreliable" in report.summary()


def test_direction_mode_on_a_30_20_5_network(folder):
    network = Network(mlp([30, 20, 5], hidden="relu", output="softmax"), loss="cross_entropy")
    report = check(network, direction=True, folder=folder, seed=3)
    assert report.passed
    names = ["L", "W[1] · v", "b[1] · v", "W[2] · v", "b[2] · v", "all · v"]
    assert [r.name for r in report.rows] == names
    assert all(r.rel_error < 1e-7 for r in report.rows[1:])


def _wrong_bias_rule(node, g, i):
    """AddBias's VJP with db twice too big: a planted bug."""
    if i == 0:
        return g
    factor, core = split_scale(g)
    return scale(2 * factor, SumExamples(core))


def test_planted_wrong_bias_rule_fails_the_network_check(tmp_path, restore_rules):
    restore_rules.register(AddBias, vjp=_wrong_bias_rule)
    compiled = CompiledNetwork(logistic_regression(2), "gd", folder=tmp_path)  # a fresh module
    report = check(compiled)
    rows = {r.name: r for r in report.rows}
    assert not report.passed
    assert rows["b"].verdict == "wrong"
    assert rows["b"].symbolic == pytest.approx(2 * rows["b"].numeric)
    assert rows["W"].verdict == rows["L"].verdict == "correct"
    # the reference evaluator runs the same (wrong) derivation: it agrees with the compiled code
    assert rows["b"].exact_error < 1e-12


def test_codegen_bug_invisible_to_finite_differences_is_caught(relu_net):
    """Loss and gradients halved alike (as when 1/m compiles wrong): FD agree, NumPy does not."""

    def halved(*args):
        loss, grads = relu_net.module.loss_and_grad(*args)
        return 0.5 * loss, [0.5 * g for g in grads]

    broken = copy.copy(relu_net)
    broken.module = SimpleNamespace(loss_and_grad=halved)
    report = check(broken)
    assert not report.passed
    assert all(r.rel_error < 1e-7 for r in report.rows[1:])  # finite differences agree
    assert all(r.verdict == "wrong" and r.exact_error > 0.3 for r in report.rows)
    assert "the compiled code differs from the symbolic result" in report.rows[1].note


def test_bad_network_input(relu_net):
    with pytest.raises(SymgradError, match="shape"):
        check(relu_net, data=(np.zeros((4, 3)), np.zeros(4)))
    with pytest.raises(SymgradError, match="unknown parameter W3"):
        check(relu_net, params={**init_params(relu_net.network), "W3": np.zeros(1)})
    with pytest.raises(SymgradError, match="at= is for scalar"):
        check(relu_net, at={"x": 1})


# ---- the command line --------------------------------------------------------------------------


def test_cli_scalar_exit_codes(capsys, folder, restore_rules):
    at = ["--at", "a=5,b=3,c=2", "--folder", str(folder)]
    status, out, err = run(capsys, "check", "j = 3*(a + b*c)", *at)
    assert (status, err) == (0, "")
    assert out.startswith("Gradient of j = 3*a + 3*b*c at a = 5, b = 3, c = 2, checked")
    assert "passed: 4 of 4 correct" in out
    status, out, _ = run(
        capsys, "check", "relu(x)", "--at", "x=0", "--format", "markdown", "--folder", str(folder)
    )
    assert status == 0 and "| ∂f/∂x |" in out and KINK in out
    restore_rules.register(sympy.tanh, partial=lambda node, i: 1 - node)
    status, out, _ = run(capsys, "check", "x*tanh(x)", "--at", "x=1/2", "--folder", str(folder))
    assert status == 1 and "FAILED: 1 of 2 wrong (∂f/∂x)" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["x*y", "--at", "x=1"], "no value for y"),
        (["x"], "EXPR needs the point"),
        (["x", "--at", "x=1", "--layers", "2,1"], "not both"),
        (["--at", "x=1", "--layers", "2,1"], "--at goes with EXPR"),
        ([], "--layers"),
        (["x", "--at", "x=1", "--step", "-1"], "positive number"),
        (["x", "--at", "x=1", "--format", "latex"], "invalid choice"),
        (["--layers", "2,3,1", "--data", "missing.csv"], "no such file"),
    ],
)
def test_cli_bad_input_exits_2(capsys, argv, message):
    status, out, err = run(capsys, "check", *argv)
    assert status == 2 and out == ""
    assert err.startswith("symgrad: error: ") and message in err and err.count("\n") == 1


def test_cli_network_on_synthetic_data_and_a_file(capsys, folder, relu_net, tmp_path):
    args = ["check", "--layers", "2,3,1", "--folder", str(folder)]
    status, out, err = run(capsys, *args)
    assert (status, err) == (0, "")
    assert out.startswith(
        "Gradient of the loss of the 2-3-1, relu/sigmoid, bce network on 16 synthetic examples "
        "(seed 0), at the initial parameters (seed 0), checked"
    )
    X, labels = synthetic_data(relu_net.network, m=10, seed=5)
    data = tmp_path / "data.csv"
    rows = ["x1,x2,y"] + [f"{p},{q},{int(t)}" for (p, q), t in zip(X, labels, strict=True)]
    data.write_text("\n".join(rows) + "\n")
    status, out, _ = run(capsys, *args, "--data", str(data), "--direction")
    assert status == 0 and "on 10 examples" in out and "all · v" in out
    status, _, err = run(capsys, *args, "--data", str(data), "--label", "z")
    assert status == 2 and "no column 'z'" in err


def test_a_naive_formula_is_checked_in_its_stable_form_and_says_so(tmp_path):
    """log(1 + e^z) at z = 1000 overflows as written; compiled as softplus it is exact."""
    report = check("log(1 + exp(z))", at={"z": 1000}, folder=tmp_path)
    assert report.passed and [r.verdict for r in report.rows] == ["correct", "correct"]
    assert report.rows[0].symbolic == 1000.0 and report.rows[1].symbolic == 1.0
    assert "log(exp(z) + 1) → softplus(z)" in report.text()
