"""symgrad: derive gradients by the chain rule, print them, compile them, check them."""

__version__ = "0.1.0"

from symgrad.autodiff import grad, hessian, jacobian, value_and_grad
from symgrad.errors import SymgradError
from symgrad.functions import leaky_relu, log_sigmoid, relu, sigmoid, softplus, step

__all__ = [
    "SymgradError",
    "grad",
    "hessian",
    "jacobian",
    "leaky_relu",
    "log_sigmoid",
    "relu",
    "sigmoid",
    "softplus",
    "step",
    "value_and_grad",
]
