"""Show stage: the lecture's step-by-step chain rule at a given point.

:func:`explain` evaluates a trace (:mod:`~symgrad.show.trace.evaluation`: forward values, local
derivatives, chain-rule products, adjoints); :mod:`~symgrad.show.trace.render` writes it as text,
Markdown or LaTeX.
"""

from __future__ import annotations

from symgrad.show.trace.evaluation import (
    MAX_FLOAT,
    MAX_NODES,
    PREC,
    Adjoint,
    ChainTerm,
    LocalDerivative,
    StepValue,
    Trace,
    explain,
)
from symgrad.show.trace.render import format_expr, format_value

__all__ = [
    "MAX_FLOAT",
    "MAX_NODES",
    "PREC",
    "Adjoint",
    "ChainTerm",
    "LocalDerivative",
    "StepValue",
    "Trace",
    "explain",
    "format_expr",
    "format_value",
]
