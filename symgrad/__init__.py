"""symgrad: derive gradients by the chain rule, print them, compile them, check them.

The public surface; everything else lives in the stage modules (see DESIGN.md).
"""

from symgrad._version import __version__ as __version__
from symgrad.autodiff import grad, hessian, jacobian, value_and_grad
from symgrad.codegen.scalar import CompiledFunction, compile_expr
from symgrad.errors import SymgradError
from symgrad.functions import function, leaky_relu, log_sigmoid, relu, sigmoid, softplus, step
from symgrad.parsing import parse_expression, parse_steps
from symgrad.printing import gradient_equations, latex, markdown, text
from symgrad.trace import Trace, explain

__all__ = [
    "CompiledFunction",
    "SymgradError",
    "compile_expr",
    "Trace",
    "explain",
    "function",
    "grad",
    "gradient_equations",
    "hessian",
    "jacobian",
    "latex",
    "leaky_relu",
    "log_sigmoid",
    "markdown",
    "parse_expression",
    "parse_steps",
    "relu",
    "sigmoid",
    "softplus",
    "step",
    "text",
    "value_and_grad",
]
