"""Tensor programs' derived gradients against central differences of their own loss.

Random programs built from every operation of the front end (``@``, ``.T``, + − × ÷ and
``**`` with vectors, scalars and 1×m rows broadcast, ``apply`` of SymPy and symgrad
functions, sums and means over examples, rows and everything, softmax, log-softmax,
softmax cross-entropy, names with and without adjoint, a parameter used twice, dropout
with a fixed mask) are checked with :func:`symgrad.check` (NumPy's evaluation of the
derived gradients against central differences of NumPy's evaluation of the program's
loss); plain tests check gradients with respect to data and intermediates, the
upstream-gradient form against a NumPy hand computation, and the errors of bad programs.
"""

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symgrad.model.program as tp
from symgrad.check import check
from symgrad.check.oracle import values
from symgrad.check.program import sample_leaves
from symgrad.derive.backprop import derive
from symgrad.errors import DataError, NoDerivativeRuleError, ShapeError, SymgradError
from symgrad.functions import elu, leaky_relu, relu, sigmoid, softplus
from symgrad.model.numeric import evaluate
from symgrad.model.tensor import m

#: Smooth functions applied elementwise (one argument).
SMOOTH = [
    sympy.tanh,
    sympy.sin,
    sigmoid,
    softplus,
    elu,
    lambda x: x / (1 + x**2),
    lambda x: sympy.log(1 + x**2),
    lambda x: sympy.sqrt(2 + sympy.cos(x)),
    lambda x: x**3 / 3,
]
#: Functions with a kink, each with where the kink is: its argument stays away from there.
KINKED = [
    (relu, 0.0),
    (lambda x: leaky_relu(x, 0.1), 0.0),
    (lambda x: sympy.Abs(x - sympy.Rational(1, 4)), 0.25),
    (lambda x: sympy.Max(x, x / 3), 0.0),
    (lambda x: sympy.Piecewise((x**2, x > sympy.Rational(1, 2)), (x - 1, True)), 0.5),
]
#: Functions of two tensors.
BINARY_FNS = [
    lambda x, y: x * sympy.tanh(y),
    lambda x, y: sympy.log(1 + sympy.exp(x - y)),
    lambda x, y: sympy.Max(0, x - y + 1),  # the hinge: a kink where x - y + 1 = 0
]


#: The operations a random program's steps are drawn from; each test case starts with one.
OPS = ["+", "-", "*", "/", "**", "smooth", "kinked", "binary", "matmul", "transpose"]
OPS += ["softmax", "log_softmax", "center", "dropout", "name", "slice"]


class Builder:
    """Draws a random program step by step; records where kinked functions' arguments are."""

    def __init__(self, draw):
        self.draw = draw
        self.X = tp.data("X", 3)
        self.W = tp.param("W", (2, 3))
        self.V = tp.param("V", (2, 2))
        self.b = tp.param("b", 2)
        self.c = tp.param("c", ())
        self.Y = tp.labels("Y", 2)
        self.kinks: list = []  # (tensor, where the kink is)
        self.names = 0
        self.pool = [self.W @ self.X + self.b]

    def pick(self):
        return self.draw(st.sampled_from(self.pool))

    def positive(self, t):
        return tp.apply(lambda x: 1 + x**2, t)

    def other(self, t):
        """Something ``t`` combines with elementwise: a tensor of its shape, a vector, a
        scalar parameter, a 1×m row or a number."""
        kind = self.draw(st.sampled_from(["same", "vector", "scalar", "row", "number"]))
        if kind == "same":
            return self.pick()
        if kind == "vector":
            return self.draw(st.sampled_from([self.b, tp.mean(self.pick(), "examples")]))
        if kind == "scalar":
            return self.draw(st.sampled_from([self.c, tp.mean(self.pick())]))
        if kind == "row":
            return self.draw(
                st.sampled_from([tp.sum(self.pick(), "rows"), tp.mean(self.pick(), "rows")])
            )
        return self.draw(st.sampled_from([2, -1.5, sympy.Rational(1, 3)]))

    def step(self, op=None):
        t = self.pick()
        op = op or self.draw(st.sampled_from(OPS))
        flip = self.draw(st.booleans())
        if op in "+-*":
            u = self.other(t)
            a, b = (u, t) if flip else (t, u)
            new = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b}[op]()
        elif op == "/":
            u = self.other(t)
            u = u if isinstance(u, int | float | sympy.Expr) else self.positive(u)
            new = t / u if not flip else self.other(t) / self.positive(t)
        elif op == "**":
            if flip:
                new = self.positive(t) ** self.draw(st.sampled_from([sympy.Rational(1, 2), -1]))
            else:
                new = self.positive(t) ** tp.apply(sympy.tanh, self.pick())
        elif op == "smooth":
            new = tp.apply(self.draw(st.sampled_from(SMOOTH)), t)
        elif op == "kinked":
            fn, at = self.draw(st.sampled_from(KINKED))
            self.kinks.append((t, at))
            new = tp.apply(fn, t)
        elif op == "binary":
            fn = self.draw(st.sampled_from(BINARY_FNS))
            u = self.pick()
            self.kinks.append((t - u, -1.0))
            new = tp.apply(fn, t, u)
        elif op == "matmul":
            new = self.V @ t
        elif op == "transpose":  # (t uᵀ) t: a 2×2 matrix of intermediates, then a product
            new = (t @ self.pick().T) @ t / 10
        elif op == "softmax":
            new = tp.softmax(t)
        elif op == "log_softmax":
            new = tp.log_softmax(t)
        elif op == "center":  # a batch norm's centering
            new = t - tp.mean(t, "examples")
        elif op == "slice":  # one row (1×m), broadcast back over the rows
            new = t[self.draw(st.sampled_from([0, 1, slice(1, 2)]))] * t
        elif op == "dropout":
            self.names += 1
            new = tp.dropout(t, self.draw(st.sampled_from([0.5, 0.8])), f"M{self.names}")
        else:
            self.names += 1
            new = tp.name(f"N{self.names}", t, adjoint=self.draw(st.booleans()))
        self.pool.append(new)
        return new

    def loss(self, last):
        kind = self.draw(st.sampled_from(["sum", "mean", "examples", "rows", "sce", "two"]))
        if kind == "sum":
            return tp.sum(last)
        if kind == "mean":
            return tp.mean(last)
        if kind == "examples":
            return tp.sum(tp.mean(last, "examples") * self.b)
        if kind == "rows":
            return tp.mean(tp.sum(last, "rows") ** 2)
        if kind == "sce":
            return tp.mean(tp.softmax_cross_entropy(last, self.Y))
        return tp.mean(last * self.pick()) + tp.sum(self.W**2) / 10  # W used again


@st.composite
def programs(draw, first: str):
    builder = Builder(draw)
    last = builder.step(first)
    for _ in range(draw(st.integers(0, 5))):
        last = builder.step()
    try:
        return tp.Program(builder.loss(last)), builder.kinks
    except SymgradError as error:  # a loss that cancelled down to a constant
        assume("depends on no parameter" not in str(error))
        raise


def _away_from_kinks(program, kinks, env) -> bool:
    """True when every kinked function's argument is at least 1e-3 from its kink."""
    from symgrad.check.oracle import leaf_values

    env, batch = leaf_values(program, env)
    for t, at in kinks:
        node = program.node(t)
        try:
            (value,) = evaluate([node], env, {m: batch})
        except KeyError:  # not in the loss: a leaf of a dropped branch has no value
            continue
        if np.min(np.abs(np.asarray(value) - at)) < 1e-3:
            return False
    return True


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@pytest.mark.parametrize("first", OPS)
@given(data=st.data())
def test_random_programs_gradients_agree_with_finite_differences(first, data):
    program, kinks = data.draw(programs(first))
    env = sample_leaves(program, seed=1)
    assume(_away_from_kinks(program, kinks, env))
    wrt = [*program.params, program.X]
    wrt += [tp.name(f.text, f.node) for f in program.forward[:1]]
    try:
        report = check(program, at=env, wrt=wrt)
    except SymgradError as error:  # such as x - x: a loss that is constant in a target
        assume("does not depend" not in str(error))
        raise
    # A gradient that is identically 0 (b before a centering) meets differences of pure
    # round-off, which a relative error cannot judge.
    assume(all(r.symbolic != 0 for r in report.rows[1:]))
    assert report.all_correct, report.text()


def _layer():
    X, W, b = tp.data("X", 4), tp.param("W", (3, 4)), tp.param("b", 3)
    Z = tp.name("Z", W @ X + b, adjoint=False)
    out = tp.name("out", tp.apply(relu, Z), adjoint=False)
    return X, W, b, Z, out


def test_gradients_with_respect_to_data_and_an_intermediate():
    X, W, b, Z, out = _layer()
    A = tp.name("A", tp.tanh(out))
    L = tp.mean(tp.softmax_cross_entropy(A, tp.labels("Y", 3)))
    report = check(tp.Program(L), wrt=[X, A, W, b], seed=3)
    assert [r.name for r in report.rows] == ["L", "X", "A", "W", "b"]
    assert report.all_correct, report.text()


def test_time_steps_sliced_from_one_data_matrix():
    """An RNN reads step t's inputs as rows of X; dX is each step's gradient in its rows."""
    X, W, U, y = tp.data("X", 6), tp.param("W", (2, 2)), tp.param("U", (2, 2)), tp.labels("y", 2)
    h = tp.tanh(W @ X[0:2])
    for t in (1, 2):
        h = tp.name(f"h{t}", tp.tanh(W @ X[2 * t : 2 * t + 2] + U @ h))
    report = check(tp.Program(tp.mean((h - y) ** 2)), wrt=[X, W, U], seed=1)
    assert report.all_correct, report.text()


def test_upstream_form_matches_a_numpy_hand_computation():
    X, W, b, Z, out = _layer()
    dout = tp.upstream("dout", out)
    bp = derive(tp.Program(output=out, upstream=dout), wrt=[X, W, b])
    rng = np.random.default_rng(7)
    env = {"X": rng.standard_normal((4, 6)), "W": rng.standard_normal((3, 4))}
    env |= {"b": rng.standard_normal(3), "dout": rng.standard_normal((3, 6))}
    got = values(bp, env)
    z = env["W"] @ env["X"] + env["b"][:, None]
    dz = env["dout"] * (z > 0)
    np.testing.assert_allclose(got.forward["Z"], z, rtol=1e-14)
    np.testing.assert_allclose(got.forward["out"], np.maximum(z, 0), rtol=1e-14)
    np.testing.assert_allclose(got.loss, np.sum(np.maximum(z, 0) * env["dout"]), rtol=1e-13)
    np.testing.assert_allclose(got.gradients["X"], env["W"].T @ dz, rtol=1e-13)
    np.testing.assert_allclose(got.gradients["W"], dz @ env["X"].T, rtol=1e-13)
    np.testing.assert_allclose(got.gradients["b"], dz.sum(axis=1), rtol=1e-13)


def test_values_gives_named_backward_tensors():
    X, W = tp.data("X", 2), tp.param("W", (1, 2))
    Z = tp.name("Z", W @ X)
    bp = derive(tp.Program(tp.mean(Z**2)))
    x, w = np.array([[1.0, -2.0], [3.0, 0.5]]), np.array([[0.5, -1.0]])
    got = values(bp, {"X": x, "W": w})
    z = w @ x
    # dZ is ∂L/∂Z = (2/m) Z without its scalar factor (printed "dZ = Z", "dW = (2/m) dZ Xᵀ")
    np.testing.assert_allclose(got.backward["dZ"], z, rtol=1e-14)
    np.testing.assert_allclose(got.gradients["W"], 2 * z @ x.T / 2, rtol=1e-14)


def test_sampled_leaves_follow_their_kind():
    X, Y = tp.data("X", 3), tp.labels("Y", 4)
    W = tp.param("W", (4, 3))
    H = tp.dropout(W @ X, 0.5, "M")
    program = tp.Program(tp.mean(tp.softmax_cross_entropy(H, Y)))
    env = sample_leaves(program, seed=0)
    assert env["X"].shape == (3, 5) and env["W"].shape == (4, 3)
    np.testing.assert_array_equal(env["Y"].sum(axis=0), np.ones(5))
    assert set(np.unique(env["M"])) <= {0.0, 2.0}
    assert check(program, seed=0).all_correct


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (
            lambda X, W: tp.Program(tp.sum(W.T @ X)),
            ShapeError,
            r"matrix product of shapes \(4, 3\)",
        ),
        (
            lambda X, W: tp.Program(tp.sum(X + tp.data("U", 2))),
            ShapeError,
            "elementwise operation on shapes",
        ),
        (lambda X, W: tp.Program(W @ X), ShapeError, "a loss is a scalar"),
        (
            lambda X, W: tp.Program(tp.sum(W @ X) * sympy.Symbol("k")),
            SymgradError,
            "no value for k",
        ),
        (lambda X, W: tp.apply(sympy.Function("f"), W @ X), NoDerivativeRuleError, "apply: f"),
        (
            lambda X, W: tp.Program(tp.sum(W @ X + "1")),
            ShapeError,
            "takes tensors and numbers, got '1'",
        ),
        (lambda X, W: X[3:6], ShapeError, "rows 3:6 of a matrix with 4 rows"),
        (lambda X, W: X[::2], ShapeError, r"sliced as X\[start:stop\]"),
        (lambda X, W: list(X), TypeError, "not iterable"),
    ],
)
def test_bad_programs_fail_with_one_line(build, error, message):
    X, W = tp.data("X", 4), tp.param("W", (3, 4))
    with pytest.raises(error, match=message) as info:
        build(X, W)
    assert "\n" not in str(info.value)


def test_bad_values_fail_with_one_line():
    X, W = tp.data("X", 4), tp.param("W", (3, 4))
    program = tp.Program(tp.sum(W @ X))
    with pytest.raises(DataError, match="W must hold numbers, got text 'a'"):
        check(program, at={"W": np.full((3, 4), "a")})
    with pytest.raises(ShapeError, match=r"W must have shape \(3, 4\) with m = 5, got \(4, 3\)"):
        check(program, at={"W": np.zeros((4, 3))})
    with pytest.raises(ShapeError, match="no leaf is named V"):
        check(program, at={"V": np.zeros(3)})
    bp = derive(program)
    with pytest.raises(ShapeError, match=r"X of shape \(4, m\) needs a value"):
        values(bp, {"W": np.zeros((3, 4))})
