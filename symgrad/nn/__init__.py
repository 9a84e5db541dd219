"""Networks in one import: their layers and losses, backprop equations, data, the NumPy
oracle and the backward pass in numbers (:mod:`~symgrad.nn.trace`).

The public face of the tensor front end, gathered from the stages that own each name
(model, derive, check). The names load on first use (:func:`__getattr__`), so
``from symgrad.nn import Network`` loads the model stage only.
"""

import importlib

#: Each public name's module: a name loads its own module on first use (the NumPy oracle's
#: ``reference`` pulls in the check stage; ``Network`` does not).
_HOMES = {
    "m": "symgrad.model.tensor",
    "LAMBDA": "symgrad.model.program",
    "Program": "symgrad.model.program",
    "apply": "symgrad.model.program",
    "data": "symgrad.model.program",
    "dropout": "symgrad.model.program",
    "exp": "symgrad.model.program",
    "labels": "symgrad.model.program",
    "log": "symgrad.model.program",
    "log_softmax": "symgrad.model.program",
    "mean": "symgrad.model.program",
    "name": "symgrad.model.program",
    "param": "symgrad.model.program",
    "softmax": "symgrad.model.program",
    "softmax_cross_entropy": "symgrad.model.program",
    "sqrt": "symgrad.model.program",
    "sum": "symgrad.model.program",
    "tanh": "symgrad.model.program",
    "upstream": "symgrad.model.program",
    "Dense": "symgrad.model.network",
    "Network": "symgrad.model.network",
    "logistic_regression": "symgrad.model.network",
    "mlp": "symgrad.model.network",
    "LOSSES": "symgrad.model.losses",
    "Loss": "symgrad.model.losses",
    "huber": "symgrad.model.losses",
    "init_params": "symgrad.model.data",
    "to_columns": "symgrad.model.data",
    "Backprop": "symgrad.derive.backprop",
    "derive": "symgrad.derive.backprop",
    "explain": "symgrad.nn.trace",
    "Evaluation": "symgrad.check.oracle",
    "reference": "symgrad.check.oracle",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'symgrad.nn' has no attribute {name!r}")
    return globals().setdefault(name, getattr(importlib.import_module(_HOMES[name]), name))


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
