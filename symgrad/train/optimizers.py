"""Train stage: optimizers as symbolic update rules.

An optimizer is a list of elementwise assignments over scalar symbols — the
parameter θ, its gradient g, per-parameter state (v, s) and hyperparameters — so it
prints as equations and compiles into the training step like every other kernel.
Assignments run in order; a later one sees the earlier ones' new values. Each
hyperparameter is a :class:`Hyper` (its printed name, its name in generated code, its
range), so codegen takes the names from the optimizer it is handed. A new optimizer is
one function registered in :data:`OPTIMIZERS` (see ``rmsprop``).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import sympy

from symgrad.errors import SymgradError

theta, g = sympy.symbols("theta g")
alpha = sympy.Symbol("alpha", positive=True)  # the learning rate
t = sympy.Symbol("t", positive=True, integer=True)  # the step count, from 1
v, s = sympy.symbols("v s")
beta, beta1, beta2, eps = sympy.symbols("beta beta1 beta2 epsilon", positive=True)

_FRACTION = ("a number in [0, 1)", lambda x: 0 <= x < 1)


@dataclass(frozen=True)
class Hyper:
    """A hyperparameter: its symbol, its name in generated code, its printed name and the
    values it may take (the range in words, a test)."""

    symbol: sympy.Symbol
    code: str
    text: str
    words: str = "a finite number"
    ok: Callable = math.isfinite


#: The hyperparameters every rule may use: α and t (arguments of every generated step)
#: and the tuned ones of the built-in rules. A rule with others names them itself.
HYPERS = {
    h.symbol: h
    for h in (
        Hyper(alpha, "lr", "α"),
        Hyper(t, "t", "t"),
        Hyper(beta, "beta", "β", *_FRACTION),
        Hyper(beta1, "beta1", "β₁", *_FRACTION),
        Hyper(beta2, "beta2", "β₂", *_FRACTION),
        Hyper(eps, "eps", "ε", "a finite number > 0", lambda x: 0 < x < math.inf),
    )
}


@dataclass(frozen=True)
class Optimizer:
    """Update rule ``updates`` [(target, expression)] over ``theta`` and its gradient ``g``,
    its per-parameter state, and its tuned hyperparameters' values (symbol -> value, in the
    order the generated step takes them). ``names`` declares hyperparameters not in
    :data:`HYPERS`. ``words`` names the rule in the notes."""

    name: str
    updates: tuple
    state: tuple = ()
    hyper: dict = field(default_factory=dict)
    names: tuple = ()
    words: str = ""

    #: The parameter and its gradient, as the rule writes them.
    theta: ClassVar = theta
    g: ClassVar = g

    def __post_init__(self):
        for symbol, value in self.hyper.items():
            spec = self.spec(symbol)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not spec.ok(value):
                shown = value if isinstance(value, numbers.Real) else repr(value)
                raise SymgradError(f"{self.name}: {symbol} must be {spec.words}, got {shown}")

    def spec(self, symbol) -> Hyper:
        """The Hyper of ``symbol``: declared in ``names``, else in :data:`HYPERS`."""
        for h in self.names:
            if h.symbol == symbol:
                return h
        if symbol in HYPERS:
            return HYPERS[symbol]
        return Hyper(symbol, str(symbol), str(symbol))

    @property
    def tuned(self) -> list[Hyper]:
        """The tuned hyperparameters, in the order the generated step takes them."""
        return [self.spec(symbol) for symbol in self.hyper]

    def code_names(self) -> dict:
        """Symbol -> name in generated code, for α, t and the tuned hyperparameters."""
        return {h.symbol: h.code for h in [HYPERS[alpha], HYPERS[t], *self.tuned]}

    def equations(self) -> list[str]:
        """The rule as text: ``θ ← θ - α*g`` lines (g is ∂L/∂θ)."""
        return [f"{self._text(lhs)} ← {self._text(rhs)}" for lhs, rhs in self.updates]

    def notes(self) -> list[str]:
        """The notes' update section: the rule in words, its hyperparameters' values, and
        its equations as displayed LaTeX."""
        tuned = ", ".join(f"{h.text} = {self.hyper[h.symbol]:g}" for h in self.tuned)
        state = ", ".join(str(x) for x in self.state)
        return [
            f"{self.words or self.name} with learning rate α"
            + (f" ({tuned})" if tuned else "")
            + ", for every parameter θ with gradient g = ∂L/∂θ"
            + (f" and state {state} (zero at the start)" if state else "")
            + (", t the step count from 1" if self.uses(t) else "")
            + ":",
            "",
            "$$",
            self.latex(),
            "$$",
        ]

    def uses(self, symbol) -> bool:
        """Whether the rule's right-hand sides use ``symbol``."""
        return any(rhs.has(symbol) for _, rhs in self.updates)

    def latex(self) -> str:
        rows = [rf"{sympy.latex(lhs)} &\leftarrow {self._tex(rhs)}" for lhs, rhs in self.updates]
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def _tex(self, expr) -> str:
        if expr.is_Add and len(expr.args) == 2 and expr.args[1].could_extract_minus_sign():
            return f"{self._tex(expr.args[0])} - {self._tex(-expr.args[1])}"
        return sympy.latex(expr)

    def _text(self, expr) -> str:
        if expr.is_Add and len(expr.args) == 2 and expr.args[1].could_extract_minus_sign():
            return f"{self._text(expr.args[0])} - {self._text(-expr.args[1])}"
        names = {"theta": "θ", **{str(h.symbol): h.text for h in [*HYPERS.values(), *self.names]}}
        out = sympy.sstr(expr)
        for k in sorted(names, key=len, reverse=True):
            out = re.sub(rf"\b{k}\b", names[k], out)
        return out.replace("**", "^")


def _minus(a, b):
    """``a - b`` kept in that order, so it prints as the textbook writes it."""
    return sympy.Add(a, -b, evaluate=False)


def gradient_descent() -> Optimizer:
    """θ ← θ − α ∂L/∂θ: the lecture's rule."""
    return Optimizer("gd", ((theta, _minus(theta, alpha * g)),), words="Gradient descent")


def momentum(beta_value: float = 0.9) -> Optimizer:
    """Heavy-ball momentum (PyTorch's form): v ← βv + g; θ ← θ − αv."""
    return Optimizer(
        "momentum",
        ((v, beta * v + g), (theta, _minus(theta, alpha * v))),
        (v,),
        {beta: beta_value},
        words="Heavy-ball momentum",
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
        words="Adam (bias-corrected)",
    )


#: RMSprop's decay of the squared-gradient average.
RHO = Hyper(sympy.Symbol("rho", positive=True), "rho", "ρ", *_FRACTION)


def rmsprop(rho_value=0.9, eps_value=1e-8) -> Optimizer:
    """RMSprop (Hinton; Keras's form): s ← ρs + (1 − ρ)g²; θ ← θ − αg/(√s + ε)."""
    rho = RHO.symbol
    return Optimizer(
        "rmsprop",
        (
            (s, rho * s + (1 - rho) * g**2),
            (theta, _minus(theta, alpha * g / (sympy.sqrt(s) + eps))),
        ),
        (s,),
        {rho: rho_value, eps: eps_value},
        (RHO,),
        "RMSprop",
    )


OPTIMIZERS = {"gd": gradient_descent, "momentum": momentum, "adam": adam, "rmsprop": rmsprop}


def get(optimizer) -> Optimizer:
    """An Optimizer from its name in :data:`OPTIMIZERS` or an Optimizer."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise SymgradError(f"unknown optimizer {optimizer!r} (known: {', '.join(OPTIMIZERS)})")
    return OPTIMIZERS[optimizer]()
