"""``fit``: the compiled training loop against a NumPy emulation, and its promises.

Oracles: minibatch SGD written here in NumPy with gradients from the reference evaluator and
the permutations drawn by Numba's own generator (the loop shuffles with ``np.random`` inside
compiled code, whose state is Numba's, not NumPy's); the loss at the initial parameters;
scikit-learn's logistic regression on the breast-cancer data. Also: full-batch descent with a
small step never increases the loss; seeds; chunks of epochs; float32; divergence errors.
"""

import re

import numba
import numpy as np
import pytest

from symgrad.errors import SymgradError, TrainingDivergedError, TrainingWarning
from symgrad.nn import derive, init_params, reference
from symgrad.train.fit import fit


@numba.njit
def numba_permutation(m, seed):
    """The order the compiled loop visits examples in, in an epoch shuffled with ``seed``."""
    order = np.arange(m)
    np.random.seed(seed)
    np.random.shuffle(order)
    return order


def rel_err(g, h) -> float:
    g, h = np.ravel(g), np.ravel(h)
    den = np.linalg.norm(g) + np.linalg.norm(h)
    return 0.0 if den == 0 else float(np.linalg.norm(g - h) / den)


def separable(m: int, seed: int = 0):
    """Two features, labels by the sign of x₀ + x₁, with a margin."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 2))
    X += 0.5 * np.sign(X.sum(axis=1, keepdims=True))
    return X, (X.sum(axis=1) > 0).astype(float)


@pytest.fixture(scope="module")
def mlp(compiled_model):
    return compiled_model("relu_bce")


def test_history_starts_at_the_loss_of_the_seeded_initialization(mlp):
    X, y = separable(40)
    result = fit(mlp.network, X, y, lr=0.1, epochs=3, seed=5, compiled=mlp)
    start = init_params(mlp.network, seed=5)
    assert result.history[0] == pytest.approx(
        reference(derive(mlp.network), start, X, y).loss, rel=1e-12
    )


def test_full_batch_gradient_descent_never_increases_the_loss(mlp):
    X, y = separable(60)
    history = fit(mlp.network, X, y, lr=0.05, epochs=300, seed=1, compiled=mlp).history
    assert np.all(np.isfinite(history))
    assert np.all(np.diff(history) <= 1e-15 * history[:-1])
    assert history[-1] < 0.5 * history[0]


@pytest.mark.parametrize("batch_size", [16, 7, 1])  # 60 % 16 = 12, 60 % 7 = 4, 60 % 1 = 0
def test_minibatches_match_a_numpy_emulation(mlp, model_case, batch_size):
    X, y = separable(60, seed=2)
    _, _, params = model_case(mlp.network, 1, seed=3)
    lr, epochs, seed = 0.2, 2, 11
    result = fit(
        mlp.network, X, y, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed,
        params=params, compiled=mlp,
    )  # fmt: skip
    bp = derive(mlp.network)
    p = {k: v.copy() for k, v in params.items()}
    history = []
    for epoch in range(epochs):
        order = numba_permutation(60, seed + epoch)
        total = 0.0
        for start in range(0, 60, batch_size):
            batch = order[start : start + batch_size]
            ref = reference(bp, p, X[batch], y[batch])
            total += ref.loss * len(batch)
            p = {k: p[k] - lr * ref.gradients[k] for k in p}
        history.append(total / 60)
    np.testing.assert_allclose(result.history, history, rtol=1e-10)
    for k in p:
        assert rel_err(result.params[k], p[k]) <= 1e-10, k


@pytest.mark.parametrize("batch_size", [16, 1])
def test_epoch_loss_weights_every_example_once(mlp, model_case, batch_size):
    """With a negligible step, an epoch's mean minibatch loss is the full-batch loss."""
    X, y = separable(60, seed=4)
    _, _, params = model_case(mlp.network, 1, seed=5)
    result = fit(
        mlp.network, X, y, lr=1e-30, epochs=1, batch_size=batch_size, params=params,
        compiled=mlp,
    )  # fmt: skip
    expected = reference(derive(mlp.network), params, X, y).loss
    assert result.history[0] == pytest.approx(expected, rel=1e-12)


def test_same_seed_same_result_other_seed_other_result(mlp):
    X, y = separable(50, seed=6)

    def run(seed):
        return fit(mlp.network, X, y, lr=0.1, epochs=5, batch_size=8, seed=seed, compiled=mlp)

    a, b, c = run(3), run(3), run(4)
    assert np.array_equal(a.history, b.history)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.history, c.history)
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_shuffling_changes_with_the_seed_only_through_the_order(mlp, model_case):
    """Same initial parameters, different seeds: different minibatches, different results."""
    X, y = separable(50, seed=7)
    _, _, params = model_case(mlp.network, 1, seed=8)
    a, b = (
        fit(mlp.network, X, y, lr=0.1, epochs=2, batch_size=8, seed=s, params=params,
            compiled=mlp)
        for s in (1, 2)
    )  # fmt: skip
    assert not np.array_equal(a.params["W1"], b.params["W1"])


def test_chunks_of_epochs_do_not_change_the_result(mlp):
    """fit runs epochs in chunks sized by time: 10 epochs are the first 10 of 60."""
    X, y = separable(50, seed=9)
    short = fit(mlp.network, X, y, lr=0.1, epochs=10, batch_size=16, seed=3, compiled=mlp)
    long = fit(mlp.network, X, y, lr=0.1, epochs=60, batch_size=16, seed=3, compiled=mlp)
    np.testing.assert_array_equal(short.history, long.history[:10])


def test_compiled_train_resumes_exactly(mlp, model_case):
    """Two calls of the module's ``train`` (4 + 6 epochs) equal one call of 10 epochs."""
    X, y = separable(50, seed=10)
    _, _, params = model_case(mlp.network, 1, seed=11)
    Y = y[None, :].copy()
    empty = np.empty((2, 0))

    def train(values, epochs, seed, t, history):
        return mlp.module.train(
            *values, empty, X, Y, 0.1, 0.0, epochs, 16, seed, t, np.inf, history
        )

    one = [params[p.ident].copy() for p in mlp.network.params]
    h1 = np.zeros(10)
    assert train(one, 10, 3, 0.0, h1) == (10, 40.0)  # 4 steps per epoch
    two = [params[p.ident].copy() for p in mlp.network.params]
    h2 = np.zeros(10)
    ran, t = train(two, 4, 3, 0.0, h2[:4])
    assert (ran, t) == (4, 16.0)
    train(two, 6, 3 + 4, t, h2[4:])
    np.testing.assert_array_equal(h1, h2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_float32_training_stays_float32_and_close_to_float64(mlp):
    X, y = separable(40, seed=12)
    runs = {
        dtype: fit(mlp.network, X, y, lr=0.1, epochs=30, seed=2, dtype=dtype, compiled=mlp)
        for dtype in (np.float32, np.float64)
    }
    assert all(v.dtype == np.float32 for v in runs[np.float32].params.values())
    assert all(v.dtype == np.float64 for v in runs[np.float64].params.values())
    np.testing.assert_allclose(runs[np.float32].history, runs[np.float64].history, rtol=1e-4)
    for k, v in runs[np.float64].params.items():
        assert rel_err(runs[np.float32].params[k], v) <= 1e-4, k


def test_divergence_names_the_first_bad_epoch_and_suggests_a_smaller_learning_rate(mlp):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 2)), (rng.random(50) < 0.5).astype(float)  # not separable

    def run(epochs):
        return fit(mlp.network, X, y, lr=1e3, epochs=epochs, seed=0, compiled=mlp)

    with pytest.raises(TrainingDivergedError, match="smaller learning rate") as info:
        run(50)
    bad = int(re.search(r"diverged at epoch (\d+)", str(info.value)).group(1))
    assert bad >= 2
    with pytest.warns(TrainingWarning, match="far above its best"):
        before = run(bad - 1)  # the epochs before are finite, if far above the first...
    assert np.all(np.isfinite(before.history))
    with pytest.raises(TrainingDivergedError, match=rf"at epoch {bad}\b"):
        run(bad)  # ...and the bad one is caught when it is the last one too


def test_parameters_overflowing_in_the_last_update_are_an_error(compiled_model):
    """The loss before the update is finite, the parameters after it are not."""
    c = compiled_model("logreg")
    rng = np.random.default_rng(14)
    X = 1e200 * rng.standard_normal((20, 30))
    y = (rng.random(20) > 0.5).astype(float)
    with pytest.raises(TrainingDivergedError, match=r"epoch 1\b.*smaller learning rate"):
        fit(c.network, X, y, lr=1e200, epochs=1, compiled=c)


def test_bad_arguments_are_named(mlp):
    X, y = separable(10)
    with pytest.raises(SymgradError, match="lr must be a finite number > 0"):
        fit(mlp.network, X, y, lr=0.0, compiled=mlp)
    with pytest.raises(SymgradError, match="batch_size"):
        fit(mlp.network, X, y, batch_size=0, compiled=mlp)


def test_breast_cancer_accuracy_matches_scikit_learn(compiled_model):
    datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = datasets.load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    sk = LogisticRegression(C=np.inf, max_iter=5000).fit(X, y)  # no penalty
    target = sk.score(X, y)
    c = compiled_model("logreg")
    result = fit(c.network, X, y, lr=4.0, epochs=20000, seed=0, compiled=c)
    assert result.accuracy(X, y) >= target - 0.01
    assert np.all(np.diff(result.history) <= 0)


def test_per_example_adam_in_straight_line_code_matches_a_numpy_emulation(compiled_model):
    # a tiny network: batch size 1 runs the straight-line _step_one with the update fused in
    c = compiled_model("leaky_mse")
    assert "def _step_one(" in c.source()
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    params = init_params(c.network, seed=4)
    lr, seed, (b1, b2, eps) = 0.01, 9, (0.9, 0.999, 1e-8)
    result = fit(c.network, X, y, lr=lr, epochs=2, batch_size=1, seed=seed, params=params,
                 compiled=c)  # fmt: skip
    bp = derive(c.network)
    p = {k: v.copy() for k, v in params.items()}
    v = {k: np.zeros_like(a) for k, a in p.items()}
    s = {k: np.zeros_like(a) for k, a in p.items()}
    t, history = 0, []
    for epoch in range(2):
        total = 0.0
        for r in numba_permutation(20, seed + epoch):
            ref = reference(bp, p, X[r : r + 1], y[r : r + 1])
            total += ref.loss
            t += 1
            for k, g in ref.gradients.items():
                v[k] = b1 * v[k] + (1 - b1) * g
                s[k] = b2 * s[k] + (1 - b2) * g**2
                p[k] = p[k] - lr * (v[k] / (1 - b1**t)) / (np.sqrt(s[k] / (1 - b2**t)) + eps)
        history.append(total / 20)
    np.testing.assert_allclose(result.history, history, rtol=1e-10)
    for k in p:
        assert rel_err(result.params[k], p[k]) <= 1e-10, k
