"""Tests of symgrad.rules: the registry of local derivatives.

A spec table in JAX's style, one line per operation: how to build the node from symbols, a
sampler per argument that respects the domain (positive for log, away from the kink for ReLU),
and an elementary reference formula whose ``sympy.diff`` is the oracle (for our ML functions,
``sympy.diff`` of the node itself would only call the same ``fdiff`` the rule uses). Every
scalar rule in ``RULES`` must have a line, so a rule added without a spec fails here.
"""

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pytest
import sympy

import symgrad
from symgrad import functions as F
from symgrad.errors import NoDerivativeRuleError, SymgradError
from symgrad.rules import RULES, Rule, register, rule_for

a, b, c, g = sympy.symbols("a b c g", real=True)


def rand_real(rng):
    return rng.uniform(-3.0, 3.0)


def rand_positive(rng):
    return rng.uniform(0.1, 3.0)


def rand_nonzero(rng):
    """Away from 0, where ReLU, step and leaky ReLU have their kink."""
    return rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 3.0)


def rand_slope(rng):
    return rng.uniform(0.0, 2.0)


@dataclass(frozen=True)
class Spec:
    """One operation: its node built from symbols, a sampler per argument, a reference."""

    op: type
    build: object  # symbols -> the node
    samplers: tuple
    reference: object = None  # symbols -> an elementary formula of the same function

    @property
    def symbols(self):
        return (a, b, c)[: len(self.samplers)]


SPECS = [
    Spec(sympy.Add, lambda a, b, c: a + b + c, (rand_real,) * 3),
    Spec(sympy.Add, lambda a, b: 2 * a - b, (rand_real,) * 2),
    Spec(sympy.Mul, lambda a, b, c: a * b * c, (rand_real,) * 3),
    Spec(sympy.Mul, lambda a, b: 3 * a * sympy.exp(b), (rand_real,) * 2),
    Spec(sympy.Pow, lambda a, b: a**b, (rand_positive, rand_real)),
    Spec(sympy.Pow, lambda a: a**3, (rand_real,)),
    Spec(sympy.Pow, lambda a: a**-2, (rand_nonzero,)),
    Spec(sympy.Pow, lambda a: sympy.sqrt(a), (rand_positive,)),
    Spec(sympy.Pow, lambda a: 2**a, (rand_real,)),
    Spec(sympy.exp, lambda a: sympy.exp(a), (rand_real,)),
    Spec(sympy.log, lambda a: sympy.log(a), (rand_positive,)),
    Spec(
        sympy.tanh, lambda a: sympy.tanh(a), (rand_real,), lambda a: 1 - 2 / (sympy.exp(2 * a) + 1)
    ),
    Spec(F.sigmoid, lambda a: F.sigmoid(a), (rand_real,), lambda a: 1 / (1 + sympy.exp(-a))),
    Spec(F.relu, lambda a: F.relu(a), (rand_nonzero,), lambda a: (a + sympy.Abs(a)) / 2),
    Spec(
        F.leaky_relu,
        lambda a, b: F.leaky_relu(a, b),
        (rand_nonzero, rand_slope),
        lambda a, b: (a + sympy.Abs(a)) / 2 + b * (a - sympy.Abs(a)) / 2,
    ),
    Spec(F.softplus, lambda a: F.softplus(a), (rand_real,), lambda a: sympy.log(1 + sympy.exp(a))),
    Spec(
        F.log_sigmoid,
        lambda a: F.log_sigmoid(a),
        (rand_real,),
        lambda a: -sympy.log(1 + sympy.exp(-a)),
    ),
    Spec(F.step, lambda a: F.step(a), (rand_nonzero,), lambda a: (1 + sympy.sign(a)) / 2),
]


def _id(spec):
    return f"{spec.op.__name__}:{spec.build(*spec.symbols)}"


def _value(expr, point) -> float:
    return float(expr.xreplace(point).evalf(30))


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_rule_partials_match_sympy_diff(spec, rng):
    symbols = spec.symbols
    node = spec.build(*symbols)
    assert type(node) is spec.op, f"{node} is a {type(node).__name__}, not {spec.op.__name__}"
    reference = (spec.reference or spec.build)(*symbols)
    rule = rule_for(node)
    assert rule is RULES[spec.op]
    for _ in range(5):
        point = {
            s: sympy.Float(sample(rng), 30)
            for s, sample in zip(symbols, spec.samplers, strict=True)
        }
        for i, arg in enumerate(node.args):
            if not arg.free_symbols:
                continue  # a constant argument (the 2 of 2**a) gets no adjoint
            # ∂node/∂arg by the chain rule through the one symbol the argument is built from
            # (no other argument of a spec line uses that symbol): ∂ref/∂sym / (∂arg/∂sym)
            (sym,) = arg.free_symbols
            dsym_darg = 1 / sympy.diff(arg, sym)
            want = _value(sympy.diff(reference, sym) * dsym_darg, point)
            got = _value(rule.partial(node, i), point)
            assert got == pytest.approx(want, rel=1e-12, abs=1e-14), (node, i, point)


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_rule_contribution_is_adjoint_times_partial(spec):
    node = spec.build(*spec.symbols)
    rule = rule_for(node)
    for i, arg in enumerate(node.args):
        if arg.free_symbols:
            assert sympy.expand(rule.contribution(node, g, i) - g * rule.partial(node, i)) == 0


def test_every_scalar_rule_has_a_spec_line():
    # Tensor rules (vjp= on symgrad.nn.tensor classes) are checked by the tensor tests.
    scalar_ops = {op for op in RULES if issubclass(op, sympy.Basic)}
    specified = {spec.op for spec in SPECS}
    assert scalar_ops - specified == set(), "rules without a spec line"
    assert specified - scalar_ops == set(), "spec lines for operations without a rule"


def test_every_ml_function_has_a_rule():
    for name, cls in F.ML_FUNCTIONS.items():
        assert cls in RULES, name


def _check_grad_against_sympy_diff(expr, wrt, rng, sampler=rand_real):
    got = symgrad.grad(expr, wrt)
    for _ in range(5):
        point = {s: sympy.Float(sampler(rng), 30) for s in wrt}
        for s, d in zip(wrt, got, strict=True):
            want = _value(sympy.diff(expr, s), point)
            assert _value(d, point) == pytest.approx(want, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("fn", [sympy.sin, sympy.cos, sympy.atan, sympy.cosh, sympy.erf])
def test_fdiff_fallback_for_sympy_functions_without_a_rule(fn, rng):
    assert fn not in RULES
    assert rule_for(fn(a)).partial is not None
    _check_grad_against_sympy_diff(fn(a * b) + a, [a, b], rng)


def test_fdiff_fallback_for_abs_gives_sign(rng):
    assert symgrad.grad(sympy.Abs(a), a) == sympy.sign(a)
    _check_grad_against_sympy_diff(sympy.Abs(a * b - 1), [a, b], rng, sampler=rand_nonzero)


def test_subclass_uses_its_parents_rule():
    class scaled_sigmoid(F.sigmoid):
        pass

    assert rule_for(scaled_sigmoid(a)) is RULES[F.sigmoid]


def test_undefined_function_on_the_path_is_named():
    f = sympy.Function("f")
    with pytest.raises(NoDerivativeRuleError, match=r"\bf\b") as e:
        symgrad.grad(f(a) * b + a, a)
    assert isinstance(e.value, SymgradError)
    assert "f(a)" in str(e.value)


def test_undefined_function_off_the_path_is_not_an_error():
    f = sympy.Function("f")
    assert symgrad.grad(f(b) + 2 * a, a) == 2


def test_piecewise_on_the_path_is_named():
    expr = sympy.Piecewise((a, a > 0), (0, True)) + b
    with pytest.raises(NoDerivativeRuleError, match="Piecewise"):
        symgrad.grad(expr, a)
    assert symgrad.grad(expr, b) == 1


def test_function_whose_fdiff_gives_up_is_named():
    class wobble(sympy.Function):
        pass  # SymPy's default fdiff answers an unevaluated Derivative

    with pytest.raises(NoDerivativeRuleError, match="wobble"):
        symgrad.grad(wobble(a) + a, a)
    with pytest.raises(NoDerivativeRuleError, match="wobble"):
        symgrad.grad(wobble(a + 1) * b, a)


def test_non_function_without_a_rule_is_named():
    with pytest.raises(NoDerivativeRuleError, match="Max"):
        symgrad.grad(sympy.Max(a, b) * c, a)


@contextmanager
def saved_rules():
    """Restore the registry as it was, whatever the body registers."""
    saved = dict(RULES)
    try:
        yield RULES
    finally:
        RULES.clear()
        RULES.update(saved)


@pytest.fixture
def rules():
    with saved_rules() as registry:
        yield registry


def test_register_replaces_a_rule(rules):
    register(sympy.tanh, partial=lambda node, i: sympy.Integer(7))
    assert symgrad.grad(sympy.tanh(a), a) == 7
    assert symgrad.grad(sympy.tanh(a) * b, a) == 7 * b


def test_register_adds_a_rule_for_a_new_operation(rules):
    register(sympy.Max, partial=lambda node, i: sympy.Heaviside(node.args[i] - node.args[1 - i]))
    assert symgrad.grad(sympy.Max(a, b), a) == sympy.Heaviside(a - b)


def test_register_a_vjp_rule(rules):
    calls = []

    def vjp(node, adjoint, i):
        calls.append((node, i))
        return 5 * adjoint

    register(sympy.exp, vjp=vjp)
    assert symgrad.grad(3 * sympy.exp(a), a) == 15
    assert calls == [(sympy.exp(a), 0)]


def test_register_needs_exactly_one_of_partial_and_vjp(rules):
    with pytest.raises(TypeError):
        register(sympy.exp)
    with pytest.raises(TypeError):
        register(sympy.exp, partial=lambda n, i: n, vjp=lambda n, g, i: g)
    assert RULES[sympy.exp].partial is not None


def test_saved_rules_restores_the_registry():
    before = dict(RULES)
    with saved_rules():
        register(sympy.tanh, partial=lambda node, i: sympy.Integer(7))
        register(sympy.Max, partial=lambda node, i: sympy.Integer(1))
    assert RULES == before
    assert symgrad.grad(sympy.tanh(a), a) == 1 - sympy.tanh(a) ** 2
    assert isinstance(RULES[sympy.tanh], Rule)


@pytest.fixture
def rng():
    return np.random.default_rng(7)
