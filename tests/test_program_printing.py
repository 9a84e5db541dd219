"""Printing of user tensor programs: golden strings of textbook backward passes.

Each expected string was checked by hand against the textbook derivation named in its
comment; the user's names (mu, var, sigma, Xhat, h1…h4) are what the equations use.
"""

import sympy

import symgrad.model.program as tp
from symgrad.derive.backprop import derive
from symgrad.functions import relu


def _backward(bp) -> list:
    return bp.text().split("Backward pass\n")[1].split("\n")


def affine_relu():
    X, W, b = tp.data("X", 4), tp.param("W", (3, 4)), tp.param("b", 3)
    z = tp.name("Z", W @ X + b, adjoint=False)
    out = tp.name("out", tp.apply(relu, z), adjoint=False)
    return derive(tp.Program(output=out, upstream=tp.upstream("dout", out)), wrt=[X, W, b])


# out = ReLU(W X + b) given dout: the local gradient of ReLU is 1[Z > 0], so the adjoint of
# Z is dout ⊙ 1[Z > 0]; then dX = Wᵀ dZ, dW = dZ Xᵀ, db = Σᵢ dZ⁽ⁱ⁾ (no 1/m: dout is given).
AFFINE_RELU = """Forward pass
Z = W X + b
out = ReLU(Z)
Upstream gradient
dout = ∂L/∂out (given)
Backward pass
dX = Wᵀ (dout ⊙ 1[Z > 0])
dW = (dout ⊙ 1[Z > 0]) Xᵀ
db = Σᵢ (dout ⊙ 1[Z > 0])⁽ⁱ⁾"""


def test_affine_relu_given_upstream_gradient():
    assert affine_relu().text() == AFFINE_RELU


def test_affine_relu_markdown_and_latex():
    bp = affine_relu()
    # the same equations as AFFINE_RELU, with ∂L/∂out as a fraction
    assert bp.markdown().split("\n\n")[2:5] == [
        "**Upstream gradient**",
        r"- $dout = \frac{\partial \mathcal{L}}{\partial out} \quad \text{(given)}$",
        "**Backward pass**",
    ]
    assert bp.latex().split("\n")[-5:] == [
        r"&\text{Backward pass} \\",
        r"dX &= W^{T} \left(dout \odot \mathbb{1}\left[Z > 0\right]\right) \\",
        r"dW &= \left(dout \odot \mathbb{1}\left[Z > 0\right]\right) X^{T} \\",
        r"db &= \sum_{i=1}^{m} \left(dout \odot \mathbb{1}\left[Z > 0\right]\right)^{(i)}",
        r"\end{aligned}",
    ]


def batch_norm():
    X, g, be = tp.data("X", 3), tp.param("gamma", 3, init="ones"), tp.param("beta", 3)
    mu = tp.name("mu", tp.mean(X, "examples"))
    var = tp.name("var", tp.mean((X - mu) ** 2, "examples"))
    sigma = tp.name("sigma", tp.sqrt(var + sympy.Rational(1, 10**5)))
    xhat = tp.name("Xhat", (X - mu) / sigma)
    out = tp.name("out", g * xhat + be, adjoint=False)
    return derive(tp.Program(output=out, upstream=tp.upstream("dout", out)), wrt=[X, g, be])


# Ioffe & Szegedy (2015), Algorithm 1's backward pass, with σ = √(var + ε):
#   dx̂ = dy γ;  dσ = Σ dx̂ (x − μ)(−1/σ²) = −Σ x̂ dx̂ / σ;  dvar = dσ · ∂σ/∂var = dσ / (2σ)
#   (their dσ² = Σ dx̂ (x − μ)(−1/2)(σ² + ε)^(−3/2), the same);  dμ = Σ(−dx̂/σ) + dvar Σ −2(x − μ)/m
#   (written here as one sum);  dx = dx̂/σ + dvar 2(x − μ)/m + dμ/m;  dγ = Σ dy x̂;  dβ = Σ dy.
BATCH_NORM = """Forward pass
mu = (1/m) Σᵢ X⁽ⁱ⁾
var = (1/m) Σᵢ ((X - mu)²)⁽ⁱ⁾
sigma = sqrt(var + 1/100000)
Xhat = (X - mu) / sigma
out = Xhat ⊙ gamma + beta
Upstream gradient
dout = ∂L/∂out (given)
Backward pass
dXhat = dout ⊙ gamma
dsigma = Σᵢ (-Xhat ⊙ dXhat / sigma)⁽ⁱ⁾
dvar = dsigma / (2 sigma)
dmu = Σᵢ (-dXhat / sigma + (2/m) (dvar ⊙ (-X + mu)))⁽ⁱ⁾
dX = dXhat / sigma + (2/m) (dvar ⊙ (X - mu)) + (1/m) dmu
dgamma = Σᵢ (Xhat ⊙ dout)⁽ⁱ⁾
dbeta = Σᵢ dout⁽ⁱ⁾"""


def test_batch_norm_prints_the_staged_textbook_form():
    assert batch_norm().text() == BATCH_NORM


def test_batch_norm_latex_uses_odot_and_frac():
    # dσ = −Σ x̂ ⊙ dx̂ / σ and dvar = dσ / (2σ), as in BATCH_NORM
    lines = batch_norm().latex().split("\n")
    assert r"\hat{X} &= \frac{X - \mu}{\sigma} \\" in lines
    assert (
        r"d\sigma &= \sum_{i=1}^{m} \left(-\frac{\hat{X} \odot d\hat{X}}{\sigma}\right)^{(i)} \\"
        in lines
    )
    assert r"dvar &= \frac{d\sigma}{2 \sigma} \\" in lines


def rnn():
    Wh, Wx, b = tp.param("W_hh", (3, 3)), tp.param("W_xh", (3, 2)), tp.param("b", 3)
    h = tp.data("h0", 3)
    for t in range(1, 5):
        h = tp.name(f"h{t}", tp.tanh(Wh @ h + Wx @ tp.data(f"x{t}", 2) + b))
    return derive(tp.Program(tp.mean((h - tp.labels("y", 3)) ** 2 / 2)))


# L = (1/(3m)) Σ (h4 − y)²/2: ∂L/∂h4 = (1/(3m)) (h4 − y), so dh4 = h4 − y under 1/(3m);
# tanh' = 1 − h², so the pre-activation's adjoint is dh_t ⊙ (1 − h_t²) and
# dh_{t−1} = W_hhᵀ (dh_t ⊙ (1 − h_t²)); the shared weights get the sum over the 4 steps:
# dW_hh = (1/(3m)) Σ_t (dh_t ⊙ (1 − h_t²)) h_{t−1}ᵀ, dW_xh with x_tᵀ, db with Σᵢ (the common
# factor 1/(3m) printed once, outside the sum).
RNN_BACKWARD = [
    "dh4 = h4 - y",
    "dh3 = W_hhᵀ (dh4 ⊙ (1 - h4²))",
    "dh2 = W_hhᵀ (dh3 ⊙ (1 - h3²))",
    "dh1 = W_hhᵀ (dh2 ⊙ (1 - h2²))",
    "dW_hh = (1/(3*m)) ((dh4 ⊙ (1 - h4²)) h3ᵀ + (dh3 ⊙ (1 - h3²)) h2ᵀ"
    " + (dh2 ⊙ (1 - h2²)) h1ᵀ + (dh1 ⊙ (1 - h1²)) h0ᵀ)",
    "dW_xh = (1/(3*m)) ((dh4 ⊙ (1 - h4²)) x4ᵀ + (dh3 ⊙ (1 - h3²)) x3ᵀ"
    " + (dh2 ⊙ (1 - h2²)) x2ᵀ + (dh1 ⊙ (1 - h1²)) x1ᵀ)",
    "db = (1/(3*m)) (Σᵢ (dh4 ⊙ (1 - h4²))⁽ⁱ⁾ + Σᵢ (dh3 ⊙ (1 - h3²))⁽ⁱ⁾"
    " + Σᵢ (dh2 ⊙ (1 - h2²))⁽ⁱ⁾ + Σᵢ (dh1 ⊙ (1 - h1²))⁽ⁱ⁾)",
]


def test_rnn_shares_weights_as_a_sum_over_time_steps():
    bp = rnn()
    # h_t = tanh(W_hh h_{t−1} + W_xh x_t + b): no parentheses around products inside tanh
    assert bp.text().split("\n")[1:5] == [
        f"h{t} = tanh(W_hh h{t - 1} + W_xh x{t} + b)" for t in range(1, 5)
    ]
    assert _backward(bp) == RNN_BACKWARD


def test_softmax_cross_entropy_via_log_softmax():
    Z, W, b, Y = tp.data("Z", 3), tp.param("W", (3, 3)), tp.param("b", 3), tp.labels("Y", 3)
    S = tp.name("S", W @ Z + b)
    bp = derive(tp.Program(tp.mean(-tp.sum(Y * tp.log_softmax(S), "rows"))))
    # L = (1/m) Σ −Σₖ Y log softmax(S): ∂/∂S = (1/m)(softmax(S) Σₖ Y − Y), and Σₖ Y = 1 for
    # one-hot labels, so dS = softmax(S) − Y, dW = (1/m) dS Zᵀ, db = (1/m) Σᵢ dS.
    assert bp.text().split("\n")[3:] == [
        "L = (1/m) Σ (-Σₖ (Y ⊙ log softmax(S)))",
        "Backward pass",
        "dS = (Σₖ Y) ⊙ softmax(S) - Y",
        "dW = (1/m) dS Zᵀ",
        "db = (1/m) Σᵢ dS⁽ⁱ⁾",
    ]


def test_residual_block_adds_the_skip_path():
    A, W, b = tp.data("A", 3), tp.param("W1", (3, 3)), tp.param("b1", 3)
    Z = tp.name("Z", W @ A + b)
    H = tp.name("H", A + tp.apply(relu, Z), adjoint=False)
    bp = derive(tp.Program(output=H, upstream=tp.upstream("dH", H)), wrt=[A, W, b])
    # H = A + ReLU(W1 A + b1): dZ = dH ⊙ 1[Z > 0]; A reaches H twice, by the skip path
    # (dH) and through Z (W1ᵀ dZ); dW1 = dZ Aᵀ, db1 = Σᵢ dZ (no 1/m: dH is given).
    assert _backward(bp) == [
        "dZ = dH ⊙ 1[Z > 0]",
        "dA = dH + W1ᵀ dZ",
        "dW1 = dZ Aᵀ",
        "db1 = Σᵢ dZ⁽ⁱ⁾",
    ]


def test_program_notes_say_which_tensors_each_gradient_comes_through():
    from symgrad.show.notes import notes

    doc = notes(rnn(), title="RNN")
    assert doc.startswith("# RNN\n")
    for section in ("## Forward pass", "## Loss", "## Backward pass", "## Update"):
        assert section in doc
    # dh3 comes from the one tensor computed from h3: h4 (a tanh of W_hh h3 + ...)
    assert "$dh_{3} = W_{hh}^{T} \\left(dh_{4}" in doc
    after_dh3 = doc.split("$dh_{3} =")[1].split("\n\n")[1]
    assert after_dh3 == "The chain rule through $h_{4}$, the one tensor computed from it."
    # W_hh is used at every step: its gradient sums the paths through h1..h4
    after_dw = doc.split("$dW_{hh} =")[1].split("\n\n")[1]
    assert after_dw == (
        "The sum of the chain rule through each tensor computed from it: "
        "$h_{1}$, $h_{2}$, $h_{3}$, $h_{4}$."
    )
