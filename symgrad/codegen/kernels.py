"""Codegen stage: scalar kernels as Numba-compilable Python source.

SymPy's ``PythonCodePrinter`` prints standard functions as ``math.*`` calls; our
primitives print themselves (``_numbacode``, ``_numpykernelcode``) as calls of small
helpers whose source is emitted into the generated module: the primitive's own stable
source where it has one (σ never overflows, softplus and log σ go through ``log1p``), else
its formula printed by the same printers. Only the helpers a module uses are emitted.
"""

from __future__ import annotations

from functools import cache

import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from symgrad.codegen.vector_math import VECTOR_MATH, vector_math_source
from symgrad.functions.primitive import NUMPY_EXTRAS, Primitive, formula_symbols


def _constant(printer, expr) -> str | None:
    """A program's constant (a symbol with a value) as its number, else None."""
    value = printer.constants.get(expr)
    return None if value is None else repr(float(value))


class KernelPrinter(PythonCodePrinter):
    """Prints kernels for Numba; records which primitives' helpers they call.
    ``constants`` (symbol -> value) are printed as their numbers. With ``vector_math``,
    exp, expm1, log, log1p and tanh print as calls of :mod:`symgrad.codegen.vector_math`'s
    functions (recorded among the helpers by name), so that loops over them vectorize."""

    printmethod = "_numbacode"

    def __init__(self, constants: dict | None = None, *, vector_math: bool = False):
        super().__init__({"fully_qualified_modules": True})
        self.helpers: set = set()
        self.constants = dict(constants or {})
        self.vector_math = vector_math

    def _print_Function(self, expr):
        name = f"_{type(expr).__name__}"
        if self.vector_math and name in VECTOR_MATH and len(expr.args) == 1:
            self.helpers.add(name)
            return f"{name}({self._print(expr.args[0])})"
        return super()._print_Function(expr)

    _print_exp = _print_log = _print_tanh = _print_log1p = _print_expm1 = _print_Function

    def _print_Symbol(self, expr):
        return _constant(self, expr) or super()._print_Symbol(expr)

    def _print_Rational(self, expr):
        return f"{float(expr)!r}"

    def _print_Integer(self, expr):
        return f"{float(expr)!r}"

    def _print_Pow(self, expr, rational=False):
        # x**2 stays a power (Numba lowers integer powers to multiplications): written as
        # ``x * x`` it would lose its parentheses in ``y/x**2``.
        if expr.exp.is_Integer:
            base = self.parenthesize(expr.base, PRECEDENCE["Pow"], strict=True)
            if expr.exp < 0:  # Numba's int**negative int is an int (B**-1 == 0): divide floats
                power = base if expr.exp == -1 else f"{base}**{-int(expr.exp)}"
                return f"(1.0 / {power})"
            return f"{base}**{int(expr.exp)}"
        if expr.exp == sympy.Rational(1, 2):
            return f"math.sqrt({self._print(expr.base)})"
        return super()._print_Pow(expr, rational)


def docstring_safe(text: str) -> str:
    """``text`` safe inside a triple-quoted string (symbol names may hold ``\\``)."""
    return text.replace("\\", "\\\\").replace('"""', r"\"\"\"")


def def_source(signature: str, doc: str, body: list[str]) -> str:
    """Source of one plain Python function (blank body lines stay blank)."""
    doc = docstring_safe(doc)
    lines = "\n".join("    " + line if line else line for line in body)
    return f'def {signature}:\n    """{doc}"""\n{lines}\n'


def njit_source(
    signature: str, doc: str, body: list[str], *, inline: bool = False, numpy_errors: bool = False
) -> str:
    """Source of one ``@numba.njit(cache=True)`` function (blank body lines stay blank).

    ``inline``: Numba inlines its body into each caller, so the training step is optimized
    once inside the loop that runs it, not once alone and again where it is linked in (a
    cold first fit compiled in 0.80× the time, median of 3, 2-16-1 network).
    ``numpy_errors``: NumPy's error model, where a division by zero gives inf or NaN (which
    the training loop reports) instead of raising; Python's model puts a check before every
    division, and a loop with an exit in it does not vectorize."""
    options = "cache=True" + ', inline="always"' * inline + ', error_model="numpy"' * numpy_errors
    return f"@numba.njit({options})\n" + def_source(signature, doc, body)


def helper_source(helpers, *, vector_math: bool = False) -> str:
    """The ``@njit`` helpers of the primitives ``helpers`` and of those their formulas call,
    in a fixed order (generation is deterministic).

    ``vector_math``: the helpers call :mod:`~symgrad.codegen.vector_math`'s functions, in
    NumPy's error model (a network's module; its loops print primitives in their stable
    forms instead of calling these helpers, see ``codegen.emit``)."""
    sources = _closure(
        helpers, lambda cls: cls.numba_source, lambda: KernelPrinter(vector_math=vector_math), ""
    )
    math_names = sorted(n for n in sources if n in VECTOR_MATH)
    options = 'cache=True, error_model="numpy"' if vector_math else "cache=True"
    helper_names = sorted(n for n in sources if n not in VECTOR_MATH)
    return "\n\n\n".join(
        [
            *vector_math_source(math_names),
            *(f"@numba.njit({options})\n{sources[n]}" for n in helper_names),
        ]
    )


def _closure(helpers, given, make_printer, prefix: str) -> dict:
    """Source by name of each primitive in ``helpers``: ``given(cls)``, else its stable form
    (or its formula) printed by ``make_printer()``, whose calls of further helpers join the
    set. Names are functions the printer calls that are not primitives: NumPy stand-ins
    (``erf``) or vector math (``_exp``), whose sources their own modules give."""
    sources, pending = {}, list(helpers)
    while pending:
        cls = pending.pop()
        if isinstance(cls, str):
            sources[cls] = VECTOR_MATH[cls][0] if cls in VECTOR_MATH else _NUMPY_STANDINS[cls]
            continue
        name = cls.__name__
        if name in sources:
            continue
        if given(cls) is not None:
            sources[name] = given(cls)
            continue
        printer = make_printer()
        params = formula_symbols(cls)
        formula = cls.formula(*params)
        computed = cls.stable(*params) if cls.stable is not None else formula
        doc = docstring_safe(f"{cls.text_name}({', '.join(map(str, params))}) = {formula}.")
        sources[name] = (
            f"def {prefix}{name}({', '.join(map(str, params))}):\n"
            f'    """{doc}"""\n'
            f"    return {printer.doprint(computed)}"
        )
        pending.extend(printer.helpers)
    return sources


#: NumPy stand-ins for SymPy functions NumPy lacks (the names of
#: :data:`symgrad.functions.primitive.NUMPY_EXTRAS`), as source for generated modules.
_NUMPY_STANDINS = {
    name: f"_np_{name} = np.vectorize(math.{name}, otypes=[float])" for name in NUMPY_EXTRAS
}


def stable_form(expr):
    """``expr`` with each primitive that has a stable SymPy form written in that form (and
    what that form calls, in turn), so that code printed from it needs no helpers."""
    while True:
        expanded = expr.replace(
            lambda e: isinstance(e, Primitive) and type(e).stable is not None,
            lambda e: type(e).stable(*e.args),
        )
        if expanded == expr:
            return expr
        expr = expanded


#: SymPy functions that Numba computes with one libm call per entry (they have no form in
#: :mod:`~symgrad.codegen.vector_math`).
SCALAR_ONLY = (sympy.erf, sympy.erfc)


def slow_in_numba(expr) -> bool:
    """Whether a loop over ``expr`` calls libm for each entry (NumPy's ufuncs are then faster
    on big arrays): it calls erf/erfc, or a primitive whose helper does."""
    return expr.has(*SCALAR_ONLY) or any(_slow_primitive(type(f)) for f in expr.atoms(Primitive))


@cache
def _slow_primitive(cls) -> bool:
    if cls.numba_source is not None:  # hand-written: math.* calls wherever it is transcendental
        return cls.transcendental
    params = formula_symbols(cls)
    return slow_in_numba(cls.stable(*params) if cls.stable is not None else cls.formula(*params))


class NumpyKernelPrinter(NumPyPrinter):
    """Prints kernels as NumPy array expressions (``np.*``, ``_np_<helper>``), ``constants``
    as their numbers."""

    def __init__(self, constants: dict | None = None):
        super().__init__()
        self.printmethod = "_numpykernelcode"  # NumPyPrinter sets its own in __init__
        self.helpers: set = set()
        self.constants = dict(constants or {})

    def _print_Symbol(self, expr):
        return _constant(self, expr) or super()._print_Symbol(expr)

    def _print_Min(self, expr):
        return self._nested("np.minimum", expr.args)

    def _print_Max(self, expr):
        return self._nested("np.maximum", expr.args)

    def _nested(self, ufunc: str, args) -> str:
        """``ufunc(a, ufunc(b, c))``: SymPy's printer reduces with functools, not imported."""
        first = self._print(args[0])
        return first if len(args) == 1 else f"{ufunc}({first}, {self._nested(ufunc, args[1:])})"

    def _print_erf(self, expr):
        return self._standin(expr)

    def _print_erfc(self, expr):
        return self._standin(expr)

    def _standin(self, expr) -> str:
        name = type(expr).__name__
        self.helpers.add(name)
        return f"_np_{name}({self._print(expr.args[0])})"

    def doprint(self, expr, assign_to=None):
        return super().doprint(expr, assign_to).replace("numpy.", "np.")


def numpy_helper_source(helpers) -> str:
    """The plain NumPy helpers of ``helpers`` and of what they call, in a fixed order."""
    sources = _closure(helpers, lambda cls: cls.numpy_source, NumpyKernelPrinter, "_np_")
    return "\n\n\n".join(sources[n] for n in sorted(sources))
