"""Codegen stage: exp, expm1, log, log1p and tanh as source that Numba's loops vectorize.

pip's llvmlite has no vector math library, so a loop calling ``math.exp`` makes one libm call
per entry (Numba's scalar exp and tanh cost 11 and 39 ns against NumPy's SIMD 1.9 and 4.2).
These are written in arithmetic, comparisons and bit moves only, with no branches, so LLVM
inlines them into the loop and runs four entries per instruction. Numba inlines them
(``inline="always"``) into their callers, whose error model must be NumPy's (a division by
zero is inf, not an exception whose check would stop the vectorizer). Each is within 2 ulp
of NumPy over the whole float64 range, infinities and NaN included
(``tests/test_vector_math.py``).

The methods are the textbook ones: exp reduces x = k·ln 2 + r with ln 2 split in two (Cody
and Waite), sums Taylor's series of e^r and scales by 2^k through the exponent bits (in two
halves, so that 2^k never overflows before the product does, and subnormal results round
once); log splits x = 2^k·f with f in [√2/2, √2) and sums the series of 2 atanh((f−1)/(f+1));
log1p corrects the rounding of 1 + x to first order; tanh is Taylor's series below 0.35, else
expm1(2|x|) / (expm1(2|x|) + 2).

Source text, like :mod:`symgrad.codegen.runtime`: each generated module carries its own copy.
"""

from __future__ import annotations

from math import factorial

LN2_HI = 6.93147180369123816490e-01  # ln 2 with its last 21 bits zero: k·LN2_HI is exact
LN2_LO = 1.90821492927058770002e-10  # ln 2 - LN2_HI
LOG2E = 1.4426950408889634


def _horner(x: str, coefficients: list[float]) -> str:
    """``c0 + x*(c1 + x*(c2 + ...))`` as source."""
    text = repr(coefficients[-1])
    for c in reversed(coefficients[:-1]):
        text = f"{c!r} + {x} * ({text})"
    return text


_E_TAYLOR = [1.0 / factorial(n) for n in range(14)]  # e^r for |r| ≤ ln 2 / 2: degree 13
_EXPM1_NEAR = [1.0 / factorial(n) for n in range(2, 19)]  # (e^x - 1 - x)/x² for |x| < 0.75
_EXPM1_REDUCED = [1.0 / factorial(n) for n in range(2, 15)]
_ATANH = [2.0 / (2 * n + 1) for n in range(1, 12)]  # (2 atanh(s) - 2s)/s³, s² ≤ 0.0295
#: (tanh x - x)/x³ for |x| < 0.35, Taylor's coefficients -1/3, 2/15, -17/315, 62/2835, ...
#: (from the Bernoulli numbers) in powers of x²: 13 terms leave less than 2^-56.
_TANH_TAYLOR = [
    -0.3333333333333333,
    0.13333333333333333,
    -0.05396825396825397,
    0.021869488536155203,
    -0.008863235529902197,
    0.003592128036572481,
    -0.0014558343870513183,
    0.000590027440945586,
    -0.00023912911424355248,
    9.691537956929451e-05,
    -3.927832388331683e-05,
    1.5918905069328964e-05,
    -6.451689215655431e-06,
    2.6147711512907546e-06,
]

_BITS = '''@numba.extending.intrinsic
def _as_float(typingctx, bits):
    """The float64 whose bits are the int64 ``bits`` (a register move, unlike an array view)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(numba.core.types.float64))

    return numba.core.types.float64(numba.core.types.int64), codegen


@numba.extending.intrinsic
def _as_bits(typingctx, x):
    """The int64 holding the bits of the float64 ``x``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(numba.core.types.int64))

    return numba.core.types.int64(numba.core.types.float64), codegen


@numba.njit(cache=True, error_model="numpy", inline="always")
def _two_to(k):
    """(2^h, 2^(k-h)) for an integer-valued float k in [-1100, 1100], h = k // 2: each
    half is a normal number, so their product overflows or rounds to a subnormal once."""
    i = np.int64(k)
    h = i >> 1
    return _as_float((h + 1023) << 52), _as_float((i - h + 1023) << 52)'''

_EXP = f'''@numba.njit(cache=True, error_model="numpy", inline="always")
def _exp(x):
    """e^x within 1 ulp, without branches (so that loops over it vectorize)."""
    c = x if x > -746.0 else -746.0
    c = c if c < 710.0 else 710.0
    k = math.floor(c * {LOG2E!r} + 0.5)
    r = (c - k * {LN2_HI!r}) - k * {LN2_LO!r}
    low, high = _two_to(k)
    y = ({_horner("r", _E_TAYLOR)}) * low * high
    return y if x == x else x'''

_EXPM1 = f'''@numba.njit(cache=True, error_model="numpy", inline="always")
def _expm1(x):
    """e^x - 1 within 2 ulp, also for x near 0, without branches.

    |x| < 0.75: Taylor's series itself; else e^x = 2^k·e^r with q = e^r - 1 from the series,
    and e^x - 1 = 2^k·q + (2^k - 1), whose two terms then have the same sign."""
    near = x + x * (x * ({_horner("x", _EXPM1_NEAR)}))
    c = x if x > -40.0 else -40.0
    c = c if c < 710.0 else 710.0
    k = math.floor(c * {LOG2E!r} + 0.5)
    r = (c - k * {LN2_HI!r}) - k * {LN2_LO!r}
    q = r + r * r * ({_horner("r", _EXPM1_REDUCED)})
    low, high = _two_to(k)
    scale = low * high
    far = scale * q + (scale - 1.0) if k < 56.0 else ((q + 1.0) * low) * high
    y = near if abs(x) < 0.75 else far
    y = y if x != 0.0 else x  # -0.0 stays -0.0
    return y if x == x else x'''

_LOG = f'''@numba.njit(cache=True, error_model="numpy", inline="always")
def _log(x):
    """log x within 1 ulp (-inf at 0, NaN below), without branches."""
    tiny = x < 2.2250738585072014e-308
    y = x * 18014398509481984.0 if tiny else x  # a subnormal times 2^54 is normal
    bits = _as_bits(y)
    k = ((bits >> 52) & 2047) - (1077 if tiny else 1023)
    f = _as_float((bits & 4503599627370495) | 4607182418800017408)  # mantissa, in [1, 2)
    big = f > 1.4142135623730951
    f = 0.5 * f if big else f
    kf = np.float64(k + 1 if big else k)
    s = (f - 1.0) / (f + 1.0)
    z = s * s
    tail = s * z * ({_horner("z", _ATANH)})
    y = kf * {LN2_HI!r} + (2.0 * s + (tail + kf * {LN2_LO!r}))
    y = y if x < math.inf else x
    y = y if x > 0.0 else (-math.inf if x == 0.0 else math.nan)
    return y if x == x else x'''

_LOG1P = '''@numba.njit(cache=True, error_model="numpy", inline="always")
def _log1p(x):
    """log(1 + x) within 2 ulp, also for x near 0, without branches."""
    u = 1.0 + x
    c = (x - (u - 1.0)) / u  # what rounding 1 + x lost, relative to u
    c = c if (u > 0.0 and u < math.inf) else 0.0
    y = _log(u) + c
    return x if abs(x) < 5.551115123125783e-17 else y  # log1p x rounds to x, also -0.0'''

_TANH = f'''@numba.njit(cache=True, error_model="numpy", inline="always")
def _tanh(x):
    """tanh x within 2 ulp, without branches (tanh x rounds to ±1 beyond |x| = 19.1)."""
    z = x * x
    near = x + x * z * ({_horner("z", _TANH_TAYLOR)})
    a = abs(x)
    a = a if a < 20.0 else 20.0
    t = _expm1(2.0 * a)
    y = near if a < 0.35 else math.copysign(t / (t + 2.0), x)
    y = y if x != 0.0 else x  # -0.0 stays -0.0
    return y if x == x else x'''

#: Source of each function, and the functions it calls.
VECTOR_MATH: dict[str, tuple[str, tuple[str, ...]]] = {
    "_bits": (_BITS, ()),
    "_exp": (_EXP, ("_bits",)),
    "_expm1": (_EXPM1, ("_bits",)),
    "_log": (_LOG, ("_bits",)),
    "_log1p": (_LOG1P, ("_log",)),
    "_tanh": (_TANH, ("_expm1",)),
}


def vector_math_source(names) -> list[str]:
    """Sources of the functions ``names`` and of those they call, callees first."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name not in ordered:
            for callee in VECTOR_MATH[name][1]:
                visit(callee)
            ordered.append(name)

    for name in sorted(names):
        visit(name)
    return [VECTOR_MATH[name][0] for name in ordered]
