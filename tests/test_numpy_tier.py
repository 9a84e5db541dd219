"""The NumPy tier: ``fit`` trains at once in NumPy while Numba compiles, then switches.

Oracles: the compiled full-batch loop itself (``numpy_tier=False``), step for step, for every
optimizer, L2 and a softmax output; Numba's compile events (a first short fit in a fresh
cache compiles nothing, and does not even import Numba); a forced switch in mid-run ends
where the compiled loop alone ends.
"""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import symgrad
import symgrad.model.program as nn
from symgrad.errors import TrainingDivergedError
from symgrad.functions import relu, sigmoid
from symgrad.nn import logistic_regression
from symgrad.paths import CACHE_VARIABLE
from symgrad.train import fit as fit_module
from symgrad.train import numpy_tier
from symgrad.train.compiled import CompiledNetwork
from symgrad.train.fit import fit
from symgrad.train.numpy_tier import covers

RNG = np.random.default_rng(11)


def _data(m: int, n: int):
    X = RNG.standard_normal((m, n))
    return X, (X @ RNG.standard_normal(n) > 0).astype(int)


@pytest.mark.parametrize("key", ["relu_bce", "tanh_softmax_l2", "leaky_mse"])
def test_the_tier_takes_the_same_steps_as_the_compiled_loop(compiled_model, key):
    """Each fixture's optimizer (gd, momentum, adam), L2 and output: 25 full-batch steps."""
    compiled = compiled_model(key)
    net = compiled.network
    n, k = int(net.X.shape[0]), int(net.Y.shape[0])
    X = RNG.standard_normal((30, n))
    y = (
        RNG.standard_normal((30, k))
        if key == "leaky_mse"
        else RNG.integers(k if k > 1 else 2, size=30)
    )
    runs = [
        fit(net, X, y, lr=0.05, epochs=25, seed=2, compiled=compiled, numpy_tier=tier)
        for tier in (True, False)
    ]
    np.testing.assert_allclose(runs[0].history, runs[1].history, rtol=1e-12)
    for ident in runs[1].params:
        np.testing.assert_allclose(
            runs[0].params[ident], runs[1].params[ident], rtol=1e-10, atol=1e-14
        )


def test_a_run_switches_to_the_compiled_loop_and_ends_where_it_alone_ends(tmp_path, monkeypatch):
    """A model no other test imports, so its loop is compiled (or loaded) in mid-run; each
    NumPy chunk is slowed to one epoch and 10 ms, so the switch comes well before the end."""
    net, (X, y) = logistic_regression(7), _data(50, 7)
    chunks = []
    original = fit_module.NumpyTier.train

    def slowed(self, *args):
        chunks.append(args[5])  # epochs of this chunk
        time.sleep(0.01)
        return original(self, *args)

    monkeypatch.setattr(fit_module.NumpyTier, "train", slowed)
    monkeypatch.setattr(fit_module, "CHUNK_SECONDS", 1e-6)  # a chunk an epoch
    monkeypatch.setattr(numpy_tier, "COMPILE_AFTER", 0.0)  # compile from the first chunk
    switched = fit(net, X, y, lr=0.1, epochs=3000, folder=tmp_path)
    assert chunks and sum(chunks) < 3000  # began in NumPy, ended compiled
    assert switched.compiled.loaded("train_full_batch")
    alone = fit(net, X, y, lr=0.1, epochs=3000, folder=tmp_path, numpy_tier=False)
    again = CompiledNetwork(net, "gd", folder=tmp_path)  # as another process would see it
    assert again.cached("train_full_batch") and not again.cached("train_full_batch", np.float32)
    np.testing.assert_allclose(switched.history, alone.history, rtol=1e-10)
    for ident in alone.params:
        np.testing.assert_allclose(switched.params[ident], alone.params[ident], rtol=1e-9)


def test_divergence_on_the_tier_is_the_same_error(tmp_path):
    X, y = _data(20, 3)
    with pytest.raises(TrainingDivergedError, match="try a smaller learning rate") as raised:
        fit(logistic_regression(3), 1e3 * X, y, lr=1e6, epochs=50, folder=tmp_path)
    assert raised.value.epoch < 50


def test_what_the_tier_covers():
    net = logistic_regression(2)
    assert covers(net, full_batch=True, dtype=np.float64)
    assert not covers(net, full_batch=False, dtype=np.float64)
    assert not covers(net, full_batch=True, dtype=np.float32)
    X = nn.data("X", 2)
    hidden = nn.dropout(nn.apply(relu, nn.param("W", (3, 2)) @ X), 0.5, "M")
    out = nn.apply(sigmoid, nn.param("v", (1, 3)) @ hidden)
    dropped = nn.Program(nn.mean((out - nn.labels("Y", 1)) ** 2), output=out)
    assert not covers(dropped, full_batch=True, dtype=np.float64)


_FIRST_FIT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from symgrad.nn import Network, mlp
    from symgrad.train.fit import fit

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    net = Network(mlp([4, 8, 1], hidden="tanh", output="sigmoid"), loss="bce")
    result = fit(net, X, y, lr=0.5, epochs=200, folder=sys.argv[1])
    accuracy = result.accuracy(X, y)
    print("numba" in sys.modules, "module" in vars(result.compiled), accuracy > 0.9)
    """
)


def test_a_short_first_fit_in_a_fresh_cache_compiles_nothing(tmp_path):
    root = Path(symgrad.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), CACHE_VARIABLE: str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_FIT, str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True"]
    assert not list((tmp_path / "cache").rglob("*.nbi"))  # nothing in Numba's cache
