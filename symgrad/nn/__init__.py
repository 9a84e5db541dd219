"""Networks in one import: their layers and losses, backprop equations, data and the NumPy oracle.

The public face of the tensor front end, gathered from the stages that own each name
(model, derive, check). The names load on first use (:func:`__getattr__`), so
``from symgrad.nn import Network`` loads the model stage only.
"""

import importlib

#: Each public name's module: a name loads its own module on first use (the NumPy oracle's
#: ``reference`` pulls in the check stage; ``Network`` does not).
_HOMES = {
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
