"""Show stage: a :class:`~symgrad.show.trace.Trace` as a Graphviz picture.

micrograd's ``draw_dot`` is the model: one record box per input and per step showing
"name | expression | value | grad", a small node per operation, edges from each input to
its consumers, left to right. :func:`to_dot` writes the DOT text itself (no dependency);
:func:`render` writes ``.dot`` always and ``.svg``/``.png``/``.pdf`` through the optional
``graphviz`` package and Graphviz's ``dot`` program. Imports :mod:`symgrad.show.trace` and
:mod:`symgrad.errors`; ``graphviz`` only inside :func:`render`.
"""

from __future__ import annotations

from pathlib import Path

import sympy

from symgrad.errors import SymgradError
from symgrad.show.trace import Trace, format_expr, format_value

_RECORD_SPECIAL = '\\{}|<>"'
_FORMATS = ("svg", "png", "pdf")


class MissingDependencyError(SymgradError):
    """An optional package or program that a requested output needs is not installed."""


def _escape(text: str) -> str:
    """Text safe inside a quoted DOT record label."""
    return "".join("\\" + ch if ch in _RECORD_SPECIAL else ch for ch in text)


def _op(expr: sympy.Expr) -> str:
    """A short name for the operation at the top of a step."""
    if expr.is_Symbol:
        return "="
    if expr.is_Add:
        return "+"
    if expr.is_Mul:
        if any(a.is_Pow and a.exp.is_negative for a in expr.args):
            return "/"
        return "−" if expr.args[0] == -1 and len(expr.args) == 2 else "·"
    if expr.is_Pow:
        return "1/x" if expr.exp == -1 else "√" if expr.exp == sympy.S.Half else "^"
    return getattr(type(expr), "text_name", None) or type(expr).__name__  # σ, ReLU, GELU


def to_dot(trace: Trace, *, rankdir: str = "LR") -> str:
    """Graphviz DOT text for ``trace``: values and gradients on every node.

    Args:
        trace: what :func:`symgrad.show.trace.explain` returned.
        rankdir: Graphviz layout direction (``LR`` is left to right).

    Returns:
        The DOT source, one record node per input and per step, one node per operation.

    >>> from symgrad.show.trace import explain
    >>> dot = to_dot(explain("j = 3*(a + b*c)", {"a": 1, "b": 2, "c": 3}))
    >>> '"{ b | input | value 2 | grad 9 }"' in dot
    True
    """
    grads = {a.name: a.value for a in trace.adjoints}
    grads[trace.output] = sympy.S.One
    ids = {name: f"n{i}" for i, name in enumerate([*trace.point, *(s.name for s in trace.steps)])}
    lines = [
        "digraph trace {",
        f"  rankdir={rankdir};",
        '  node [shape=record, fontname="Helvetica"];',
    ]
    for name, value in trace.point.items():
        fields = [str(name), "input", f"value {format_value(value)}"]
        fields.append(f"grad {format_value(grads.get(name, sympy.S.Zero))}")
        lines.append(f'  {ids[name]} [label="{{ {" | ".join(map(_escape, fields))} }}"];')
    for step in trace.steps:
        node, op = ids[step.name], _op(step.expr)
        fields = [str(step.name), format_expr(step.expr), f"value {format_value(step.value)}"]
        fields.append(f"grad {format_value(grads.get(step.name, sympy.S.Zero))}")
        lines.append(f'  {node} [label="{{ {" | ".join(map(_escape, fields))} }}"];')
        op_label = op.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'  {node}_op [label="{op_label}", shape=ellipse];')
        for arg in sorted(step.expr.free_symbols, key=sympy.default_sort_key):
            lines.append(f"  {ids[arg]} -> {node}_op;")
        lines.append(f"  {node}_op -> {node};")
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
