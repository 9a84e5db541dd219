"""The generated module's argument lists are data the generator records (codegen.signature).

Oracle: the generated functions' own Python signatures, read with ``inspect``, and an
optimizer whose hyperparameters come in an order that sorting by name would change.
"""

import inspect

import pytest
import sympy

from symgrad.codegen.network import NetworkModule
from symgrad.codegen.signature import Signature
from symgrad.nn import Network, derive, mlp
from symgrad.train import optimizers as O


def _parameters(function) -> tuple:
    """A compiled function's Python parameters (``train`` is plain Python)."""
    return tuple(inspect.signature(getattr(function, "py_func", function)).parameters)


@pytest.mark.parametrize("key", ["relu_bce", "tanh_softmax_l2", "leaky_mse"])
def test_the_recorded_signature_is_the_generated_one(compiled_model, key):
    c = compiled_model(key)
    for name, args in c.signature.functions.items():
        assert _parameters(getattr(c.module, name)) == args, name
    hyper = tuple(code for _, code in c.signature.hyper)
    update = c.signature.functions["_update"]
    assert update[len(update) - len(hyper) :] == hyper
    state = tuple(arg for arg, _ in c.signature.state)
    train = c.signature.functions["train"]
    assert train[len(train) - len(state) - len(hyper) :] == state + hyper


def test_hyperparameters_keep_the_optimizer_s_order_not_a_sorted_one():
    rho = O.Hyper(sympy.Symbol("rho"), "zz_rho", "ρ", *O._FRACTION)
    opt = O.Optimizer(
        "mine",
        ((O.theta, O.theta - O.alpha * rho.symbol * O.beta * O.g),),
        hyper={rho.symbol: 0.5, O.beta: 0.25},
        names=(rho,),
    )
    net = Network(mlp([2, 1], output="sigmoid"), loss="bce")
    sig = NetworkModule(derive(net), opt).signature
    assert [code for _, code in sig.hyper] == ["zz_rho", "beta"]
    assert sig.functions["train"][-2:] == ("zz_rho", "beta")
    assert opt.equations() == ["θ ← θ - α*β*g*ρ"]


def test_arguments_put_named_values_in_order_and_name_a_missing_one():
    sig = Signature(("W",), (), (), {"predict": ("W", "X")})
    assert sig.arguments("predict", {"X": 2, "W": 1, "extra": 3}) == [1, 2]
    with pytest.raises(KeyError, match="X"):
        sig.arguments("predict", {"W": 1})
