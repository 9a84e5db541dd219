"""Read stage: formula text to SymPy objects, read by a whitelist and never evaluated as code.

Text typed by users is data. It is parsed by Python's :mod:`ast` (a parser only; nothing is
compiled or run) and the tree is walked with a whitelist: numbers, names, ``+ - * / **`` (and
``^``), unary minus, parentheses and calls of known functions. SymPy objects are built from the
tree directly, unevaluated, so the written structure is kept. Everything else (strings,
f-strings, attributes, subscripts, lambdas, comprehensions, keywords, starred arguments, walrus,
comparisons, dunder names) is a :class:`~symgrad.errors.ParseError` that names what was refused.

Sizes are bounded before SymPy sees them, so no input can make SymPy compute for long: the
text's length, the nesting depth, the number of tree nodes, every number (within float64's
range, 1.8e308) and every constant exponent (``MAX_EXPONENT``). Imports SymPy,
:mod:`symgrad.functions` and :mod:`symgrad.errors` only.

The text is prepared, bounded and parsed by :mod:`~symgrad.read.reader.tree`; the tree is turned
into SymPy by the whitelist of :mod:`~symgrad.read.reader.builder`.
"""

from __future__ import annotations

import sympy

from symgrad.errors import ParseError, shorten
from symgrad.read.reader.builder import (
    CONSTANTS,
    KNOWN_FUNCTIONS,
    MAX_EXPONENT,
    MAX_NUMBER,
    Builder,
)
from symgrad.read.reader.tree import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NODES,
    check_size,
    prepare,
    python_tree,
)

__all__ = [
    "CONSTANTS",
    "KNOWN_FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_NUMBER",
    "as_expression",
    "read_expression",
    "read_number",
]


def read_expression(text: str, *, exact_decimals: bool = False) -> sympy.Expr:
    """One formula as an unevaluated SymPy expression, read by the whitelist.

    Args:
        text: e.g. ``"3*(a + b*c)"``; ``^`` and superscripts (``x²``) are powers.
        exact_decimals: read ``0.1`` as the Rational 1/10 instead of a Float.

    Returns:
        The expression as written (every plain name a ``Symbol``, ``pi`` is π).

    Raises:
        ParseError: empty text, a syntax error, refused syntax, an unknown function, or a
            bound exceeded (length, depth, size, a number or an exponent too large).

    >>> read_expression("3*(a + b*c)")
    3*(a + b*c)
    """
    if not isinstance(text, str):
        raise ParseError(f"expected formula text, got {type(text).__name__}")
    if not text.strip():
        raise ParseError("empty expression")
    prepared = prepare(text)
    tree = python_tree(prepared)
    check_size(tree)
    expr = Builder(prepared.strip(), exact_decimals).build(tree).expr
    if not isinstance(expr, sympy.Expr):
        raise ParseError(f"'{shorten(text.strip())}' is not an expression")
    return expr


def read_number(text: str) -> sympy.Expr:
    """A number written as a formula (``3``, ``-0.5``, ``1/2``, ``pi/4``), exact where rational.

    Raises:
        ParseError: the text is not a finite real constant, or is refused by the whitelist.
    """
    expr = read_expression(text, exact_decimals=True)
    if expr.free_symbols:
        raise ParseError(f"'{shorten(text.strip())}' is not a number")
    value = expr.doit()
    if not (value.is_number and value.is_real and value.is_finite):
        raise ParseError(f"'{shorten(text.strip())}' is not a finite real number")
    return value


def as_expression(obj) -> sympy.Expr:
    """``obj`` as a SymPy expression: text through :func:`read_expression`, numbers and SymPy
    objects as they are. Never hands a string to ``sympify``.

    Raises:
        ParseError: text the reader refuses, or an object that is not an expression.
    """
    if isinstance(obj, str):
        return read_expression(obj)
    try:
        expr = sympy.sympify(obj, strict=True)
    except (sympy.SympifyError, TypeError, ValueError):
        expr = None
    if not isinstance(expr, sympy.Expr):
        raise ParseError(f"expected an expression, got {shorten(repr(obj), 60)}")
    return expr
