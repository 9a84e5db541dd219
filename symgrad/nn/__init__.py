"""The tensor front end: networks over a batch, their backprop equations, a NumPy oracle."""

from symgrad.nn.backprop import Backprop, derive
from symgrad.nn.losses import LOSSES, Loss, huber
from symgrad.nn.network import Dense, Network, logistic_regression, mlp
from symgrad.nn.reference import Evaluation, init_params, reference, to_columns

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
