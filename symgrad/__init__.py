"""symgrad: derive gradients by the chain rule, print them, compile them, check them.

The public surface; everything else lives in the stage modules (see DESIGN.md). The names
load on first use (:func:`__getattr__`): importing any stage module runs this file first,
so an eager import here would pull every later stage into the earliest one.
"""

import importlib

from symgrad._version import __version__ as __version__

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


def _public() -> dict:
    """Every public name, imported from its stage."""
    from symgrad.codegen.scalar import CompiledFunction, compile_expr
    from symgrad.engine.autodiff import grad, hessian, jacobian, value_and_grad
    from symgrad.errors import SymgradError
    from symgrad.functions import function, leaky_relu, log_sigmoid, relu, sigmoid, softplus, step
    from symgrad.read.parsing import parse_expression, parse_steps
    from symgrad.show.printing import gradient_equations, latex, markdown, text
    from symgrad.show.trace import Trace, explain

    return {
        "CompiledFunction": CompiledFunction,
        "SymgradError": SymgradError,
        "Trace": Trace,
        "compile_expr": compile_expr,
        "explain": explain,
        "function": function,
        "grad": grad,
        "gradient_equations": gradient_equations,
        "hessian": hessian,
        "jacobian": jacobian,
        "latex": latex,
        "leaky_relu": leaky_relu,
        "log_sigmoid": log_sigmoid,
        "markdown": markdown,
        "parse_expression": parse_expression,
        "parse_steps": parse_steps,
        "relu": relu,
        "sigmoid": sigmoid,
        "softplus": softplus,
        "step": step,
        "text": text,
        "value_and_grad": value_and_grad,
    }


def __getattr__(name: str):
    if name not in __all__:
        try:  # a stage's package or module, as ``symgrad.functions.PRIMITIVES`` reads it
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as missing:
            if missing.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'symgrad' has no attribute {name!r}") from None
    for key, value in _public().items():
        globals().setdefault(key, value)  # a name the user assigned stays theirs
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
