"""The generated modules' exp, expm1, log, log1p and tanh against NumPy's, over the whole
float64 range: at most 2 ulp apart, the same infinities, NaNs and signed zeros."""

import importlib.util

import numpy as np
import pytest

from symgrad.codegen.vector_math import VECTOR_MATH, vector_math_source

FUNCTIONS = ["_exp", "_expm1", "_log", "_log1p", "_tanh"]
REFERENCE = {"_exp": np.exp, "_expm1": np.expm1, "_log": np.log, "_log1p": np.log1p}
REFERENCE["_tanh"] = np.tanh

LOOP = """

@numba.njit(cache=True, error_model="numpy")
def apply_{name}(x, out):
    for i in range(x.shape[0]):
        out[i] = {name}(x[i])
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """A module of the functions' sources, as generated modules carry them, with a loop each."""
    folder = tmp_path_factory.mktemp("vector_math")
    header = "import math\n\nimport numba\nimport numba.extending\nimport numpy as np\n\n\n"
    body = "\n\n\n".join(vector_math_source(FUNCTIONS))
    path = folder / "vector_math_loops.py"
    path.write_text(header + body + "".join(LOOP.format(name=n) for n in FUNCTIONS))
    spec = importlib.util.spec_from_file_location("vector_math_loops", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _points() -> np.ndarray:
    """Random bit patterns (every magnitude from subnormal to huge, both signs), dense
    grids where the methods switch (overflow, underflow, the series' ranges) and the edges."""
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**63 - 2**52, 300_000, dtype=np.int64).view(np.float64)
    signs = rng.choice([-1.0, 1.0], bits.size)
    edges = [np.inf, -np.inf, np.nan, 0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308]
    edges += [1.7976931348623157e308, -1.0, np.nextafter(-1.0, 0.0), 709.782712893384]
    edges += [709.79, -745.13, -745.14, 19.1, 20.0, 0.75, -0.75, 0.35, -0.35, 56 * np.log(2)]
    return np.concatenate(
        [
            bits * signs,
            np.linspace(-760.0, 720.0, 300_001),
            np.linspace(-2.0, 2.0, 200_001),
            rng.standard_normal(50_000) * 1e-8,
            np.array(edges),
        ]
    )


@pytest.mark.parametrize("name", FUNCTIONS)
def test_within_two_ulp_of_numpy(compiled, name):
    x = _points()
    ours = np.empty_like(x)
    getattr(compiled, f"apply_{name}")(x, ours)
    with np.errstate(all="ignore"):
        theirs = REFERENCE[name](x)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    infinite = np.isinf(theirs)
    np.testing.assert_array_equal(ours[infinite], theirs[infinite])
    zero = theirs == 0.0
    np.testing.assert_array_equal(ours[zero], 0.0)
    np.testing.assert_array_equal(np.signbit(ours[zero]), np.signbit(theirs[zero]))
    finite = np.isfinite(theirs) & ~zero
    ulps = np.abs(ours[finite] - theirs[finite]) / np.spacing(np.abs(theirs[finite]))
    assert ulps.max() <= 2.0, x[finite][np.argmax(ulps)]


def test_sources_carry_what_they_call():
    """Each function's source comes after the sources of the functions it calls."""
    order = [src.split("def ")[1].split("(")[0] for src in vector_math_source(["_tanh"])]
    assert order == ["_as_float", "_expm1", "_tanh"]
    assert set(VECTOR_MATH["_log1p"][1]) == {"_log"}
