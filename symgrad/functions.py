"""Build stage: machine-learning functions as SymPy functions.

Each activation is a ``sympy.Function`` subclass that carries its own derivative
(``fdiff``, written in terms of its own output where that is the textbook form),
its LaTeX, and a numerically stable NumPy implementation (``numpy_impl``), so that
adding an activation is one class and nothing else changes. Imports SymPy and
NumPy only.

Convention: ``relu'(0) = 0`` (PyTorch's choice; SymPy's ``Heaviside(0)`` is 1/2).
The derivative of ReLU is :class:`step`, the indicator ``1[x > 0]``.
"""

from __future__ import annotations

import numpy as np
import sympy
from mpmath.libmp import prec_to_dps
from sympy import S


def _stable_sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


def _step(x):
    return np.where(x > 0, 1.0, 0.0)


def _evalf_as(formula):
    """An ``_eval_evalf`` that evaluates ``formula(*args)`` when every argument is a number.

    SymPy's own ``Function._eval_evalf`` looks for an mpmath function of the class's name
    (``mpmath.sigmoid`` exists, ``softplus`` and ``relu`` do not), so without this
    ``softplus(log(2))`` stays unevaluated under ``evalf`` and ``float()`` fails.
    """

    def _eval_evalf(self, prec):
        if all(arg.is_number for arg in self.args):
            return formula(*self.args).evalf(prec_to_dps(prec))
        return None

    return _eval_evalf


class step(sympy.Function):
    """The indicator ``1[x > 0]``; the derivative of ReLU, with ``step(0) = 0``."""

    nargs = 1
    numpy_impl = staticmethod(_step)

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


class sigmoid(sympy.Function):
    """The logistic function ``σ(x) = 1 / (1 + e^{-x})``; ``σ' = σ(1 - σ)``."""

    nargs = 1
    numpy_impl = staticmethod(_stable_sigmoid)

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

    def _latex(self, printer, exp=None):
        base = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


class relu(sympy.Function):
    """``ReLU(x) = max(0, x)``; its derivative is :class:`step` (0 at x = 0)."""

    nargs = 1
    numpy_impl = staticmethod(lambda x: np.maximum(x, 0.0))
    _eval_evalf = _evalf_as(lambda x: sympy.Max(x, 0))

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sympy.Max(x, 0)
        return None

    def fdiff(self, argindex=1):
        return step(self.args[0])

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sympy.Max(x, 0)

    def _latex(self, printer, exp=None):
        base = rf"\operatorname{{ReLU}}\left({printer._print(self.args[0])}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


class leaky_relu(sympy.Function):
    """``LeakyReLU(x, s) = x`` for x > 0 and ``s·x`` otherwise; slope ``s`` an argument."""

    nargs = 2
    numpy_impl = staticmethod(lambda x, s: np.where(x > 0, x, s * x))
    _eval_evalf = _evalf_as(lambda x, s: sympy.Piecewise((x, x > 0), (s * x, True)))

    @classmethod
    def eval(cls, x, s):
        if x.is_Number and s.is_Number:
            return x if x > 0 else s * x
        return None

    def fdiff(self, argindex=1):
        x, s = self.args
        if argindex == 1:
            return s + (1 - s) * step(x)
        return x * (1 - step(x))

    def _latex(self, printer, exp=None):
        x, s = (printer._print(a) for a in self.args)
        base = rf"\operatorname{{LeakyReLU}}_{{{s}}}\left({x}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


class softplus(sympy.Function):
    """``softplus(x) = log(1 + e^x)``; its derivative is ``σ(x)``."""

    nargs = 1
    numpy_impl = staticmethod(lambda x: np.logaddexp(0.0, x))
    _eval_evalf = _evalf_as(lambda x: sympy.log(1 + sympy.exp(x)))

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sympy.log(1 + sympy.exp(x))
        return None

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sympy.log(1 + sympy.exp(x))

    def _latex(self, printer, exp=None):
        base = rf"\operatorname{{softplus}}\left({printer._print(self.args[0])}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


class log_sigmoid(sympy.Function):
    """``log σ(x) = -softplus(-x)``; its derivative is ``σ(-x) = 1 - σ(x)``."""

    nargs = 1
    numpy_impl = staticmethod(lambda x: -np.logaddexp(0.0, -x))
    _eval_evalf = _evalf_as(lambda x: -sympy.log(1 + sympy.exp(-x)))

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

    def _latex(self, printer, exp=None):
        base = rf"\log \sigma\left({printer._print(self.args[0])}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


class logaddexp(sympy.Function):
    """``log(e^a + e^b)`` (NumPy's name), computed without overflow; ``∂/∂a = σ(a − b)``.

    The stable form :mod:`symgrad.stabilize` writes ``log(e^a + e^b + ...)`` as (nested
    for more terms); not a name users type."""

    nargs = 2
    numpy_impl = staticmethod(np.logaddexp)
    _eval_evalf = _evalf_as(lambda a, b: sympy.log(sympy.exp(a) + sympy.exp(b)))

    @classmethod
    def eval(cls, a, b):
        if a.is_Number and b.is_Number:
            return sympy.log(sympy.exp(a) + sympy.exp(b))
        return None

    def fdiff(self, argindex=1):
        a, b = self.args
        return sigmoid(a - b) if argindex == 1 else sigmoid(b - a)

    def _eval_rewrite_as_exp(self, a, b, **kwargs):
        return sympy.log(sympy.exp(a) + sympy.exp(b))

    def _latex(self, printer, exp=None):
        a, b = (printer._print(x) for x in self.args)
        base = rf"\operatorname{{logaddexp}}\left({a}, {b}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


#: Our functions by the name users type (in text expressions and on the CLI).
ML_FUNCTIONS = {
    cls.__name__: cls for cls in (sigmoid, relu, leaky_relu, softplus, log_sigmoid, step)
}
ML_FUNCTIONS["σ"] = sigmoid

#: NumPy implementations for ``sympy.lambdify(..., modules=[NUMPY_IMPLS, "numpy"])``.
NUMPY_IMPLS = {name: cls.numpy_impl for name, cls in ML_FUNCTIONS.items() if name != "σ"}
