"""check(claim=...) and check(network, backward=...): the user's own derivatives.

Each kind of mistake is planted in a claim or a hand-written NumPy backward pass and must be
caught with its diagnosis: a constant factor, the sign, a missing chain-rule factor (scalar);
transposed, the missing 1/m, the sign, the wrong activation derivative (network). Right
claims pass. The expected derivatives are written by hand or taken from sympy.diff, and the
network's from the lecture's equations in NumPy, never from symgrad. Claims are read by the
whitelisting reader: code in a claim is refused, never run. The CLI exits 0, 1 and 2.
"""

import numpy as np
import pytest
import sympy

from symgrad.check import ClaimReport, check
from symgrad.check.claim import constant_factor
from symgrad.cli import main
from symgrad.errors import ParseError, SymgradError, UnknownSymbolError
from symgrad.nn import Network, init_params, mlp
from symgrad.train.compiled import CompiledNetwork

w, x, b = sympy.symbols("w x b")
AT = {"w": 0.5, "x": 2, "b": -1}


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def one(report: ClaimReport, name: str):
    return next(c for c in report.claims if c.name == name)


# ---- scalar claims ---------------------------------------------------------------------


def test_right_claims_pass_and_show_both_values():
    """f = log(1 + exp(w·x + b)): ∂f/∂w = x·σ(w·x + b), ∂f/∂b = σ(w·x + b) (by hand)."""
    f = sympy.log(1 + sympy.exp(w * x + b))
    claims = {"w": "x*sigmoid(w*x + b)", "b": "1/(1 + exp(-(w*x + b)))"}
    report = check(f, at=AT, claim=claims)
    assert report.passed and [c.name for c in report.claims] == ["∂f/∂w", "∂f/∂b"]
    value = 1 / (1 + np.exp(-(0.5 * 2 - 1)))  # σ(0) = 0.5
    assert one(report, "∂f/∂b").lines[0][1].endswith(f"= {value:.6g}")
    assert one(report, "∂f/∂w").lines[0][1].endswith(f"= {2 * value:.6g}")
    assert report.summary() == "passed: all 2 right"


def test_a_claim_equal_only_after_rewriting_passes():
    """∂/∂w tanh(w·x) = x(1 − tanh²), written with exponentials (sympy.diff agrees)."""
    f = sympy.tanh(w * x)
    written = 4 * x / (sympy.exp(w * x) + sympy.exp(-w * x)) ** 2
    assert sympy.simplify(sympy.diff(f, w) - written) == 0
    report = check(f, at={"w": 0.5, "x": 2}, claim={"w": "4*x/(exp(w*x) + exp(-w*x))^2"})
    assert report.passed, report.text()


def test_a_simplify_that_hangs_is_stopped_and_the_points_decide(monkeypatch):
    """simplify runs in a child process killed after SIMPLIFY_SECONDS; the random points
    still decide (∂/∂x x³ = 3x² by hand)."""
    import time

    from symgrad.check import claim as claim_module

    monkeypatch.setattr(sympy, "simplify", lambda *args, **kwargs: time.sleep(60))
    monkeypatch.setattr(claim_module, "SIMPLIFY_SECONDS", 0.5)
    start = time.monotonic()
    report = check(x**3, at={"x": 2}, claim={"x": "3*x^2"})
    assert time.monotonic() - start < 20
    assert report.passed
    assert report.claims[0].evidence == "equal at 24 random points"
    assert report.claims[0].lines[1] == ("symgrad", "3·x^2 = 12")


def test_constant_factor_is_named():
    """f = (w·x)²: ∂f/∂w = 2·w·x² (sympy.diff); a claim of w·x² is off by 1/2."""
    f = (w * x) ** 2
    assert sympy.diff(f, w) == 2 * w * x**2
    report = check(f, at={"w": 0.5, "x": 2}, claim={"w": "w*x^2"})
    claim = one(report, "∂f/∂w")
    assert not report.passed and not claim.right
    assert claim.diagnosis.startswith("off by a constant factor 1/2")
    assert "missing the factor ∂((w·x)^2)/∂(w·x)" not in claim.diagnosis  # 2·w·x is no constant
    assert claim.lines == (("yours", "w·x^2 = 2"), ("symgrad", "2·w·x^2 = 4"))


def test_sign_is_named():
    """f = exp(−w·x): ∂f/∂w = −x·exp(−w·x) (sympy.diff); the claim drops the minus."""
    f = sympy.exp(-w * x)
    assert sympy.diff(f, w) == -x * sympy.exp(-w * x)
    report = check(f, at={"w": 0.5, "x": 2}, claim={"w": "x*exp(-w*x)"})
    assert one(report, "∂f/∂w").diagnosis.startswith("wrong sign")


def test_missing_chain_rule_factor_names_the_node_and_the_factor():
    """f = σ(w·x)²: ∂f/∂w = 2·σ(w·x)·σ′(w·x)·x; the claim forgets σ′(w·x)."""
    s = 1 / (1 + sympy.exp(-w * x))
    f_sympy = s**2
    claimed = 2 * x * s
    missing = sympy.diff(f_sympy, w) / claimed
    assert sympy.simplify(missing - s * (1 - s)) == 0  # the missing factor is σ(1 − σ)
    report = check("sigmoid(w*x)^2", at={"w": 0.5, "x": 2}, claim={"w": "2*x*sigmoid(w*x)"})
    assert one(report, "∂f/∂w").diagnosis == (
        "missing the factor σ′(w·x) = (1 - σ(w·x))·σ(w·x) from the chain rule through σ(w·x)"
    )


def test_an_extra_chain_rule_factor_is_named():
    """f = σ(w·x): ∂f/∂w = x·σ(1 − σ) (sympy.diff); the claim multiplies by σ′ twice."""
    s = 1 / (1 + sympy.exp(-w * x))
    assert sympy.simplify(sympy.diff(s, w) - x * s * (1 - s)) == 0
    claimed = "x*(sigmoid(w*x)*(1 - sigmoid(w*x)))^2"
    report = check("sigmoid(w*x)", at={"w": 0.5, "x": 2}, claim={"w": claimed})
    assert one(report, "∂f/∂w").diagnosis == (
        "an extra factor σ′(w·x) = (1 - σ(w·x))·σ(w·x) from the chain rule through σ(w·x)"
    )


def test_missing_inner_derivative_is_named():
    """f = sin(3x²): ∂f/∂x = 6x·cos(3x²) (sympy.diff); the claim forgets the inner 6x."""
    f = sympy.sin(3 * x**2)
    assert sympy.diff(f, x) == 6 * x * sympy.cos(3 * x**2)
    report = check(f, at={"x": 1}, claim={"x": "cos(3*x^2)"})
    assert one(report, "∂f/∂x").diagnosis == (
        "missing the factor ∂(3·x^2)/∂x = 6·x from the chain rule through sin(3·x^2)"
    )


def test_missing_constant_of_the_chain_rule_is_named_with_the_factor():
    """j = 3(a + bc): ∂j/∂b = 3c by hand; the claim c misses the 3 of j = 3v."""
    report = check("3*(a + b*c)", at={"a": 5, "b": 3, "c": 2}, claim="b = c", name="j")
    claim = one(report, "∂j/∂b")
    assert claim.lines == (("yours", "c = 2"), ("symgrad", "3·c = 6"))
    assert claim.diagnosis == (
        "off by a constant factor 1/3: your claim is 1/3 × symgrad's (missing the factor "
        "∂(3·(a + b·c))/∂(a + b·c) = 3 from the chain rule)"
    )


def test_a_claim_right_at_the_point_only_is_wrong():
    """∂/∂b σ(w·x + b) at b = 0 ... a claim of σ(w·x) agrees at b = 0 only."""
    report = check("log(1 + exp(w*x + b))", at={"w": 0.5, "x": 2, "b": 0}, claim="b=sigmoid(w*x)")
    claim = one(report, "∂f/∂b")
    assert not claim.right and claim.evidence.startswith("differs at")
    assert claim.lines[0][1].split(" = ")[-1] == claim.lines[1][1].split(" = ")[-1] == "0.731059"


def test_constant_factor_finds_simple_numbers():
    ours = np.array([1.0, -2.0, 0.5, 0.0])
    assert constant_factor(ours, -ours) == -1
    assert constant_factor(ours, ours / 3) == sympy.Rational(1, 3)
    assert constant_factor(ours, ours * np.pi) == sympy.pi
    assert constant_factor(ours, ours + 1) is None
    assert constant_factor(ours, np.array([2.0, -4.0, 1.0, 1.0])) is None  # not 0 where 0


@pytest.mark.parametrize(
    "claim, error, message",
    [
        ({"z": "1"}, UnknownSymbolError, "claim for 'z': not a variable of the formula"),
        ({"w": "x*t"}, UnknownSymbolError, "claim for w uses t, not a variable"),
        ({"w": "x*("}, ParseError, "claim for w: cannot parse"),
        ({"w": "__import__('os').system('true')"}, ParseError, "claim for w: refused a call"),
        ({"w": "().__class__"}, ParseError, "claim for w"),
        ("w x", ParseError, "expected name = formula"),
        ("w=x; w=x", ParseError, "two claims for w"),
        ("", ParseError, "no claim given"),
    ],
)
def test_bad_claims_are_one_line_errors(claim, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(")) as caught:
        check(w * x, at={"w": 1, "x": 2}, claim=claim)
    assert "\n" not in str(caught.value)


def test_claims_are_read_never_run(monkeypatch):
    """The reader refuses code; eval, exec, parse_expr and sympify of text are never reached
    (sympify(strict=True) of a SymPy object is)."""
    import builtins

    strict_sympify = sympy.sympify

    def forbidden(*args, **kwargs):
        raise AssertionError("a claim reached eval/exec/parse_expr")

    def sympify(obj, *args, **kwargs):
        assert kwargs.get("strict") and not isinstance(obj, str), "a claim reached sympify"
        return strict_sympify(obj, *args, **kwargs)

    for name in ("eval", "exec"):
        monkeypatch.setattr(builtins, name, forbidden)
    monkeypatch.setattr(sympy, "sympify", sympify)
    monkeypatch.setattr(sympy, "parse_expr", forbidden, raising=False)
    with pytest.raises(ParseError):
        check(w * x, at={"w": 1, "x": 2}, claim={"w": "__import__('os')"})


def test_claim_options_that_do_not_fit():
    with pytest.raises(SymgradError, match="data and params are for networks"):
        check(w * x, at={"w": 1, "x": 2}, claim={"w": "x"}, data=([[1.0]], [1]))
    with pytest.raises(SymgradError, match="backward= is for networks"):
        check(w * x, at={"w": 1, "x": 2}, backward=lambda p, X, Y: {})


def test_markdown_report():
    report = check("sigmoid(w*x)^2", at={"w": 0.5, "x": 2}, claim={"w": "2*x*sigmoid(w*x)"})
    md = report.markdown()
    assert md.startswith("**check your derivatives of f = σ(w·x)^2 at w = 1/2, x = 2**")
    assert "- **∂f/∂w**: wrong (differs at 24 of 24 random points)" in md
    assert md.endswith("FAILED: 1 of 1 wrong (∂f/∂w)")


# ---- a network's backward pass ---------------------------------------------------------


@pytest.fixture(scope="module")
def tanh_net(tmp_path_factory):
    """A 2-3-1 tanh/σ network with binary cross-entropy, compiled once."""
    network = Network(mlp([2, 3, 1], hidden="tanh", output="sigmoid"), loss="bce")
    return CompiledNetwork(network, "gd", folder=tmp_path_factory.mktemp("claim_generated"))


def lecture_backward(bug=None):
    """The lecture's equations in NumPy (X, Y one column per example), with a planted bug."""

    def backward(params, X, Y):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        m = X.shape[1]
        A1 = np.tanh(W1 @ X + b1[:, None])
        A2 = 1 / (1 + np.exp(-(W2 @ A1 + b2[:, None])))
        dZ2 = A2 - Y
        dZ1 = (W2.T @ dZ2) * (A1 * (1 - A1) if bug == "sigmoid'" else 1 - A1**2)
        grads = {
            "dW1": dZ1 @ X.T / m,
            "db1": dZ1.sum(axis=1) / m,
            "dW2": dZ2 @ A1.T / m,
            "db2": dZ2.sum(axis=1, keepdims=True) / m,  # a column: accepted as b2's shape
        }
        if bug == "transposed":
            grads["dW1"] = grads["dW1"].T
        if bug == "1/m":
            grads["dW2"] = dZ2 @ A1.T
        if bug == "sign":
            grads["db1"] = -grads["db1"]
        return grads

    return backward


def test_a_right_backward_pass_passes(tanh_net):
    report = check(tanh_net, backward=lecture_backward())
    assert report.passed, report.text()
    assert [c.name for c in report.claims] == ["dW[1]", "db[1]", "dW[2]", "db[2]"]
    assert one(report, "dW[1]").evidence == "all 6 entries agree"


@pytest.mark.parametrize(
    "bug, wrong, diagnosis",
    [
        ("transposed", ["dW[1]"], "transposed: yours is symgrad's gradient transposed"),
        (
            "1/m",
            ["dW[2]"],
            "missing the 1/m of the mean over the m = 16 examples: yours is m × symgrad's",
        ),
        ("sign", ["db[1]"], "wrong sign: yours is −1 × symgrad's gradient"),
        (
            "sigmoid'",
            ["dW[1]", "db[1]"],
            "wrong activation derivative in layer 1: yours uses A[1]·(1 - A[1]) (σ′(Z[1]) "
            "written in its output, applied to A[1]) where the chain rule needs tanh′(Z[1])",
        ),
    ],
)
def test_a_planted_bug_is_caught_with_its_diagnosis(tanh_net, bug, wrong, diagnosis):
    report = check(tanh_net, backward=lecture_backward(bug))
    assert [c.name for c in report.claims if not c.right] == wrong
    assert {one(report, name).diagnosis for name in wrong} == {diagnosis}


def test_the_right_derivative_at_the_wrong_place(tanh_net):
    """tanh′ applied to A[1] instead of Z[1]: 1 − tanh(A)² where 1 − A² is right; a backward
    that leaves out db[2] and names the others W1, b1, W2."""

    def backward(params, X, Y):
        m = X.shape[1]
        A1 = np.tanh(params["W1"] @ X + params["b1"][:, None])
        dZ2 = 1 / (1 + np.exp(-(params["W2"] @ A1 + params["b2"][:, None]))) - Y
        dZ1 = (params["W2"].T @ dZ2) * (1 - np.tanh(A1) ** 2)
        return {"W1": dZ1 @ X.T / m, "b1": dZ1.sum(axis=1) / m, "W2": dZ2 @ A1.T / m}

    report = check(tanh_net, backward=backward)
    assert one(report, "dW[1]").diagnosis == (
        "wrong activation derivative in layer 1: yours uses tanh′(A[1]) where the chain rule "
        "needs tanh′(Z[1])"
    )
    assert one(report, "db[2]").evidence == "your backward returned no gradient for it"
    assert one(report, "dW[2]").right


def test_given_parameters_and_data_reach_the_users_function(tanh_net):
    params = init_params(tanh_net.network, seed=3)
    X_rows, y = np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 3.0]]), np.array([1, 0, 1])
    seen = {}

    def backward(p, X, Y):
        seen.update(p=p, X=X, Y=Y)
        return lecture_backward()(p, X, Y)

    assert check(tanh_net, backward=backward, data=(X_rows, y), params=params).passed
    np.testing.assert_array_equal(seen["X"], X_rows.T)
    np.testing.assert_array_equal(seen["Y"], [[1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(seen["p"]["W1"], params["W1"])


def test_a_fault_in_the_users_backward_is_one_line(tanh_net):
    def backward(params, X, Y):
        return {"dW1": params["W1"] @ X @ X}  # shapes do not fit

    with pytest.raises(SymgradError, match=r"your backward raised ValueError: .*\(line \d+ of"):
        check(tanh_net, backward=backward)
    with pytest.raises(SymgradError, match="must return a dict"):
        check(tanh_net, backward=lambda params, X, Y: [1, 2])


# ---- the command line ------------------------------------------------------------------


def test_cli_claim_exit_codes(capsys):
    right = ("check", "sigmoid(w*x)^2", "--at", "w=1/2,x=2")
    status, out, err = run(capsys, *right, "--claim", "w=2*x*sigmoid(w*x)^2*(1-sigmoid(w*x))")
    assert (status, err) == (0, "") and out.rstrip().endswith("passed: all 1 right")
    status, out, err = run(capsys, *right, "--claim", "w=2*x*sigmoid(w*x); x=0")
    assert (status, err) == (1, "")
    assert "diagnosis: missing the factor σ′(w·x)" in out
    assert out.rstrip().endswith("FAILED: 2 of 2 wrong (∂f/∂w, ∂f/∂x)")


@pytest.mark.parametrize(
    "claim, message",
    [
        ("z=1", "claim for 'z': not a variable of the formula (its variables: w, x)"),
        ("w=__import__('os')", "claim for w: refused the dunder name '__import__'"),
        ("w=x*(", "claim for w: cannot parse"),
    ],
)
def test_cli_bad_claims_exit_2_in_one_line(capsys, claim, message):
    status, out, err = run(capsys, "check", "w*x", "--at", "w=1,x=2", "--claim", claim)
    assert (status, out) == (2, "")
    assert err.startswith(f"symgrad: error: {message}") and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (("--layers", "2,3,1", "--claim", "W1=0"), "--claim goes with EXPR"),
        (("w*x", "--at", "w=1,x=2", "--backward", "student.py"), "--backward checks a network"),
    ],
)
def test_cli_claim_and_backward_go_with_their_target(capsys, argv, message):
    status, out, err = run(capsys, "check", *argv)
    assert (status, out) == (2, "") and err.startswith(f"symgrad: error: {message}")


def test_cli_backward_file(capsys, tmp_path, tanh_net):
    student = tmp_path / "student.py"
    student.write_text(
        "import numpy as np\n\n"
        "def backward(params, X, Y):\n"
        "    m = X.shape[1]\n"
        "    A1 = np.tanh(params['W1'] @ X + params['b1'][:, None])\n"
        "    A2 = 1 / (1 + np.exp(-(params['W2'] @ A1 + params['b2'][:, None])))\n"
        "    dZ2 = A2 - Y\n"
        "    dZ1 = (params['W2'].T @ dZ2) * (1 - A1**2)\n"
        "    return {'dW1': dZ1 @ X.T / m, 'db1': dZ1.sum(axis=1) / m,\n"
        "            'dW2': dZ2 @ A1.T SCALE, 'db2': dZ2.sum(axis=1) / m}\n"
    )
    text = student.read_text()
    net = ("check", "--layers", "2,3,1", "--hidden", "tanh", "--folder", str(tmp_path))
    student.write_text(text.replace(" SCALE", " / m"))
    status, out, err = run(capsys, *net, "--backward", str(student))
    assert (status, err) == (0, ""), out
    student.write_text(text.replace(" SCALE", ""))
    status, out, err = run(capsys, *net, "--backward", str(student))
    assert status == 1 and "missing the 1/m of the mean over the m = 16 examples" in out
    (tmp_path / "empty.py").write_text("x = 1\n")
    status, out, err = run(capsys, *net, "--backward", str(tmp_path / "empty.py"))
    assert status == 2 and "must define backward(params, X, Y)" in err
