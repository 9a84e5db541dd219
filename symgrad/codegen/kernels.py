"""Codegen stage: scalar kernels as Numba-compilable Python source.

SymPy's ``PythonCodePrinter`` prints standard functions as ``math.*`` calls; our
activations print as calls of small ``@njit`` helpers whose source is emitted into
the generated module (numerically stable forms: σ never overflows, softplus and
log σ go through ``log1p``). Only the helpers a module uses are emitted.
"""

from __future__ import annotations

import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from symgrad import functions as F

#: Source of each helper, by the name it is called with in kernels.
HELPERS = {
    "sigmoid": '''def sigmoid(x):
    """σ(x), without overflow for large |x|."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)''',
    "softplus": '''def softplus(x):
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|)."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))''',
    "log_sigmoid": '''def log_sigmoid(x):
    """log σ(x) = -softplus(-x)."""
    return min(x, 0.0) - math.log1p(math.exp(-abs(x)))''',
    "logaddexp": '''def logaddexp(a, b):
    """log(e^a + e^b) = max(a, b) + log1p(e^-|a - b|)."""
    if a == b:  # also a = b = ±inf, where a - b is NaN
        return a + math.log(2.0)
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))''',
    "relu": """def relu(x):
    return x if x > 0.0 else 0.0""",
    "leaky_relu": """def leaky_relu(x, s):
    return x if x > 0.0 else s * x""",
    "step": '''def step(x):
    """1[x > 0]: ReLU's derivative, 0 at x = 0."""
    return 1.0 if x > 0.0 else 0.0''',
}


class KernelPrinter(PythonCodePrinter):
    """Prints kernels for Numba; records which helpers they call."""

    def __init__(self):
        super().__init__({"fully_qualified_modules": True})
        self.helpers: set[str] = set()

    def _helper(self, expr):
        name = type(expr).__name__
        self.helpers.add(name)
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    _print_sigmoid = _print_softplus = _print_log_sigmoid = _print_logaddexp = _helper
    _print_relu = _print_leaky_relu = _print_step = _helper

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


def njit_source(signature: str, doc: str, body: list[str]) -> str:
    """Source of one ``@numba.njit(cache=True)`` function (blank body lines stay blank)."""
    doc = docstring_safe(doc)
    lines = "\n".join("    " + line if line else line for line in body)
    return f'@numba.njit(cache=True)\ndef {signature}:\n    """{doc}"""\n{lines}\n'


def helper_source(names) -> str:
    """The ``@njit`` helpers for ``names``, in a fixed order (generation is deterministic)."""
    return "\n\n\n".join(f"@numba.njit(cache=True)\n{HELPERS[n]}" for n in sorted(names))


#: Plain-Python NumPy versions of the helpers, for kernels run through NumPy's SIMD ufuncs.
NUMPY_HELPERS = {
    "sigmoid": """def _np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))""",
    "softplus": """def _np_softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))""",
    "log_sigmoid": """def _np_log_sigmoid(x):
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))""",
    "logaddexp": """def _np_logaddexp(a, b):
    return np.logaddexp(a, b)""",
    "relu": """def _np_relu(x):
    return np.maximum(x, 0.0)""",
    "leaky_relu": """def _np_leaky_relu(x, s):
    return np.where(x > 0.0, x, s * x)""",
    "step": """def _np_step(x):
    return np.where(x > 0.0, 1.0, 0.0)""",
}

#: Functions that are slow in Numba without SVML (and fast in NumPy 2's SIMD ufuncs).
TRANSCENDENTAL = (
    sympy.exp,
    sympy.log,
    sympy.tanh,
    F.sigmoid,
    F.softplus,
    F.log_sigmoid,
    F.logaddexp,
)


class NumpyKernelPrinter(NumPyPrinter):
    """Prints kernels as NumPy array expressions (``np.*``, ``_np_<helper>``)."""

    def __init__(self):
        super().__init__()
        self.helpers: set[str] = set()

    def _helper(self, expr):
        name = type(expr).__name__
        self.helpers.add(name)
        return f"_np_{name}({', '.join(self._print(a) for a in expr.args)})"

    _print_sigmoid = _print_softplus = _print_log_sigmoid = _print_logaddexp = _helper
    _print_relu = _print_leaky_relu = _print_step = _helper

    def doprint(self, expr, assign_to=None):
        return super().doprint(expr, assign_to).replace("numpy.", "np.")


def numpy_helper_source(names) -> str:
    """The plain NumPy helpers for ``names``, in a fixed order."""
    return "\n\n\n".join(NUMPY_HELPERS[n] for n in sorted(names))
