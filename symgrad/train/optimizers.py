"""Build stage for training: optimizers as symbolic update rules.

An optimizer is a list of elementwise assignments over scalar symbols — the
parameter θ, its gradient g, per-parameter state (v, s) and hyperparameters — so it
prints as equations and compiles into the training step like every other kernel.
Assignments run in order; a later one sees the earlier ones' new values.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field

import sympy

from symgrad.errors import SymgradError

theta, g = sympy.symbols("theta g")
alpha = sympy.Symbol("alpha", positive=True)  # the learning rate
t = sympy.Symbol("t", positive=True, integer=True)  # the step count, from 1
v, s = sympy.symbols("v s")
beta, beta1, beta2, eps = sympy.symbols("beta beta1 beta2 epsilon", positive=True)

_FRACTION = ("a number in [0, 1)", lambda x: 0 <= x < 1)
#: The values each hyperparameter may take: (the range in words, a test).
ALLOWED = {
    beta: _FRACTION,
    beta1: _FRACTION,
    beta2: _FRACTION,
    eps: ("a finite number > 0", lambda x: 0 < x < math.inf),
}


@dataclass(frozen=True)
class Optimizer:
    """Update rule ``updates`` [(target, expression)], its state and hyperparameters."""

    name: str
    updates: tuple
    state: tuple = ()
    hyper: dict = field(default_factory=dict)

    def __post_init__(self):
        for symbol, value in self.hyper.items():
            words, ok = ALLOWED.get(symbol, ("a finite number", math.isfinite))
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not ok(value):
                shown = value if isinstance(value, numbers.Real) else repr(value)
                raise SymgradError(f"{self.name}: {symbol} must be {words}, got {shown}")

    def equations(self) -> list[str]:
        """The rule as text: ``θ ← θ - α*g`` lines (g is ∂L/∂θ)."""
        return [f"{_text(lhs)} ← {_text(rhs)}" for lhs, rhs in self.updates]

    def latex(self) -> str:
        rows = [rf"{sympy.latex(lhs)} &\leftarrow {sympy.latex(rhs)}" for lhs, rhs in self.updates]
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def _text(expr) -> str:
    names = {"theta": "θ", "alpha": "α", "beta1": "β₁", "beta2": "β₂", "beta": "β", "epsilon": "ε"}
    if expr.is_Add and len(expr.args) == 2 and expr.args[1].could_extract_minus_sign():
        return f"{_text(expr.args[0])} - {_text(-expr.args[1])}"
    out = sympy.sstr(expr)
    for k in sorted(names, key=len, reverse=True):
        out = re.sub(rf"\b{k}\b", names[k], out)
    return out.replace("**", "^")


def _minus(a, b):
    """``a - b`` kept in that order, so it prints as the textbook writes it."""
    return sympy.Add(a, -b, evaluate=False)


def gradient_descent() -> Optimizer:
    """θ ← θ − α ∂L/∂θ: the lecture's rule."""
    return Optimizer("gd", ((theta, _minus(theta, alpha * g)),))


def momentum(beta_value: float = 0.9) -> Optimizer:
    """Heavy-ball momentum (PyTorch's form): v ← βv + g; θ ← θ − αv."""
    return Optimizer(
        "momentum", ((v, beta * v + g), (theta, _minus(theta, alpha * v))), (v,), {beta: beta_value}
    )


def adam(beta1_value=0.9, beta2_value=0.999, eps_value=1e-8) -> Optimizer:
    """Adam with bias correction (Kingma & Ba)."""
    m_hat = v / (1 - beta1**t)
    s_hat = s / (1 - beta2**t)
    return Optimizer(
        "adam",
        (
            (v, beta1 * v + (1 - beta1) * g),
            (s, beta2 * s + (1 - beta2) * g**2),
            (theta, _minus(theta, alpha * m_hat / (sympy.sqrt(s_hat) + eps))),
        ),
        (v, s),
        {beta1: beta1_value, beta2: beta2_value, eps: eps_value},
    )


OPTIMIZERS = {"gd": gradient_descent, "momentum": momentum, "adam": adam}


def get(optimizer) -> Optimizer:
    """An Optimizer from a name (gd, momentum, adam) or an Optimizer."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise SymgradError(f"unknown optimizer {optimizer!r} (known: {', '.join(OPTIMIZERS)})")
    return OPTIMIZERS[optimizer]()
