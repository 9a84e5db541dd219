"""Networks in one import: their layers and losses, backprop equations, data and the NumPy oracle.

The public face of the tensor front end, gathered from the stages that own each name
(model, derive, check). The names load on first use (:func:`__getattr__`), so
``import symgrad.nn`` does not pull in Numba until something is used.
"""

__all__ = [
    "Backprop",
    "Dense",
    "Evaluation",
    "LOSSES",
    "Loss",
    "Network",
    "derive",
    "huber",
    "init_params",
    "logistic_regression",
    "mlp",
    "reference",
    "to_columns",
]


def _public() -> dict:
    """Every public name, imported from its module."""
    from symgrad.check.oracle import Evaluation, reference
    from symgrad.derive.backprop import Backprop, derive
    from symgrad.model.data import init_params, to_columns
    from symgrad.model.losses import LOSSES, Loss, huber
    from symgrad.model.network import Dense, Network, logistic_regression, mlp

    return {
        "Backprop": Backprop,
        "Dense": Dense,
        "Evaluation": Evaluation,
        "LOSSES": LOSSES,
        "Loss": Loss,
        "Network": Network,
        "derive": derive,
        "huber": huber,
        "init_params": init_params,
        "logistic_regression": logistic_regression,
        "mlp": mlp,
        "reference": reference,
        "to_columns": to_columns,
    }


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module 'symgrad.nn' has no attribute {name!r}")
    for key, value in _public().items():
        globals().setdefault(key, value)  # a name the user assigned stays theirs
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
