"""Engine: the rule registry, keyed by operation.

A rule gives, for a node and the index of one of its arguments, either the local
partial derivative ``d = ∂out/∂arg_i`` (scalar operations; the engine multiplies it
by the incoming adjoint ``g``) or the vector–Jacobian product directly (tensor
operations register ``vjp``). Rules reuse the node's own value where that is the
textbook form (exp → ``out``, tanh → ``1 - out²``, σ → ``out(1 - out)``), which
also keeps forward and backward passes sharing work after CSE.

The built-in scalar rules are the table :data:`RULES`, filled below; the tensor front
end keeps its own table (:data:`symgrad.derive.vjp.TENSOR_RULES`) and hands it to the engine, so
no module fills another's table when it is imported. :func:`register` adds a user's rule.

Operations without an entry fall back to SymPy's ``fdiff``; an operation with
neither is a :class:`~symgrad.errors.NoDerivativeRuleError` that names it.

Kinks follow ReLU's convention, ``relu'(0) = 0`` (:class:`~symgrad.functions.step`,
``1[x > 0]``): a function's derivative at a kink is one of its one-sided derivatives,
never an average, and a jump's derivative is 0 (not a Dirac delta). So ``|x|' = sign(x)``
(0 at 0); ``sign``, ``step`` and ``Heaviside`` have derivative 0. ``Max(a₁, …, aₙ)`` passes
the derivative to the argument that is largest, and at a tie to the first of the tied
ones in SymPy's order of the arguments, which puts a number first: ``Max(x, 0)`` is ReLU,
with derivative 0 at 0, and ``Max(u, v)`` where ``u = v`` on a whole region has the
derivative ``u' = v'`` there. ``Min`` likewise with the smallest. A ``Piecewise`` passes the
derivative to the branch selected at the point (the first whose condition holds), as the
derivative of each branch under the same conditions; conditions have derivative 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sympy
from sympy import S
from sympy.core.function import AppliedUndef
from sympy.functions.elementary.piecewise import ExprCondPair

from symgrad import functions as F
from symgrad.engine.graph import quote
from symgrad.errors import NoDerivativeRuleError


@dataclass(frozen=True)
class Rule:
    """How to push an adjoint through one operation.

    Exactly one of ``partial`` (node, i) -> ∂node/∂arg_i and
    ``vjp`` (node, g, i) -> contribution to arg_i's adjoint is given.
    """

    op: type
    partial: Callable | None = None
    vjp: Callable | None = None

    def contribution(self, node, g, i):
        if self.vjp is not None:
            return self.vjp(node, g, i)
        return g * self.partial(node, i)


#: The scalar rules, keyed by SymPy class (filled below), and the rules users register.
RULES: dict[type, Rule] = {}


def register(op: type, *, partial: Callable | None = None, vjp: Callable | None = None) -> None:
    """Add or replace the rule for ``op`` (a SymPy class or a tensor node class).

    A rule registered here comes before the built-in ones of either front end.
    """
    if (partial is None) == (vjp is None):
        raise TypeError("give exactly one of partial= or vjp=")
    RULES[op] = Rule(op, partial, vjp)


def rule_for(node, table: Mapping[type, Rule] | None = None) -> Rule:
    """The rule for ``node``'s operation, looked up along its class's MRO.

    Args:
        node: a SymPy expression or a tensor node.
        table: the rules to look in; default :data:`RULES`.
    """
    table = RULES if table is None else table
    for cls in type(node).__mro__:
        rule = table.get(cls)
        if rule is not None:
            return rule
    if isinstance(node, sympy.Function) and not isinstance(node, AppliedUndef):
        return Rule(type(node), partial=_checked_fdiff)
    raise _no_rule(node)


def _no_rule(node, why: str = "") -> NoDerivativeRuleError:
    return NoDerivativeRuleError(
        f"no derivative rule for {_op_name(node)} (in {quote(node)}){why}; "
        "register one with symgrad.engine.rules.register"
    )


def fingerprint() -> str:
    """Text that changes whenever a rule does, for hashes of generated files.

    Built from each rule's code, not its identity, so it is the same in every process.
    """
    lines = []
    for op, rule in sorted(
        RULES.items(), key=lambda item: f"{item[0].__module__}.{item[0].__name__}"
    ):
        fn = rule.partial or rule.vjp
        code = getattr(fn, "__code__", None)
        body = f"{code.co_code.hex()}{code.co_names}" if code else repr(fn)
        lines.append(f"{op.__module__}.{op.__name__}: {body}")
    return "\n".join(lines)


def _op_name(node) -> str:
    return getattr(node, "name", None) if isinstance(node, AppliedUndef) else type(node).__name__


def _checked_fdiff(node, i):
    try:
        d = node.fdiff(i + 1)
    except (AttributeError, TypeError, ValueError, NotImplementedError) as exc:
        # e.g. Piecewise: a Function whose arguments are not expressions
        raise _no_rule(node, f": its fdiff failed ({type(exc).__name__}: {exc})") from exc
    if _has_new_derivative(d, stop={node, *node.args}):
        raise _no_rule(node)
    return d


def _has_new_derivative(expr, stop: set) -> bool:
    """Whether ``expr`` holds an unevaluated ``Derivative`` outside the subtrees in ``stop``.

    SymPy's default ``fdiff`` answers ``Derivative(node, x)`` (or a ``Subs`` of one); the
    node's own arguments need no walk (``expr.has`` would walk them as a tree, exponential
    in a DAG with shared subexpressions). Each distinct subexpression is visited once.
    """
    pending, seen = [expr], set()
    while pending:
        e = pending.pop()
        if e in seen or e in stop:
            continue
        if isinstance(e, sympy.Derivative):
            return True
        seen.add(e)
        pending.extend(e.args)
    return False


def _mul_partial(node, i):
    return sympy.Mul(*(a for j, a in enumerate(node.args) if j != i))


def _pow_partial(node, i):
    base, exponent = node.args
    if i == 0:
        return exponent * base ** (exponent - 1)
    return node * sympy.log(base)


def _max_partial(node, i):
    """1 where argument i is the largest and no earlier argument ties with it, else 0."""
    return _selected(node.args, i, lambda u, v: u - v)


def _min_partial(node, i):
    """1 where argument i is the smallest and no earlier argument ties with it, else 0."""
    return _selected(node.args, i, lambda u, v: v - u)


def _selected(args, i, beyond):
    """``Π_{j<i} step(beyond(aᵢ, aⱼ)) · Π_{j>i} (1 − step(beyond(aⱼ, aᵢ)))``: the indicator that
    argument i wins strictly against every earlier argument and at least ties every later one.
    """
    out = args[i]
    earlier = (F.step(beyond(out, a)) for a in args[:i])
    later = (1 - F.step(beyond(a, out)) for a in args[i + 1 :])
    return sympy.Mul(*earlier, *later)


def piecewise_indicator(node, i):
    """1 where branch i is the one selected (its condition holds, no earlier one does), else 0.

    The partial of a Piecewise with respect to its branch i; :mod:`symgrad.engine.autodiff` folds a
    gradient's indicators back into one Piecewise.
    """
    return sympy.Piecewise(
        *((S.One if j == i else S.Zero, pair.cond) for j, pair in enumerate(node.args[: i + 1])),
        (S.Zero, True),
    )


def _fdiff_partial(node, i):
    """Our primitives carry their derivative in ``fdiff`` (in terms of their output)."""
    return node.fdiff(i + 1)


register(sympy.Add, partial=lambda node, i: S.One)
register(sympy.Mul, partial=_mul_partial)
register(sympy.Pow, partial=_pow_partial)
register(sympy.exp, partial=lambda node, i: node)
register(sympy.log, partial=lambda node, i: 1 / node.args[0])
register(sympy.tanh, partial=lambda node, i: 1 - node**2)
register(sympy.Abs, partial=lambda node, i: sympy.sign(node.args[0]))
register(sympy.sign, partial=lambda node, i: S.Zero)
register(sympy.Heaviside, partial=lambda node, i: S.Zero)
register(sympy.Max, partial=_max_partial)
register(sympy.Min, partial=_min_partial)
register(sympy.Piecewise, partial=piecewise_indicator)
# a branch (expression, condition): the expression passes its adjoint on, the condition none
register(ExprCondPair, partial=lambda node, i: S.One if i == 0 else S.Zero)
for _fn in F.PRIMITIVES.values():
    register(_fn, partial=_fdiff_partial)
