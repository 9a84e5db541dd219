"""``fit`` and ``CompiledNetwork`` refuse what they cannot train on, before compiling.

Bad data (NaN or inf named by row and column, no examples, labels that are not numbers),
bad start parameters, settings and optimizer hyperparameters out of range: each a table of
inputs and the expected message. Parameters in any memory layout give the same results as
C-ordered ones. A run that ends far above its best loss warns; a bouncing SGD run does not.
"""

import math
import re
import time
import warnings

import numpy as np
import pytest

from symgrad.errors import DataError, ShapeError, SymgradError, TrainingWarning
from symgrad.nn import Network, logistic_regression, mlp
from symgrad.train import optimizers
from symgrad.train.compiled import CompiledNetwork
from symgrad.train.fit import FAR_ABOVE, MAX_EPOCHS, fit


@pytest.fixture(scope="module")
def net(compiled_model):
    """2-3-1 ReLU/sigmoid, BCE, gradient descent."""
    return compiled_model("relu_bce")


def data(m=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 2))
    return X, (X.sum(axis=1) > 0).astype(float)


def with_values(array, places, value):
    out = np.array(array, dtype=float)
    for place in places:
        out[place] = value
    return out


X0, Y0 = data()

# (X, y, expected message fragment); rows and columns count from 0
BAD_DATA = [
    (with_values(X0, [(3, 1)], np.nan), Y0, "X has NaN or inf at row 3, column 1 (nan)"),
    (with_values(X0, [(5, 0)], -np.inf), Y0, "X has NaN or inf at row 5, column 0 (-inf)"),
    (
        with_values(X0, [(1, 1), (2, 0), (2, 1), (7, 0), (9, 1)], np.inf),
        Y0,
        "at row 1, column 1 (inf); row 2, column 0 (inf); row 2, column 1 (inf) and 2 more",
    ),
    (X0, with_values(Y0, [4], np.nan), "y has NaN or inf at row 4 (nan)"),
    (X0, with_values(Y0, [0], np.inf), "y has NaN or inf at row 0 (inf)"),
    (np.empty((0, 2)), np.empty(0), "no examples: X has 0 rows"),
    (X0, np.array(["cat"] * 12), "y must hold numbers, got text 'cat' at row 0"),
    (X0, ["0"] * 5 + ["cat"] + ["1"] * 6, "y must hold numbers, got text 'cat' at row 5"),
    (X0, np.array([0, 1, None] + [0] * 9, dtype=object), "y must hold numbers, got None at row 2"),
    (X0, Y0 + 0j, "y must hold numbers, got 0j at row 0"),
    (X0.astype(str), Y0, "X must hold numbers, got text '"),
]


@pytest.mark.parametrize("X, y, message", BAD_DATA)
def test_bad_data_is_named_by_fit_before_compiling(X, y, message, tmp_path):
    folder = tmp_path / "never"
    with pytest.raises(DataError) as info:
        fit(Network(mlp([2, 3, 1]), loss="bce"), X, y, folder=folder)
    assert message in str(info.value)
    assert "learning rate" not in str(info.value)
    assert not folder.exists()  # refused before anything was generated


@pytest.mark.parametrize("X, y, message", BAD_DATA)
def test_bad_data_is_named_by_the_compiled_network(net, model_case, X, y, message):
    _, _, params = model_case(net.network, 1, seed=1)
    with pytest.raises(DataError) as info:
        net.loss_and_grad(params, X, y)
    assert message in str(info.value)
    if "X" in message:
        with pytest.raises(DataError, match="X"):
            net.predict_proba(params, X)


@pytest.mark.parametrize(
    "y, message",
    [
        ([0, 2, np.nan, 1], "y has NaN or inf at row 2 (nan)"),
        ([0, 2, "b", 1], "y must hold numbers, got text 'b' at row 2"),
        ([[1, 0, 0], [0, np.inf, 0], [0, 0, 1], [1, 0, 0]], "y has NaN or inf at row 1, column 1"),
    ],
)
def test_bad_class_labels_are_named_before_their_range_is_checked(y, message, tmp_path):
    network = Network(mlp([2, 3, 3], output="softmax"), loss="cross_entropy")
    with pytest.raises(DataError) as info:
        fit(network, X0[:4], y, folder=tmp_path / "never")
    assert message in str(info.value)


def test_nan_in_the_data_is_not_blamed_on_the_learning_rate(net):
    """It was reported as divergence ("try a smaller learning rate") before the data check."""
    X = with_values(X0, [(6, 0)], np.nan)
    with pytest.raises(DataError, match=r"X has NaN or inf at row 6, column 0"):
        fit(net.network, X, Y0, lr=1e-6, epochs=2, compiled=net)


def test_float64_values_that_overflow_float32_are_named(net):
    X = with_values(X0, [(2, 1)], 1e39)  # finite in float64, inf in float32
    fit(net.network, X / 1e39, Y0, epochs=1, dtype=np.float32, compiled=net)  # fine when scaled
    with pytest.raises(DataError, match=r"X as float32 has NaN or inf at row 2, column 1"):
        fit(net.network, X, Y0, epochs=1, dtype=np.float32, compiled=net)


def bad_params(params, key, change):
    out = dict(params)
    change(out, key)
    return out


BAD_PARAMS = [
    ("W1", lambda p, k: p.__setitem__(k, with_values(p[k], [(0, 1)], np.nan)),
     "parameter W1 has NaN or inf at row 0, column 1 (nan)"),
    ("b2", lambda p, k: p.__setitem__(k, with_values(p[k], [0], -np.inf)),
     "parameter b2 has NaN or inf at row 0 (-inf)"),
    ("b2", lambda p, k: p.pop(k), "missing parameter b2"),
    ("W1", lambda p, k: p.__setitem__(k, np.ones((2, 3))), "W1 must have shape (3, 2), got (2, 3)"),
    ("b1", lambda p, k: p.__setitem__(k, np.array(["a", "b", "c"])), "parameter b1 must hold num"),
]  # fmt: skip


@pytest.mark.parametrize("key, change, message", BAD_PARAMS)
def test_bad_start_parameters_are_named(net, model_case, key, change, message):
    _, _, params = model_case(net.network, 1, seed=2)
    params = bad_params(params, key, change)
    with pytest.raises(ShapeError) as info:
        fit(net.network, X0, Y0, params=params, epochs=1, compiled=net)
    assert message in str(info.value)
    with pytest.raises(ShapeError) as info:
        net.loss_and_grad(params, X0, Y0)
    assert message in str(info.value)


def test_parameters_in_any_layout_give_the_c_ordered_results(net, model_case):
    _, _, params = model_case(net.network, 1, seed=3)
    fortran = {k: np.asfortranarray(v) for k, v in params.items()}
    strided = {k: np.repeat(v, 2, axis=-1)[..., ::2] for k, v in params.items()}  # views
    lists = {k: v.tolist() for k, v in params.items()}
    assert not fortran["W1"].flags.c_contiguous and not strided["W1"].flags.c_contiguous
    loss, grads = net.loss_and_grad(params, X0, Y0)
    want = fit(net.network, X0, Y0, params=params, epochs=3, batch_size=5, compiled=net)
    for other in (fortran, strided, lists):
        got_loss, got_grads = net.loss_and_grad(other, X0, Y0)
        assert got_loss == loss
        for k in grads:
            np.testing.assert_array_equal(got_grads[k], grads[k])
        np.testing.assert_array_equal(net.predict_proba(other, X0), net.predict_proba(params, X0))
        got = fit(net.network, X0, Y0, params=other, epochs=3, batch_size=5, compiled=net)
        np.testing.assert_array_equal(got.history, want.history)
        for k in want.params:
            np.testing.assert_array_equal(got.params[k], want.params[k])
    assert np.array_equal(fortran["W1"], params["W1"])  # the caller's arrays are not trained


# (setting, value, message); each refused before anything is compiled or allocated
BAD_SETTINGS = [
    ("lr", 0.0, "lr must be a finite number > 0, got 0.0"),
    ("lr", -0.1, "lr must be a finite number > 0, got -0.1"),
    ("lr", math.nan, "lr must be a finite number > 0, got nan"),
    ("lr", math.inf, "lr must be a finite number > 0, got inf"),
    ("lr", "0.1", "lr must be a finite number > 0, got '0.1'"),
    ("lr", True, "lr must be a finite number > 0, got True"),
    ("epochs", 0, "epochs must be an integer from 1 to 1_000_000_000, got 0"),
    ("epochs", -3, "epochs must be an integer from 1 to 1_000_000_000, got -3"),
    ("epochs", 2.5, "epochs must be an integer from 1 to 1_000_000_000, got 2.5"),
    ("epochs", 10**12, "epochs must be an integer from 1 to 1_000_000_000, got 1000000000000"),
    ("epochs", MAX_EPOCHS + 1, "epochs must be an integer from 1 to 1_000_000_000"),
    ("batch_size", 0, "batch_size must be an integer ≥ 1, got 0"),
    ("batch_size", 1.5, "batch_size must be an integer ≥ 1, got 1.5"),
    ("seed", -1, "seed must be an integer from 0 to 4_294_967_295, got -1"),
    ("seed", 2**32, "seed must be an integer from 0 to 4_294_967_295"),
    ("dtype", np.int64, "dtype must be np.float32 or np.float64"),
    ("dtype", "bogus", "dtype must be np.float32 or np.float64, got 'bogus'"),
]


@pytest.mark.parametrize("name, value, message", BAD_SETTINGS)
def test_settings_out_of_range_are_refused_with_the_range(name, value, message, tmp_path):
    folder = tmp_path / "never"
    with pytest.raises(SymgradError) as info:
        fit(Network(mlp([2, 3, 1]), loss="bce"), X0, Y0, folder=folder, **{name: value})
    assert str(info.value) == message or message in str(info.value)
    assert not folder.exists()


@pytest.mark.parametrize("l2", [-0.5, math.nan, math.inf])
def test_an_l2_penalty_out_of_range_is_refused(l2):
    """Refused where the network is built, so fit never sees it (checked once, in Network)."""
    with pytest.raises(SymgradError, match=r"l2 must be a finite number ≥ 0"):
        Network(mlp([2, 3, 1]), loss="bce", l2=l2)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: optimizers.momentum(1.0), "beta must be a number in [0, 1), got 1.0"),
        (lambda: optimizers.momentum(-0.1), "beta must be a number in [0, 1), got -0.1"),
        (lambda: optimizers.momentum(math.nan), "beta must be a number in [0, 1), got nan"),
        (lambda: optimizers.momentum("0.9"), "beta must be a number in [0, 1), got '0.9'"),
        (lambda: optimizers.adam(beta1_value=1), "beta1 must be a number in [0, 1), got 1"),
        (lambda: optimizers.adam(beta2_value=math.inf), "beta2 must be a number in [0, 1)"),
        (lambda: optimizers.adam(eps_value=0.0), "epsilon must be a finite number > 0, got 0.0"),
        (lambda: optimizers.adam(eps_value=-1e-8), "epsilon must be a finite number > 0"),
        (lambda: optimizers.adam(eps_value=math.nan), "epsilon must be a finite number > 0"),
        (
            lambda: optimizers.Optimizer("mine", (), hyper={optimizers.beta: 2.0}),
            "mine: beta must be a number in [0, 1), got 2.0",
        ),
    ],
)
def test_optimizer_hyperparameters_out_of_range_are_refused(make, message):
    with pytest.raises(SymgradError) as info:
        make()
    assert message in str(info.value)


def test_optimizer_hyperparameters_at_the_edges_of_their_ranges_are_accepted():
    assert optimizers.momentum(0.0).hyper[optimizers.beta] == 0.0
    assert optimizers.adam(0.0, 0.999999, 1e-300).hyper[optimizers.eps] == 1e-300


# ---- a run that ends far above its best loss ----------------------------------------------


@pytest.fixture(scope="module")
def logreg_momentum(codegen_folder):
    return CompiledNetwork(logistic_regression(30), "momentum", folder=codegen_folder)


def scaled_cancer_like(m=569, n=30, seed=0):
    """Standardized features with a linear label rule and noise (like scaled breast cancer)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) @ (np.eye(n) + 0.3 * rng.standard_normal((n, n)))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    w = rng.standard_normal(n)
    return X, (X @ w + 2.0 * rng.standard_normal(m) > 0).astype(float)


def test_momentum_at_lr_1e3_ends_far_above_its_best_and_says_so(logreg_momentum):
    X, y = scaled_cancer_like()
    c = logreg_momentum
    with pytest.warns(TrainingWarning, match="far above its best") as caught:
        result = fit(c.network, X, y, lr=1e3, epochs=100, compiled=c)
    h = result.history
    assert np.all(np.isfinite(h)) and h.max() < 1e3 * h[0]  # not the hard divergence error
    best = int(np.argmin(h))
    assert h[-1] > FAR_ABOVE * h[best] and h[-1] - h[best] > 0.5 * (h[0] - h[best])
    assert result.warning == str(caught[0].message)
    assert f"ended at {h[-1]:.4g} (epoch 100)" in result.warning
    assert f"best {h[best]:.4g} (epoch {best + 1})" in result.warning
    assert "learning rate 1000 may be too large" in result.warning


def test_a_good_learning_rate_with_momentum_is_not_flagged(logreg_momentum):
    X, y = scaled_cancer_like()
    c = logreg_momentum
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)
        result = fit(c.network, X, y, lr=0.1, epochs=100, compiled=c)
    assert result.warning is None and result.history[-1] < 0.5 * result.history[0]


def test_minibatch_sgd_whose_loss_bounces_is_not_flagged(net):
    X, y = data(200, seed=3)
    y[::7] = 1 - y[::7]  # label noise: the loss cannot reach 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)
        result = fit(net.network, X, y, lr=0.5, epochs=200, batch_size=4, seed=1, compiled=net)
    h = result.history
    assert np.sum(np.diff(h) > 0) > 20  # it does bounce
    assert h[-1] > h.min()  # and ends above its best, but not far above
    assert result.warning is None


def test_the_command_line_says_so_in_one_line_and_refuses_bad_settings(
    logreg_momentum, codegen_folder, tmp_path, capsys
):
    from symgrad.cli import main

    X, y = scaled_cancer_like()
    path = tmp_path / "cancer_like.csv"
    header = ",".join([f"x{i}" for i in range(30)] + ["y"])
    np.savetxt(path, np.c_[X, y], delimiter=",", header=header, comments="")
    args = ["train", str(path), "--layers", "30,1", "--optimizer", "momentum"]
    args += ["--folder", str(codegen_folder)]
    assert main([*args, "--lr", "1000"]) == 0
    out, err = capsys.readouterr()
    # the run is chaotic at α = 1000: its last loss hangs on rounding, NumPy's or Numba's
    last = float(re.search(r"epoch    100: loss (\S+)", out).group(1))
    assert err == (
        f"symgrad: warning: the loss ended at {last:.4g} (epoch 100), far above its best 0.7391 "
        "(epoch 1); the learning rate 1000 may be too large\n"
    )
    for bad, message in [
        (["--lr", "nan"], "lr must be a finite number > 0, got nan"),
        (["--lr", "-1"], "lr must be a finite number > 0, got -1.0"),
        (["--epochs", "1000000000000"], "epochs must be an integer from 1 to 1_000_000_000"),
        (["--batch-size", "0"], "batch_size must be an integer ≥ 1, got 0"),
    ]:
        began = time.perf_counter()
        assert main([*args, *bad]) == 2
        assert time.perf_counter() - began < 1.0
        out, err = capsys.readouterr()
        assert out == "" and err.startswith(f"symgrad: error: {message}")
        assert len(err.splitlines()) == 1
