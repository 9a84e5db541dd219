"""Compiled training and prediction of user-written tensor programs (not only Network).

Each program's compiled ``loss_and_grad`` is compared with central finite differences of the
NumPy oracle's loss (the program's own loss graph, not the derived gradients), training runs
with gd and adam on every path (whole set, minibatches, one example a step), and ``predict``
is compared with a forward pass written in NumPy here. Dropout: with keep = 1 training equals
the same program without dropout; with keep = 0.5 a seed reproduces a run.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy

import symgrad.model.program as nn
from symgrad.codegen import scalarized
from symgrad.errors import SymgradError
from symgrad.functions import relu, sigmoid
from symgrad.model.data import init_params
from symgrad.model.numeric import evaluate
from symgrad.model.tensor import m
from symgrad.train.compiled import CompiledNetwork, module_name
from symgrad.train.fit import fit, predict

RNG = np.random.default_rng(3)


def logistic() -> nn.Program:
    x, y = nn.data("x", 3), nn.labels("y")
    w, b = nn.param("w", (1, 3)), nn.param("b", 1)
    a = nn.name("a", nn.apply(sigmoid, w @ x + b))
    bce = nn.apply(lambda p, t: -(t * sympy.log(p) + (1 - t) * sympy.log(1 - p)), a, y)
    return nn.Program(nn.mean(bce), output=a, labels="binary")


def centered_mlp() -> nn.Program:
    """tanh layer, minus its batch mean (a Broadcast), a linear layer, Σ over the rows."""
    X, Y = nn.data("X", 2), nn.labels("Y", 2)
    W1, b1 = nn.param("W1", (3, 2)), nn.param("b1", 3)
    W2, b2 = nn.param("W2", (2, 3)), nn.param("b2", 2)
    A1 = nn.name("A1", nn.tanh(W1 @ X + b1))
    mu = nn.name("mu", nn.mean(A1, "examples"), adjoint=False)
    out = nn.name("out", W2 @ (A1 - mu) + b2)
    loss = nn.mean(nn.sum((out - Y) ** 2, "rows")) / 2
    return nn.Program(loss, output=out, title="centered mlp")


def softmax_regression() -> nn.Program:
    X, Y = nn.data("X", 2), nn.labels("Y", 3)
    W, b = nn.param("W", (3, 2)), nn.param("b", 3)
    Z = nn.name("Z", W @ X + b)
    loss = -nn.mean(nn.sum(Y * nn.log_softmax(Z), "rows"))
    return nn.Program(loss, output=nn.softmax(Z), labels="classes")


def two_layer(keep: float | None) -> nn.Program:
    """ReLU hidden layer (with inverted dropout unless keep is None), sigmoid output."""
    X, Y = nn.data("X", 2), nn.labels("Y")
    W1, b1 = nn.param("W1", (4, 2)), nn.param("b1", 4)
    W2, b2 = nn.param("W2", (1, 4)), nn.param("b2", 1)
    A1 = nn.name("A1", nn.apply(relu, W1 @ X + b1))
    H = A1 if keep is None else nn.dropout(A1, keep)
    A2 = nn.name("A2", nn.apply(sigmoid, W2 @ H + b2))
    bce = nn.apply(lambda p, t: -(t * sympy.log(p) + (1 - t) * sympy.log(1 - p)), A2, Y)
    return nn.Program(nn.mean(bce), output=A2, labels="binary")


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward_logistic(p, X):
    return _sigmoid(p["w"] @ X.T + p["b"][:, None]).T


def forward_centered_mlp(p, X):
    A1 = np.tanh(p["W1"] @ X.T + p["b1"][:, None])
    return (p["W2"] @ (A1 - A1.mean(axis=1, keepdims=True)) + p["b2"][:, None]).T


def forward_softmax(p, X):
    Z = p["W"] @ X.T + p["b"][:, None]
    E = np.exp(Z - Z.max(axis=0))
    return (E / E.sum(axis=0)).T


def forward_two_layer(p, X):
    A1 = np.maximum(p["W1"] @ X.T + p["b1"][:, None], 0)
    return _sigmoid(p["W2"] @ A1 + p["b2"][:, None]).T


def data_for(name: str, rows: int = 12):
    X = RNG.standard_normal((rows, 3 if name == "logistic" else 2))
    if name == "centered_mlp":
        return X, np.column_stack([X[:, 0] - X[:, 1], X[:, 0] * X[:, 1]])
    if name == "softmax":
        return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    return X, (X[:, 0] + X[:, 1] > 0).astype(float)


CASES = {
    "logistic": (logistic, forward_logistic),
    "centered_mlp": (centered_mlp, forward_centered_mlp),
    "softmax": (softmax_regression, forward_softmax),
    "two_layer": (lambda: two_layer(None), forward_two_layer),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("programs")


@pytest.fixture(scope="module")
def compiled(folder):
    made = {}

    def get(name: str, optimizer: str = "gd", program=None):
        key = (name, optimizer)
        if key not in made:
            program = program or CASES[name][0]()
            made[key] = CompiledNetwork(program, optimizer, folder=folder)
        return made[key]

    return get


def oracle_loss(program, params: dict, X_rows, Y, masks=None) -> float:
    """The program's loss (its graph before any derivation) evaluated with NumPy."""
    env = {program.X.ident: X_rows.T, program.Y.ident: Y, **params, **(masks or {})}
    scalars = {m: X_rows.shape[0], **program.constants()}
    return float(evaluate([program.loss], env, scalars)[0])


def finite_differences(program, params: dict, X_rows, Y, h: float = 1e-6) -> dict:
    grads = {}
    for ident, value in params.items():
        g = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = []
            for step in (h, -h):
                moved = {**params, ident: value.copy()}
                moved[ident][index] += step
                shifted.append(oracle_loss(program, moved, X_rows, Y))
            g[index] = (shifted[0] - shifted[1]) / (2 * h)
        grads[ident] = g
    return grads


def one_hot_or_columns(name: str, y) -> np.ndarray:
    if name == "softmax":
        return np.eye(3)[y].T
    return np.asarray(y, float).reshape(len(y), -1).T


@pytest.mark.parametrize("name", list(CASES))
def test_loss_and_grad_match_finite_differences_of_the_numpy_oracle(compiled, name):
    c = compiled(name)
    X, y = data_for(name)
    params = init_params(c.network, seed=5)
    params = {k: v + 0.1 * RNG.standard_normal(v.shape) for k, v in params.items()}
    loss, grads = c.loss_and_grad(params, X, y)
    Y = one_hot_or_columns(name, y)
    assert loss == pytest.approx(oracle_loss(c.network, params, X, Y), rel=1e-12)
    expected = finite_differences(c.network, params, X, Y)
    assert set(grads) == set(expected)
    for ident, g in grads.items():
        assert g.shape == params[ident].shape
        np.testing.assert_allclose(g, expected[ident], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", list(CASES))
def test_predict_matches_a_numpy_forward_pass(compiled, name):
    c = compiled(name)
    X, _ = data_for(name)
    params = init_params(c.network, seed=2)
    out = CASES[name][1](params, X)
    np.testing.assert_allclose(c.predict_proba(params, X), out, rtol=1e-12, atol=1e-14)
    labels = {"logistic": (out[:, 0] >= 0.5).astype(int), "softmax": out.argmax(axis=1)}
    labels["two_layer"] = labels["logistic"] = (out[:, 0] >= 0.5).astype(int)
    if name in labels:
        np.testing.assert_array_equal(predict(c, params, X), labels[name])
    else:  # real targets: the outputs
        np.testing.assert_allclose(predict(c, params, X), out, rtol=1e-12, atol=1e-14)


#: Each program on two of the three paths, each path with both optimizers: every path
#: compiles once per module, and compiling is what this file's time goes to.
FIT_CASES = [
    ("logistic", "gd", None),
    ("logistic", "adam", 1),
    ("centered_mlp", "gd", 5),
    ("centered_mlp", "adam", None),
    ("softmax", "gd", 1),
    ("softmax", "adam", 5),
]


@pytest.mark.parametrize(("name", "optimizer", "batch_size"), FIT_CASES)
def test_fit_lowers_the_loss_and_the_first_full_batch_epoch_is_the_oracles(
    compiled, folder, name, optimizer, batch_size
):
    c = compiled(name, optimizer)
    X, y = data_for(name)
    lr = 0.05 if optimizer == "adam" else 0.3
    result = fit(c.network, X, y, lr=lr, epochs=15, batch_size=batch_size, seed=1, compiled=c)
    assert result.history[-1] < result.history[0]
    start = init_params(c.network, seed=1)
    if batch_size is None:  # epoch 1's loss is the loss at the start parameters
        Y = one_hot_or_columns(name, y)
        assert result.history[0] == pytest.approx(oracle_loss(c.network, start, X, Y), rel=1e-12)
    out = CASES[name][1](result.params, X)
    np.testing.assert_allclose(result.predict(X), predict(c, result.params, X))
    np.testing.assert_allclose(c.predict_proba(result.params, X), out, rtol=1e-12, atol=1e-14)


def test_gd_on_the_whole_set_is_the_numpy_gradient_step(compiled):
    """Two epochs of full-batch gd, redone with NumPy and finite differences of the oracle."""
    c = compiled("logistic")
    X, y = data_for("logistic")
    result = fit(c.network, X, y, lr=0.5, epochs=2, seed=4, compiled=c)
    params = init_params(c.network, seed=4)
    Y = one_hot_or_columns("logistic", y)
    for _ in range(2):
        grads = finite_differences(c.network, params, X, Y)
        params = {k: v - 0.5 * grads[k] for k, v in params.items()}
    for ident, value in params.items():
        np.testing.assert_allclose(result.params[ident], value, rtol=1e-7, atol=1e-9)


def test_per_example_steps_agree_with_and_without_straight_line_code(compiled, folder, monkeypatch):
    """The batch-mean broadcast and the row sum scalarize: the straight-line step and the loop
    version (forced by allowing no scalars) train alike."""
    c = compiled("centered_mlp")
    assert "def _step_one(" in c.source()
    X, y = data_for("centered_mlp")
    straight = fit(c.network, X, y, lr=0.1, epochs=4, batch_size=1, seed=2, compiled=c)
    monkeypatch.setattr(scalarized, "MAX_SCALARS", 0)
    looped = CompiledNetwork(centered_mlp(), "gd", folder=folder)
    assert "def _step_one(" not in looped.source() and looped.path != c.path
    again = fit(looped.network, X, y, lr=0.1, epochs=4, batch_size=1, seed=2, compiled=looped)
    np.testing.assert_allclose(again.history, straight.history, rtol=1e-10)
    for ident, value in straight.params.items():
        np.testing.assert_allclose(again.params[ident], value, rtol=1e-9, atol=1e-12)


# ---- dropout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 5, 1])
def test_dropout_keeping_everything_trains_as_without_dropout(compiled, batch_size):
    plain, kept = compiled("two_layer"), compiled("keep_1", program=two_layer(1.0))
    assert "np.random.random()" in kept.source()
    X, y = data_for("two_layer")
    a = fit(plain.network, X, y, lr=0.3, epochs=6, batch_size=batch_size, seed=3, compiled=plain)
    b = fit(kept.network, X, y, lr=0.3, epochs=6, batch_size=batch_size, seed=3, compiled=kept)
    np.testing.assert_allclose(b.history, a.history, rtol=1e-12)
    for ident, value in a.params.items():
        np.testing.assert_allclose(b.params[ident], value, rtol=1e-12, atol=1e-15)


def test_dropout_keeping_everything_has_the_oracles_gradients(compiled):
    kept = compiled("keep_1", program=two_layer(1.0))
    X, y = data_for("two_layer")
    params = init_params(kept.network, seed=6)
    loss, grads = kept.loss_and_grad(params, X, y)
    Y = one_hot_or_columns("two_layer", y)
    ones = {"M": np.ones((4, X.shape[0]))}
    assert loss == pytest.approx(oracle_loss(kept.network, params, X, Y, ones), rel=1e-12)
    plain = two_layer(None)  # the same loss without the mask: its finite differences
    expected = finite_differences(plain, params, X, Y)
    for ident, g in grads.items():
        np.testing.assert_allclose(g, expected[ident], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(("optimizer", "batch_size"), [("gd", None), ("adam", 4)])
def test_dropout_trains_reproducibly_and_lowers_the_loss(compiled, optimizer, batch_size):
    c = compiled("keep_half", optimizer, program=two_layer(0.5))
    X, y = data_for("two_layer", 40)
    lr = 0.05 if optimizer == "adam" else 0.5
    runs = [
        fit(c.network, X, y, lr=lr, epochs=30, batch_size=batch_size, seed=s, compiled=c)
        for s in (7, 7, 8)
    ]
    np.testing.assert_array_equal(runs[0].history, runs[1].history)
    for ident, value in runs[0].params.items():
        np.testing.assert_array_equal(runs[1].params[ident], value)
    assert not np.array_equal(runs[0].history, runs[2].history)  # another seed, other masks
    assert runs[0].history[-5:].mean() < runs[0].history[:5].mean()
    # prediction sets every mask to ones: the forward pass without dropout
    out = forward_two_layer(runs[0].params, X)
    np.testing.assert_allclose(c.predict_proba(runs[0].params, X), out, rtol=1e-12)


def test_a_dropout_masks_entries_are_zero_or_one_over_keep(compiled):
    """Half the hidden units dropped: the loss at all-ones weights equals the oracle's with
    some mask of 0 and 2 entries (the mask is not returned; its loss range is checked)."""
    c = compiled("keep_half", program=two_layer(0.5))
    X, y = data_for("two_layer", 30)
    params = {"W1": np.eye(4, 2), "b1": np.ones(4), "W2": np.ones((1, 4)), "b2": np.zeros(1)}
    Y = one_hot_or_columns("two_layer", y)
    low = oracle_loss(c.network, params, X, Y, {"M": np.zeros((4, 30))})
    high = oracle_loss(c.network, params, X, Y, {"M": np.full((4, 30), 2.0)})
    losses = {c.loss_and_grad(params, X, y)[0] for _ in range(5)}
    assert len(losses) > 1  # drawn anew at every call
    assert all(min(low, high) - 1e-12 <= v <= max(low, high) + 1e-12 for v in losses)


# ---- the generated module, names, errors -------------------------------------------------------


_STANDALONE = textwrap.dedent(
    """
    import importlib.util
    import sys

    sys.modules["sympy"] = None  # any import of SymPy now fails
    import numpy as np

    path, name, data, order = sys.argv[1:]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    d = np.load(data)
    p = [d[k] for k in order.split(",")]  # the signature's order
    loss, grads = module.loss_and_grad(*p, d["X"], d["Y"], 0.0)
    out = module.predict(*p, d["X"])
    assert "symgrad" not in sys.modules
    print(repr(float(loss)), repr(float(grads[order.split(",").index("W1")][1, 1])))
    print(repr(float(out[0, 2])))
    """
)


def test_generated_module_of_a_program_runs_without_sympy(compiled, tmp_path):
    c = compiled("keep_1", program=two_layer(1.0))
    X, y = data_for("two_layer")
    params = init_params(c.network, seed=1)
    loss, grads = c.loss_and_grad(params, X, y)
    out = c.predict_proba(params, X)
    data = tmp_path / "case.npz"
    np.savez(data, X=X.T.copy(), Y=y[None, :].copy(), **params)
    run = subprocess.run(
        [
            *(sys.executable, "-c", _STANDALONE, c.module.__file__, c.module.__name__),
            *(str(data), ",".join(c.signature.params)),
        ],
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert [float(v) for v in run.stdout.split()] == [loss, grads["W1"][1, 1], out[2, 0]]


def test_module_names_are_stable_and_one_per_program():
    a, b = module_name(two_layer(0.5), None), module_name(two_layer(0.5), None)
    assert a == b and a.startswith("program_")
    assert module_name(two_layer(0.25), None) != a
    assert module_name(centered_mlp(), None).startswith("centered_mlp_")


def test_init_params_follow_each_parameters_init():
    X, Y = nn.data("X", 50), nn.labels("Y")
    W = nn.param("W", (400, 50))
    g, b = nn.param("g", 400, init="ones"), nn.param("b", 400)
    v = nn.param("v", (1, 400), init="zeros")
    p = nn.Program(nn.mean((v @ (g * (W @ X) + b) - Y) ** 2))
    params = init_params(p, seed=0)
    assert params["W"].std() == pytest.approx(np.sqrt(1 / 50), rel=0.02)
    assert abs(params["W"].mean()) < 0.01
    np.testing.assert_array_equal(params["g"], np.ones(400))
    np.testing.assert_array_equal(params["b"], np.zeros(400))
    np.testing.assert_array_equal(params["v"], np.zeros((1, 400)))


def test_programs_that_cannot_train_or_predict_say_why(folder):
    X, Y = nn.data("X", 2), nn.labels("Y")
    w = nn.param("w", (1, 2))
    no_output = CompiledNetwork(nn.Program(nn.mean((w @ X - Y) ** 2)), folder=folder)
    with pytest.raises(SymgradError, match="predicts nothing"):
        no_output.predict_proba({"w": np.ones((1, 2))}, np.ones((3, 2)))
    lr = nn.param("lr", (1, 2))
    with pytest.raises(SymgradError, match="'lr' is taken"):
        CompiledNetwork(nn.Program(nn.mean((lr @ X - Y) ** 2)), folder=folder)
    with pytest.raises(SymgradError, match="labels 'onehot'"):
        nn.Program(nn.mean((w @ X - Y) ** 2), labels="onehot")
    two = nn.Program(nn.mean((w @ X + w @ nn.data("X2", 2) - Y) ** 2))
    with pytest.raises(SymgradError, match="2 data leaves"):
        fit(two, np.ones((3, 2)), np.ones(3), epochs=1, folder=folder)


def test_a_programs_constants_are_numbers_in_its_code(folder):
    """α given with the program is printed as its value (here in a factor α + 1, which
    needs its parentheses); λ stays the run-time argument."""
    alpha = sympy.Symbol("alpha", positive=True)
    X, Y = nn.data("X", 2), nn.labels("Y")
    W, b = nn.param("W", (1, 2)), nn.param("b", 1)
    out = nn.name("out", W @ X + b)
    p = nn.Program(
        alpha * nn.mean((out - Y) ** 2 * (1 + alpha)), output=out, constants={alpha: 0.25}
    )
    c = CompiledNetwork(p, folder=folder)
    params = {"W": np.array([[1.0, 2.0]]), "b": np.array([0.5])}
    X_rows, y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 2.0, 0.0])
    loss, grads = c.loss_and_grad(params, X_rows, y)
    r = X_rows @ params["W"][0] + 0.5 - y  # residuals 0.5, 0.5, 3.5
    assert loss == pytest.approx(0.25 * 1.25 * (r**2).mean(), rel=1e-14)
    np.testing.assert_allclose(grads["W"][0], 0.25 * 1.25 * 2 * (r @ X_rows) / 3, rtol=1e-14)
    np.testing.assert_allclose(grads["b"], [0.25 * 1.25 * 2 * r.mean()], rtol=1e-14)
