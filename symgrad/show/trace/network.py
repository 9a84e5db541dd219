"""Show stage: a network's forward and backward pass in numbers, each next to its equation.

What a student checks homework against and a teacher puts on a slide: the data and
parameters, then every forward tensor, the loss and every backward tensor as a small
matrix, beside the equation symgrad derived for it (:func:`symgrad.show.equations.equations`).
Takes a derived program (its ``forward``, ``backward`` and ``program``) and the values of
its leaves and named tensors, such as the NumPy oracle computes them; knows nothing of how.
Numbers are rounded to :data:`DIGITS` significant digits, the same in text, Markdown and
LaTeX.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from symgrad.show.equations import equations

DIGITS = 4  # significant digits of every number shown

_TITLES = ("Data", "Parameters", "Forward pass", "Loss", "Backward pass")
#: What a dZ stands for (the lecture's convention), said under the backward pass's title.
_CONVENTION = {
    "text": "dZ[l] = m ∂L/∂Z[l]; the others are ∂L/∂W[l], ∂L/∂b[l]",
    "latex": r"dZ^{[l]} = m \, \partial \mathcal{L} / \partial Z^{[l]}"
    r"\text{; the others are } \partial \mathcal{L} / \partial W^{[l]},\ "
    r"\partial \mathcal{L} / \partial b^{[l]}",
}


def number(x: float, fmt: str = "text") -> str:
    """``x`` rounded to :data:`DIGITS` significant digits: ``0.03326``, ``-1.5``, ``0``;
    ``1.234e-05`` (text) or ``1.234 \\times 10^{-5}`` (LaTeX, Markdown)."""
    x = float(x)
    if x == 0:
        return "0"  # also -0.0
    if math.isnan(x) or fmt == "text" and math.isinf(x):
        return str(x) if fmt == "text" else r"\text{nan}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    text = f"{x:.{DIGITS}g}"
    if fmt == "text" or "e" not in text:
        return text
    mantissa, power = text.split("e")
    return rf"{mantissa} \times 10^{{{int(power)}}}"


def _rows(value) -> list[list[float]]:
    """A value as the rows of a matrix: a vector (a bias) is a column, as it is added."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return [[float(a)]]
    if a.ndim == 1:
        return [[float(v)] for v in a]
    return [[float(v) for v in row] for row in a]


def _text_matrix(value) -> list[str]:
    """``[ 1.5  -2 ]`` lines, one per row, columns right-aligned; a scalar alone."""
    cells = [[number(v) for v in row] for row in _rows(value)]
    if np.ndim(value) == 0:
        return cells[0]
    widths = [max(len(row[j]) for row in cells) for j in range(len(cells[0]))]
    return [
        "[ " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " ]"
        for row in cells
    ]


def _tex_matrix(value) -> str:
    """``\\left[\\begin{array}{rr} … \\end{array}\\right]`` (no column limit, unlike
    ``bmatrix``); a scalar alone."""
    rows = _rows(value)
    if np.ndim(value) == 0:
        return number(rows[0][0], "latex")
    body = r" \\ ".join(" & ".join(number(v, "latex") for v in row) for row in rows)
    return rf"\left[\begin{{array}}{{{'r' * len(rows[0])}}} {body} \end{{array}}\right]"


@dataclass(frozen=True)
class NetworkTrace:
    """A network's forward and backward pass in numbers.

    ``backprop`` is the derived program (its equations); ``leaves`` the value of each leaf
    by ident (data, labels, parameters) in the lecture's layout, one column per example;
    ``loss`` the loss; ``forward`` and ``backward`` the value of each named tensor by ident
    (``dZ`` without its factor 1/m); ``about`` one line on the network, data and parameters.
    """

    backprop: object
    leaves: dict
    loss: float
    forward: dict
    backward: dict
    about: str

    def sections(self, fmt: str) -> list[tuple[str, list[tuple[str, str | None, object]]]]:
        """(title, rows) per section; a row is (name, its equation or None, its value)."""
        if fmt not in ("text", "markdown", "latex"):
            raise ValueError(f"unknown format {fmt!r} (text, markdown or latex)")
        tex = fmt != "text"
        program = self.backprop.program
        eqs = equations(self.backprop, fmt)

        def leaf(v):
            return ((v.tex if tex else v.text) or v.ident, None, self.leaves[v.ident])

        params = set(program.params)
        data = [leaf(v) for v in program.leaves if v not in params and v.ident in self.leaves]
        forward = [
            (lhs, rhs, self.forward[f.ident])
            for (lhs, rhs), f in zip(eqs.forward, self.backprop.forward, strict=True)
        ]
        backward = [
            (lhs, rhs, self.backward[e.ident])
            for (lhs, rhs), e in zip(eqs.backward, self.backprop.backward, strict=True)
        ]
        loss = [(lhs, rhs, self.loss) for lhs, rhs in eqs.loss]
        parts = [data, [leaf(p) for p in program.params], forward, loss, backward]
        return list(zip(_TITLES, parts, strict=True))

    def _title(self, title: str) -> str:
        if title == "Data":
            data = [v for v in self.backprop.program.leaves if getattr(v, "role", "") == "data"]
            m = np.shape(self.leaves[data[0].ident])[-1] if data else 1
            return f"Data (m = {m} example{'s' * (m != 1)}, one column each)"
        return title

    def _convention(self, fmt: str) -> str:
        """What a ``dZ`` stands for (m ∂L/∂Z), when one is shown; else nothing."""
        dZ = [e for e in self.backprop.backward if e.kind == "dZ"]
        if not dZ:
            return ""
        said = _CONVENTION["text" if fmt == "text" else "latex"]
        return said if "[" in dZ[0].text else said.replace("^{[l]}", "").replace("[l]", "")

    def text(self) -> str:
        """Plain text: each quantity's equation, then its value as bracketed rows."""
        lines = [self.about, f"(numbers rounded to {DIGITS} significant digits)"]
        for title, rows in self.sections("text"):
            lines += ["", self._title(title)]
            if title == "Backward pass" and (said := self._convention("text")):
                lines[-1] += f" ({said})"
            for lhs, rhs, value in rows:
                head = "  " + " = ".join([lhs, *([rhs] if rhs else []), ""])
                matrix = _text_matrix(value)
                lines.append(head + matrix[0])
                lines += [" " * len(head) + row for row in matrix[1:]]
        return "\n".join(lines)

    def markdown(self) -> str:
        """Markdown: a bold title per section, a bullet ``$name = equation = value$`` per
        quantity."""
        parts = [self.about + ".", "", f"Numbers rounded to {DIGITS} significant digits.", ""]
        for title, rows in self.sections("markdown"):
            parts += [f"**{self._title(title)}**", ""]
            if title == "Backward pass" and (said := self._convention("markdown")):
                parts += [f"${said}$", ""]
            parts += [f"- ${_equation(lhs, rhs, value)}$" for lhs, rhs, value in rows]
            parts.append("")
        return "\n".join(parts)

    def latex(self) -> str:
        """LaTeX: one ``align*`` environment per section (so a page may break between them)."""
        blocks = [
            rf"\noindent {_escape(self.about)}. Numbers rounded to {DIGITS} significant digits."
        ]
        for title, rows in self.sections("latex"):
            head = rf"&\text{{{self._title(title)}}}"
            if title == "Backward pass" and (said := self._convention("latex")):
                head += rf" \quad {said}"
            lines = [head] + [f"{lhs} &= {_equation(None, rhs, value)}" for lhs, rhs, value in rows]
            blocks.append("\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}")
        return "\n".join(blocks)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __str__(self) -> str:
        return self.text()


def _equation(lhs: str | None, rhs: str | None, value) -> str:
    """``lhs = rhs = value`` in LaTeX, leaving out what is None."""
    return " = ".join([*([lhs] if lhs else []), *([rhs] if rhs else []), _tex_matrix(value)])


def _escape(text: str) -> str:
    """Plain text for LaTeX's text mode: the characters it reserves, and the λ of an L2
    penalty (pdflatex knows no Unicode Greek)."""
    for char in "&%$#_{}":
        text = text.replace(char, "\\" + char)
    return text.replace("λ", r"$\lambda$")
