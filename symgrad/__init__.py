"""symgrad: derive gradients by the chain rule, print them, compile them, check them.

The public surface; everything else lives in the stage modules (see DESIGN.md). The names
load on first use (:func:`__getattr__`): importing any stage module runs this file first,
so an eager import here would pull every later stage into the earliest one.
"""

import importlib

from symgrad._version import __version__ as __version__

#: Each public name's module: a name loads its own module on first use, so ``symgrad.grad``
#: does not import Numba (the code generator's ``compile_expr`` does).
_HOMES = {
    "CompiledFunction": "symgrad.codegen.scalar",
    "compile_expr": "symgrad.codegen.scalar",
    "grad": "symgrad.engine.autodiff",
    "hessian": "symgrad.engine.autodiff",
    "jacobian": "symgrad.engine.autodiff",
    "value_and_grad": "symgrad.engine.autodiff",
    "SymgradError": "symgrad.errors",
    "function": "symgrad.functions",
    "leaky_relu": "symgrad.functions",
    "log_sigmoid": "symgrad.functions",
    "relu": "symgrad.functions",
    "sigmoid": "symgrad.functions",
    "softplus": "symgrad.functions",
    "step": "symgrad.functions",
    "parse_expression": "symgrad.read.parsing",
    "parse_steps": "symgrad.read.parsing",
    "gradient_equations": "symgrad.show.printing",
    "latex": "symgrad.show.printing",
    "markdown": "symgrad.show.printing",
    "text": "symgrad.show.printing",
    "graph": "symgrad.show.picture",
    "Trace": "symgrad.show.trace",
    "explain": "symgrad.nn.trace",  # a formula's trace (show.trace) or a network's
    "load": "symgrad.train.saved",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return globals().setdefault(name, getattr(importlib.import_module(_HOMES[name]), name))
    try:  # a stage's package or module, as ``symgrad.functions.PRIMITIVES`` reads it
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as missing:
        if missing.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'symgrad' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
