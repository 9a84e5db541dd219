"""The network's backward pass in numbers (``symgrad explain --layers ...``, ``symgrad.explain``
of a network): its numbers against a forward and backward pass written here by hand in
NumPy, as printed (rounded) in each format, the command line's exit codes, and the lecture's
part that shows it.
"""

import re
import shutil
import subprocess
from itertools import takewhile

import numpy as np
import pytest

import symgrad
from symgrad.apps.lecture.book import Book
from symgrad.apps.lecture.trace import backward_in_numbers
from symgrad.cli import main
from symgrad.errors import ShapeError, SymgradError
from symgrad.nn import Network, init_params, mlp
from symgrad.nn.trace import explain_network
from symgrad.show.trace.network import number

X_ROWS = np.array([[0.5, -1.0], [2.0, 0.25], [-1.5, 1.0]])  # three examples, rows


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _by_hand_bce(P, X_rows, y):
    """The textbook two-layer pass: ReLU, sigmoid, binary cross-entropy; dZ = m ∂L/∂Z."""
    X, Y = X_rows.T, y[None, :]
    m = X.shape[1]
    Z1 = P["W1"] @ X + P["b1"][:, None]
    A1 = np.maximum(Z1, 0)
    Z2 = P["W2"] @ A1 + P["b2"][:, None]
    A2 = _sigmoid(Z2)
    L = -np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))
    dZ2 = A2 - Y
    dZ1 = (P["W2"].T @ dZ2) * (Z1 > 0)
    return {
        "X": X, "Y": Y, "Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2, "L": L,
        "dZ2": dZ2, "dW2": dZ2 @ A1.T / m, "db2": dZ2.sum(axis=1) / m,
        "dZ1": dZ1, "dW1": dZ1 @ X.T / m, "db1": dZ1.sum(axis=1) / m,
    }  # fmt: skip


def _by_hand_softmax(P, X_rows, labels, k):
    """tanh, softmax, cross-entropy over k classes (labels made one-hot here)."""
    X, Y = X_rows.T, np.eye(k)[labels].T
    m = X.shape[1]
    Z1 = P["W1"] @ X + P["b1"][:, None]
    A1 = np.tanh(Z1)
    Z2 = P["W2"] @ A1 + P["b2"][:, None]
    E = np.exp(Z2 - Z2.max(axis=0))
    A2 = E / E.sum(axis=0)
    L = -np.sum(Y * np.log(A2)) / m
    dZ2 = A2 - Y
    dZ1 = (P["W2"].T @ dZ2) * (1 - A1**2)
    return {
        "X": X, "Y": Y, "Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2, "L": L,
        "dZ2": dZ2, "dW2": dZ2 @ A1.T / m, "db2": dZ2.sum(axis=1) / m,
        "dZ1": dZ1, "dW1": dZ1 @ X.T / m, "db1": dZ1.sum(axis=1) / m,
    }  # fmt: skip


#: The trace's name of each quantity (text format).
NAMES = {
    "X": "X", "Y": "Y", "W1": "W[1]", "b1": "b[1]", "W2": "W[2]", "b2": "b[2]",
    "Z1": "Z[1]", "A1": "A[1]", "Z2": "Z[2]", "A2": "A[2]", "L": "L",
    "dZ2": "dZ[2]", "dW2": "dW[2]", "db2": "db[2]", "dZ1": "dZ[1]", "dW1": "dW[1]",
    "db1": "db[1]",
}  # fmt: skip


@pytest.fixture(scope="module")
def bce():
    net = Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")
    rng = np.random.default_rng(7)
    P = {
        "W1": rng.standard_normal((3, 2)),
        "b1": np.array([0.1, -0.2, 0.3]),
        "W2": rng.standard_normal((1, 3)),
        "b2": np.array([-0.05]),
    }
    y = np.array([1.0, 0.0, 1.0])
    return symgrad.explain(net, params=P, X=X_ROWS, y=y), _by_hand_bce(P, X_ROWS, y), P


@pytest.fixture(scope="module")
def softmax():
    net = Network(mlp([2, 4, 3], hidden="tanh", output="softmax"), loss="cross_entropy")
    rng = np.random.default_rng(3)
    P = {
        "W1": rng.standard_normal((4, 2)),
        "b1": rng.standard_normal(4),
        "W2": rng.standard_normal((3, 4)),
        "b2": rng.standard_normal(3),
    }
    labels = np.array([2, 0, 1])
    return (
        symgrad.explain(net, params=P, X=X_ROWS, y=labels),
        _by_hand_softmax(P, X_ROWS, labels, 3),
        P,
    )


def _values(trace):
    return {**trace.leaves, **trace.forward, **trace.backward, "L": trace.loss}


@pytest.mark.parametrize("case", ["bce", "softmax"])
def test_every_quantity_matches_the_hand_written_pass(case, request):
    trace, hand, P = request.getfixturevalue(case)
    got = _values(trace)
    for name, want in {**hand, **P}.items():
        np.testing.assert_allclose(got[name], want, rtol=1e-12, atol=1e-14, err_msg=name)


def _printed(text: str, name: str) -> np.ndarray:
    """The numbers printed for ``name`` in the text format: its line and the lines below."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {name} = "))
    head = lines[start]
    column = head.rfind(" = ") + 3
    below = takewhile(lambda line: line[:column].isspace() and line.strip(), lines[start + 1 :])
    rows = [head[column:], *(line[column:] for line in below)]
    return np.array([[float(v) for v in re.findall(r"[-\d.e+]+", row)] for row in rows])


@pytest.mark.parametrize("case", ["bce", "softmax"])
def test_the_text_prints_each_quantity_rounded_in_the_lectures_layout(case, request):
    trace, hand, P = request.getfixturevalue(case)
    text = trace.text()
    for ident, want in {**hand, **P}.items():
        want = np.asarray(want, dtype=float)
        shown = _printed(text, NAMES[ident])
        # a vector (a bias, its gradient) prints as a column, a scalar alone
        assert shown.shape == (want.reshape(-1, 1) if want.ndim < 2 else want).shape, ident
        np.testing.assert_allclose(shown.ravel(), want.ravel(), rtol=5e-4, atol=1e-12)


def test_each_quantity_sits_next_to_its_equation(bce):
    lines = bce[0].text().splitlines()
    for start in (
        "  Z[1] = W[1] X + b[1] = [",
        "  A[1] = ReLU(Z[1]) = [",
        "  A[2] = σ(Z[2]) = [",
        "  dZ[2] = A[2] - Y = [",
        "  dW[2] = (1/m) dZ[2] A[1]ᵀ = [",
        "  db[1] = (1/m) Σᵢ dZ[1]⁽ⁱ⁾ = [",
        "  dZ[1] = (W[2]ᵀ dZ[2]) ⊙ 1[Z[1] > 0] = [",
    ):
        assert any(line.startswith(start) for line in lines), start
    titles = [line for line in lines if line and not line.startswith(" ")]
    assert titles[2:] == [
        "Data (m = 3 examples, one column each)",
        "Parameters",
        "Forward pass",
        "Loss",
        "Backward pass (dZ[l] = m ∂L/∂Z[l]; the others are ∂L/∂W[l], ∂L/∂b[l])",
    ]
    assert titles[0] == "Network 2-3-1, relu/sigmoid, bce; 3 given examples; the given parameters"


def test_softmax_trace_shows_its_equations(softmax):
    text = softmax[0].text()
    assert "  A[2] = softmax(Z[2]) = [" in text
    assert "  dZ[1] = (W[2]ᵀ dZ[2]) ⊙ (1 - A[1]²) = [" in text
    assert "  L = (1/m) Σ (-Σₖ Y ⊙ log softmax(Z[2])) = " in text


def test_numbers_round_to_four_significant_digits():
    assert [number(v) for v in (0.0, -0.0, 1.0, -0.123456, 123456.0, 1.23456e-5)] == [
        "0", "0", "1", "-0.1235", "1.235e+05", "1.235e-05",
    ]  # fmt: skip
    assert number(1.23456e-5, "latex") == r"1.235 \times 10^{-5}"
    assert number(float("inf"), "latex") == r"\infty" and number(float("-inf")) == "-inf"
    assert number(float("nan")) == "nan" and number(float("nan"), "latex") == r"\text{nan}"


@pytest.mark.parametrize("case", ["bce", "softmax"])
def test_all_three_formats_render_the_same_numbers(case, request):
    trace, hand, _ = request.getfixturevalue(case)
    text, md, tex = trace.text(), trace.markdown(), trace.latex()
    for ident in ("Z1", "A2", "dZ1", "dW1", "db2"):
        for v in np.ravel(hand[ident]):
            assert number(v) in text
            assert number(v, "latex") in md and number(v, "latex") in tex
    assert number(hand["L"]) in md
    for tex_name in ("Z^{[1]}", "A^{[2]}", r"\mathcal{L}", "dZ^{[2]}", "dW^{[1]}", "db^{[1]}"):
        assert tex_name in md and tex_name in tex
    assert md.count("\n- $") == 2 + 4 + 4 + 1 + 6  # data, parameters, forward, loss, backward
    assert tex.count(r"\begin{align*}") == tex.count(r"\end{align*}") == 5
    assert r"\left[\begin{array}{rrr}" in tex  # three examples: three columns
    assert str(trace) == text and trace._repr_markdown_() == md


def test_default_batch_and_parameters_are_seeded():
    net = Network(mlp([2, 3, 1]), loss="bce")
    first, again = explain_network(net, seed=5), explain_network(net, seed=5)
    assert first.text() == again.text()
    assert first.text() != explain_network(net, seed=6).text()
    np.testing.assert_array_equal(first.leaves["W1"], init_params(net, seed=5)["W1"])
    assert first.leaves["X"].shape == (2, 2)
    assert set(np.unique(first.leaves["Y"])) <= {0.0, 1.0}
    assert "2 random examples (seed 5); initial parameters (seed 5)" in first.about


def test_bad_python_input():
    net = Network(mlp([2, 3, 1]), loss="bce")
    params = init_params(net)
    with pytest.raises(ShapeError, match="W1 must have shape"):
        explain_network(net, params={**params, "W1": np.zeros((2, 2))}, X=X_ROWS, y=[0, 1, 1])
    with pytest.raises(ShapeError):
        explain_network(net, X=X_ROWS[:, :1], y=[0, 1, 1])
    with pytest.raises(SymgradError, match="both X and y"):
        explain_network(net, X=X_ROWS)
    with pytest.raises(SymgradError, match="1 to 32"):
        explain_network(net, batch=0)
    with pytest.raises(SymgradError, match="at most 32 examples, got 33"):
        explain_network(net, X=np.zeros((33, 2)), y=np.zeros(33))
    with pytest.raises(SymgradError, match="at most 32 units, but 784-128-10"):
        explain_network(Network(mlp([784, 128, 10], output="softmax"), loss="cross_entropy"))
    with pytest.raises(SymgradError, match="the seed is a whole number"):
        explain_network(net, seed=-1)
    with pytest.raises(SymgradError, match="not at a point"):
        symgrad.explain(net, {"a": 1})
    with pytest.raises(SymgradError, match="for a network"):
        symgrad.explain("j = 3*a", {"a": 1}, X=X_ROWS)


# ---- command line ----------------------------------------------------------------------

ISSUE = ["explain", "--layers", "2,3,1", "--hidden", "relu", "--output", "sigmoid"]
ISSUE += ["--loss", "bce", "--batch", "2", "--seed", "0"]


def _run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_cli_prints_the_trace_in_each_format(capsys, fmt):
    status, out, err = _run(capsys, *ISSUE, "--format", fmt)
    assert (status, err) == (0, "")
    net = Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")
    assert out == getattr(explain_network(net, batch=2, seed=0), fmt)() + "\n"


def test_cli_softmax_cross_entropy(capsys):
    status, out, err = _run(
        capsys, "explain", "--layers", "2,4,3", "--activations", "tanh,softmax",
        "--loss", "cross_entropy", "--batch", "3", "--seed", "1",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert "A[2] = softmax(Z[2]) = [" in out and "Data (m = 3 examples" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain"], "give EXPR and --at"),
        (["explain", "j = 3*a", "--layers", "2,3,1"], "--layers describes a network"),
        (["explain", "--layers", "2,3,1", "--at", "a=1"], "--at is the point of EXPR"),
        (["explain", "--layers", "2,x"], "--layers takes sizes"),
        (["explain", "--layers", "2,3,1", "--batch", "0"], "argument --batch"),
        (["explain", "--layers", "2,3,1", "--batch", "33"], "argument --batch"),
        (["explain", "--layers", "2,40,1"], "at most 32 units"),
        (["explain", "--layers", "2,3,1", "--seed", "-1"], "argument --seed"),
        (["explain", "--layers", "2,3,1", "--loss", "nope"], "unknown loss"),
        (["explain", "--layers", "2,3,1", "--hidden", "softmax"], "output layer only"),
        (["explain", "--layers", "2,3,3", "--output", "sigmoid", "--loss", "cross_entropy"], ""),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    status, out, err = _run(capsys, *argv)
    assert status == 2 and out == ""
    assert err.startswith("symgrad: error: ") and err.count("\n") == 1
    assert message in err


# ---- the lecture -----------------------------------------------------------------------


def test_the_lecture_shows_its_networks_backward_pass_in_numbers(tmp_path):
    from symgrad.apps.datasets import two_moons
    from symgrad.apps.lecture import HIDDEN

    net = Network(mlp([2, HIDDEN, 1], hidden="relu", output="sigmoid"), loss="bce")
    data = two_moons()
    lines = []
    book = Book(tmp_path, lines.append)
    backward_in_numbers(book, net, data)
    index = book.markdown()
    assert index.startswith("### The backward pass in numbers")
    assert "[network_trace.md](network_trace.md)" in index
    written = (tmp_path / "network_trace.md").read_text(encoding="utf-8")
    # the first example of each class, at the parameters training starts from (seed 0)
    rows = [int(np.flatnonzero(data.y == c)[0]) for c in (0, 1)]
    P = init_params(net, seed=0)
    hand = _by_hand_bce(P, data.X[rows], data.y[rows])
    for ident in ("dW1", "db1", "dW2", "db2", "L"):
        for v in np.ravel(hand[ident]):
            assert number(v, "latex") in index and number(v, "latex") in written
    assert "dZ^{[1]} = " in index and "initial parameters (seed 0)" in index


def test_the_readme_shows_the_commands_real_output(capsys):
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    command = "symgrad " + " ".join(ISSUE)
    shown = readme.split(f"```bash\n{command}\n```\n\n```\n")[1].split("\n```")[0]
    status, out, _ = _run(capsys, *ISSUE)
    assert status == 0 and out == shown + "\n"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")
def test_the_latex_compiles(tmp_path, bce, softmax):
    l2 = explain_network(Network(mlp([2, 2, 1]), loss="bce", l2=0.1))  # λ in its first line
    body = "\n\n".join(t.latex() for t in (bce[0], softmax[0], l2))
    (tmp_path / "trace.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
        f"{body}\n\\end{{document}}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "trace.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "trace.pdf").is_file()
