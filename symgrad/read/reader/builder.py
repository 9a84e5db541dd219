"""Read stage: a parse tree to SymPy objects, by a whitelist and never evaluated as code.

The tree (from :mod:`symgrad.read.reader.tree`) is walked with a whitelist: numbers, names,
``+ - * / **``, unary minus, parentheses and calls of known functions. SymPy objects are
built from the tree directly, unevaluated, so the written structure is kept. Everything else
(strings, f-strings, attributes, subscripts, lambdas, comprehensions, keywords, starred
arguments, walrus, comparisons, dunder names) is a :class:`~symgrad.errors.ParseError` that
names what was refused. While building, every constant is approximated in floats, so every
number stays within float64's range and every constant exponent within ``MAX_EXPONENT``: no
input can make SymPy compute for long. Imports SymPy, :mod:`symgrad.functions` and
:mod:`symgrad.errors` only.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass

import sympy

from symgrad.errors import ParseError, shorten
from symgrad.functions import ML_FUNCTIONS
from symgrad.read.reader.tree import KEYWORD_NAMES, MANGLE, chain_kind, reason

MAX_EXPONENT = 1_000  # |constant exponent|: higher powers expand into huge numbers
MAX_NUMBER = 1.7976931348623157e308  # float64's largest: a formula's numbers stay below it

#: The functions a formula may call, by the name typed.
KNOWN_FUNCTIONS: dict[str, type] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "tanh": sympy.tanh,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "sqrt": sympy.sqrt,
    "Abs": sympy.Abs,
    "sign": sympy.sign,
    "Heaviside": sympy.Heaviside,
    "Max": sympy.Max,
    "Min": sympy.Min,
    "max": sympy.Max,
    "min": sympy.Min,
    **ML_FUNCTIONS,
}
#: Kept unevaluated when built (SymPy's own functions; ours evaluate only trivial cases).
_UNEVALUATED = {"exp", "log", "tanh", "sin", "cos", "sqrt", "Abs"}
#: Float approximations of constant calls, to bound constants such as exp(exp(100)); a
#: constant exponent without one (``2**(sigmoid(1)*10**300)``) is refused.
_FLOAT_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "exp": math.exp,
    "log": math.log,
    "tanh": math.tanh,
    "sin": math.sin,
    "cos": math.cos,
    "sqrt": math.sqrt,
    "Abs": abs,
    "sign": lambda v: float((v > 0) - (v < 0)),
    "Max": max,
    "max": max,
    "Min": min,
    "min": min,
}
CONSTANTS = {"pi": sympy.pi}  # plain names that keep their SymPy meaning

#: What each refused kind of syntax is called in the error message.
_REFUSED = {
    ast.JoinedStr: "an f-string",
    ast.FormattedValue: "an f-string",
    ast.Attribute: "an attribute ('a.b')",
    ast.Subscript: "a subscript ('a[i]')",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.Starred: "a starred argument ('*a')",
    ast.NamedExpr: "an assignment expression (':=')",
    ast.Compare: "a comparison",
    ast.BoolOp: "'and'/'or'",
    ast.IfExp: "'if ... else'",
    ast.Tuple: "a tuple",
    ast.List: "a list",
    ast.Set: "a set",
    ast.Dict: "a dict",
    ast.Await: "'await'",
    ast.Yield: "'yield'",
    ast.YieldFrom: "'yield'",
    ast.Slice: "a slice",
}
_OPERATORS = {
    ast.FloorDiv: "'//'",
    ast.Mod: "'%'",
    ast.MatMult: "'@'",
    ast.LShift: "'<<'",
    ast.RShift: "'>>'",
    ast.BitAnd: "'&'",
    ast.BitOr: "'|'",
    ast.Not: "'not'",
    ast.Invert: "'~'",
}


@dataclass(frozen=True)
class _Built:
    """A built SymPy object and, when it is a plain constant, a float approximation of it."""

    expr: sympy.Basic
    approx: float | None = None


def _refuse(what: str, text: str) -> ParseError:
    return ParseError(
        f"refused {what}: '{shorten(text, 60)}' is not an expression of numbers, names, "
        "+ - * / ^ and known functions"
    )


class Builder:
    """Builds SymPy objects from a whitelisted tree, as SymPy's ``evaluate=False`` parser does."""

    def __init__(self, text: str, exact_decimals: bool):
        self.text, self.exact_decimals = text, exact_decimals

    def build(self, node) -> _Built:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            what = _REFUSED.get(type(node), f"Python's {type(node).__name__}")
            raise _refuse(what, self.text)
        return method(node)

    def _Constant(self, node) -> _Built:
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise ParseError(f"{value!r} is not a number (in '{shorten(self.text)}')")
        if isinstance(value, (str, bytes)):
            raise _refuse("a string", self.text)
        if isinstance(value, complex):
            raise _refuse("a complex number", self.text)
        literal = ast.get_source_segment(self.text, node) or repr(value)
        if isinstance(value, int):
            return self._bounded(
                sympy.Integer(value),
                float(value) if value.bit_length() < 1024 else math.inf,
                literal,
            )
        if self.exact_decimals:
            expr = sympy.Rational(literal.replace("_", ""))
        else:
            expr = sympy.Float(literal.replace("_", ""))
        return self._bounded(expr, value, literal)

    def _bounded(self, expr, approx: float | None, what: str) -> _Built:
        """``expr`` with its approximation, refused if that is beyond float64's range."""
        if approx is not None and not abs(approx) <= MAX_NUMBER:
            raise ParseError(
                f"the number {shorten(what, 40)} is too large (numbers in a formula must stay "
                f"below {MAX_NUMBER:.3g} in magnitude)"
            )
        return _Built(expr, approx)

    def _Name(self, node) -> _Built:
        name = node.id
        if name.startswith(MANGLE) and name[len(MANGLE) :] in KEYWORD_NAMES:
            name = name[len(MANGLE) :]
        elif name.startswith("__"):
            raise _refuse(f"the dunder name '{shorten(name, 40)}'", self.text)
        if name in CONSTANTS:
            value = CONSTANTS[name]
            return _Built(value, float(value))
        return _Built(sympy.Symbol(name))

    def _UnaryOp(self, node) -> _Built:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _refuse(
                f"the operator {_OPERATORS.get(type(node.op), type(node.op).__name__)}", self.text
            )
        inner = self.build(node.operand)
        if isinstance(node.op, ast.UAdd):
            return inner
        return _Built(-inner.expr, None if inner.approx is None else -inner.approx)

    def _BinOp(self, node) -> _Built:
        op = type(node.op)
        if op not in (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow):
            raise _refuse(f"the operator {_OPERATORS.get(op, op.__name__)}", self.text)
        if op is ast.Pow:
            return self._power(node)
        kind = chain_kind(node.op)
        cls, unit = (sympy.Add, 0.0) if kind is ast.Add else (sympy.Mul, 1.0)
        terms = self._operands(node, kind)
        approx = unit
        for term in terms:
            if approx is None or term.approx is None:
                approx = None
            else:
                approx = approx + term.approx if kind is ast.Add else approx * term.approx
        built = cls(*(t.expr for t in terms), evaluate=False)
        return self._bounded(built, approx, ast.get_source_segment(self.text, node) or "")

    def _operands(self, node, kind) -> list[_Built]:
        """The flattened operands of a chain of + and - (or * and /), as SymPy's parser has them.

        ``a - b`` contributes ``Mul(-1, b)`` and ``a / b`` contributes ``Pow(b, -1)``, the forms
        the lecture's steps keep as one subtraction or division; ``a + (b + c)`` is flattened,
        ``a - (b + c)`` is not. The left spine is walked without recursion (long sums).
        """
        spine = []
        while isinstance(node, ast.BinOp) and chain_kind(node.op) is kind:
            spine.append((type(node.op), node.right))
            node = node.left
        terms = [self.build(node)]
        for op, right in reversed(spine):
            if op is ast.Sub:
                terms.append(self._wrap(right, lambda e: sympy.Mul(-1, e, evaluate=False), _negate))
            elif op is ast.Div:
                terms.append(self._wrap(right, lambda e: sympy.Pow(e, -1, evaluate=False), _invert))
            elif isinstance(right, ast.BinOp) and chain_kind(right.op) is kind:
                terms.extend(self._operands(right, kind))
            else:
                terms.append(self.build(right))
        return terms

    def _wrap(self, node, form, value) -> _Built:
        inner = self.build(node)
        return _Built(form(inner.expr), None if inner.approx is None else value(inner.approx))

    def _power(self, node) -> _Built:
        base, exponent = self.build(node.left), self.build(node.right)
        if exponent.approx is None and not exponent.expr.free_symbols:
            raise ParseError(
                f"the exponent in '{shorten(ast.get_source_segment(self.text, node) or '', 40)}' "
                "must be a number symgrad can bound: use numbers, + - * / ** and exp, log, "
                "sqrt, max, min there"
            )
        if exponent.approx is not None and abs(exponent.approx) > MAX_EXPONENT:
            raise ParseError(
                f"the exponent in '{shorten(ast.get_source_segment(self.text, node) or '', 40)}' "
                f"is too large (at most {MAX_EXPONENT} in magnitude)"
            )
        approx = _approximately(math.pow, base.approx, exponent.approx)
        built = sympy.Pow(base.expr, exponent.expr, evaluate=False)
        return self._bounded(built, approx, ast.get_source_segment(self.text, node) or "")

    def _Call(self, node) -> _Built:
        if not isinstance(node.func, ast.Name):
            raise _refuse("a call of something other than a function's name", self.text)
        name = node.func.id
        if name.startswith("__"):
            raise _refuse(f"the dunder name '{shorten(name, 40)}'", self.text)
        if name not in KNOWN_FUNCTIONS:
            raise ParseError(f"unknown function '{shorten(name, 40)}'")
        if node.keywords:
            raise _refuse("a keyword argument", self.text)
        args = [self.build(arg) for arg in node.args]
        fn = KNOWN_FUNCTIONS[name]
        try:
            expr = fn(
                *(a.expr for a in args), **({"evaluate": False} if name in _UNEVALUATED else {})
            )
        except (TypeError, ValueError) as error:
            raise ParseError(
                f"cannot call {name} with {len(args)} argument(s): {reason(error)}"
            ) from None
        approx = None
        if name in _FLOAT_FUNCTIONS:
            approx = _approximately(_FLOAT_FUNCTIONS[name], *(a.approx for a in args))
        return self._bounded(expr, approx, ast.get_source_segment(self.text, node) or name)


def _approximately(fn, *args: float | None) -> float | None:
    """``fn(*args)`` in floats: inf on overflow, None when unknown or undefined."""
    if any(a is None for a in args):
        return None
    try:
        return fn(*args)
    except OverflowError:
        return math.inf
    except (ValueError, ZeroDivisionError, TypeError):
        return None


def _negate(value: float) -> float:
    return -value


def _invert(value: float) -> float | None:
    return None if value == 0 else 1.0 / value
