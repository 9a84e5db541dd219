"""Scalar primitives: the scalar primitive, one definition carrying everything every stage needs.

A :class:`Primitive` is a ``sympy.Function`` subclass whose class body (or one call of
:func:`function`) holds the function's formula or derivative (``fdiff``, in terms of its own
output where that is the textbook form), its printed forms through SymPy's printmethod
protocol (``_latex``; ``_unicode`` for the lecture-notation printers; ``_numbacode`` and
``_numpykernelcode`` for the code printers), its NumPy implementation and, where the formula
alone is not numerically stable, the source of its Numba and NumPy helpers, and its kink.
Codegen prints the helpers of a primitive given only a formula from that formula. Imports
SymPy and NumPy only.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import sympy
from mpmath.libmp import prec_to_dps

#: ``math.erf`` and ``math.erfc`` over arrays (NumPy has neither; symgrad needs no SciPy).
np_erf = np.vectorize(math.erf, otypes=[float])
np_erfc = np.vectorize(math.erfc, otypes=[float])
#: NumPy stand-ins for SymPy functions NumPy lacks, for ``lambdify``.
NUMPY_EXTRAS = {"erf": np_erf, "erfc": np_erfc}


class Primitive(sympy.Function):
    """A scalar function defined once; subclasses set the class attributes below.

    ``formula(x, ...)`` is the function in SymPy's standard functions (its numbers' values,
    ``evalf``, and, when ``fdiff`` is not overridden, its derivative come from it).
    ``stable(x, ...)`` is the function in a form that is numerically stable in floating
    point (SymPy's ``Piecewise``, ``Abs``, ``Min``/``Max``, ``log1p``, ``expm1``), which the
    code printers print where the formula would overflow or cancel; ``numba_source`` and
    ``numpy_source``, the sources of ``def <name>(...)`` and ``def _np_<name>(...)``, are
    for what no SymPy form says (without any of them codegen prints the formula). ``kink``
    names a kink where the first argument is 0 (for check), ``activation`` puts the function
    among the network's activation names with extra arguments read from the layer's
    attributes named in ``parameters``. ``init_gain`` is the variance gain of the weights
    feeding the function (He's 2 for ReLU); left None, :meth:`gain` works it out from the
    function's shape.
    """

    formula: ClassVar[Callable | None] = None
    latex_name: ClassVar[str | None] = None
    text_name: ClassVar[str | None] = None
    numpy_impl: ClassVar[Callable]
    stable: ClassVar[Callable | None] = None
    numba_source: ClassVar[str | None] = None
    numpy_source: ClassVar[str | None] = None
    kink: ClassVar[str | None] = None
    init_gain: ClassVar[float | None] = None
    transcendental: ClassVar[bool] = False
    activation: ClassVar[bool] = False
    parameters: ClassVar[tuple[str, ...]] = ()
    aliases: ClassVar[tuple[str, ...]] = ()
    public: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.latex_name is None:
            cls.latex_name = rf"\operatorname{{{cls.__name__}}}"
        if cls.text_name is None:
            named = re.fullmatch(r"\\operatorname\{(\w+)\}", cls.latex_name)
            cls.text_name = named.group(1) if named else cls.__name__
        if "numpy_impl" in cls.__dict__:
            cls._imp_ = cls.__dict__["numpy_impl"]  # lambdify's hook: numbers without a table

    @classmethod
    def gain(cls) -> float:
        """The weights' variance gain: ``init_gain``, else 2 for a ReLU-like function (like x
        far right, flat far left: GELU, SiLU, ELU, softplus), else 1 (Glorot/LeCun)."""
        if cls.init_gain is not None:
            return cls.init_gain
        far = 1e6
        with np.errstate(all="ignore"):
            right, left = (float(cls.numpy_impl(np.float64(x))) / x for x in (far, -far))
        return 2.0 if abs(right - 1) < 1e-3 and abs(left) < 1e-3 else 1.0

    @classmethod
    def eval(cls, *args):
        if cls.formula is not None and all(a.is_Number for a in args):
            return cls.formula(*args)
        return None

    def fdiff(self, argindex=1):
        """∂f/∂(argument ``argindex``), from ``sympy.diff`` of the (small) formula."""
        if type(self).formula is None:
            raise sympy.ArgumentIndexError(self, argindex)
        params = formula_symbols(type(self))
        d = sympy.diff(type(self).formula(*params), params[argindex - 1])
        return d.xreplace(dict(zip(params, self.args, strict=True)))

    def _eval_evalf(self, prec):
        # SymPy's default looks for an mpmath function of the class's name (softplus has none)
        if type(self).formula is not None and all(arg.is_number for arg in self.args):
            return type(self).formula(*self.args).evalf(prec_to_dps(prec))
        return None

    def _latex(self, printer, exp=None):
        args = ", ".join(printer._print(a) for a in self.args)
        base = rf"{self.latex_name}\left({args}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"

    def _unicode(self, printer):
        """The lecture's notation in plain text (``σ(z)``, ``ReLU(z)``)."""
        return f"{self.text_name}({', '.join(printer._print(a) for a in self.args)})"

    def _numbacode(self, printer):
        """A call of the module's ``@njit`` helper, which the printer records."""
        printer.helpers.add(type(self))
        return f"{type(self).__name__}({', '.join(printer._print(a) for a in self.args)})"

    def _numpykernelcode(self, printer):
        """A call of the module's NumPy helper ``_np_<name>``, which the printer records."""
        printer.helpers.add(type(self))
        return f"_np_{type(self).__name__}({', '.join(printer._print(a) for a in self.args)})"


def formula_symbols(cls) -> tuple:
    """Real symbols named after the parameters of ``cls.formula`` (``x`` for ``lambda x:``)."""
    names = inspect.signature(cls.formula).parameters
    return tuple(sympy.Symbol(name, real=True) for name in names)


def function(
    name: str,
    formula: Callable,
    *,
    latex: str | None = None,
    text: str | None = None,
    derivative: Callable | None = None,
    numpy: Callable | None = None,
    stable: Callable | None = None,
    numba_source: str | None = None,
    numpy_source: str | None = None,
    kink: str | None = None,
    activation: bool = True,
    gain: float | None = None,
) -> type[Primitive]:
    """A new scalar primitive from its formula, in one call.

    Args:
        name: the function's name (how it prints in code and in ``str``).
        formula: ``lambda x, ...: <SymPy expression>`` in standard functions.
        latex: its LaTeX head (default ``\\operatorname{name}``); ``text`` its Unicode
            head in the notes (default: the ``\\operatorname`` name, else ``name``).
        derivative: ``lambda x, ..., out: ∂f/∂x`` (a tuple for several arguments) in terms
            of the output ``out``; default ``sympy.diff`` of the formula (give one for a
            formula with a kink: SymPy's answers ``Heaviside(0) = 1/2`` where symgrad's
            convention is a one-sided derivative).
        numpy: a stable NumPy implementation; default the formula through ``lambdify``.
        stable: ``lambda x, ...:`` a numerically stable SymPy form for code (see
            :class:`Primitive`); numba_source, numpy_source: helper sources for what no
            SymPy form says.
        kink: a name for check's reports if the function has a kink at 0.
        gain: the initial weights' variance gain (default: see :meth:`Primitive.gain`).

    >>> import sympy
    >>> gelu = function("gelu", lambda x: x / 2 * (1 + sympy.erf(x / sympy.sqrt(2))),
    ...                 latex=r"\\operatorname{GELU}")
    >>> sympy.latex(gelu(sympy.Symbol("z")))
    '\\\\operatorname{GELU}\\\\left(z\\\\right)'
    """
    n = len(inspect.signature(formula).parameters)
    body = {
        "nargs": n,
        "formula": staticmethod(formula),
        "latex_name": latex,
        "text_name": text,
        "stable": None if stable is None else staticmethod(stable),
        "numba_source": numba_source,
        "numpy_source": numpy_source,
        "kink": kink,
        "init_gain": gain,
        "activation": activation and n == 1,
        "__doc__": f"{name}, defined by its formula (see :func:`symgrad.functions.function`).",
        "__module__": __name__,
    }
    body["numpy_impl"] = staticmethod(numpy or _lambdified_on_first_call(formula, n))
    if derivative is not None:
        body["fdiff"] = _fdiff_from(derivative)
    cls = type(name, (Primitive,), body)
    cls.transcendental = _is_transcendental(formula(*formula_symbols(cls)))
    return cls


def _lambdified_on_first_call(formula: Callable, n: int) -> Callable:
    """The formula through ``lambdify``, built when first called: lambdify imports SymPy's
    code printers (0.3 s), which importing symgrad should not pay for."""
    built = []

    def numpy_impl(*args):
        if not built:
            params = sympy.symbols(f"x:{n}")
            built.append(sympy.lambdify(params, formula(*params), modules=[NUMPY_EXTRAS, "numpy"]))
        return built[0](*args)

    return numpy_impl


def _is_transcendental(expr) -> bool:
    """Whether ``expr`` calls exp-like functions (slow in Numba without SVML)."""
    if expr.has(sympy.exp, sympy.log, sympy.erf, sympy.tanh):
        return True
    return any(f.transcendental for f in expr.atoms(Primitive))


def _fdiff_from(derivative: Callable) -> Callable:
    def fdiff(self, argindex=1):
        d = derivative(*self.args, self)
        return d[argindex - 1] if isinstance(d, tuple) else d

    return fdiff
