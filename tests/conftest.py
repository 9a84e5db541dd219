"""Shared fixtures.

Codegen and training tests: one session folder of generated modules and a few compiled models,
each built once per session (Numba compiles a model's functions once, then reuses them), with
seeded data and parameters for each model. The session's one folder of compiled code
(``SYMGRAD_CACHE``) is set in the root ``conftest.py``.
"""

import numpy as np
import pytest

from symgrad.nn import Network, logistic_regression, mlp

#: The (network, optimizer) combinations that codegen and training tests compile, by key.
#: Keep this list short: each entry costs a cold Numba compilation per session.
COMPILED_MODELS = {
    "logreg": (lambda: logistic_regression(30), "gd"),
    "relu_bce": (
        lambda: Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce"),
        "gd",
    ),
    "tanh_softmax_l2": (
        lambda: Network(
            mlp([4, 5, 3], hidden="tanh", output="softmax"), loss="cross_entropy", l2=0.1
        ),
        "momentum",
    ),
    "leaky_mse": (
        lambda: Network(
            mlp([3, 4, 2], hidden="leaky_relu", output="identity", slope=0.1), loss="mse"
        ),
        "adam",
    ),
    "wide_softmax": (
        lambda: Network(mlp([80, 70, 10], hidden="relu", output="softmax"), loss="cross_entropy"),
        "gd",
    ),
}


@pytest.fixture(scope="session")
def compiled_model_specs():
    """``COMPILED_MODELS``: key -> (function making the network, optimizer name)."""
    return COMPILED_MODELS


@pytest.fixture(scope="session")
def codegen_folder(tmp_path_factory):
    """The one folder every compiled model of the session is generated into."""
    return tmp_path_factory.mktemp("generated")


@pytest.fixture(scope="session")
def compiled_model(codegen_folder):
    """``compiled_model(key)``: the CompiledNetwork of ``COMPILED_MODELS[key]``, built once."""
    from symgrad.train.compiled import CompiledNetwork

    cache = {}

    def get(key: str):
        if key not in cache:
            make, optimizer = COMPILED_MODELS[key]
            cache[key] = CompiledNetwork(make(), optimizer, folder=codegen_folder)
        return cache[key]

    return get


def _labels(network, X, rng):
    """Labels that fit the network's loss: 0/1, class indices or real targets."""
    k = network.classes
    if network.loss_name == "bce":
        return (X.sum(axis=1) + 0.3 * rng.standard_normal(len(X)) > 0).astype(float)
    if network.loss_name == "cross_entropy":
        return rng.integers(0, k, len(X))
    return rng.standard_normal((len(X), k))


def random_params(network, rng) -> dict:
    """W[l] ~ N(0, 1/n_in) and b[l] ~ N(0, 1/4): nonzero biases, so their paths count."""
    params = {}
    for layer, W, b in zip(network.layers, network.params[::2], network.params[1::2], strict=True):
        params[W.ident] = rng.standard_normal((layer.n_out, layer.n_in)) / np.sqrt(layer.n_in)
        params[b.ident] = 0.5 * rng.standard_normal(layer.n_out)
    return params


@pytest.fixture(scope="session")
def model_case():
    """``model_case(network, m, seed)``: data ``X`` (m rows), labels ``y`` and parameters."""

    def make(network, m: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((m, network.layers[0].n_in))
        return X, _labels(network, X, rng), random_params(network, rng)

    return make
