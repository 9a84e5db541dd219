"""Backprop of the tensor front end: derived gradients against independent numbers.

Oracles, strongest first: central finite differences (float64, ε = 1e-5) of the loss, entry
by entry for small networks and along a random direction for bigger ones; the hand-derived
NumPy formulas of logistic regression and of the lecture's two-layer network; a forward pass
and loss written here in plain NumPy, independent of the derived graph. Also: losses and
gradients stay finite at logits of ±1000, and the graph's size does not depend on layer widths.
"""

import dataclasses

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from symgrad.engine.graph import topological_order
from symgrad.nn import Dense, Network, derive, init_params, logistic_regression, mlp, reference
from symgrad.show.notes import notes

EPS = 1e-5
TOL = 1e-7


def rel_err(g, h) -> float:
    """‖g − h‖ / (‖g‖ + ‖h‖), 0 when both are zero."""
    g, h = np.ravel(g), np.ravel(h)
    den = np.linalg.norm(g) + np.linalg.norm(h)
    return 0.0 if den == 0 else float(np.linalg.norm(g - h) / den)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


NUMPY_ACTIVATIONS = {
    "sigmoid": sigmoid,
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "identity": lambda z: z,
    "softmax": lambda z: np.exp(z - z.max(0)) / np.exp(z - z.max(0)).sum(0),
}


def numpy_loss(layers, loss, l2, params, X_rows, Y) -> float:
    """The network's loss in plain NumPy. ``layers`` are (Dense, numpy activation or None);
    ``Y`` is in the lecture's layout (k×m); X in rows = examples."""
    a = np.asarray(X_rows, float).T
    m = a.shape[1]
    for i, (layer, fn) in enumerate(layers, start=1):
        z = params[f"W{i}"] @ a + params[f"b{i}"][:, None]
        if fn is None and layer.activation == "leaky_relu":
            a = np.where(z > 0, z, layer.slope * z)
        else:
            a = (fn or NUMPY_ACTIVATIONS[layer.activation])(z)
    if loss == "bce":
        per = -(Y * np.log(a) + (1 - Y) * np.log(1 - a))
    elif loss == "cross_entropy":
        per = -(Y * np.log(a))
    else:
        per = (a - Y) ** 2 / 2
    penalty = sum(np.sum(params[f"W{i}"] ** 2) for i in range(1, len(layers) + 1))
    return float(per.sum() / m + l2 / (2 * m) * penalty)


def fd_gradient(bp, params, X, y, ident) -> np.ndarray:
    """Central differences of the reference loss, entry by entry, for one parameter."""
    out = np.zeros_like(params[ident])
    for idx in np.ndindex(out.shape):
        shifted = []
        for sign in (1, -1):
            p = {k: v.copy() for k, v in params.items()}
            p[ident][idx] += sign * EPS
            shifted.append(reference(bp, p, X, y).loss)
        out[idx] = (shifted[0] - shifted[1]) / (2 * EPS)
    return out


def random_params(net, rng, scale=0.7) -> dict:
    """Random weights and biases (nonzero biases, unlike init_params)."""
    return {p.ident: scale * rng.standard_normal([int(d) for d in p.shape]) for p in net.params}


def labels(loss, k, m, rng, kind="default"):
    if loss == "bce":
        return rng.integers(0, 2, m) if kind == "default" else rng.uniform(0, 1, m)
    if loss == "cross_entropy":
        ints = rng.integers(0, k, m)
        if kind == "onehot":
            return np.eye(k)[ints]
        if kind == "soft":
            return rng.dirichlet(np.ones(k), m)
        return ints
    return rng.standard_normal((m, k)) if k > 1 else rng.standard_normal(m)


def y_columns(loss, k, y):
    """Labels in the lecture's layout, built here without the library."""
    y = np.asarray(y)
    if loss == "cross_entropy" and y.ndim == 1:
        return np.eye(k)[y].T
    return y.reshape(len(y), -1).T.astype(float)


def case(name, *layers, loss="bce", l2=0.0, kind="default"):
    """One architecture; a custom activation comes as (Dense, its NumPy function)."""
    layers = tuple(ly if isinstance(ly, tuple) else (ly, None) for ly in layers)
    return pytest.param(layers, loss, l2, kind, id=name)


CUBIC = (Dense(3, 4, lambda x: x**3 / 3 + x), lambda z: z**3 / 3 + z)
BUMP = (Dense(3, 4, lambda x: sympy.exp(-(x**2))), lambda z: np.exp(-(z**2)))
CASES = [
    case("logistic", Dense(3, 1, "sigmoid")),
    case("logistic soft labels", Dense(3, 1, "sigmoid"), kind="soft"),
    case("2-3-1 relu/sigmoid", Dense(2, 3, "relu"), Dense(3, 1, "sigmoid")),
    case(
        "3-4-4-2 tanh/leaky/identity mse",
        *(Dense(3, 4, "tanh"), Dense(4, 4, "leaky_relu", slope=0.2), Dense(4, 2, "identity")),
        loss="mse",
    ),
    case(
        "3-4-4-3 leaky/tanh/softmax ce",
        *(Dense(3, 4, "leaky_relu"), Dense(4, 4, "tanh"), Dense(4, 3, "softmax")),
        loss="cross_entropy",
    ),
    case(
        "4-5-3 relu/softmax ce int labels",
        *(Dense(4, 5, "relu"), Dense(5, 3, "softmax")),
        loss="cross_entropy",
    ),
    case(
        "4-5-3 relu/softmax ce one-hot",
        *(Dense(4, 5, "relu"), Dense(5, 3, "softmax")),
        loss="cross_entropy",
        kind="onehot",
    ),
    case(
        "4-5-3 sigmoid/softmax ce soft labels",
        *(Dense(4, 5, "sigmoid"), Dense(5, 3, "softmax")),
        loss="cross_entropy",
        kind="soft",
    ),
    case("3-4-2 relu/identity mse", Dense(3, 4, "relu"), Dense(4, 2, "identity"), loss="mse"),
    case("3-4-2 tanh/sigmoid mse", Dense(3, 4, "tanh"), Dense(4, 2, "sigmoid"), loss="mse"),
    case("3-1 linear regression mse", Dense(3, 1, "identity"), loss="mse"),
    case("3-4-1 relu/sigmoid bce L2", Dense(3, 4, "relu"), Dense(4, 1, "sigmoid"), l2=0.3),
    case(
        "3-4-2 tanh/identity mse L2",
        *(Dense(3, 4, "tanh"), Dense(4, 2, "identity")),
        loss="mse",
        l2=1.5,
    ),
    case("3-4-1 sympy.sin/sigmoid", (Dense(3, 4, sympy.sin), np.sin), Dense(4, 1, "sigmoid")),
    case(
        "3-4-3-1 cubic/sin/sigmoid", CUBIC, (Dense(4, 3, sympy.sin), np.sin), Dense(3, 1, "sigmoid")
    ),
    case("3-4-2 exp(-x^2)/identity mse", BUMP, Dense(4, 2, "identity"), loss="mse"),
]


def build(layers, loss, l2, kind, m=7, seed=0):
    net = Network([layer for layer, _ in layers], loss=loss, l2=l2)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, layers[0][0].n_in))
    y = labels(loss, net.classes, m, rng, kind)
    return net, random_params(net, rng), X, y


@pytest.mark.parametrize("layers, loss, l2, kind", CASES)
def test_every_gradient_matches_central_differences(layers, loss, l2, kind):
    net, params, X, y = build(layers, loss, l2, kind)
    bp = derive(net)
    ev = reference(bp, params, X, y)
    assert set(ev.gradients) == {p.ident for p in net.params}
    for ident, g in ev.gradients.items():
        assert g.shape == params[ident].shape, ident
        err = rel_err(g, fd_gradient(bp, params, X, y, ident))
        assert err < TOL, f"{ident}: relative error {err:.2e}"


@pytest.mark.parametrize("layers, loss, l2, kind", CASES)
def test_loss_matches_an_independent_numpy_forward_pass(layers, loss, l2, kind):
    net, params, X, y = build(layers, loss, l2, kind)
    ev = reference(derive(net), params, X, y)
    want = numpy_loss(layers, loss, l2, params, X, y_columns(loss, net.classes, y))
    assert ev.loss == pytest.approx(want, rel=1e-12)


def test_gradients_are_not_trivially_zero():
    # A check that a zero gradient would pass (both sides zero) proves nothing.
    net, params, X, y = build(*CASES[2].values)
    ev = reference(derive(net), params, X, y)
    assert all(np.linalg.norm(g) > 1e-3 for g in ev.gradients.values())


def directional_check(net, params, X, y, seed=1) -> float:
    """Relative error of ∇L·d against (L(θ + εd) − L(θ − εd)) / 2ε for a random unit d."""
    bp = derive(net)
    rng = np.random.default_rng(seed)
    d = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    norm = np.sqrt(sum(np.sum(v**2) for v in d.values()))
    d = {k: v / norm for k, v in d.items()}  # a unit step, whatever the parameter count
    ev = reference(bp, params, X, y)
    analytic = sum(float(np.sum(ev.gradients[k] * d[k])) for k in params)
    plus = reference(bp, {k: v + EPS * d[k] for k, v in params.items()}, X, y).loss
    minus = reference(bp, {k: v - EPS * d[k] for k, v in params.items()}, X, y).loss
    return rel_err(analytic, (plus - minus) / (2 * EPS))


@pytest.mark.parametrize(
    "layers, loss, l2",
    [
        (mlp([20, 16, 16, 5], hidden="tanh", output="softmax"), "cross_entropy", 0.0),
        (mlp([30, 24, 12, 1], hidden="relu", output="sigmoid"), "bce", 0.1),
        (
            [
                Dense(10, 32, "leaky_relu"),
                Dense(32, 32, "sigmoid"),
                Dense(32, 16, "tanh"),
                Dense(16, 4, "identity"),
            ],
            "mse",
            0.0,
        ),
    ],
    ids=["20-16-16-5 tanh softmax", "30-24-12-1 relu sigmoid L2", "10-32-32-16-4 mixed mse"],
)
def test_random_direction_for_bigger_networks(layers, loss, l2):
    net = Network(layers, loss=loss, l2=l2)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((25, layers[0].n_in))
    y = labels(loss, net.classes, 25, rng)
    err = directional_check(net, init_params(net, seed=4), X, y)
    assert err < TOL


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    hidden=st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu", "identity"]),
    head=st.sampled_from(["bce", "cross_entropy", "mse-identity", "mse-sigmoid"]),
    seed=st.integers(0, 2**16),
)
def test_random_architectures_agree_with_central_differences(sizes, hidden, head, seed):
    loss, output = {
        "bce": ("bce", "sigmoid"),
        "cross_entropy": ("cross_entropy", "softmax"),
        "mse-identity": ("mse", "identity"),
        "mse-sigmoid": ("mse", "sigmoid"),
    }[head]
    k = 1 if loss == "bce" else 3
    net = Network(mlp([*sizes, k], hidden=hidden, output=output), loss=loss)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((6, sizes[0]))
    assert directional_check(net, random_params(net, rng), X, labels(loss, k, 6, rng)) < TOL


def test_logistic_regression_matches_the_hand_derived_formulas():
    rng = np.random.default_rng(5)
    n, m = 4, 9
    net = logistic_regression(n)
    X_rows, y = rng.standard_normal((m, n)), rng.integers(0, 2, m)
    W, b = rng.standard_normal((1, n)), rng.standard_normal(1)
    ev = reference(derive(net), {"W1": W, "b1": b}, X_rows, y)
    X, Y = X_rows.T, y[None, :].astype(float)
    A = 1 / (1 + np.exp(-(W @ X + b[:, None])))
    dZ = A - Y
    assert ev.loss == pytest.approx(-np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A)), rel=1e-12)
    np.testing.assert_allclose(ev.gradients["W1"], dZ @ X.T / m, rtol=1e-12)
    np.testing.assert_allclose(ev.gradients["b1"], dZ.sum(axis=1) / m, rtol=1e-12)
    np.testing.assert_allclose(ev.forward["A1"], A, rtol=1e-12)


@pytest.mark.parametrize("l2", [0.0, 0.7])
def test_lecture_network_matches_the_hand_derived_formulas(l2):
    rng = np.random.default_rng(6)
    n, h, m = 3, 5, 11
    net = Network(mlp([n, h, 1], hidden="relu", output="sigmoid"), loss="bce", l2=l2)
    params = random_params(net, rng)
    X_rows, y = rng.standard_normal((m, n)), rng.integers(0, 2, m)
    ev = reference(derive(net), params, X_rows, y)
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    X, Y = X_rows.T, y[None, :].astype(float)
    Z1 = W1 @ X + b1[:, None]
    A1 = np.maximum(Z1, 0)
    A2 = 1 / (1 + np.exp(-(W2 @ A1 + b2[:, None])))
    dZ2 = A2 - Y
    dZ1 = (W2.T @ dZ2) * (Z1 > 0)
    want = {
        "W2": dZ2 @ A1.T / m + l2 / m * W2,
        "b2": dZ2.sum(axis=1) / m,
        "W1": dZ1 @ X.T / m + l2 / m * W1,
        "b1": dZ1.sum(axis=1) / m,
    }
    for k, v in want.items():
        np.testing.assert_allclose(ev.gradients[k], v, rtol=1e-12, atol=1e-15, err_msg=k)


def test_bce_at_logits_of_plus_minus_1000():
    net = logistic_regression(1)
    bp = derive(net)
    X = np.array([[1.0], [1.0], [-1.0], [-1.0]])
    y = np.array([0, 1, 1, 0])  # logits +1000, +1000, -1000, -1000
    ev = reference(bp, {"W1": np.array([[1000.0]]), "b1": np.zeros(1)}, X, y)
    assert ev.loss == pytest.approx((1000 + 0 + 1000 + 0) / 4, rel=1e-12)
    # dZ = A - Y = (1, 0, -1, 0): dW = Σ dZ x / m = (1 + 1) / 4, db = 0.
    np.testing.assert_allclose(ev.gradients["W1"], [[0.5]], atol=1e-12)
    np.testing.assert_allclose(ev.gradients["b1"], [0.0], atol=1e-12)


@pytest.mark.parametrize("logit, label, want", [(1000, 0, 1000), (-1000, 1, 1000), (1000, 1, 0)])
def test_bce_of_one_example_at_an_extreme_logit(logit, label, want):
    bp = derive(logistic_regression(1))
    ev = reference(bp, {"W1": np.array([[1.0]]), "b1": np.zeros(1)}, [[logit]], [label])
    assert ev.loss == pytest.approx(want, abs=1e-9)
    assert all(np.isfinite(g).all() for g in ev.gradients.values())


def test_hidden_network_with_bce_at_extreme_logits_stays_finite():
    net = Network(mlp([3, 4, 1], hidden="relu", output="sigmoid"), loss="bce")
    rng = np.random.default_rng(7)
    params = random_params(net, rng)
    X = rng.standard_normal((8, 3))
    Z2 = reference(derive(net), params, X, np.zeros(8)).forward["Z2"]
    params["W2"] *= 1000 / np.abs(Z2).max()
    params["b2"] *= 1000 / np.abs(Z2).max()
    y = rng.integers(0, 2, 8)
    ev = reference(derive(net), params, X, y)
    assert np.abs(ev.forward["Z2"]).max() == pytest.approx(1000)
    assert np.isfinite(ev.loss) and ev.loss > 0
    assert all(np.isfinite(g).all() for g in ev.gradients.values())


def test_softmax_cross_entropy_at_logits_of_plus_minus_1000():
    net = Network([Dense(3, 3, "softmax")], loss="cross_entropy")
    bp = derive(net)
    params = {"W": np.eye(3) * 1000.0, "b": np.zeros(3)}
    params = {p.ident: params[p.ident[0]] for p in net.params}
    X = np.array([[1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [0.0, 1.0, -1.0]])
    ev = reference(bp, params, X, np.array([1, 0, 2]))
    # Logits (1000, -1000, 0): label 1 costs 1000 - (-1000); label 0 costs 0.
    # Logits (0, 1000, -1000): label 2 costs 1000 - (-1000).
    assert ev.loss == pytest.approx((2000 + 0 + 2000) / 3, rel=1e-12)
    for g in ev.gradients.values():
        assert np.isfinite(g).all()
    # dZ = softmax(Z) − Y per example, so db = mean over the examples of (A − Y).
    A = np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0]]).T
    Y = np.eye(3)[[1, 0, 2]].T
    np.testing.assert_allclose(ev.gradients[net.params[1].ident], (A - Y).mean(axis=1), atol=1e-12)


def test_softmax_cross_entropy_with_hidden_layer_at_extreme_logits_stays_finite():
    net = Network(mlp([4, 6, 3], hidden="tanh", output="softmax"), loss="cross_entropy")
    rng = np.random.default_rng(8)
    params = random_params(net, rng)
    params["W2"] *= 1000 / np.abs(params["W2"]).sum(axis=1).max()
    X = rng.standard_normal((10, 4)) * 100  # tanh saturates at ±1
    ev = reference(derive(net), params, X, rng.integers(0, 3, 10))
    assert np.abs(ev.forward["Z2"]).max() > 300
    assert np.isfinite(ev.loss)
    assert all(np.isfinite(g).all() for g in ev.gradients.values())


def tensor_nodes(bp) -> int:
    roots = [bp.fused_loss, *bp.gradients.values(), *(f.node for f in bp.forward)]
    return len(topological_order(roots, lambda n: n.children()))


def test_graph_size_does_not_depend_on_layer_widths():
    def net(sizes):
        return derive(Network(mlp(sizes, hidden="tanh", output="softmax"), loss="cross_entropy"))

    big, small = net([784, 128, 10]), net([64, 32, 10])
    assert tensor_nodes(big) == tensor_nodes(small)
    assert tensor_nodes(big) < 60
    assert big.text() == small.text()
    assert tensor_nodes(net([784, 128, 128, 10])) > tensor_nodes(big)  # depth does count


def test_layer_identity_lives_in_the_ir_not_in_names():
    """Parameters and equations carry their layer and kind; notes and init read those, so
    renaming every ident (what a string trick would parse) changes neither."""
    net = Network(mlp([2, 3, 2, 1], hidden="relu", output="sigmoid"))
    assert [(p.ident, p.layer, p.kind) for p in net.params] == [
        (f"{k}{l}", l, k) for l in (1, 2, 3) for k in "Wb"
    ]
    bp = derive(net)
    assert [(e.kind, e.layer) for e in bp.backward] == [
        (k, l) for l in (3, 2, 1) for k in ("dZ", "dW", "db")
    ]
    assert [(f.kind, f.layer) for f in bp.forward] == [(k, l) for l in (1, 2, 3) for k in "ZA"]
    assert net.layer_params(2) == (net.params[2], net.params[3])
    want = notes(bp)
    renamed = dataclasses.replace(
        bp,
        forward=[dataclasses.replace(f, ident=f"f{i}") for i, f in enumerate(bp.forward)],
        backward=[dataclasses.replace(e, ident=f"e{i}") for i, e in enumerate(bp.backward)],
    )
    assert notes(renamed) == want
    assert "The error flows back through the transposed weights of layer 3" in want
    assert init_params(net)["W3"].shape == (1, 2)
