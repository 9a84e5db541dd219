"""Words for readers: the notes and the check tables say what a reader needs, in the reader's
terms (no "scalar kernel"; ReLU′(0) only beside a ReLU; each check table titled by the
gradient it checked)."""

import pytest

import symgrad.nn as nn
from symgrad import sigmoid
from symgrad.check import check
from symgrad.nn import Network, derive, mlp
from symgrad.show.notes import notes


def _notes(hidden: str) -> str:
    return notes(derive(Network(mlp([2, 3, 1], hidden=hidden, output="sigmoid"), loss="bce")))


def test_the_output_error_is_explained_in_the_readers_terms():
    text = _notes("relu")
    assert "kernel" not in text
    assert (
        "The error at the output: the chain rule through the binary cross-entropy and the "
        "output activation, multiplied out and simplified to the expression above. This dZ is "
        "m times ∂L/∂Z: the 1/m of the average comes in dW and db."
    ) in text


def test_relu_remark_only_with_a_relu():
    relu, leaky, smooth = _notes("relu"), _notes("leaky_relu"), _notes("tanh")
    assert "1[Z > 0] is 1 where Z > 0, else 0 (ReLU′(0) = 0)." in relu
    assert "1[Z > 0] is 1 where Z > 0, else 0." in leaky and "ReLU′" not in leaky
    assert "⊙ is the elementwise product.\n" in smooth
    assert "1[Z > 0]" not in smooth and "ReLU′" not in smooth


def test_check_tables_are_titled_by_the_gradient_checked(tmp_path):
    scalar = check("3*(a + b*c)", at={"a": 1, "b": 2, "c": 3}, name="j", folder=tmp_path)
    assert scalar.title.startswith("Gradient of j = ")
    assert scalar.title.endswith("checked against central differences (h = 1e-05)")
    network = Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")
    net = check(network, folder=tmp_path)
    assert net.title.startswith("Gradient of the loss of the 2-3-1, relu/sigmoid, bce network on")
    X, Y = nn.data("X", 2), nn.labels("Y")
    w, b = nn.param("w", (1, 2)), nn.param("b", 1)
    A = nn.name("A", nn.apply(sigmoid, w @ X + b), adjoint=False)
    loss = nn.mean(-(Y * nn.log(A) + (1 - Y) * nn.log(1 - A)))
    program = nn.Program(loss, output=A, labels="binary", title="logistic by hand")
    prog = check(program, folder=tmp_path)
    assert prog.title.startswith("Gradient of the loss of logistic by hand on m = ")
    for report in (scalar, net, prog):
        assert not report.title.startswith("check")
        assert report.passed, report.text()
    assert pytest.approx(9) == next(r.symbolic for r in scalar.rows if r.name == "∂j/∂b")
