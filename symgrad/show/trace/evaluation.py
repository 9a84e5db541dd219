"""Show stage: the lecture's step-by-step chain rule at a given point, evaluated.

Takes steps (anything :func:`symgrad.read.parsing.parse_steps` reads) and input values;
gives a :class:`Trace`: step values, local derivatives (by
:func:`symgrad.engine.autodiff.grad`, written with the step's own name where the rule reuses
its output: σ gives ``a(1 - a)``) and the backward sweep of
:func:`symgrad.engine.autodiff.backward` over the named steps, each chain-rule product
recorded. Values stay exact while rational, else float64-precision Floats; closed forms are
kept while small (``MAX_NODES``), in inputs and the user's own step names. Rendered by
:mod:`symgrad.show.trace.render`. Imports parsing, autodiff, graph, errors.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import sympy
from sympy import S

from symgrad.engine.autodiff import backward, grad
from symgrad.engine.evaluate import value_at
from symgrad.engine.graph import depends_on, topological_order
from symgrad.errors import EvaluationError, UnknownSymbolError, shorten
from symgrad.read.parsing import Step, parse_steps
from symgrad.read.reader import read_number
from symgrad.show.printing import has_high_power
from symgrad.show.trace import render
from symgrad.show.trace.render import format_expr

MAX_NODES = 80  # closed forms with more nodes than this are dropped (shown as too large)
PREC = 15  # digits (float64) of the floats that stand for irrational values
MAX_FLOAT = 1.7976931348623157e308  # a value beyond float64's range is an overflow error


@dataclass(frozen=True)
class StepValue:
    """A step and its value at the point."""

    name: sympy.Symbol
    expr: sympy.Expr
    value: sympy.Number
    auto: bool = False


@dataclass(frozen=True)
class LocalDerivative:
    """``∂step/∂wrt``, in step names, and its value."""

    step: sympy.Symbol
    wrt: sympy.Symbol
    expr: sympy.Expr
    value: sympy.Number


@dataclass(frozen=True)
class ChainTerm:
    """One product of the chain rule: ``∂out/∂consumer · ∂consumer/∂wrt``."""

    consumer: sympy.Symbol
    wrt: sympy.Symbol
    upstream: sympy.Number
    local: sympy.Number
    value: sympy.Number


@dataclass(frozen=True)
class Adjoint:
    """``∂out/∂name``: its chain-rule terms, closed form (None if too large) and value."""

    name: sympy.Symbol
    terms: tuple[ChainTerm, ...]
    expr: sympy.Expr | None
    value: sympy.Number


@dataclass(frozen=True)
class Trace:
    """The chain rule at one point; render with ``text()``, ``markdown()``, ``latex()``.

    ``gradients`` maps each input's and step's name to ``(closed form, value)``, the
    closed form being None when it grew past ``MAX_NODES`` nodes.
    """

    output: sympy.Symbol
    point: dict
    steps: tuple[StepValue, ...]
    local_derivatives: tuple[LocalDerivative, ...]
    adjoints: tuple[Adjoint, ...]
    gradients: dict

    def __repr__(self) -> str:
        return f"<Trace of {self.output}: {len(self.steps)} steps, {len(self.point)} inputs>"

    def __str__(self) -> str:
        return self.text()

    def text(self) -> str:
        """Plain Unicode text, one line per step, local derivative and adjoint."""
        return render.text(self)

    def markdown(self) -> str:
        """Markdown: one table per section, math in ``$…$``."""
        return render.markdown(self)

    def latex(self, env: str = "align*") -> str:
        """The trace as one LaTeX ``align*`` (or ``aligned``) environment."""
        return render.latex(self, env)

    def _repr_latex_(self) -> str:
        return "$$" + self.latex(env="aligned") + "$$"


def explain(source, at: Mapping, *, output: str | None = None, wrt=None) -> Trace:
    """The chain rule for ``source`` at the point ``at``, step by step, as in the lecture.

    Args:
        source: anything :func:`symgrad.read.parsing.parse_steps` reads, or a list of ``Step``.
        at: a value (int, float, Fraction, Decimal, numeric string or SymPy number) for
            every input, keyed by name or symbol.
        output: which assigned name is the output (default: the last).
        wrt: the inputs the gradient is wanted for (a name or names; default every input):
            the backward pass then visits only the steps on a path to them, so the
            parameters' trace leaves out ``∂L/∂x`` and ``∂L/∂y`` of the data.

    Returns:
        A :class:`Trace` with forward values, local derivatives, chain-rule products and
        gradients.

    Raises:
        ParseError: the source cannot be read.
        UnknownSymbolError: a missing value, a value for a name that is not an input, or a
            ``wrt`` name that is not an input.
        EvaluationError: a step or derivative has no finite real value at the point.
        NoDerivativeRuleError: a step's operation has no derivative rule.

    >>> t = explain("j = 3*(a + b*c)", {"a": 1, "b": 2, "c": 3})
    >>> t.gradients["b"]
    (3*c, 9)
    >>> print(t.text().split("Gradient")[1])
    <BLANKLINE>
      ∂j/∂a = 3
      ∂j/∂b = 3·c = 9
      ∂j/∂c = 3·b = 6
    """
    if isinstance(source, (list, tuple)) and source and all(isinstance(s, Step) for s in source):
        steps = list(source)
    else:
        steps = parse_steps(source, output)
    names = {s.name for s in steps}
    kids = {s.name: sorted(s.expr.free_symbols, key=sympy.default_sort_key) for s in steps}
    inputs = sorted(set().union(*kids.values()) - names, key=sympy.default_sort_key)
    point = _point(at, inputs, names)
    targets = _targets(wrt, inputs, names)
    live = depends_on([*inputs, *(s.name for s in steps)], targets, lambda n: kids.get(n, ()))
    values = dict(point)
    forward = []
    for s in steps:
        values[s.name] = _evaluate(s.expr, values, lambda s=s: f"{s.name} = {format_expr(s.expr)}")
        forward.append(StepValue(s.name, s.expr, values[s.name], s.auto))

    expand: dict = {}  # parser-named step -> its definition in user names, while small
    for s in steps:
        if s.auto and _small(e := s.expr.xreplace(expand)):
            expand[s.name] = e
    local: dict = {}
    for s in steps:
        wanted = [x for x in kids[s.name] if x in live]
        for x, d in zip(wanted, grad(s.expr, wanted) if wanted else (), strict=True):
            d = d.xreplace({s.expr: s.name})
            value = _evaluate(d, values, lambda s=s, x=x, d=d: f"∂{s.name}/∂{x} = {format_expr(d)}")
            local[s.name, x] = (LocalDerivative(s.name, x, d, value), d.xreplace(expand))

    out = steps[-1].name
    terms: dict = {}

    def contribution(node, g, i):
        x = kids[node][i]
        ld, closed = local[node, x]
        terms.setdefault(x, []).append(ChainTerm(node, x, g[1], ld.value, g[1] * ld.value))
        return (None if g[0] is None else _tidy(g[0] * closed)), g[1] * ld.value

    def total(cs):
        exprs = [c[0] for c in cs]
        return (None if None in exprs else _tidy(sympy.Add(*exprs))), sympy.Add(*(c[1] for c in cs))

    def children(node):
        return kids.get(node, ())

    order = topological_order([out], children)
    sweep = dict(seed=(S.One, S.One), children=children, total=total, is_zero=lambda c: False)
    adj = backward(order, out, targets, contribution=contribution, **sweep)
    adjoints = tuple(
        Adjoint(n, tuple(terms.get(n, ())), *adj.get(n, (S.Zero, S.Zero)))
        for n in [s.name for s in reversed(steps[:-1])] + inputs
        if n in live
    )
    for a in adjoints:
        if abs(a.value) > MAX_FLOAT:
            raise EvaluationError(
                f"overflow: ∂{out}/∂{a.name} is about {_magnitude(a.value)} at the given "
                f"point, beyond float64's range ({MAX_FLOAT:.3g})"
            )
    gradients = {str(a.name): (a.expr, a.value) for a in adjoints}
    return Trace(
        out, point, tuple(forward), tuple(ld for ld, _ in local.values()), adjoints, gradients
    )


def _targets(wrt, inputs: list, steps: set) -> set:
    """The input symbols named by ``wrt`` (every node when None); a typo is refused."""
    if wrt is None:
        return set(inputs) | steps
    names = [str(n) for n in ([wrt] if isinstance(wrt, (str, sympy.Symbol)) else wrt)]
    by_name = {str(s): s for s in inputs}
    have = ", ".join(by_name) or "none"
    if not names:
        raise UnknownSymbolError(f"wrt names no input (the inputs: {have})")
    for name in names:
        if name in {str(s) for s in steps}:
            raise UnknownSymbolError(f"wrt: {name} is computed by a step; name inputs ({have})")
        if name not in by_name:
            raise UnknownSymbolError(f"wrt: {name} is not in the expression (its inputs: {have})")
    return {by_name[n] for n in names}


def _point(at: Mapping, inputs: list, steps: set) -> dict:
    """The input values as SymPy numbers, in input order; every input, nothing else."""
    by_name = {str(s): s for s in inputs}
    have = ", ".join(by_name) or "none"
    given = {}
    for key, raw in at.items():
        name = str(key)
        if name in {str(s) for s in steps}:
            raise UnknownSymbolError(
                f"{name} is computed by a step; give values for inputs only ({have})"
            )
        if name not in by_name:
            raise UnknownSymbolError(f"{name} is not in the expression (its inputs: {have})")
        given[by_name[name]] = _input_number(raw, name)
    missing = [str(s) for s in inputs if s not in given]
    if missing:
        raise UnknownSymbolError(f"no value for {', '.join(missing)}")
    return {s: given[s] for s in inputs}


def _input_number(raw, name: str):
    """A user's number as a SymPy number: ints, fractions and text exact, floats as Float.

    Raises:
        ParseError: text that is not a constant formula.
        EvaluationError: a value that is not a finite real number.
    """
    if isinstance(raw, str):
        raw = read_number(raw)  # a constant formula, read by the whitelist
    try:
        if isinstance(raw, sympy.Basic):
            value = raw
        elif isinstance(raw, numbers.Integral):
            value = sympy.Integer(int(raw))
        elif isinstance(raw, (Fraction, Decimal)):
            value = sympy.Rational(str(raw))
        elif isinstance(raw, numbers.Real):
            value = sympy.Float(float(raw))
        else:
            value = None
    except (TypeError, ValueError):
        value = None
    if value is None or not (value.is_number and value.is_real and value.is_finite):
        raise EvaluationError(f"the value for {name} is not a finite real number: {raw!r}")
    return value


def _evaluate(expr, values: dict, label: Callable[[], str]):
    """``expr`` at ``values``: a Rational, or a Float of ``PREC`` digits; within float64.

    Exact while that is cheap (:func:`symgrad.engine.evaluate.value_at`), so ``x**x`` at
    ``x = 10**300`` is approximated, never computed digit by digit.
    """
    value = value_at(expr, values, PREC)
    if not (isinstance(value, sympy.Number) and value.is_finite):
        raise EvaluationError(f"{_cause(expr, values)} in {shorten(label())} at the given point")
    if abs(value) > MAX_FLOAT:
        raise EvaluationError(
            f"overflow: {shorten(label())} is about {_magnitude(value)} at the given point, "
            f"beyond float64's range ({MAX_FLOAT:.3g})"
        )
    return value


def _magnitude(value) -> str:
    """A huge number in a few characters: ``1.97e+434``, ``1.00e+3000000…``."""
    return shorten(sympy.sstr(value.evalf(3)), 20)


def _cause(expr, values: dict) -> str:
    """Why a (small) step expression has no finite real value."""
    for node in sympy.preorder_traversal(expr):
        if node.is_Pow:
            base = node.base.xreplace(values)
            if node.exp.is_negative and base == 0:
                return "division by zero"
            if node.exp.is_integer is False and base.is_negative:
                return "root of a negative number"
        if isinstance(node, sympy.log):
            arg = node.args[0].xreplace(values)
            if arg == 0 or arg.is_negative:
                return "log of a non-positive number"
    return "no finite real value"


def _tidy(expr):
    """The shorter of ``expr`` and ``factor(cancel(expr))``; None when too large to keep.

    Too large: more than ``MAX_NODES`` nodes, or a power above ``printing.MAX_DEGREE`` (factoring
    high-degree polynomials costs more than such a formula shows).
    """
    if expr is None or expr.is_Atom:
        return expr
    if not _small(expr) or has_high_power(expr):
        return None
    try:
        other = sympy.factor(sympy.cancel(expr))
    except (sympy.PolynomialError, NotImplementedError, TypeError, ValueError):
        return expr
    return min((expr, other), key=sympy.count_ops)


def _small(expr) -> bool:
    """Whether ``expr`` has at most ``MAX_NODES`` nodes (counted without recursion)."""
    stack, count = [expr], 0
    while stack:
        count += 1
        if count > MAX_NODES:
            return False
        stack.extend(stack.pop().args)
    return True
