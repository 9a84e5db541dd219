"""Scalar primitives: machine-learning functions as SymPy functions.

Each scalar primitive is one definition (:class:`~symgrad.functions.primitive.Primitive`):
its formula or derivative, its printed forms, its NumPy and Numba implementations, its kink.
:data:`PRIMITIVES` holds the built-ins; the tables below, the rule registry, the code
printers' helpers, the reader's function names and the network's activation names are
derived from it. :func:`function` makes a new primitive from a formula in one call.
"""

from __future__ import annotations

import sympy

from symgrad.functions import builtins
from symgrad.functions.builtins import *  # noqa: F403 (each built-in by its own name)
from symgrad.functions.builtins import PRIMITIVES
from symgrad.functions.primitive import NUMPY_EXTRAS, Primitive, function, np_erf, np_erfc

__all__ = [
    "ACTIVATIONS",
    "ML_FUNCTIONS",
    "NUMPY_EXTRAS",
    "NUMPY_IMPLS",
    "PRIMITIVES",
    "Primitive",
    "function",
    "np_erf",
    "np_erfc",
    *builtins.__all__,
]

#: Our functions by the name users type (in text expressions and on the CLI).
ML_FUNCTIONS = {name: cls for name, cls in PRIMITIVES.items() if cls.public}
ML_FUNCTIONS.update({a: cls for cls in PRIMITIVES.values() if cls.public for a in cls.aliases})

#: NumPy implementations for ``sympy.lambdify(..., modules=[NUMPY_IMPLS, "numpy"])``.
NUMPY_IMPLS = {name: cls.numpy_impl for name, cls in PRIMITIVES.items() if cls.public}

#: Activation functions by name (SymPy's tanh among ours); see ``Primitive.parameters``.
ACTIVATIONS = {name: cls for name, cls in PRIMITIVES.items() if cls.activation}
ACTIVATIONS["tanh"] = sympy.tanh
