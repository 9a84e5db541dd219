"""Codegen → Numba stage: a scalar expression compiled, loaded and called.

:func:`compile_expr` is CasADi's ``Function`` for symgrad's scalar front end: a
:class:`CompiledFunction` checks the expression and its inputs, rewrites the expression
into its stable form with :func:`symgrad.derive.stabilize.stable_form` (``log(1 + e^z)`` →
``softplus(z)``, ``log σ(z)`` → ``log_sigmoid(z)``, ...; the list of rewrites is kept as
``.rewrites`` and printed in the module's docstring), derives the gradient of that form
once with the reverse-mode engine and simplifies it (both through
:func:`symgrad.show.printing.gradient_equations`, so the module's header and ``.latex()`` print
exactly what the code computes), has :mod:`symgrad.codegen.scalar_source` write the
module's text, and calls the module's functions with checked arguments.

The file is written with :func:`symgrad.codegen.files.ensure_module` (reused while its
hash matches, never silently trusted when edited) and imported from there, so Numba
caches the compiled code. The file's source hash covers the expression, the inputs, the
symgrad version and the code that shapes the module, so a reused file is never stale; a
reused file also skips the derivation. Imports :mod:`symgrad.show.printing`,
:mod:`symgrad.derive.stabilize`, :mod:`symgrad.read.reader` (text input), the codegen stage and the
errors (and reads the source of autodiff, rules and functions to hash it).
"""

from __future__ import annotations

import sys
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import sympy

from symgrad import functions
from symgrad._version import __version__
from symgrad.codegen import kernels, scalar_source
from symgrad.codegen.files import check_file, digest, ensure_module, import_file, with_header
from symgrad.codegen.scalar_source import argument_names, module_body
from symgrad.derive import stabilize
from symgrad.engine import autodiff, rules
from symgrad.errors import (
    EvaluationError,
    ParseError,
    ShapeError,
    SymgradError,
    UnknownSymbolError,
)
from symgrad.paths import DEFAULT_FOLDER
from symgrad.read.reader import as_expression
from symgrad.show import printing
from symgrad.show.printing import GradientEquations, gradient_equations


def compile_expr(
    expr, wrt=None, *, name: str | None = None, folder=None, overwrite: bool = False
) -> CompiledFunction:
    """Compile a scalar expression and its gradient into a cached Numba module.

    Args:
        expr: a scalar SymPy expression, or text (parsed by :mod:`symgrad.read.parsing`).
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
        self.inputs = argument_names(self.wrt)
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
        return module_body(self, self.equations)

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
    shaping = (sys.modules[__name__], scalar_source, kernels, printing, rules, autodiff, stabilize)
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
