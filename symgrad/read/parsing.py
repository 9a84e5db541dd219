"""Read stage: text (or SymPy) to a list of named steps, the lecture's intermediates.

Takes an expression, one or more assignments (``u = b*c; v = a + u; j = 3*v``), pairs of
names and expressions, or a SymPy expression, and gives :class:`Step` objects, one
operation each: every compound subexpression becomes its own step, auto-named u, v, w, p,
q, r, s, t, u1, … in post-order, so ``j = 3*(a + b*c)`` gives u = b·c, v = a + u, j = 3·v;
a letter the user's names are written with is skipped (no w beside w1, w2).
Text is read by the whitelisting :mod:`symgrad.read.reader`, never run and never evaluated, so
its structure is the one written. Every plain name is a symbol (``E``, ``I``, ``beta``,
``lambda`` too); only ``pi`` and the reader's known functions mean something. Imports
SymPy, :mod:`symgrad.read.reader` and :mod:`symgrad.errors` only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import sympy

from symgrad.errors import ParseError, shorten
from symgrad.read.reader import CONSTANTS, as_expression, read_expression

_AUTO_LETTERS = "uvwpqrst"


@dataclass(frozen=True)
class Step:
    """One named operation: ``name = expr``, with ``expr`` in inputs and earlier names.

    ``auto`` marks an intermediate named by the parser rather than by the user.
    """

    name: sympy.Symbol
    expr: sympy.Expr
    auto: bool = field(default=False, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.name} = {self.expr}"


def parse_expression(text: str) -> sympy.Expr:
    """Parse one expression without evaluating it, so its written structure is kept.

    Text is read by the whitelisting reader (:func:`symgrad.read.reader.read_expression`): it is
    never run as code.

    Args:
        text: e.g. ``"3*(a + b*c)"``; ``^`` is a power.

    Returns:
        The unevaluated SymPy expression (every plain name a ``Symbol``).

    Raises:
        ParseError: empty text, a syntax error, refused syntax, a call of an unknown
            function, or a size bound exceeded.

    >>> parse_expression("3*(a + b*c)")
    3*(a + b*c)
    """
    return read_expression(text)


def _assignment(stmt: str) -> int | None:
    """Where the ``=`` of an assignment is: the first one outside parentheses that is not
    part of ``==``, ``<=``, ``>=``, ``!=`` or ``:=``; None if there is none."""
    depth = 0
    for i, char in enumerate(stmt):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "=" and depth == 0:
            if stmt[i - 1 : i] in ("<", ">", "!", "=", ":") or stmt[i + 1 : i + 2] == "=":
                return None
            return i
    return None


def _check_target(name: str) -> None:
    if not name.isidentifier() or name in CONSTANTS or name.startswith("__"):
        raise ParseError(f"cannot assign to '{shorten(name, 40)}': the target must be a name")


def _statements(text: str) -> Iterator[tuple[str | None, str]]:
    """(target or None, right-hand side) for each statement of ``text``."""
    for line in text.splitlines():
        for stmt in line.split("#", 1)[0].split(";"):
            if not stmt.strip():
                continue
            at = _assignment(stmt)
            if at is None:
                yield None, stmt
                continue
            target, rhs = stmt[:at].strip(), stmt[at + 1 :]
            _check_target(target)
            if not rhs.strip():
                raise ParseError(f"nothing assigned to '{target}'")
            yield target, rhs


def _raw_statements(source) -> list[tuple[str | None, sympy.Expr, bool]]:
    """(target, unevaluated right-hand side, auto) for each statement of ``source``."""
    if isinstance(source, (str, sympy.Basic)):
        source = [source]
    out = []
    for item in source:
        if isinstance(item, Step):
            out.append((str(item.name), item.expr, item.auto))
        elif isinstance(item, str):
            out.extend((t, parse_expression(rhs), False) for t, rhs in _statements(item))
        elif isinstance(item, sympy.Basic):
            out.append((None, item, False))
        elif isinstance(item, Sequence) and len(item) == 2:
            name, expr = str(item[0]), item[1]
            _check_target(name)
            expr = as_expression(expr)
            out.append((name, expr, False))
        else:
            raise ParseError(f"cannot read {item!r} as a step")
    if not out:
        raise ParseError("empty source: nothing to parse")
    return out


def _symbol_names(expr) -> list[str]:
    """Names of the symbols in ``expr``, in order of first appearance (no recursion)."""
    names, seen, stack = {}, set(), [expr]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, sympy.Symbol):
            names.setdefault(node.name, None)
        stack.extend(reversed(node.args))
    return list(names)


def letter_of(name: str) -> str | None:
    """The letter a name is written with: ``w`` for w, w1, w_1 and w_hat; None for beta."""
    head, rest = name[:1], name[1:]
    if head.isalpha() and (not rest or rest.isdigit() or rest.startswith("_")):
        return head
    return None


def free_letters(letters, used) -> list[str]:
    """``letters`` minus those the names in ``used`` are written with (all if none is left).

    An intermediate called w next to the user's w1, w2 reads as one of them.
    """
    taken = {letter_of(n) for n in used}
    return [x for x in letters if x not in taken] or list(letters)


def _auto_names(used: set[str]) -> Iterator[str]:
    letters = free_letters(_AUTO_LETTERS, used)
    for n in itertools.count():
        for letter in letters:
            name = letter if n == 0 else f"{letter}{n}"
            if name not in used:
                yield name


def _operands(node) -> list[tuple[object, str | None]]:
    """(operand, wrapper) per argument; wrappers keep ``a - x`` and ``a/x`` one step."""
    slots = []
    for arg in node.args:
        if node.is_Add and arg.is_Mul and arg.args[0].is_Number and arg.args[0].is_negative:
            rest = arg.args[1:] if arg.args[0] == -1 else (-arg.args[0], *arg.args[1:])
            slots.append((rest[0] if len(rest) == 1 else sympy.Mul(*rest, evaluate=False), "neg"))
        elif node.is_Mul and arg.is_Mul and len(arg.args) == 2 and arg.args[0] == -1:
            slots.append((arg.args[1], "neg"))
        elif node.is_Mul and arg.is_Pow and arg.exp.is_Number and arg.exp.is_negative:
            inner = arg.base if arg.exp == -1 else sympy.Pow(arg.base, -arg.exp, evaluate=False)
            slots.append((inner, "inv"))
        else:
            slots.append((arg, None))
    return slots


class _Splitter:
    """Turns right-hand sides into steps of one operation each (explicit stack)."""

    def __init__(self, used: set[str]):
        self.names = _auto_names(used)
        self.steps: list[Step] = []
        self.memo: dict = {}  # rebuilt operation -> auto step name
        self.done: dict = {}  # id(node) -> (node, leaf or step symbol)

    def split(self, root) -> sympy.Expr:
        """Emit steps for ``root``'s compound operands; return root's own operation."""
        result = None
        stack = [(root, True, _operands(root), [])]
        while stack:
            node, top, slots, resolved = stack[-1]
            if len(resolved) < len(slots):
                inner, wrapper = slots[len(resolved)]
                known = self.done.get(id(inner))
                if known is not None:
                    resolved.append(known[1])
                elif isinstance(inner, sympy.Symbol) or not inner.args:
                    resolved.append(inner)
                else:
                    stack.append((inner, False, _operands(inner), []))
                continue
            stack.pop()
            args = [_wrap(r, w) for r, (_, w) in zip(resolved, slots, strict=True)]
            expr = node.func(*args) if slots else node
            if top:
                result = expr
            else:
                value = self._step(expr)
                self.done[id(node)] = (node, value)
                stack[-1][3].append(value)
        return result

    def _step(self, expr) -> sympy.Expr:
        """The auto step computing ``expr``; a pure number stays a number."""
        if expr.is_Atom or not expr.free_symbols:
            return expr
        if expr not in self.memo:
            name = sympy.Symbol(next(self.names))
            self.memo[expr] = name
            self.steps.append(Step(name, expr, auto=True))
        return self.memo[expr]


def _wrap(value, wrapper):
    if wrapper == "neg":
        return -value
    return 1 / value if wrapper == "inv" else value


def parse_steps(source, output_name: str | None = None) -> list[Step]:
    """Split ``source`` into named steps of one operation each, the output last.

    Args:
        source: an expression or assignments as text (separated by ``;`` or newlines), a
            sequence of such strings or of ``(name, expr)`` pairs, or a SymPy expression.
        output_name: the output's name when the source ends in a bare expression (default
            ``f``); with assignments, which assigned name is the output (default the last).

    Returns:
        The steps in evaluation order; compound subexpressions get auto-named steps.

    Raises:
        ParseError: empty source, a syntax error, an unknown function, a target that is
            not a name, a name assigned twice or used before its assignment.

    >>> [str(s) for s in parse_steps("j = 3*(a + b*c)")]
    ['u = b*c', 'v = a + u', 'j = 3*v']
    """
    raw = _raw_statements(source)
    for target, _, _ in raw[:-1]:
        if target is None:
            raise ParseError("only the last statement may be an expression without a name")
    targets = [t for t, _, _ in raw if t is not None]
    symbols = [n for _, rhs, _ in raw for n in _symbol_names(rhs)]
    used = set(targets) | set(symbols)
    if raw[-1][0] is None:
        if output_name is not None and output_name in used:
            raise ParseError(f"output name '{output_name}' is already used")
        fallback = (n for n in itertools.chain(["f", "out"], (f"f{i}" for i in itertools.count())))
        name = output_name or next(n for n in fallback if n not in used)
        raw[-1] = (name, raw[-1][1], False)
        used.add(name)
    elif output_name is not None and output_name not in targets:
        raise ParseError(f"no assignment to '{output_name}'")
    assigned: set[str] = set()
    splitter = _Splitter(used)
    for target, rhs, auto in raw:
        if target in assigned:
            raise ParseError(f"'{target}' is assigned twice")
        early = [n for n in _symbol_names(rhs) if n in targets and n not in assigned]
        if early:
            raise ParseError(f"'{early[0]}' is used before it is assigned")
        assigned.add(target)
        expr = splitter.split(rhs)
        splitter.steps.append(Step(sympy.Symbol(target), expr, auto=auto))
    steps = splitter.steps
    if output_name is not None and output_name != str(steps[-1].name):
        steps = _needed(steps, sympy.Symbol(output_name))
    return steps


def _needed(steps: list[Step], output: sympy.Symbol) -> list[Step]:
    """The steps ``output`` depends on, up to and including it, in order."""
    index = next(i for i, s in enumerate(steps) if s.name == output)
    wanted = {output}
    keep = []
    for step in reversed(steps[: index + 1]):
        if step.name in wanted:
            keep.append(step)
            wanted |= step.expr.free_symbols
    return keep[::-1]
