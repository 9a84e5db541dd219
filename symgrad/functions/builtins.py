"""Scalar primitives: the built-in scalar primitives (σ, ReLU, leaky ReLU, softplus, log σ, step,
logaddexp, GELU, ELU, SiLU), each one definition; :data:`PRIMITIVES` is their registry.

Convention: ``relu'(0) = 0`` (PyTorch's choice; SymPy's ``Heaviside(0)`` is 1/2).
The derivative of ReLU is :class:`step`, the indicator ``1[x > 0]``. Stable forms
where the formula alone overflows or cancels: σ through ``e^-|x|``, softplus and log σ
through ``log1p``, logaddexp through ``max + log1p``, ELU through ``expm1``.
"""

from __future__ import annotations

import numpy as np
import sympy
from sympy import S
from sympy.codegen.cfunctions import expm1, log1p

from symgrad.functions.primitive import Primitive, function, np_erfc

#: Every built-in primitive by its name: the registry the rule table, the code printers'
#: helpers, the reader's function names and the network's activation names come from.
PRIMITIVES: dict[str, type[Primitive]] = {}


def _builtin(cls: type[Primitive]) -> type[Primitive]:
    PRIMITIVES[cls.__name__] = cls
    return cls


def _stable_sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


def _stable_sigmoid_form(x):
    """σ(x) through e^-|x| ≤ 1: no overflow for either sign."""
    e = sympy.exp(-sympy.Abs(x))
    return sympy.Piecewise((1 / (1 + e), x >= 0), (e / (1 + e), True))


@_builtin
class sigmoid(Primitive):
    """The logistic function ``σ(x) = 1 / (1 + e^{-x})``; ``σ' = σ(1 - σ)``."""

    nargs = 1
    formula = staticmethod(lambda x: 1 / (1 + sympy.exp(-x)))
    latex_name = r"\sigma"
    text_name = "σ"
    aliases = ("σ",)
    activation = True
    transcendental = True
    numpy_impl = staticmethod(_stable_sigmoid)
    stable = staticmethod(_stable_sigmoid_form)

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return 1 / (1 + sympy.exp(-x))
        if x.could_extract_minus_sign():
            return 1 - cls(-x)  # one canonical form, so σ(z) - y comes out of σ(-z) terms
        return None

    def fdiff(self, argindex=1):
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))


@_builtin
class relu(Primitive):
    """``ReLU(x) = max(0, x)``; its derivative is :class:`step` (0 at x = 0)."""

    nargs = 1
    formula = staticmethod(lambda x: sympy.Max(x, 0))
    latex_name = r"\operatorname{ReLU}"
    kink = "ReLU"
    activation = True
    numpy_impl = staticmethod(lambda x: np.maximum(x, 0.0))
    numba_source = """def relu(x):
    return x if x > 0.0 else 0.0"""
    numpy_source = """def _np_relu(x):
    return np.maximum(x, 0.0)"""

    def fdiff(self, argindex=1):
        return step(self.args[0])

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sympy.Max(x, 0)


@_builtin
class leaky_relu(Primitive):
    """``LeakyReLU(x, s) = x`` for x > 0 and ``s·x`` otherwise; slope ``s`` an argument."""

    nargs = 2
    formula = staticmethod(lambda x, s: sympy.Piecewise((x, x > 0), (s * x, True)))
    kink = "leaky ReLU"
    init_gain = 2.0
    activation = True
    parameters = ("slope",)
    numpy_impl = staticmethod(lambda x, s: np.where(x > 0, x, s * x))
    numba_source = """def leaky_relu(x, s):
    return x if x > 0.0 else s * x"""
    numpy_source = """def _np_leaky_relu(x, s):
    return np.where(x > 0.0, x, s * x)"""

    def fdiff(self, argindex=1):
        x, s = self.args
        if argindex == 1:
            return s + (1 - s) * step(x)
        return x * (1 - step(x))

    def _latex(self, printer, exp=None):
        x, s = (printer._print(a) for a in self.args)
        base = rf"\operatorname{{LeakyReLU}}_{{{s}}}\left({x}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"

    def _unicode(self, printer):
        x, slope = (printer._print(a) for a in self.args)
        return f"LeakyReLU({x}, slope {slope})"


@_builtin
class softplus(Primitive):
    """``softplus(x) = log(1 + e^x)``; its derivative is ``σ(x)``."""

    nargs = 1
    formula = staticmethod(lambda x: sympy.log(1 + sympy.exp(x)))
    transcendental = True
    numpy_impl = staticmethod(lambda x: np.logaddexp(0.0, x))
    stable = staticmethod(lambda x: sympy.Max(x, 0) + log1p(sympy.exp(-sympy.Abs(x))))

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sympy.log(1 + sympy.exp(x))


@_builtin
class log_sigmoid(Primitive):
    """``log σ(x) = -softplus(-x)``; its derivative is ``σ(-x) = 1 - σ(x)``."""

    nargs = 1
    formula = staticmethod(lambda x: -sympy.log(1 + sympy.exp(-x)))
    latex_name = r"\log \sigma"
    transcendental = True
    numpy_impl = staticmethod(lambda x: -np.logaddexp(0.0, -x))
    stable = staticmethod(lambda x: sympy.Min(x, 0) - log1p(sympy.exp(-sympy.Abs(x))))

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return -sympy.log(1 + sympy.exp(-x))
        if x.could_extract_minus_sign():
            return cls(-x) + x  # log σ(-u) = log σ(u) - u: one canonical form
        return None

    def fdiff(self, argindex=1):
        return sigmoid(-self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return -sympy.log(1 + sympy.exp(-x))


@_builtin
class step(Primitive):
    """The indicator ``1[x > 0]``; the derivative of ReLU, with ``step(0) = 0``."""

    nargs = 1
    formula = staticmethod(lambda x: sympy.Piecewise((1, x > 0), (0, True)))
    kink = "step"
    numpy_impl = staticmethod(lambda x: np.where(x > 0, 1.0, 0.0))
    numba_source = '''def step(x):
    """1[x > 0]: ReLU's derivative, 0 at x = 0."""
    return 1.0 if x > 0.0 else 0.0'''
    numpy_source = """def _np_step(x):
    return np.where(x > 0.0, 1.0, 0.0)"""

    @classmethod
    def eval(cls, x):
        if x.is_extended_positive:
            return S.One
        if x.is_extended_nonpositive:
            return S.Zero
        return None

    def fdiff(self, argindex=1):
        return S.Zero  # zero almost everywhere; the kink has measure zero

    def _latex(self, printer, exp=None):
        base = rf"\mathbb{{1}}\left[{printer._print(self.args[0])} > 0\right]"
        return base if exp is None else rf"{base}^{{{exp}}}"

    def _unicode(self, printer):
        return f"1[{printer._print(self.args[0])} > 0]"


@_builtin
class logaddexp(Primitive):
    """``log(e^a + e^b)`` (NumPy's name), computed without overflow; ``∂/∂a = σ(a − b)``.

    The stable form :mod:`symgrad.derive.stabilize` writes ``log(e^a + e^b + ...)`` as (nested
    for more terms); not a name users type."""

    nargs = 2
    formula = staticmethod(lambda a, b: sympy.log(sympy.exp(a) + sympy.exp(b)))
    public = False
    transcendental = True
    numpy_impl = staticmethod(np.logaddexp)
    stable = staticmethod(
        lambda a, b: sympy.Piecewise(
            (a + sympy.log(2), sympy.Eq(a, b)),  # also a = b = ±inf, where a - b is NaN
            (sympy.Max(a, b) + log1p(sympy.exp(-sympy.Abs(a - b))), True),
        )
    )

    def fdiff(self, argindex=1):
        a, b = self.args
        return sigmoid(a - b) if argindex == 1 else sigmoid(b - a)

    def _eval_rewrite_as_exp(self, a, b, **kwargs):
        return sympy.log(sympy.exp(a) + sympy.exp(b))


#: GELU (Hendrycks & Gimpel), exact form ``x Φ(x)``; its derivative comes from the formula.
#: Numerically ``Φ(x) = erfc(-x/√2)/2``: ``1 + erf(x/√2)`` cancels for x < 0 (SymPy writes
#: ``erfc(-u)`` as ``2 - erfc(u)``, so the stable form lives in the sources, not the formula).
gelu = _builtin(
    function(
        "gelu",
        lambda x: x / 2 * (1 + sympy.erf(x / sympy.sqrt(2))),
        latex=r"\operatorname{GELU}",
        numpy=lambda x: x / 2 * np_erfc(-x / np.sqrt(2.0)),
        numba_source='''def gelu(x):
    """GELU(x) = x erfc(-x/√2) / 2, without cancellation for x < 0."""
    return 0.5 * x * math.erfc(-x / math.sqrt(2.0))''',
        numpy_source="""def _np_gelu(x):
    return 0.5 * x * np.vectorize(math.erfc, otypes=[float])(-x / np.sqrt(2.0))""",
    )
)

#: ELU with α = 1: ``x`` for x > 0, ``e^x − 1`` otherwise; ``ELU' = ELU + 1`` for x ≤ 0.
elu = _builtin(
    function(
        "elu",
        lambda x: sympy.Piecewise((x, x > 0), (sympy.exp(x) - 1, True)),
        latex=r"\operatorname{ELU}",
        derivative=lambda x, out: step(x) + (1 - step(x)) * (out + 1),
        numpy=lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
        stable=lambda x: sympy.Piecewise((x, x > 0), (expm1(sympy.Min(x, 0)), True)),
    )
)

#: SiLU (swish with β = 1): ``x σ(x)``, stable through σ; its derivative from the formula.
silu = _builtin(function("silu", lambda x: x * sigmoid(x), latex=r"\operatorname{SiLU}"))


#: Every built-in by its own name (``symgrad.functions`` re-exports them): adding one is
#: its definition above, nothing else.
__all__ = list(PRIMITIVES)
