"""Codegen stage: scalar kernels as Numba-compilable Python source.

SymPy's ``PythonCodePrinter`` prints standard functions as ``math.*`` calls; our
primitives print themselves (``_numbacode``, ``_numpykernelcode``) as calls of small
helpers whose source is emitted into the generated module: the primitive's own stable
source where it has one (σ never overflows, softplus and log σ go through ``log1p``), else
its formula printed by the same printers. Only the helpers a module uses are emitted.
"""

from __future__ import annotations

import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from symgrad import functions as F
from symgrad.functions.primitive import NUMPY_EXTRAS, formula_symbols


def _constant(printer, expr) -> str | None:
    """A program's constant (a symbol with a value) as its number, else None."""
    value = printer.constants.get(expr)
    return None if value is None else repr(float(value))


class KernelPrinter(PythonCodePrinter):
    """Prints kernels for Numba; records which primitives' helpers they call.
    ``constants`` (symbol -> value) are printed as their numbers."""

    printmethod = "_numbacode"

    def __init__(self, constants: dict | None = None):
        super().__init__({"fully_qualified_modules": True})
        self.helpers: set[type] = set()
        self.constants = dict(constants or {})

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


def njit_source(signature: str, doc: str, body: list[str], *, inline: bool = False) -> str:
    """Source of one ``@numba.njit(cache=True)`` function (blank body lines stay blank).

    ``inline``: Numba inlines its body into each caller, so the training step is optimized
    once inside the loop that runs it, not once alone and again where it is linked in (a
    cold first fit compiled in 0.80× the time, median of 3, 2-16-1 network)."""
    options = 'cache=True, inline="always"' if inline else "cache=True"
    return f"@numba.njit({options})\n" + def_source(signature, doc, body)


def helper_source(helpers) -> str:
    """The ``@njit`` helpers of the primitives ``helpers`` and of those their formulas call,
    in a fixed order (generation is deterministic)."""
    sources = _closure(helpers, lambda cls: cls.numba_source, KernelPrinter, "")
    return "\n\n\n".join(f"@numba.njit(cache=True)\n{sources[n]}" for n in sorted(sources))


def _closure(helpers, given, printer_class, prefix: str) -> dict:
    """Source by name of each primitive in ``helpers``: ``given(cls)``, else its formula
    printed by ``printer_class``, whose calls of further helpers join the set."""
    sources, pending = {}, list(helpers)
    while pending:
        cls = pending.pop()
        if isinstance(cls, str):  # a NumPy stand-in (``_np_erf``), not a primitive
            sources[cls] = _NUMPY_STANDINS[cls]
            continue
        name = cls.__name__
        if name in sources:
            continue
        if given(cls) is not None:
            sources[name] = given(cls)
            continue
        printer = printer_class()
        params = formula_symbols(cls)
        formula = cls.formula(*params)
        doc = docstring_safe(f"{cls.text_name}({', '.join(map(str, params))}) = {formula}.")
        sources[name] = (
            f"def {prefix}{name}({', '.join(map(str, params))}):\n"
            f'    """{doc}"""\n'
            f"    return {printer.doprint(formula)}"
        )
        pending.extend(printer.helpers)
    return sources


#: NumPy stand-ins for SymPy functions NumPy lacks (the names of
#: :data:`symgrad.functions.primitive.NUMPY_EXTRAS`), as source for generated modules.
_NUMPY_STANDINS = {
    name: f"_np_{name} = np.vectorize(math.{name}, otypes=[float])" for name in NUMPY_EXTRAS
}

#: Functions that are slow in Numba without SVML (and fast in NumPy 2's SIMD ufuncs).
TRANSCENDENTAL = (
    sympy.exp,
    sympy.log,
    sympy.tanh,
    *(cls for cls in F.PRIMITIVES.values() if cls.transcendental),
)


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
