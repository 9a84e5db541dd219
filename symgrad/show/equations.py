"""Show stage: forward and backprop equations in matrix form.

Renders tensor graphs in the lecture's notation as plain text (Unicode), Markdown
(``$…$`` math) and LaTeX. Elementwise kernels print through subclasses of SymPy's
``StrPrinter`` and ``LatexPrinter`` in which a product of two tensors is a Hadamard
product (⊙); our functions print themselves (``σ(Z)``, ReLU's derivative ``1[Z > 0]``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.str import StrPrinter

from symgrad.model.program import LAMBDA
from symgrad.model.tensor import (
    ARG,
    AddBias,
    Broadcast,
    LogSoftmax,
    Map,
    Mask,
    MatMul,
    Ones,
    PadRows,
    Ref,
    RowSlice,
    Scale,
    Softmax,
    SoftmaxCrossEntropy,
    Sum,
    SumAll,
    SumExamples,
    SumRows,
    Transpose,
    Var,
    entry,
    scale,
)

_SUPERSCRIPT = {2: "²", 3: "³"}
_RELATIONS = {"<=": "≤", ">=": "≥", "<": "<", ">": ">"}


#: How tightly a matrix product or a sum over examples binds inside a kernel: looser than a
#: Hadamard product (``(W x) ⊙ D``), tighter than a sum (``W h + U x``) or a function call.
_JUXTAPOSED = PRECEDENCE["Add"] + 5


class _HadamardMixin:
    """Print products of tensor symbols with a Hadamard sign and quotients of tensors as
    ``a ⊙ b / c`` (LaTeX ``\\frac``); each tensor symbol prints as its text, in parentheses
    only where its precedence needs them (a matrix product in a product, a sum in a power).

    ``tensors`` maps each tensor symbol to (its text, its precedence)."""

    hadamard = " ⊙ "
    stacked = False  # whether a quotient stacks its parts (LaTeX's \frac)

    def __init__(self, tensors: dict):
        super().__init__()
        self._tensors = tensors

    def _print_Symbol(self, expr, *args, **kwargs):
        if expr in self._tensors:
            return self._tensors[expr][0]
        return super()._print_Symbol(expr, *args, **kwargs)

    def _binds(self, expr, level) -> bool:
        """Whether a tensor symbol prints without parentheses at precedence ``level``."""
        return expr not in self._tensors or self._tensors[expr][1] >= level

    def parenthesize(self, item, level, *args, **kwargs):
        if item in self._tensors:
            text = self._print(item)
            return text if self._binds(item, level) else self._wrap(text)
        return super().parenthesize(item, level, *args, **kwargs)

    def _print_Mul(self, expr, *args, **kwargs):
        tensors = set(self._tensors)
        factors = expr.as_ordered_factors()
        tensorial = [f for f in factors if f.free_symbols & tensors]
        over = [f for f in tensorial if f.is_Pow and f.exp.is_negative]
        loose = [f for f in tensorial if not self._binds(f, PRECEDENCE["Mul"])]
        if len(tensorial) < 2 and not over and not loose:
            return super()._print_Mul(expr, *args, **kwargs)
        top, bottom = sympy.fraction(sympy.Mul(*[f for f in factors if f not in tensorial]))
        upper = [f for f in tensorial if f not in over]
        if not over and bottom == 1:
            return self._product(top, upper)
        lower = [f.base ** (-f.exp) for f in over]
        upper, lower = self._product(top, upper, True), self._product(bottom, lower, True)
        wrap = len(over) > 1 or bool(over) and (bottom != 1 or not self._alone(over))
        return self._quotient(upper, lower, wrap)

    def _alone(self, over) -> bool:
        """Whether a one-factor denominator prints without parentheses after ``/``."""
        base = over[0].base ** (-over[0].exp)
        return base.is_Add or self._binds(base, PRECEDENCE["Pow"])  # a sum: _paren wraps it

    def _product(self, coeff, factors, over=False) -> str:
        if not factors:
            return self._print(coeff)
        if over and self.stacked and coeff == 1 and len(factors) == 1:
            return self._print(factors[0])  # \frac{X - \mu}{\sigma}: no parentheses
        head = "" if coeff == 1 else "-" if coeff == -1 else self._print(coeff) + " "
        return head + self.hadamard.join(self._paren(f) for f in factors)

    def _paren(self, factor):
        text = self._print(factor)
        loose = factor.is_Add or not self._binds(factor, PRECEDENCE["Mul"])
        return self._wrap(text) if loose else text


class _TextPrinter(_HadamardMixin, StrPrinter):
    printmethod = "_unicode"  # our functions print themselves: σ(Z), ReLU(Z), 1[Z > 0]

    def _wrap(self, text):
        return f"({text})"

    def _quotient(self, upper: str, lower: str, wrap: bool) -> str:
        return f"{upper} / {self._wrap(lower) if wrap else lower}"

    def _print_Piecewise(self, expr):
        """``{r²/2 if |r| ≤ 1; |r| - 1/2 otherwise}``: cases as the textbook reads them."""
        cases = [
            f"{self._print(e)} otherwise"
            if c == sympy.true
            else f"{self._print(e)} if {self._print(c)}"
            for e, c in expr.args
        ]
        return "{" + "; ".join(cases) + "}"

    def _print_Abs(self, expr):
        return f"|{self._print(expr.args[0])}|"

    def _print_Relational(self, expr):
        op = _RELATIONS.get(expr.rel_op)
        if op is None:
            return super()._print_Relational(expr)
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"

    def _print_Pow(self, expr, rational=False):
        if expr.exp in _SUPERSCRIPT and expr.base.free_symbols & set(self._tensors):
            return self.parenthesize(expr.base, PRECEDENCE["Pow"]) + _SUPERSCRIPT[expr.exp]
        return super()._print_Pow(expr, rational)


class _TexPrinter(_HadamardMixin, LatexPrinter):
    hadamard = r" \odot "
    stacked = True

    def _wrap(self, text):
        return rf"\left({text}\right)"

    def _quotient(self, upper: str, lower: str, wrap: bool) -> str:
        sign, upper = ("-", upper[1:]) if upper.startswith("-") else ("", upper)
        return rf"{sign}\frac{{{upper}}}{{{lower}}}"

    def _needs_mul_brackets(self, expr, first=False, last=False) -> bool:
        if expr in self._tensors:
            return not self._binds(expr, PRECEDENCE["Mul"])
        return super()._needs_mul_brackets(expr, first, last)


#: The precedence of a node's printed form other than a name or a map (default: an atom).
_PRECEDENCE = {
    MatMul: _JUXTAPOSED,
    Scale: _JUXTAPOSED,
    SumAll: _JUXTAPOSED,
    SumExamples: _JUXTAPOSED,
    SumRows: _JUXTAPOSED,
    AddBias: PRECEDENCE["Add"],
    Sum: PRECEDENCE["Add"],
    SoftmaxCrossEntropy: PRECEDENCE["Add"],
}
_TRANSPOSE = {"text": "ᵀ", "latex": "^{T}"}
#: What a scalar factor can stand in front of without parentheses.
_UNDER_SCALE = (Softmax, LogSoftmax, Transpose, MatMul, SumAll, SumExamples, SumRows)
#: Node classes that always print as their names (``W[1]``, ``dZ[2]``, a dropout mask ``M``):
#: no RENDERERS entry.
NAMED = frozenset({Var, Ref, Mask})


class Renderer:
    """Renders one tensor graph; named forward tensors print by their names."""

    def __init__(self, fmt: str, names: dict):
        self.fmt = "latex" if fmt in ("latex", "markdown") else "text"
        self.names = names

    def name(self, node):
        if type(node) in NAMED:
            return node.tex if self.fmt == "latex" else node.text
        named = self.names.get(node)
        if named is not None:
            return named.tex if self.fmt == "latex" else named.text
        return None

    def atom(self, node, keep=(Softmax, LogSoftmax, Transpose)) -> str:
        """The node, in parentheses unless it is a name or one of the ``keep`` kinds."""
        while isinstance(node, Broadcast):
            node = node.a
        text = self(node)
        if self.name(node) is not None or isinstance(node, keep):
            return text
        return rf"\left({text}\right)" if self.fmt == "latex" else f"({text})"

    def scalar(self, c) -> str:
        if self.fmt == "latex":
            return sympy.latex(c)
        text = sympy.sstr(c).replace(str(LAMBDA), "λ")
        return text if c.is_Symbol or (c.is_Integer and c > 0) else f"({text})"

    def __call__(self, node) -> str:
        name = self.name(node)
        if name is not None:
            return name
        return entry(RENDERERS, node, "printing (show.equations.RENDERERS)")(self, node)

    def kernel(self, node: Map) -> str:
        # each argument's symbol is named by its parenthesized form, which orders the terms
        # as before, and prints as its bare text where its precedence allows
        symbols = [sympy.Symbol(self.atom(a)) for a in node.args]
        expr = node.kernel.xreplace(dict(zip(ARG, symbols, strict=False)))
        tensors = {
            s: (self(a), self.precedence(a)) for s, a in zip(symbols, node.args, strict=True)
        }
        printer = (_TexPrinter if self.fmt == "latex" else _TextPrinter)(tensors)
        return printer.doprint(expr)

    def precedence(self, node) -> int:
        """How tightly ``node``'s printed form binds, as SymPy's printers measure it."""
        while isinstance(node, Broadcast):
            node = node.a
        if self.name(node) is not None:
            return PRECEDENCE["Atom"]
        if isinstance(node, Map):  # a quotient reads as one factor only in parentheses
            over = sympy.fraction(node.kernel)[1].free_symbols & set(ARG)
            return _JUXTAPOSED if over else precedence(node.kernel)
        return _PRECEDENCE.get(type(node), PRECEDENCE["Atom"])


def _sum(r: Renderer, node: Sum) -> str:
    """``A + B - (1/m) C``: a negative scalar factor prints as a minus sign."""
    text = r(node.terms[0])
    for t in node.terms[1:]:
        if isinstance(t, Scale) and t.c.could_extract_minus_sign():
            text += " - " + r(scale(-t.c, t.a))
        else:
            text += " + " + r(t)
    return text


def _transpose(r: Renderer, node: Transpose) -> str:
    inner = r.atom(node.a)
    if r.fmt == "latex" and inner.endswith("]}"):
        return inner[:-1] + "T}"  # W^{[2]} -> W^{[2]T}, the textbook form
    return inner + _TRANSPOSE[r.fmt]


def _sum_examples(r: Renderer, node: SumExamples) -> str:
    inner = r.atom(node.a)
    if r.fmt == "latex":
        inner = inner[:-1] + "(i)}" if inner.endswith("]}") else inner + "^{(i)}"
        return rf"\sum_{{i=1}}^{{m}} {inner}"
    return f"Σᵢ {inner}⁽ⁱ⁾"


def _sum_rows(r: Renderer, node: SumRows) -> str:
    return (r"\sum_{k} " if r.fmt == "latex" else "Σₖ ") + r.atom(node.a)


def _log_softmax(r: Renderer, node: LogSoftmax) -> str:
    name = r"\log \operatorname{softmax}" if r.fmt == "latex" else "log softmax"
    return f"{name}({r(node.z)})"


def _row_slice(r: Renderer, node: RowSlice) -> str:
    rows = f"{node.start}:{node.stop}"
    return f"{r.atom(node.a)}_{{{rows}}}" if r.fmt == "latex" else f"{r.atom(node.a)}[{rows}]"


def _pad_rows(r: Renderer, node: PadRows) -> str:
    """``G`` in rows start:stop of a matrix of zeros (the adjoint of a row slice)."""
    rows = f"{node.start}:{node.start + node.a.shape[0]}"
    if r.fmt == "latex":
        return rf"\operatorname{{pad}}_{{{rows}}}\left({r(node.a)}\right)"
    return f"pad[{rows}]({r(node.a)})"


def _softmax(r: Renderer, node: Softmax) -> str:
    return (r"\operatorname{softmax}" if r.fmt == "latex" else "softmax") + f"({r(node.z)})"


def _softmax_cross_entropy(r: Renderer, node: SoftmaxCrossEntropy) -> str:
    y, z = r.atom(node.y), r(node.z)
    if r.fmt == "latex":
        return rf"-\sum_{{k}} {y} \odot \log \operatorname{{softmax}}({z})"
    return f"-Σₖ {y} ⊙ log softmax({z})"


#: How each tensor node class prints (when it has no name), given the :class:`Renderer`.
RENDERERS: dict[type, Callable] = {
    MatMul: lambda r, node: f"{r.atom(node.a)} {r.atom(node.b)}",
    Transpose: _transpose,
    AddBias: lambda r, node: f"{r(node.z)} + {r.atom(node.b)}",
    Scale: lambda r, node: (
        ("-" if node.c == -1 else r.scalar(node.c) + " ") + r.atom(node.a, _UNDER_SCALE)
    ),
    Sum: _sum,
    SumExamples: _sum_examples,
    SumAll: lambda r, node: (r"\sum " if r.fmt == "latex" else "Σ ") + r.atom(node.a),
    Softmax: _softmax,
    SoftmaxCrossEntropy: _softmax_cross_entropy,
    SumRows: _sum_rows,
    LogSoftmax: _log_softmax,
    RowSlice: _row_slice,
    PadRows: _pad_rows,
    # broadcasting is implicit, as in the textbooks: b[1] added to every column prints b[1]
    Broadcast: lambda r, node: r(node.a),
    Ones: lambda r, node: "1",
    Map: lambda r, node: r.kernel(node),
}


class Equations(NamedTuple):
    """(lhs, rhs) pairs: one per forward tensor, the loss, one per backward equation."""

    forward: list
    loss: list
    backward: list


#: Each part of :class:`Equations` by its section title.
TITLES = {"forward": "Forward pass", "loss": "Loss", "backward": "Backward pass"}


def sections(bp, fmt: str) -> dict:
    """Forward, loss and backward equations as (lhs, rhs) pairs, by section title; the
    backward pass of a layer given its upstream gradient has that gradient for a loss."""
    titles = dict(TITLES, loss="Upstream gradient") if _upstream(bp) else TITLES
    return {titles[part]: eqs for part, eqs in equations(bp, fmt)._asdict().items()}


def _upstream(bp):
    return getattr(bp.program, "upstream", None)


def equations(bp, fmt: str) -> Equations:
    """Forward, loss and backward equations, in the order of ``bp.forward``/``bp.backward``."""
    names = {f.node: f for f in bp.forward}  # an identity activation's Z[l] prints as A[l]
    pick = (lambda n: n.tex) if fmt != "text" else (lambda n: n.text)
    named = Renderer(fmt, names)
    forward, first = [], {}
    for f in bp.forward:
        if f.node in first:
            forward.append((pick(f), pick(first[f.node])))
        else:
            first[f.node] = f
            forward.append((pick(f), Renderer(fmt, _without(names, f.node))(f.node)))
    upstream = _upstream(bp)
    if upstream is not None:
        out = bp.program.output
        given = [
            pick(f) for f, g in zip(bp.forward, bp.program.forward, strict=True) if g.node == out
        ]
        loss = [(pick(upstream), _given(given[0] if given else named(out), fmt))]
    else:
        loss = [("L" if fmt == "text" else r"\mathcal{L}", named(bp.loss))]
    backward = [(pick(e), named(e.node)) for e in bp.backward]
    return Equations(forward, loss, backward)


def _given(output: str, fmt: str) -> str:
    """``∂L/∂out (given)``: the upstream gradient, an input of the backward pass."""
    if fmt == "text":
        return f"∂L/∂{output if ' ' not in output else f'({output})'} (given)"
    return rf"\frac{{\partial \mathcal{{L}}}}{{\partial {output}}} \quad \text{{(given)}}"


def _without(names: dict, node) -> dict:
    return {k: v for k, v in names.items() if k is not node}


def render(bp, fmt: str) -> str:
    """The forward, loss and backward equations of a :class:`Backprop` in ``fmt``."""
    if fmt not in ("text", "markdown", "latex"):
        raise ValueError(f"unknown format {fmt!r} (text, markdown or latex)")
    parts = sections(bp, fmt)
    if fmt == "text":
        return "\n".join(
            "\n".join([title, *(f"{lhs} = {rhs}" for lhs, rhs in eqs)])
            for title, eqs in parts.items()
        )
    if fmt == "markdown":
        return "\n\n".join(
            f"**{title}**\n\n" + "\n".join(f"- ${lhs} = {rhs}$" for lhs, rhs in eqs)
            for title, eqs in parts.items()
        )
    rows = []
    for title, eqs in parts.items():
        rows.append(rf"&\text{{{title}}} \\")
        rows += [rf"{lhs} &= {rhs} \\" for lhs, rhs in eqs]
    return "\\begin{aligned}\n" + "\n".join(rows).rstrip("\\ ") + "\n\\end{aligned}"
