"""Show stage: closed-form gradients as plain text, Markdown and LaTeX.

Takes a scalar SymPy expression, derives its gradient with the reverse-mode engine
(:func:`symgrad.engine.autodiff.grad`, never ``sympy.diff``), simplifies each component and,
where that is clearly shorter, rewrites them in terms of named intermediates found by
``sympy.cse``. Gives a :class:`GradientEquations` that prints through SymPy's own
printers (``sstr`` and ``latex``; our functions carry their ``_latex``). The module-level
:func:`text`, :func:`markdown` and :func:`latex` also print any object with a method of
that name (a chain-rule trace, a tensor gradient).

Imports :mod:`symgrad.engine.autodiff`, :mod:`symgrad.functions`, :mod:`symgrad.errors` and
:mod:`symgrad.read.parsing` (which letters are free for intermediates) only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import count

import sympy

from symgrad.engine.autodiff import grad
from symgrad.errors import UnknownSymbolError
from symgrad.read.parsing import free_letters

#: Gradients with at least this many operations get ``cancel`` instead of ``simplify``.
SIMPLIFY_LIMIT = 300
MAX_DEGREE = 12  # integer powers above this are not simplified (see has_high_power)
#: The CSE form is used only when its cost is below this fraction of the plain form's.
CSE_RATIO = 0.6
#: What a named intermediate costs on top of its operations: a line of its own to read.
LINE_COST = 3
#: Names for intermediates, in order; then u_1, u_2, ...
INTERMEDIATE_NAMES = ("u", "v", "w", "p", "q", "r", "s", "t")


@dataclass
class GradientEquations:
    """The gradient of ``name`` = ``expr``, one equation per symbol, ready to print.

    Attributes:
        expr: the differentiated expression.
        name: the function's printed name (``∂name/∂a``).
        equations: ``(symbol, gradient)`` pairs, in the order asked for.
        intermediates: ``(symbol, definition)`` pairs the gradients are written in,
            each defined before it is used; empty when the plain form is shorter.
    """

    expr: sympy.Expr
    name: str = "f"
    equations: list[tuple[sympy.Symbol, sympy.Expr]] = field(default_factory=list)
    intermediates: list[tuple[sympy.Symbol, sympy.Expr]] = field(default_factory=list)

    def text(self) -> str:
        """One line per equation, ``∂f/∂a = 3``, after ``where u = ...`` lines."""
        lines = [f"where {s} = {sympy.sstr(e)}" for s, e in self.intermediates]
        lines += [f"∂{self.name}/∂{s} = {sympy.sstr(e)}" for s, e in self.equations]
        return "\n".join(lines)

    def markdown(self) -> str:
        """A Markdown list, one ``$...$`` equation per item, intermediates first."""
        items = [f"- where ${sympy.latex(s)} = {sympy.latex(e)}$" for s, e in self.intermediates]
        items += [f"- ${self._partial(s)} = {sympy.latex(e)}$" for s, e in self.equations]
        return "\n".join(items)

    def latex(self) -> str:
        """An ``align*`` environment, one equation per row, intermediates first."""
        rows = [
            rf"\text{{where }} {sympy.latex(s)} &= {sympy.latex(e)}" for s, e in self.intermediates
        ]
        rows += [rf"{self._partial(s)} &= {sympy.latex(e)}" for s, e in self.equations]
        return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"

    def _repr_latex_(self) -> str:
        return self.latex()

    def __str__(self) -> str:
        return self.text()

    def _partial(self, symbol: sympy.Symbol) -> str:
        f = sympy.latex(sympy.Symbol(self.name))
        return rf"\frac{{\partial {f}}}{{\partial {sympy.latex(symbol)}}}"


def gradient_equations(expr: sympy.Expr, wrt=None, name: str = "f") -> GradientEquations:
    """The simplified gradient of ``expr``, in named intermediates where that is shorter.

    Args:
        expr: a scalar SymPy expression.
        wrt: a symbol or a sequence of symbols (or their names); default: every free
            symbol of ``expr``, sorted by name.
        name: the function's name in the printed derivatives.

    Returns:
        A :class:`GradientEquations` with ``.text()``, ``.markdown()`` and ``.latex()``.

    Raises:
        UnknownSymbolError: a symbol in ``wrt`` does not occur in ``expr``.
        NoDerivativeRuleError: an operation on the path has no derivative rule.

    >>> import sympy
    >>> x, y = sympy.symbols("x y")
    >>> print(gradient_equations(x**2 * y).text())
    ∂f/∂x = 2*x*y
    ∂f/∂y = x**2
    """
    if isinstance(expr, str):
        raise TypeError("gradient_equations takes a SymPy expression; parse text first")
    expr = sympy.sympify(expr, strict=True)
    symbols = _symbols(expr, wrt)
    gradients = [_simplest(g) for g in grad(expr, symbols)] if symbols else []
    taken = {str(s) for s in expr.free_symbols} | {name}
    intermediates, gradients = _named_intermediates(gradients, taken)
    return GradientEquations(expr, name, list(zip(symbols, gradients, strict=True)), intermediates)


def text(obj, wrt=None, name: str = "f") -> str:
    """Plain text of ``obj``: its own ``.text()``, else its gradient equations.

    Args:
        obj: an object with a ``text`` method (a trace), or a scalar SymPy expression.
        wrt, name: as for :func:`gradient_equations` (used for expressions only).

    Returns:
        The text, one equation per line.

    Raises:
        SymgradError: as for :func:`gradient_equations`.
    """
    return _render(obj, "text", wrt, name)


def markdown(obj, wrt=None, name: str = "f") -> str:
    """Markdown of ``obj``: its own ``.markdown()``, else its gradient equations.

    Args:
        obj: an object with a ``markdown`` method, or a scalar SymPy expression.
        wrt, name: as for :func:`gradient_equations` (used for expressions only).

    Returns:
        Markdown with ``$...$`` math.

    Raises:
        SymgradError: as for :func:`gradient_equations`.
    """
    return _render(obj, "markdown", wrt, name)


def latex(obj, wrt=None, name: str = "f") -> str:
    """LaTeX of ``obj``: its own ``.latex()``, else its gradient equations.

    Args:
        obj: an object with a ``latex`` method, or a scalar SymPy expression.
        wrt, name: as for :func:`gradient_equations` (used for expressions only).

    Returns:
        LaTeX source (an ``align*`` environment for gradient equations).

    Raises:
        SymgradError: as for :func:`gradient_equations`.
    """
    return _render(obj, "latex", wrt, name)


def _render(obj, method: str, wrt, name: str) -> str:
    own = getattr(obj, method, None)
    if callable(own):
        return own()
    return getattr(gradient_equations(obj, wrt, name), method)()


def _symbols(expr: sympy.Expr, wrt) -> list[sympy.Symbol]:
    """``wrt`` as a list of the expression's own symbols (names are looked up).

    A symbol the expression does not contain is refused (a typo guard: its derivative, 0,
    is not worth an equation).
    """
    by_name = {s.name: s for s in expr.free_symbols}
    if wrt is None:
        return [by_name[n] for n in sorted(by_name)]
    if isinstance(wrt, (str, sympy.Basic)):
        wrt = [wrt]
    symbols = [by_name.get(w, sympy.Symbol(w)) if isinstance(w, str) else w for w in wrt]
    missing = [str(s) for s in symbols if s not in expr.free_symbols]
    if missing:
        have = ", ".join(sorted(by_name)) or "none"
        raise UnknownSymbolError(
            f"{', '.join(missing)} not in the expression (its symbols: {have})"
        )
    return symbols


def _simplest(g: sympy.Expr) -> sympy.Expr:
    """``g`` simplified (``cancel`` when large); whichever form has fewest operations.

    A high power is left alone: simplifying ``(x + 1)**999`` would expand it. So is a form
    in functions ``g`` does not have: tanh′ stays ``1 - tanh(u)**2``, as ``explain`` writes
    it, rather than becoming ``1/cosh(u)**2``.
    """
    if has_high_power(g):
        return g
    tidy = sympy.simplify(g) if sympy.count_ops(g) < SIMPLIFY_LIMIT else sympy.cancel(g)
    if not _functions(tidy) <= _functions(g):
        return g
    return min((tidy, g), key=sympy.count_ops)  # min keeps the first on a tie


def _functions(expr: sympy.Expr) -> set:
    """The kinds of function ``expr`` applies: ``{tanh}`` for ``x*(1 - tanh(w*x)**2)``."""
    return {type(f) for f in expr.atoms(sympy.Function)}


def has_high_power(expr: sympy.Expr) -> bool:
    """Whether ``expr`` holds an integer power above :data:`MAX_DEGREE`: factoring,
    cancelling or simplifying it expands a polynomial of that degree (minutes at 1000)."""
    return any(p.exp.is_Integer and abs(p.exp) > MAX_DEGREE for p in expr.atoms(sympy.Pow))


def _named_intermediates(gradients: list, taken: set) -> tuple[list, list]:
    """``(intermediates, gradients)``: the CSE form if clearly cheaper, else the plain one.

    Each intermediate costs its operations plus :data:`LINE_COST` (a line to read).
    """
    if not gradients:
        return [], gradients
    replacements, reduced = sympy.cse(gradients, symbols=sympy.numbered_symbols(cls=sympy.Dummy))
    replacements, reduced = _merge_duplicates(replacements, reduced)
    plain = sum(sympy.count_ops(g) for g in gradients)
    cost = sum(sympy.count_ops(e) + LINE_COST for _, e in replacements)
    cost += sum(sympy.count_ops(g) for g in reduced)
    if not replacements or cost >= CSE_RATIO * plain:
        return [], gradients
    fresh = map(sympy.Symbol, _fresh_names(taken))  # endless
    names = {s: next(fresh) for s, _ in replacements}
    intermediates = [(names[s], e.xreplace(names)) for s, e in replacements]
    return intermediates, [g.xreplace(names) for g in reduced]


def _merge_duplicates(replacements: list, reduced: list) -> tuple[list, list]:
    """Drop intermediates whose definition repeats an earlier one (``cse`` leaves some)."""
    first: dict = {}
    same: dict = {}
    kept = []
    for s, e in replacements:
        e = e.xreplace(same)
        if e in first:
            same[s] = first[e]
        else:
            first[e] = s
            kept.append((s, e))
    return kept, [g.xreplace(same) for g in reduced]


def _fresh_names(taken: set) -> Iterable[str]:
    """``u, v, w, p, q, r, s, t, u_1, u_2, ...`` minus the names in ``taken`` and the letters
    they are written with (no w beside w1, w2)."""
    letters = free_letters(INTERMEDIATE_NAMES, taken)
    for n in letters:
        if n not in taken:
            yield n
    for i in count(1):
        if f"{letters[0]}_{i}" not in taken:
            yield f"{letters[0]}_{i}"
