"""Printing of the tensor front end: golden strings of the lecture's backprop equations.

The expected strings are the textbook equations written out by hand, in the three formats
(plain text, Markdown with ``$…$`` math, LaTeX). They must not depend on the layer widths.
"""

import pytest

from symgrad.nn import Dense, Network, derive, logistic_regression, mlp
from symgrad.show.equations import render

LECTURE_FORWARD = [
    "Z[1] = W[1] X + b[1]",
    "A[1] = ReLU(Z[1])",
    "Z[2] = W[2] A[1] + b[2]",
    "A[2] = σ(Z[2])",
]
LECTURE_BACKWARD = [
    "dZ[2] = A[2] - Y",
    "dW[2] = (1/m) dZ[2] A[1]ᵀ",
    "db[2] = (1/m) Σᵢ dZ[2]⁽ⁱ⁾",
    "dZ[1] = (W[2]ᵀ dZ[2]) ⊙ 1[Z[1] > 0]",
    "dW[1] = (1/m) dZ[1] Xᵀ",
    "db[1] = (1/m) Σᵢ dZ[1]⁽ⁱ⁾",
]
LECTURE_FORWARD_TEX = [
    r"Z^{[1]} &= W^{[1]} X + b^{[1]} \\",
    r"A^{[1]} &= \operatorname{ReLU}\left(Z^{[1]}\right) \\",
    r"Z^{[2]} &= W^{[2]} A^{[1]} + b^{[2]} \\",
    r"A^{[2]} &= \sigma\left(Z^{[2]}\right) \\",
]
LECTURE_BACKWARD_TEX = [
    r"dZ^{[2]} &= A^{[2]} - Y \\",
    r"dW^{[2]} &= \frac{1}{m} dZ^{[2]} A^{[1]T} \\",
    r"db^{[2]} &= \frac{1}{m} \sum_{i=1}^{m} dZ^{[2](i)} \\",
    r"dZ^{[1]} &= \left(W^{[2]T} dZ^{[2]}\right) \odot \mathbb{1}\left[Z^{[1]} > 0\right] \\",
    r"dW^{[1]} &= \frac{1}{m} dZ^{[1]} X^{T} \\",
    r"db^{[1]} &= \frac{1}{m} \sum_{i=1}^{m} dZ^{[1](i)}",
]
LECTURE_BACKWARD_MD = [
    r"- $dZ^{[2]} = A^{[2]} - Y$",
    r"- $dW^{[2]} = \frac{1}{m} dZ^{[2]} A^{[1]T}$",
    r"- $db^{[2]} = \frac{1}{m} \sum_{i=1}^{m} dZ^{[2](i)}$",
    r"- $dZ^{[1]} = \left(W^{[2]T} dZ^{[2]}\right) \odot \mathbb{1}\left[Z^{[1]} > 0\right]$",
    r"- $dW^{[1]} = \frac{1}{m} dZ^{[1]} X^{T}$",
    r"- $db^{[1]} = \frac{1}{m} \sum_{i=1}^{m} dZ^{[1](i)}$",
]


def lecture(n=4, h=3):
    """The lecture's network: n inputs, h ReLU units, one σ output, binary cross-entropy."""
    return derive(Network(mlp([n, h, 1], hidden="relu", output="sigmoid"), loss="bce"))


def sections(text: str) -> dict:
    """The plain-text rendering split into its titled sections."""
    out, title = {}, None
    for line in text.splitlines():
        if " = " not in line:
            title = line
            out[title] = []
        else:
            out[title].append(line)
    return out


def test_lecture_text_is_exactly_the_textbook_equations():
    lines = lecture().text().splitlines()
    assert lines[:5] == ["Forward pass", *LECTURE_FORWARD]
    assert lines[5] == "Loss"
    assert lines[7:] == ["Backward pass", *LECTURE_BACKWARD]


def test_lecture_loss_line_is_binary_cross_entropy_averaged_over_m():
    (loss,) = sections(lecture().text())["Loss"]
    assert loss.startswith("L = (1/m) Σ ")
    assert "Y ⊙ log(A[2])" in loss
    assert "(1 - Y) ⊙ log(1 - A[2])" in loss


@pytest.mark.parametrize("n, h", [(1, 1), (2, 3), (784, 128)])
def test_lecture_text_does_not_depend_on_layer_widths(n, h):
    assert lecture(n, h).text() == lecture().text()


def test_lecture_latex_lines():
    lines = lecture().latex().splitlines()
    assert lines[0] == r"\begin{aligned}"
    assert lines[-1] == r"\end{aligned}"
    assert lines[1] == r"&\text{Forward pass} \\"
    assert lines[2:6] == LECTURE_FORWARD_TEX
    assert lines[6] == r"&\text{Loss} \\"
    assert lines[7].startswith(r"\mathcal{L} &= \frac{1}{m} \sum ")
    assert lines[8] == r"&\text{Backward pass} \\"
    assert lines[9:-1] == LECTURE_BACKWARD_TEX


def test_lecture_markdown_uses_dollar_math_for_every_equation():
    md = lecture().markdown()
    blocks = md.split("\n\n")
    assert blocks[0] == "**Forward pass**"
    assert blocks[2] == "**Loss**"
    assert blocks[4] == "**Backward pass**"
    assert blocks[5].splitlines() == LECTURE_BACKWARD_MD
    assert blocks[1].splitlines()[0] == r"- $Z^{[1]} = W^{[1]} X + b^{[1]}$"
    for line in blocks[1].splitlines() + blocks[3].splitlines():
        assert line.startswith("- $") and line.endswith("$")
        assert line.count("$") == 2


def test_repr_latex_and_str():
    bp = lecture()
    assert bp._repr_latex_() == "$$" + bp.latex() + "$$"
    assert str(bp) == bp.text()


def test_render_rejects_unknown_format():
    with pytest.raises(ValueError, match="html"):
        render(lecture(), "html")


def test_logistic_regression_has_no_layer_superscripts():
    text = derive(logistic_regression(3)).text()
    assert sections(text)["Forward pass"] == ["Z = W X + b", "A = σ(Z)"]
    assert sections(text)["Backward pass"] == [
        "dZ = A - Y",
        "dW = (1/m) dZ Xᵀ",
        "db = (1/m) Σᵢ dZ⁽ⁱ⁾",
    ]


def test_logistic_regression_latex():
    lines = derive(logistic_regression(3)).latex().splitlines()
    assert lines[-4:-1] == [
        r"dZ &= A - Y \\",
        r"dW &= \frac{1}{m} dZ X^{T} \\",
        r"db &= \frac{1}{m} \sum_{i=1}^{m} dZ^{(i)}",
    ]


def test_softmax_cross_entropy_gives_a_minus_y():
    net = Network(mlp([4, 5, 3], hidden="relu", output="softmax"), loss="cross_entropy")
    s = sections(derive(net).text())
    assert s["Forward pass"][-1] == "A[2] = softmax(Z[2])"
    assert s["Backward pass"][0] == "dZ[2] = A[2] - Y"
    assert s["Backward pass"][3] == "dZ[1] = (W[2]ᵀ dZ[2]) ⊙ 1[Z[1] > 0]"


def test_tanh_hidden_uses_the_forward_output():
    net = Network(mlp([4, 5, 3], hidden="tanh", output="softmax"), loss="cross_entropy")
    bp = derive(net)
    assert sections(bp.text())["Backward pass"][3] == "dZ[1] = (W[2]ᵀ dZ[2]) ⊙ (1 - A[1]²)"
    assert r"dZ^{[1]} &= \left(W^{[2]T} dZ^{[2]}\right) \odot \left(1 - " in bp.latex()


def test_sigmoid_hidden_uses_the_forward_output():
    bp = derive(Network(mlp([4, 3, 1], hidden="sigmoid", output="sigmoid")))
    assert sections(bp.text())["Backward pass"][3] == "dZ[1] = (W[2]ᵀ dZ[2]) ⊙ A[1] ⊙ (1 - A[1])"


def test_mse_with_identity_output_gives_a_minus_y():
    bp = derive(Network(mlp([3, 4, 2], hidden="relu", output="identity"), loss="mse"))
    s = sections(bp.text())
    assert s["Forward pass"][-1] == "A[2] = Z[2]"
    assert s["Backward pass"][0] == "dZ[2] = A[2] - Y"


def test_l2_penalty_adds_lambda_over_m_times_w():
    bp = derive(Network(mlp([3, 4, 1], hidden="relu", output="sigmoid"), l2=0.1))
    s = sections(bp.text())
    assert s["Backward pass"][1] == "dW[2] = (λ/m) W[2] + (1/m) dZ[2] A[1]ᵀ"
    assert s["Backward pass"][4] == "dW[1] = (λ/m) W[1] + (1/m) dZ[1] Xᵀ"
    assert s["Backward pass"][2] == "db[2] = (1/m) Σᵢ dZ[2]⁽ⁱ⁾"
    assert r"dW^{[2]} &= \frac{\lambda}{m} W^{[2]} + \frac{1}{m} dZ^{[2]} A^{[1]T} \\" in (
        bp.latex().splitlines()
    )


def test_custom_activation_prints_its_derivative():
    layers = [Dense(3, 4, lambda x: x**3 / 3 + x), Dense(4, 1, "sigmoid")]
    s = sections(derive(Network(layers)).text())
    assert s["Forward pass"][1] == "A[1] = Z[1]³/3 + Z[1]"
    assert s["Backward pass"][3] == "dZ[1] = (W[2]ᵀ dZ[2]) ⊙ (Z[1]² + 1)"
