"""Show stage: a chain-rule trace as text, Markdown or LaTeX.

Takes what :func:`symgrad.show.trace.explain` recorded (any object with its fields: output, point,
steps, local derivatives, adjoints) and writes it in one of three dialects, each a way to
write names, partial derivatives, expressions and products; the expressions by SymPy's
printers. Also the one-line text of an expression or value that drawings and error messages
use. Imports SymPy only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import sympy
from sympy.printing.str import StrPrinter


class _TextPrinter(StrPrinter):
    """SymPy's ``str`` printer with ``·`` for products, ``^`` for powers, and our functions
    in their own notation (``σ(z)``, ``ReLU(z)``: their ``_unicode``)."""

    printmethod = "_unicode"

    def _print_Mul(self, expr):
        return super()._print_Mul(expr).replace("*", "·")

    def _print_Pow(self, expr, rational=False):
        return super()._print_Pow(expr, rational).replace("**", "^")


def format_expr(expr) -> str:
    """One line of Unicode text for ``expr``: ``b·c``, ``σ(z)``, ``x^2``."""
    return _TextPrinter().doprint(expr)


def format_value(value) -> str:
    """A SymPy number as text: an integer exactly, else a float with 6 significant digits."""
    if value.is_Integer:
        return str(value)
    number = float(value)
    return "0" if number == 0 else f"{number:.6g}"


class _Dialect(NamedTuple):
    """How one output format writes names, partials, expressions and products."""

    name: Callable
    partial: Callable
    expr: Callable
    dot: str


_TEXT = _Dialect(str, lambda f, x: f"∂{f}/∂{x}", format_expr, " · ")
_latex_name = functools.lru_cache(maxsize=4096)(sympy.latex)
_LATEX = _Dialect(
    _latex_name,
    lambda f, x: rf"\frac{{\partial {_latex_name(f)}}}{{\partial {_latex_name(x)}}}",
    sympy.latex,
    r" \cdot ",
)
_TITLES = {
    "forward": ("Forward", "step", "expression"),
    "local": ("Local derivatives", "derivative", "expression"),
    "backward": ("Backward (chain rule)", "adjoint", "chain rule"),
    "gradient": ("Gradient", "gradient", "closed form"),
}


def _factor(value) -> str:
    """A number inside a product: negative ones in parentheses."""
    return f"({format_value(value)})" if value < 0 else format_value(value)


def _sections(trace, d: _Dialect) -> list[tuple[str, list[tuple[str, list[str], str]]]]:
    """(section key, rows); a row is (left side, middle parts, value)."""
    out, p = trace.output, d.partial
    forward = [(d.name(s.name), _middle(s.expr, d), format_value(s.value)) for s in trace.steps]
    local = [
        (p(ld.step, ld.wrt), _middle(ld.expr, d), format_value(ld.value))
        for ld in trace.local_derivatives
    ]
    back = [(p(out, out), [], "1")]
    for adj in trace.adjoints:
        middle = []
        if adj.terms and not (len(adj.terms) == 1 and adj.terms[0].consumer == out):
            middle = [
                " + ".join(p(out, t.consumer) + d.dot + p(t.consumer, t.wrt) for t in adj.terms),
                " + ".join(_factor(t.upstream) + d.dot + _factor(t.local) for t in adj.terms),
            ]
        back.append((p(out, adj.name), middle, format_value(adj.value)))
    shown = {s.name for s in trace.steps if not s.auto} | set(trace.point)
    summary = [
        (p(out, a.name), _middle(a.expr, d), format_value(a.value))
        for a in trace.adjoints
        if a.name in shown
    ]
    return [("forward", forward), ("local", local), ("backward", back), ("gradient", summary)]


def _at(trace, d: _Dialect, sep: str) -> str:
    """The point, ``a = 1, b = 2``, in dialect ``d``."""
    return sep.join(f"{d.name(s)} = {format_value(v)}" for s, v in trace.point.items())


def text(trace) -> str:
    """Plain Unicode text, one line per step, local derivative and adjoint."""
    lines = []
    for key, rows in _sections(trace, _TEXT):
        title = _TITLES[key][0] + (f" at {_at(trace, _TEXT, ', ')}" if key == "forward" else "")
        title = title.removesuffix(" at ")
        lines += ["" if lines else None, title]
        lines += ["  " + " = ".join([lhs, *middle, value]) for lhs, middle, value in rows]
    return "\n".join(line for line in lines if line is not None)


def markdown(trace) -> str:
    """Markdown: one table per section, math in ``$…$``."""
    parts = []
    for key, rows in _sections(trace, _LATEX):
        title, left, middle_title = _TITLES[key]
        at = f" at ${_at(trace, _LATEX, '$, $')}$" if key == "forward" and trace.point else ""
        parts += [
            f"**{title}**{at}",
            "",
            f"| {left} | {middle_title} | value |",
            "|---" * 3 + "|",
        ]
        for lhs, middle, value in rows:
            cells = [f"${lhs}$", f"${' = '.join(middle)}$" if middle else "", f"${value}$"]
            parts.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def latex(trace, env: str = "align*") -> str:
    """The trace as one LaTeX ``align*`` (or ``aligned``) environment."""
    lines = []
    for key, rows in _sections(trace, _LATEX):
        at = r" at } " + _at(trace, _LATEX, r",\; ") if key == "forward" and trace.point else "}"
        lines.append(r"&\text{" + _TITLES[key][0] + at)
        lines += [f"{lhs} &= " + " = ".join([*middle, value]) for lhs, middle, value in rows]
    return f"\\begin{{{env}}}\n" + " \\\\\n".join(lines) + f"\n\\end{{{env}}}"


def _middle(expr, d: _Dialect) -> list[str]:
    """The expression part of a row: none for a number, a note for a closed form too large."""
    if expr is None:
        return ["\\text{(too large to show)}" if d is _LATEX else "(too large to show)"]
    return [] if expr.is_Number else [d.expr(expr)]
