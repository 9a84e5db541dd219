"""The tensor front end: networks over a batch, their backprop equations, a NumPy oracle.

The names load on first use (:func:`__getattr__`): importing ``symgrad.nn.tensor`` runs this
file first, and an eager import of backprop here would pull the show stage into the tensor
front end.
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
    from symgrad.nn.backprop import Backprop, derive
    from symgrad.nn.losses import LOSSES, Loss, huber
    from symgrad.nn.network import Dense, Network, logistic_regression, mlp
    from symgrad.nn.reference import Evaluation, init_params, reference, to_columns

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
    globals().update(_public())
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
