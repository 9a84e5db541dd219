"""Show stage: a :class:`~symgrad.show.trace.Trace` as a Graphviz picture that fits a page.

micrograd's ``draw_dot`` is the model: one record box per input and per step showing
"name = expression | value | grad", a small node per operation, edges from each operand to
its operation. Drawn top to bottom, so a long chain grows down the page, not across it; a
number in a step (the 3 of ``3·v``, the 1 of ``1 − y``) is a node of its own, and
subtraction and division are operations with their operands in reading order (``1 − y`` is
"−" fed by 1 then y). :func:`to_dot` writes the DOT text itself (no dependency); :func:`render`
writes ``.dot`` always and ``.svg``/``.png``/``.pdf`` through the optional ``graphviz`` package
and Graphviz's ``dot`` program. Imports :mod:`symgrad.show.trace` and :mod:`symgrad.errors`;
``graphviz`` only inside :func:`render`.
"""

from __future__ import annotations

from pathlib import Path

import sympy

from symgrad.errors import SymgradError
from symgrad.show.trace import Trace, format_expr, format_value

_RECORD_SPECIAL = '\\{}|<>"'
_FORMATS = ("svg", "png", "pdf")
#: Layout: tight spacing; ``size`` (inches) shrinks a drawing larger than a page's text block.
_GRAPH = 'nodesep=0.15, ranksep=0.15, size="6.5,9"'


class MissingDependencyError(SymgradError):
    """An optional package or program that a requested output needs is not installed."""


def _escape(text: str) -> str:
    """Text safe inside a quoted DOT record label."""
    return "".join("\\" + ch if ch in _RECORD_SPECIAL else ch for ch in text)


def _quote(text: str) -> str:
    """Text safe inside a quoted DOT label of a plain node or edge."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _negated(term) -> sympy.Expr | None:
    """``x`` for a term ``-x`` or ``-c·x`` or a negative number; None for a positive term."""
    if term.is_Number:
        return -term if term.is_negative else None
    if term.is_Mul and term.args[0].is_Number and term.args[0].is_negative:
        rest = term.args[1:] if term.args[0] == -1 else (-term.args[0], *term.args[1:])
        return rest[0] if len(rest) == 1 else sympy.Mul(*rest, evaluate=False)
    return None


def _inverted(factor) -> sympy.Expr | None:
    """``x`` for a factor ``1/x`` (``x^k`` for ``x^-k``); None for any other factor."""
    if factor.is_Pow and factor.exp.is_Number and factor.exp.is_negative:
        return factor.base if factor.exp == -1 else sympy.Pow(factor.base, -factor.exp)
    return None


def operation(expr: sympy.Expr) -> tuple[str, list[tuple[sympy.Expr, str]]]:
    """The operation at the top of a step and its operands in reading order.

    Each operand comes with the label of its edge: ``"−"`` for a term subtracted and ``"÷"``
    for a factor divided by, where the operation's name alone does not say so.

    >>> a, y = sympy.symbols("a y")
    >>> operation(1 - y)
    ('−', [(1, ''), (y, '')])
    >>> operation(1 / a)
    ('/', [(1, ''), (a, '')])
    """
    if expr.is_Symbol:
        return "=", [(expr, "")]
    if expr.is_Add:
        negs = [(t, _negated(t)) for t in expr.args]
        plus = [(t, "") for t, n in negs if n is None]
        minus = [(n, "−") for _, n in negs if n is not None]
        if not minus:
            return "+", plus
        if len(plus) == 1:
            return "−", plus + [(n, "") for n, _ in minus]
        return "+", plus + minus
    if expr.is_Mul:
        if len(expr.args) == 2 and expr.args[0] == -1:
            return "−", [(expr.args[1], "")]
        inverted = [(f, _inverted(f)) for f in expr.args]
        over = [(f, "") for f, i in inverted if i is None]
        under = [(i, "÷") for _, i in inverted if i is not None]
        if not under:
            return "·", over
        if len(over) <= 1:
            return "/", (over or [(sympy.S.One, "")]) + [(i, "") for i, _ in under]
        return "·", over + under
    if expr.is_Pow:
        if expr.exp == -1:
            return "/", [(sympy.S.One, ""), (expr.base, "")]
        if expr.exp == sympy.S.Half:
            return "√", [(expr.base, "")]
        return "^", [(expr.base, ""), (expr.exp, "")]
    name = getattr(type(expr), "text_name", None) or type(expr).__name__  # σ, ReLU, log
    return name, [(arg, "") for arg in expr.args]


def _record(node: str, fields: list[str]) -> str:
    """A record node: its fields stacked, one per line of the box."""
    return f'  {node} [label="{{ {" | ".join(map(_escape, fields))} }}"];'


def _operation_lines(node: str, expr: sympy.Expr, ids: dict) -> list[str]:
    """The operation node of the step drawn as ``node``, its number nodes and its edges."""
    op, operands = operation(expr)
    lines = [f'  {node}_op [label="{_quote(op)}", shape=circle, margin=0.02, ordering=in];']
    for k, (arg, edge) in enumerate(operands):
        label = f' [xlabel="({_quote(edge)})"]' if edge else ""
        if arg.is_Number:  # a node of its own, on the operation's rank: beside it, not above
            const = f"{node}_c{k}"
            lines.append(f'  {const} [label="{_quote(format_value(arg))}", shape=box, width=0.3];')
            lines.append(f"  {{ rank=same; {const}; {node}_op; }}")
            lines.append(f"  {const} -> {node}_op{label};")
            continue
        sources = [arg] if arg in ids else sorted(arg.free_symbols, key=sympy.default_sort_key)
        lines += [f"  {ids[s]} -> {node}_op{label};" for s in sources]
    return [*lines, f"  {node}_op -> {node};"]


def to_dot(trace: Trace, *, rankdir: str = "TB") -> str:
    """Graphviz DOT text for ``trace``: values and gradients on every node.

    Args:
        trace: what :func:`symgrad.show.trace.explain` returned.
        rankdir: Graphviz layout direction (``TB`` is top to bottom, ``LR`` left to right).

    Returns:
        The DOT source: one record node per input and per step, one node per operation and
        per number in a step, one edge per operand.

    >>> from symgrad.show.trace import explain
    >>> dot = to_dot(explain("j = 3*(a + b*c)", {"a": 1, "b": 2, "c": 3}))
    >>> '"{ input b | value 2 | grad 9 }"' in dot and '"{ j = 3·v | value 21 | grad 1 }"' in dot
    True
    """
    grads = {a.name: a.value for a in trace.adjoints}
    grads[trace.output] = sympy.S.One

    def numbers(name, value):  # no grad where the trace took none (``explain(wrt=...)``)
        grad = [f"grad {format_value(grads[name])}"] if name in grads else []
        return [f"value {format_value(value)}", *grad]

    ids = {name: f"n{i}" for i, name in enumerate([*trace.point, *(s.name for s in trace.steps)])}
    lines = [
        "digraph trace {",
        f"  rankdir={rankdir};",
        f"  graph [{_GRAPH}];",
        '  node [shape=record, fontname="Helvetica", fontsize=11, height=0.2];',
        '  edge [fontname="Helvetica", fontsize=11, arrowsize=0.6];',
    ]
    for name, value in trace.point.items():
        lines.append(_record(ids[name], [f"input {name}", *numbers(name, value)]))
    for step in trace.steps:
        node, fields = ids[step.name], [f"{step.name} = {format_expr(step.expr)}"]
        lines.append(_record(node, fields + numbers(step.name, step.value)))
        lines += _operation_lines(node, step.expr, ids)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(trace: Trace, path) -> Path:
    """Write ``trace``'s graph to ``path``: ``.dot`` text, or ``.svg``/``.png``/``.pdf``.

    Args:
        trace: what :func:`symgrad.show.trace.explain` returned.
        path: the file to write; its suffix chooses the format.

    Returns:
        The path written.

    Raises:
        MissingDependencyError: a picture was asked for and the ``graphviz`` package or
            Graphviz's ``dot`` program is missing.
        SymgradError: a suffix other than .dot, .gv, .svg, .png, .pdf.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    source = to_dot(trace)
    if fmt in ("dot", "gv"):
        path.write_text(source, encoding="utf-8")
        return path
    if fmt not in _FORMATS:
        raise SymgradError(f"cannot render '{path.name}': use .dot, .svg, .png or .pdf")
    try:
        import graphviz
    except ImportError:
        raise MissingDependencyError(
            f'rendering .{fmt} needs the graphviz package: pip install "symgrad[graph]" '
            "(or write a .dot file)"
        ) from None
    try:
        data = graphviz.Source(source).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise MissingDependencyError(
            f"rendering .{fmt} needs Graphviz's dot program: install Graphviz "
            "(e.g. apt-get install graphviz) or write a .dot file"
        ) from None
    path.write_bytes(data)
    return path
