"""The loss registry (symgrad.model.losses) and the losses added through it.

Oracles: the loss written here in NumPy for the value; central differences of the
NumPy reference loss for the gradients; the compiled module against the reference; a
compiled training run whose loss falls; the notes' sentence.
"""

import numpy as np
import pytest

from symgrad.errors import ShapeError, SymgradError
from symgrad.model.losses import LOSSES, huber
from symgrad.model.losses import get as get_loss
from symgrad.nn import Dense, Network, derive, reference
from symgrad.show.notes import notes
from symgrad.train.compiled import CompiledNetwork
from symgrad.train.fit import fit

EPS = 1e-6


def huber_numpy(a, y, delta=1.0):
    r = np.abs(a - y)
    return np.where(r <= delta, r**2 / 2, delta * (r - delta / 2))


#: name -> the per-output loss of outputs a and targets y, in NumPy.
NUMPY_LOSSES = {"huber": huber_numpy, "mae": lambda a, y: np.abs(a - y)}


def rel_err(g, h) -> float:
    g, h = np.ravel(g), np.ravel(h)
    den = np.linalg.norm(g) + np.linalg.norm(h)
    return 0.0 if den == 0 else float(np.linalg.norm(g - h) / den)


def regression(loss, seed=0, m=12):
    """A 3-4-2 tanh/identity network with ``loss`` and data whose residuals straddle ±1."""
    rng = np.random.default_rng(seed)
    net = Network([Dense(3, 4, "tanh"), Dense(4, 2, "identity")], loss=loss)
    params = {p.ident: 0.8 * rng.standard_normal([int(d) for d in p.shape]) for p in net.params}
    X = rng.standard_normal((m, 3))
    y = 2.0 * rng.standard_normal((m, 2))
    return net, params, X, y


@pytest.mark.parametrize("name", sorted(NUMPY_LOSSES))
def test_loss_value_matches_numpy(name):
    net, params, X, y = regression(name)
    a = np.tanh(params["W1"] @ X.T + params["b1"][:, None])
    a = params["W2"] @ a + params["b2"][:, None]
    want = NUMPY_LOSSES[name](a, y.T).sum() / len(X)
    assert rel_err(reference(derive(net), params, X, y).loss, want) <= 1e-12


@pytest.mark.parametrize("name", sorted(NUMPY_LOSSES))
def test_gradients_match_central_differences(name):
    net, params, X, y = regression(name, seed=1)
    bp = derive(net)
    ref = reference(bp, params, X, y)
    for ident, value in params.items():
        fd = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            shifted = []
            for sign in (1, -1):
                p = {k: v.copy() for k, v in params.items()}
                p[ident][idx] += sign * EPS
                shifted.append(reference(bp, p, X, y).loss)
            fd[idx] = (shifted[0] - shifted[1]) / (2 * EPS)
        assert rel_err(ref.gradients[ident], fd) <= 1e-6, ident


@pytest.mark.parametrize("name", sorted(NUMPY_LOSSES))
def test_compiled_gradients_match_and_training_lowers_the_loss(name, codegen_folder):
    net, params, X, y = regression(name, seed=2, m=40)
    # rmsprop, in the session folder: the same module the CLI's regression test trains
    compiled = CompiledNetwork(net, "rmsprop", folder=codegen_folder)
    ref = reference(compiled.backprop, params, X, y)
    loss, grads = compiled.loss_and_grad(params, X, y)
    assert rel_err(loss, ref.loss) <= 1e-12
    for ident, g in grads.items():
        assert rel_err(g, ref.gradients[ident]) <= 1e-10, ident
    for batch_size in (None, 1, 7):  # full batch, the straight-line step, minibatches
        result = fit(net, X, y, lr=0.05, epochs=30, params=params, batch_size=batch_size,
                     compiled=compiled)  # fmt: skip
        assert result.history[-1] < 0.9 * result.history[0], batch_size
    assert np.allclose(result.predict(X), compiled.predict_proba(result.params, X))


@pytest.mark.parametrize("name", sorted(NUMPY_LOSSES))
def test_the_straight_line_step_is_an_rmsprop_step_on_the_reference_gradient(name, codegen_folder):
    """Per-example SGD (the straight-line ``_step_one``) on two copies of one example: two
    RMSprop steps along the NumPy reference's gradients, written out here."""
    net, params, X, y = regression(name, seed=4, m=1)
    X, y = np.repeat(X, 2, axis=0), np.repeat(y, 2, axis=0)  # any shuffle: the same steps
    compiled = CompiledNetwork(net, "rmsprop", folder=codegen_folder)
    assert "def _step_one(" in compiled.source()
    result = fit(net, X, y, lr=0.05, epochs=1, params=params, batch_size=1, compiled=compiled)
    p = {k: v.copy() for k, v in params.items()}
    s = {k: np.zeros_like(v) for k, v in p.items()}
    losses = []
    for _ in range(2):
        ref = reference(compiled.backprop, p, X[:1], y[:1])
        losses.append(ref.loss)
        for k, g in ref.gradients.items():
            s[k] = 0.9 * s[k] + 0.1 * g**2
            p[k] = p[k] - 0.05 * g / (np.sqrt(s[k]) + 1e-8)
    assert rel_err(result.history[0], np.mean(losses)) <= 1e-12
    for k in p:
        assert rel_err(result.params[k], p[k]) <= 1e-12, k


@pytest.mark.parametrize(
    "name, words", [("huber", "Huber loss (δ = 1)"), ("mae", "absolute error")]
)
def test_notes_name_the_loss(name, words):
    net, *_ = regression(name)
    text = notes(derive(net))
    assert f"The {words}, averaged over the m examples." in text
    assert f"the chain rule through the {words} and the output activation" in text


def test_huber_delta_changes_the_name_and_the_kink():
    half = huber(0.5)
    assert half.name == "huber_0.5" and "δ = 0.5" in half.words
    rng = np.random.default_rng(3)
    net = Network([Dense(2, 1, "identity")], loss=half)
    params = {"W1": rng.standard_normal((1, 2)), "b1": np.zeros(1)}
    X, y = rng.standard_normal((9, 2)), 3 * rng.standard_normal(9)
    a = params["W1"] @ X.T
    want = huber_numpy(a, y[None, :], 0.5).sum() / 9
    assert rel_err(reference(derive(net), params, X, y).loss, want) <= 1e-12
    for bad in (0, -1.0, float("nan"), "1", True):
        with pytest.raises(SymgradError, match="δ must be a finite number > 0"):
            huber(bad)


def test_the_registry_looks_names_up_and_refuses_unknown_ones():
    for name, loss in LOSSES.items():
        assert get_loss(name) is loss and loss.name == name
    assert get_loss(LOSSES["mse"]) is LOSSES["mse"]
    with pytest.raises(SymgradError, match=r"unknown loss 'hinge' \(known: bce, "):
        get_loss("hinge")


@pytest.mark.parametrize("name", [n for n, loss in LOSSES.items() if not loss.labels.classify])
def test_regression_losses_refuse_softmax_and_take_real_targets(name):
    with pytest.raises(SymgradError, match="after softmax"):
        Network([Dense(2, 3, "softmax")], loss=name)
    net, params, X, y = regression(name)
    with pytest.raises(ShapeError, match="2 target"):
        reference(derive(net), params, X, y[:, :1])


def test_huber_deltas_that_differ_in_any_digit_get_their_own_file():
    assert huber(1.0000001).name != huber(1.0).name == "huber"
    assert huber(0.5).name != huber(0.5000001).name


def test_huber_and_mae_print_readably_as_text():
    """Cases in braces, |r| and ≤ (no ``Piecewise((...))``, ``Abs`` or ``<=``), by hand."""
    net = Network([Dense(2, 1, "identity")], loss=huber(0.5))
    text = derive(net).text().splitlines()
    assert "L = (1/m) Σ ({(A - Y)²/2 if |A - Y| ≤ 1/2; |A - Y|/2 - 1/8 otherwise})" in text
    assert "dZ = {A - Y if |A - Y| ≤ 1/2; sign(A - Y)/2 otherwise}" in text
    mae = derive(Network([Dense(2, 1, "identity")], loss="mae")).text().splitlines()
    assert "L = (1/m) Σ (|A - Y|)" in mae
