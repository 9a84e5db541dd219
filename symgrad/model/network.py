"""Model stage: dense layers, networks and losses over a batch.

The lecture's notation: ``Z[l] = W[l] A[l-1] + b[l]``, ``A[l] = g(Z[l])``, ``A[0] = X``
with X of n×m (one column per example), W[l] of h×n, b[l] of h entries. Users hand
data in NumPy's usual layout (rows = examples); :mod:`symgrad.check.oracle`
transposes it. The loss (a :class:`~symgrad.model.losses.Loss` or its name in
:data:`~symgrad.model.losses.LOSSES`) is averaged over the m examples, plus an optional L2
penalty ``(λ/2m) Σ_l ‖W[l]‖²``, λ a finite number ≥ 0.

A network has at most ``MAX_LAYERS`` layers; a layer has 1 to ``MAX_UNITS`` inputs and outputs
and at most ``MAX_WEIGHTS`` weights, so a typo such as ``2,100000000000,1`` is refused before
anything tries to allocate it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy

from symgrad.engine.autodiff import grad
from symgrad.errors import NoDerivativeRuleError, ShapeError, SymgradError
from symgrad.functions import ACTIVATIONS as _PRIMITIVE_ACTIVATIONS
from symgrad.functions import Primitive
from symgrad.model import losses
from symgrad.model.losses import Loss
from symgrad.model.program import LAMBDA, Named, Program, softmax
from symgrad.model.tensor import (
    ARG,
    Map,
    Sum,
    SumAll,
    Tensor,
    Var,
    m,
    scale,
)
from symgrad.read.reader import as_expression

_X = ARG[0]


def _activation(fn) -> Callable:
    """Layer -> ``fn(Z, *parameters)``, the parameters read from the layer (leaky ReLU's slope)."""
    parameters = getattr(fn, "parameters", ())
    return lambda layer: fn(_X, *(sympy.nsimplify(getattr(layer, p)) for p in parameters))


#: Activations by name: the registry's (symgrad.functions.ACTIVATIONS) and the identity.
ACTIVATIONS: dict[str, Callable] = {
    **{name: _activation(fn) for name, fn in _PRIMITIVE_ACTIVATIONS.items()},
    "identity": lambda layer: _X,
}
#: The most layers (the graph's passes recurse per layer), the most inputs or outputs of one
#: layer, and the most weights of one layer (800 MB in float64).
MAX_LAYERS = 50
MAX_UNITS = 1_000_000
MAX_WEIGHTS = 100_000_000


def _finite_nonnegative(name: str, value) -> float:
    """``float(value)``, refused unless it is a finite number ≥ 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not 0 <= number < math.inf:
        shown = f"{number:g}" if isinstance(value, numbers.Real) else repr(value)
        raise SymgradError(f"{name} must be a finite number ≥ 0, got {shown}")
    return number


@dataclass(frozen=True)
class Dense:
    """A dense layer: ``n_in`` inputs, ``n_out`` outputs, an activation.

    ``activation`` is a name (:data:`ACTIVATIONS`: sigmoid, relu, leaky_relu, gelu, elu,
    silu, tanh, identity; or softmax) or a callable taking a SymPy symbol and returning the
    activation's expression (``sympy.sin``, a ``sympy.Function`` subclass, a primitive made
    by :func:`symgrad.function`). ``slope`` is leaky ReLU's.
    """

    n_in: int
    n_out: int
    activation: str | Callable = "relu"
    slope: float = 0.01

    def kernel(self, where: str) -> sympy.Expr | None:
        """The activation as a scalar kernel of ``ARG[0]`` (None for softmax)."""
        if self.activation == "softmax":
            return None
        if isinstance(self.activation, str):
            if self.activation not in ACTIVATIONS:
                known = ", ".join([*ACTIVATIONS, "softmax"])
                raise SymgradError(
                    f"{where}: unknown activation {self.activation!r} (known: {known})"
                )
            return ACTIVATIONS[self.activation](self)
        kernel = as_expression(self.activation(_X))
        if _X not in kernel.free_symbols:
            raise SymgradError(f"{where}: activation {kernel} does not depend on its input")
        try:
            grad(kernel, _X)
        except NoDerivativeRuleError as e:
            raise NoDerivativeRuleError(
                f"{where}: activation {kernel} has no derivative: {e}"
            ) from None
        return kernel

    def init_gain(self) -> float:
        """The variance gain of this layer's initial weights, the activation primitive's
        (:meth:`~symgrad.functions.Primitive.gain`); 1 for any other activation."""
        fn = self.activation
        if isinstance(fn, str):
            fn = _PRIMITIVE_ACTIVATIONS.get(fn)
        return fn.gain() if isinstance(fn, type) and issubclass(fn, Primitive) else 1.0


def mlp(sizes: Sequence[int], *, hidden="relu", output="sigmoid", slope: float = 0.01) -> list:
    """Dense layers for ``sizes = [n, h1, ..., k]``: ``hidden`` between, ``output`` last."""
    if len(sizes) < 2:
        raise ShapeError(f"an MLP needs at least two sizes (inputs, outputs), got {list(sizes)}")
    acts = [hidden] * (len(sizes) - 2) + [output]
    return [Dense(a, b, g, slope) for a, b, g in zip(sizes[:-1], sizes[1:], acts, strict=False)]


def _check_sizes(where: str, layer: Dense) -> None:
    """Refuse sizes that are not whole numbers in 1..MAX_UNITS, too many weights, a bad slope."""
    for size in (layer.n_in, layer.n_out):
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise ShapeError(f"{where}: sizes must be whole numbers, got {size!r}")
        if not 1 <= size <= MAX_UNITS:
            raise ShapeError(
                f"{where} has a size outside 1..{MAX_UNITS:,}: {layer.n_in} -> {layer.n_out}"
            )
    if layer.n_in * layer.n_out > MAX_WEIGHTS:
        raise ShapeError(
            f"{where} would have {layer.n_in * layer.n_out:,} weights "
            f"({layer.n_out}×{layer.n_in}); at most {MAX_WEIGHTS:,} are allowed"
        )
    slope = layer.slope
    if layer.activation == "leaky_relu" and not (
        isinstance(slope, numbers.Real) and math.isfinite(slope)
    ):
        raise SymgradError(f"{where}: leaky ReLU's slope must be a finite number, got {slope!r}")


class Network(Program):
    """A stack of dense layers and a loss: a tensor program built layer by layer, in the
    lecture's notation. Only the pre-activations' gradients get names (``dZ[l]``).

    >>> net = Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")
    >>> [p.text for p in net.params]
    ['W[1]', 'b[1]', 'W[2]', 'b[2]']
    """

    def __init__(self, layers: Sequence[Dense], loss: str | Loss = "bce", *, l2: float = 0.0):
        if not layers:
            raise ShapeError("a network needs at least one layer")
        if len(layers) > MAX_LAYERS:
            raise ShapeError(f"a network has at most {MAX_LAYERS} layers, got {len(layers)}")
        self.layers, self.loss_fn = list(layers), losses.get(loss)
        self.l2 = _finite_nonnegative("l2", l2)
        params: list[Var] = []
        forward: list[Named] = []
        a = Var("X", (layers[0].n_in, m), "data", "X", "X")
        for l, layer in enumerate(self.layers, start=1):
            a = self._dense(l, layer, a, params, forward)
        Y = Var("Y", (layers[-1].n_out, m), "labels", "Y", "Y")
        self.loss_terms = self._loss(a, forward[-2].node, Y, params)
        loss = self.loss_terms[0] if len(self.loss_terms) == 1 else Sum(self.loss_terms)
        super().__init__(loss, output=a, constants={LAMBDA: self.l2}, labels=self.loss_fn.labels)
        self.params, self.forward = params, forward

    @property
    def loss_name(self) -> str:
        return self.loss_fn.name

    @property
    def labels_owner(self) -> str:
        """A network's labels are its loss's (``y: binary cross-entropy labels must …``)."""
        return self.loss_fn.title

    def layer_params(self, l: int) -> tuple[Var, Var]:
        """``(W[l], b[l])``, layers counted from 1."""
        mine = {p.kind: p for p in self.params if p.layer == l}
        return mine["W"], mine["b"]

    def layer_tensor(self, l: int, kind: str) -> Tensor:
        """The forward tensor ``Z[l]`` (kind ``"Z"``) or ``A[l]`` (``"A"``)."""
        return next(f.node for f in self.forward if f.layer == l and f.kind == kind)

    @property
    def classes(self) -> int:
        return self.layers[-1].n_out

    def _dense(self, l: int, layer: Dense, a: Tensor, params: list, forward: list) -> Tensor:
        where = f"layer {l}"
        _check_sizes(where, layer)
        if layer.n_in != a.shape[0]:
            raise ShapeError(
                f"{where} takes {layer.n_in} inputs but "
                + (f"layer {l - 1} gives {a.shape[0]}" if l > 1 else f"the data has {a.shape[0]}")
            )
        if layer.activation == "softmax" and l != len(self.layers):
            raise SymgradError(f"{where}: softmax is supported on the output layer only")
        tag, tex = ("", "") if len(self.layers) == 1 else (f"[{l}]", f"^{{[{l}]}}")
        W = Var(f"W{l}", (layer.n_out, layer.n_in), "param", f"W{tag}", f"W{tex}", l, "W")
        b = Var(f"b{l}", (layer.n_out,), "param", f"b{tag}", f"b{tex}", l, "b")
        params += [W, b]
        z = W @ a + b
        forward.append(Named(f"Z{tag}", f"Z{tex}", f"Z{l}", z, l, "Z"))
        kernel = layer.kernel(where)
        out = softmax(z) if kernel is None else Map(kernel, (z,)) if kernel != _X else z
        forward.append(Named(f"A{tag}", f"A{tex}", f"A{l}", out, l, "A", adjoint=False))
        return out

    def _loss(self, out: Tensor, z: Tensor, Y: Var, params: list) -> tuple:
        """The mean loss over the examples, plus the L2 penalty's terms when λ > 0."""
        last = self.layers[-1]
        self.loss_fn.check_output(last.activation, last.n_out, len(self.layers))
        terms = [scale(1 / m, SumAll(self.loss_fn.per_example(out, z, Y)))]
        if self.l2:
            terms += [
                scale(LAMBDA / (2 * m), SumAll(Map(ARG[0] ** 2, (W,))))
                for W in params
                if W.kind == "W"
            ]
        return tuple(terms)

    def describe(self, *, values: bool = True) -> str:
        """One line: sizes, activations and loss, e.g. ``2-3-1, relu/sigmoid, bce``.

        With ``values=False`` an L2 penalty shows without its λ (a run-time value), as the
        generated code, which serves every λ, describes itself.
        """
        sizes = "-".join(str(s) for s in [self.layers[0].n_in] + [ly.n_out for ly in self.layers])
        acts = "/".join(
            str(getattr(ly.activation, "__name__", ly.activation)) for ly in self.layers
        )
        penalty = (f", L2 λ={self.l2:g}" if values else ", L2") if self.l2 else ""
        return f"{sizes}, {acts}, {self.loss_name}{penalty}"

    def __repr__(self) -> str:
        """``<Network 2-3-1, relu/sigmoid, bce: 13 parameters>``, short for notebooks."""
        count = sum(math.prod(int(d) for d in p.shape) for p in self.params)
        return f"<Network {self.describe()}: {count:,} parameters>"


def logistic_regression(n: int, *, l2: float = 0.0) -> Network:
    """The one-layer case: ``A = σ(W X + b)`` with binary cross-entropy."""
    return Network([Dense(n, 1, "sigmoid")], loss="bce", l2=l2)
