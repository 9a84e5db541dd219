"""Codegen → Numba stage: a scalar expression compiled into a generated, cached module.

:func:`compile_expr` is CasADi's ``Function`` for symgrad's scalar front end. It
rewrites the expression into its stable form with :func:`symgrad.stabilize.stable_form`
(``log(1 + e^z)`` → ``softplus(z)``, ``log σ(z)`` → ``log_sigmoid(z)``, ...; the list of
rewrites is kept as ``.rewrites`` and printed in the module's docstring), derives the
gradient of that form once with the reverse-mode engine and simplifies it (both through
:func:`symgrad.printing.gradient_equations`, so the module's header and ``.latex()``
print exactly what the code computes), runs ``sympy.cse`` over the value and the
gradients, and writes a module that imports math, numba and numpy only, with three
``@numba.njit(cache=True)`` functions of the inputs in order:

- ``value(a, b, c)`` → f;
- ``value_and_grad(a, b, c)`` → ``(f, (∂f/∂a, ∂f/∂b, ∂f/∂c))``;
- ``value_and_grad_many(A, B, C)`` over 1-D arrays → (values[m], gradients[m, n]).

The file is written with :func:`symgrad.codegen.files.ensure_module` (reused while its
hash matches, never silently trusted when edited) and imported from there, so Numba
caches the compiled code. The file's source hash covers the expression, the inputs, the
symgrad version and the code that shapes the module, so a reused file is never stale; a
reused file also skips the derivation. Imports :mod:`symgrad.printing`,
:mod:`symgrad.stabilize`, :mod:`symgrad.parsing` (text input), the codegen stage and the
errors (and reads the source of autodiff, rules and functions to hash it).
"""

from __future__ import annotations

import builtins
import keyword
import sys
from functools import cache, cached_property
from itertools import count
from pathlib import Path

import numpy as np
import sympy
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from symgrad import autodiff, functions, printing, rules, stabilize
from symgrad._version import __version__
from symgrad.codegen import kernels
from symgrad.codegen.files import check_file, digest, ensure_module, import_file, with_header
from symgrad.codegen.kernels import (
    KernelPrinter,
    docstring_safe,
    helper_source,
    njit_source,
)
from symgrad.errors import (
    EvaluationError,
    ParseError,
    ShapeError,
    SymgradError,
    UnknownSymbolError,
)
from symgrad.paths import DEFAULT_FOLDER
from symgrad.printing import GradientEquations, gradient_equations
from symgrad.reader import as_expression

#: Where modules are written unless a folder is given (relative to the current directory).
_ENTRIES = ("value", "value_and_grad", "value_and_grad_many")
#: Names an input cannot have in generated code (it is renamed x0, x1, ... instead).
_RESERVED = set(keyword.kwlist) | set(dir(builtins)) | {"math", "numba", "np"}
_RESERVED |= set(functions.PRIMITIVES) | set(_ENTRIES)


def compile_expr(
    expr, wrt=None, *, name: str | None = None, folder=None, overwrite: bool = False
) -> CompiledFunction:
    """Compile a scalar expression and its gradient into a cached Numba module.

    Args:
        expr: a scalar SymPy expression, or text (parsed by :mod:`symgrad.parsing`).
        wrt: the inputs in order: symbols or their names; default: every free symbol of
            ``expr``, sorted by name. Every free symbol must be an input.
        name: the module's name; default ``f_`` and 8 hex digits of a hash of the
            expression and the inputs.
        folder: where the module is written; default ``generated/`` in the current
            directory.
        overwrite: replace the file even when it was edited by hand.

    Returns:
        A :class:`CompiledFunction`, imported from its file.

    Raises:
        UnknownSymbolError: an input the expression does not contain, or a free symbol
            that is not an input.
        NoDerivativeRuleError: an operation without a derivative rule.
        SymgradError: no inputs, repeated inputs, or a function with no compilable form.
        GeneratedFileError: the file was edited by hand (and ``overwrite`` is not set).

    >>> import sympy, tempfile
    >>> a, b, c = sympy.symbols("a b c")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     j = compile_expr(3 * (a + b * c), folder=folder)
    ...     j(1, 2, 3), j.value_and_grad(1, 2, 3)
    (21.0, (21.0, (3.0, 9.0, 6.0)))
    """
    return CompiledFunction(expr, wrt, name=name, folder=folder, overwrite=overwrite)


class CompiledFunction:
    """A scalar expression, its gradient and the generated module that computes them.

    Call it for the value; ``value_and_grad`` and ``value_and_grad_many`` for gradients;
    ``source()`` is the module's text, ``generate(folder)`` writes it elsewhere,
    ``latex()`` prints the gradient equations the module computes.

    Attributes:
        expr: the expression as given; ``wrt``: the input symbols, in argument order.
        stable: the expression the module computes, naive formulas rewritten stably;
        rewrites: what was rewritten, one ``"before → after"`` line each (empty if none).
        name: the module's name; ``path``: its file; ``module``: the imported module.
        inputs: the argument names in the generated code (a symbol's own name when it
            is a plain Python identifier, else ``x0``, ``x1``, ...).
    """

    def __init__(self, expr, wrt=None, *, name=None, folder=None, overwrite=False):
        self.expr = _as_expr(expr)
        self.stable, self.rewrites = stabilize.stable_form(self.expr)
        self.wrt = _inputs(self.expr, wrt)
        self.inputs = _argument_names(self.wrt)
        identity = f"{sympy.srepr(self.expr)}\n{sympy.srepr(self.wrt)}"
        self.source_hash = digest(
            f"symgrad {__version__}\n{_generator()}\n{rules.fingerprint()}\n{identity}"
        )
        self.name = name or f"f_{digest(identity)[:8]}"
        if not self.name.isidentifier():
            raise SymgradError(f"module name {self.name!r} is not a Python identifier")
        folder = DEFAULT_FOLDER if folder is None else folder
        self.path = self.generate(folder, overwrite=overwrite)
        self.module = import_file(self.path)

    # ---- the derivation and the module's text (only when a file must be written) ----
    @cached_property
    def equations(self) -> GradientEquations:
        """The simplified gradient of the stable form, as printed and as compiled."""
        return gradient_equations(self.stable, list(self.wrt), name="f")

    @cached_property
    def _body(self) -> str:
        return _module_body(self, self.equations)

    def source(self) -> str:
        """The generated module's text, hash header included (deterministic)."""
        return with_header(self._body, self.source_hash)

    def generate(self, folder, *, overwrite: bool = False) -> Path:
        """Write the module to ``folder/<name>.py`` (kept if its hash matches); its path.

        Raises:
            GeneratedFileError: the file there was edited by hand (unless ``overwrite``).
        """
        path = Path(folder) / f"{self.name}.py"
        if not overwrite and path.exists() and check_file(path) == self.source_hash:
            return path  # no derivation needed: the intact file is this function's
        return ensure_module(folder, self.name, self._body, self.source_hash, overwrite=overwrite)

    def latex(self) -> str:
        """The gradient equations in LaTeX (an ``align*`` environment)."""
        return self.equations.latex()

    def _repr_latex_(self) -> str:
        return self.latex()

    # ---- calling ---------------------------------------------------------------------
    def __call__(self, *args) -> float:
        """The value at one point (one number per input)."""
        return float(self._run("value", self._point(args)))

    def value_and_grad(self, *args) -> tuple[float, tuple[float, ...]]:
        """``(f, (∂f/∂x for each input))`` at one point."""
        f, g = self._run("value_and_grad", self._point(args))
        return float(f), tuple(float(v) for v in g)

    def value_and_grad_many(self, *arrays) -> tuple[np.ndarray, np.ndarray]:
        """Values (m,) and gradients (m, n) at m points, one 1-D array per input.

        Scalars broadcast against the arrays.

        Raises:
            ShapeError: arrays that are not 1-D or do not have one length.
        """
        self._check_count(arrays)
        try:
            columns = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in arrays))
        except ValueError:
            shapes = ", ".join(str(np.shape(x)) for x in arrays)
            raise ShapeError(f"{self.name}: inputs of different lengths ({shapes})") from None
        if columns[0].ndim != 1:
            raise ShapeError(f"{self.name}: inputs must be 1-D, got shape {columns[0].shape}")
        return self._run("value_and_grad_many", [np.ascontiguousarray(x) for x in columns])

    def _check_count(self, args) -> None:
        if len(args) != len(self.wrt):
            names = ", ".join(map(str, self.wrt))
            raise SymgradError(
                f"{self.name} takes {len(self.wrt)} input{'s' * (len(self.wrt) != 1)} "
                f"({names}), got {len(args)}"
            )

    def _point(self, args) -> list[float]:
        self._check_count(args)
        try:
            return [float(x) for x in args]
        except (TypeError, ValueError) as e:
            raise SymgradError(f"{self.name}: inputs must be numbers ({e})") from None

    def _run(self, entry: str, args: list):
        try:
            return getattr(self.module, entry)(*args)
        except ZeroDivisionError:
            at = ", ".join(f"{s}={x}" for s, x in zip(self.wrt, args, strict=True))
            where = f" at {at}" if entry != "value_and_grad_many" else ""
            raise EvaluationError(f"{self.name}: division by zero{where}") from None

    def __repr__(self) -> str:
        return f"<CompiledFunction {self.name}({', '.join(map(str, self.wrt))}) = {self.expr}>"


@cache
def _generator() -> str:
    """A hash of the code that shapes a generated body, so changing it regenerates files."""
    shaping = (sys.modules[__name__], kernels, printing, rules, autodiff, stabilize)
    shaping += (functions, functions.builtins, functions.primitive)
    return digest("".join(Path(m.__file__).read_text() for m in shaping))


# ---- inputs ----------------------------------------------------------------------------
def _as_expr(expr) -> sympy.Expr:
    try:
        expr = as_expression(expr).doit()
    except ParseError:
        if isinstance(expr, str):
            raise
        expr = None
    if not isinstance(expr, sympy.Expr) or isinstance(expr, sympy.MatrixBase):
        raise SymgradError(f"compile_expr takes a scalar expression, got {type(expr).__name__}")
    return expr


def _inputs(expr: sympy.Expr, wrt) -> tuple:
    """``wrt`` as a tuple of the expression's symbols; every free symbol must be in it."""
    free = sorted(expr.free_symbols, key=lambda s: (s.name, sympy.srepr(s)))
    if wrt is None:
        symbols = free
    else:
        by_name = {s.name: s for s in free}
        if isinstance(wrt, (str, sympy.Basic)):
            wrt = [wrt]
        symbols = [by_name.get(w, sympy.Symbol(w)) if isinstance(w, str) else w for w in wrt]
        bad = [repr(s) for s in symbols if not isinstance(s, sympy.Symbol)]
        if bad:
            raise SymgradError(f"inputs must be symbols, got {', '.join(bad)}")
        if len(set(symbols)) != len(symbols):
            raise SymgradError(f"an input appears twice in {', '.join(map(str, symbols))}")
        have = ", ".join(map(str, free)) or "none"
        missing = [str(s) for s in symbols if s not in expr.free_symbols]
        if missing:
            raise UnknownSymbolError(
                f"{', '.join(missing)} not in the expression (its symbols: {have})"
            )
        extra = [str(s) for s in free if s not in symbols]
        if extra:
            raise UnknownSymbolError(
                f"the expression's symbol{'s' * (len(extra) > 1)} {', '.join(extra)} "
                f"must be inputs too: wrt={[str(s) for s in free]}"
            )
    if not symbols:
        raise SymgradError(f"nothing to compile: {expr} has no input symbols")
    return tuple(symbols)


def _argument_names(symbols: tuple) -> list[str]:
    """A Python identifier per input: its name, or a fresh ``x<i>`` when that is unusable."""
    taken = {s.name for s in symbols}
    used: set[str] = set()
    fresh = (f"x{i}" for i in count() if f"x{i}" not in taken)
    names = []
    for s in symbols:
        n = s.name
        if not (n.isascii() and n.isidentifier()) or n in _RESERVED or n.startswith("_"):
            n = next(fresh)
        elif n in used:  # two symbols with one name (different assumptions)
            n = next(fresh)
        used.add(n)
        names.append(n)
    return names


def _array_names(names: list[str]) -> list[str]:
    """``A, B, C`` for inputs ``a, b, c`` when that is unambiguous, else ``_a_array``, ..."""
    upper = [n.upper() for n in names]
    clash = set(upper) & (set(names) | _RESERVED) or len(set(upper)) != len(upper)
    if clash or any(u == n for u, n in zip(upper, names, strict=True)):
        return [f"_{n}_array" for n in names]
    return upper


# ---- the module --------------------------------------------------------------------------
def _inline(equations: GradientEquations) -> list[sympy.Expr]:
    """The gradients with the printed intermediates (u, v, ...) substituted back."""
    subs: dict = {}
    for s, e in equations.intermediates:
        subs[s] = e.xreplace(subs)
    return [g.xreplace(subs) for _, g in equations.equations]


def _cse(exprs: list) -> tuple[list, list]:
    """``sympy.cse`` over ``exprs`` with temporaries ``_t0, _t1, ...``."""
    return sympy.cse(exprs, symbols=sympy.numbered_symbols("_t"))


def _print(exprs: list, printer: KernelPrinter) -> list[str]:
    """Each expression as Numba-compilable code.

    Raises:
        SymgradError: an expression with a function that has no compilable form.
    """
    try:
        code = [printer.doprint(e) for e in exprs]
    except PrintMethodNotImplementedError:
        raise SymgradError(_unprintable(exprs)) from None
    others = set(printer.module_imports) - {"math"}
    if others:
        raise SymgradError(f"cannot compile: the code would need {', '.join(sorted(others))}")
    return code


def _unprintable(exprs: list) -> str:
    bad = set()
    for f in set().union(*(e.atoms(sympy.Function, sympy.Derivative) for e in exprs)):
        try:
            KernelPrinter().doprint(f)
        except PrintMethodNotImplementedError:
            bad.add(type(f).__name__ if isinstance(f, sympy.Function) else str(f))
    names = ", ".join(sorted(bad)) or "an expression"
    return (
        f"cannot compile {names}: no Numba form (compilable: arithmetic, Python's math "
        f"functions and {', '.join(sorted(functions.PRIMITIVES))})"
    )


def _needed(replacements: list, result: sympy.Expr) -> list:
    """The temporaries ``result`` uses, directly or through other temporaries, in order."""
    need = set(result.free_symbols)
    kept = []
    for t, e in reversed(replacements):
        if t in need:
            kept.append((t, e))
            need |= e.free_symbols
    return kept[::-1]


def _docstring(compiled: CompiledFunction, equations: GradientEquations) -> str:
    wrt, names = compiled.wrt, compiled.inputs
    args = ", ".join(names)
    partials = ", ".join(f"∂f/∂{s}" for s in wrt)
    lines = [
        f"Generated by symgrad {__version__} — do not edit (the body hash above is checked).",
        "",
        f"f({args}) = {sympy.sstr(compiled.expr)}",
    ]
    if compiled.rewrites:
        lines.append(f"  computed as {sympy.sstr(compiled.stable)}")
        lines.append("Rewritten for numerical stability:")
        lines += [f"  {line}" for line in compiled.rewrites]
    renamed = [f"{n} = {s}" for s, n in zip(wrt, names, strict=True) if n != s.name]
    if renamed:
        lines.append(f"Inputs renamed in the code: {', '.join(renamed)}")
    lines += [
        "",
        *equations.text().splitlines(),
        "",
        f"value({args}) -> f",
        f"value_and_grad({args}) -> (f, ({partials}{',' * (len(wrt) == 1)}))",
        f"value_and_grad_many({', '.join(_array_names(names))}) -> "
        f"(values[m], gradients[m, {len(wrt)}]) at m points",
    ]
    text = docstring_safe("\n".join(lines))
    return f'"""{text}\n"""'


def _module_body(compiled: CompiledFunction, equations: GradientEquations) -> str:
    """The module's text without the hash header (deterministic)."""
    wrt, names, stable = compiled.wrt, compiled.inputs, compiled.stable
    rename = {s: sympy.Symbol(n) for s, n in zip(wrt, names, strict=True)}
    replacements, reduced = _cse([e.xreplace(rename) for e in [stable, *_inline(equations)]])
    value_temps = _needed(replacements, reduced[0])
    printer = KernelPrinter()
    code = _print([*(e for _, e in replacements), *reduced], printer)
    temps = {t: f"{t} = {c}" for (t, _), c in zip(replacements, code, strict=False)}
    f, *grads = code[len(replacements) :]
    value_lines = [temps[t] for t, _ in value_temps]
    args, arrays = ", ".join(names), _array_names(names)
    comma = "," * (len(grads) == 1)
    partials = ", ".join(f"∂f/∂{s}" for s in wrt)
    loop = [f"{n} = {a}[_k]" for n, a in zip(names, arrays, strict=True)]
    loop += [
        *temps.values(),
        f"_values[_k] = {f}",
        *(f"_grads[_k, {j}] = {g}" for j, g in enumerate(grads)),
    ]
    parts = [
        _docstring(compiled, equations) + "\n\nimport math\n\nimport numba\nimport numpy as np",
        helper_source(printer.helpers) if printer.helpers else "",
        njit_source(f"value({args})", "f at one point.", [*value_lines, f"return {f}"]),
        njit_source(
            f"value_and_grad({args})",
            f"(f, ({partials}{comma})) at one point.",
            [*temps.values(), f"return {f}, ({', '.join(grads)}{comma})"],
        ),
        njit_source(
            f"value_and_grad_many({', '.join(arrays)})",
            "f and its gradient at m points (1-D arrays): (values[m], gradients[m, n]).",
            [
                f"_m = {arrays[0]}.shape[0]",
                "_values = np.empty(_m)",
                f"_grads = np.empty((_m, {len(grads)}))",
                "for _k in range(_m):",
                *(f"    {line}" for line in loop),
                "return _values, _grads",
            ],
        ),
    ]
    return "\n\n\n".join(part.rstrip() for part in parts if part) + "\n"
