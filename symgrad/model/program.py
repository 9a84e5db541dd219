"""Model stage: the user's tensor program, in the lecture's notation.

A program declares its leaves with shapes in the lecture's layout (one column per example,
m of them): ``data("X", 2)`` is 2×m, ``param("W[1]", (3, 2))`` a weight matrix,
``param("b[1]", 3)`` a bias of 3 entries. The model and the loss are written with the
tensors' arithmetic (``@``, ``.T``, ``+ − × ÷ **`` with vectors and scalars broadcast, see
:func:`symgrad.model.tensor.binary`) and the functions here: :func:`apply` maps any scalar
SymPy expression or symgrad function over one or several tensors, :func:`sum` and
:func:`mean` reduce over the examples, the rows or everything, :func:`softmax` and
:func:`log_softmax` work on each column, :func:`dropout` masks. :func:`name` gives an
intermediate the name the printed equations use (``Z[1]``, ``mu``). :class:`Program`
collects the graph under a scalar loss (or an output and the upstream gradient fed into
it) for every later stage: derivation, printing, checking, compiling.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import sympy

from symgrad.engine.autodiff import grad
from symgrad.engine.graph import topological_order
from symgrad.errors import NoDerivativeRuleError, ShapeError, SymgradError
from symgrad.model.losses import BINARY, CLASSES, TARGETS, Labels
from symgrad.model.rewrite import rewrite
from symgrad.model.tensor import (
    ARG,
    REDUCTIONS,
    LogSoftmax,
    Mask,
    Ref,
    Softmax,
    SoftmaxCrossEntropy,
    SumAll,
    SumExamples,
    SumRows,
    Tensor,
    Var,
    broadcast,
    common_shape,
    constant,
    elementwise,
    m,
    scale,
)

#: The L2 penalty's strength as it prints (λ); its value is given with the program.
LAMBDA = sympy.Symbol("lambda", nonnegative=True)


@dataclass(frozen=True)
class Named:
    """A named tensor of the forward pass or of the backward pass: how it prints (``text``,
    ``tex``), its name in code (``ident``), its graph, and whether its adjoint is wanted.
    A network's tensors also say their ``layer`` (from 1) and ``kind`` (Z, A, dZ, dW, db)."""

    text: str
    tex: str
    ident: str
    node: Tensor
    layer: int | None = None
    kind: str = ""
    adjoint: bool = True


# ---- names ------------------------------------------------------------------------------


def ident_of(text: str) -> str:
    """A Python name for a printed name: ``W[1]`` → ``W1``, ``W_hh`` stays."""
    ident = re.sub(r"\W", "", text)
    if not ident or not ident.isidentifier():
        raise SymgradError(f"name {text!r} needs a letter or digit to be a name in code")
    return ident


def tex_of(text: str) -> str:
    """The lecture's LaTeX for a printed name: ``W[1]`` → ``W^{[1]}``, ``W_hh`` → ``W_{hh}``."""
    found = re.fullmatch(r"(\w+)\[(\w+)\]", text)
    if found:
        return f"{sympy.latex(sympy.Symbol(found[1]))}^{{[{found[2]}]}}"
    return sympy.latex(sympy.Symbol(text))


def _dims(shape) -> tuple:
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ShapeError(f"a shape is whole numbers ≥ 1, got {shape!r}")
    return tuple(sympy.Integer(d) for d in dims)


# ---- leaves -----------------------------------------------------------------------------


def data(text: str, rows: int, *, tex: str | None = None) -> Var:
    """Data of ``rows`` features per example: a rows×m matrix, one column per example."""
    (n,) = _dims(rows)
    return Var(ident_of(text), (n, m), "data", text, tex or tex_of(text))


def labels(text: str, rows: int = 1, *, tex: str | None = None) -> Var:
    """The labels: a rows×m matrix (one-hot columns for classes)."""
    (k,) = _dims(rows)
    return Var(ident_of(text), (k, m), "labels", text, tex or tex_of(text))


def param(text: str, shape, *, tex: str | None = None, init: str = "") -> Var:
    """A parameter of ``shape`` (an int for a vector). ``init`` is how training starts it:
    ``normal`` (N(0, 1/inputs), the default for matrices), ``zeros`` (for vectors) or
    ``ones`` (a batch norm's γ)."""
    if init not in ("", "normal", "zeros", "ones"):
        raise SymgradError(f"init {init!r} is not one of normal, zeros, ones")
    return Var(ident_of(text), _dims(shape), "param", text, tex or tex_of(text), init=init)


def upstream(text: str, like: Tensor, *, tex: str | None = None) -> Var:
    """The gradient fed into ``like`` from above (``dout``): the backward pass of one layer."""
    return Var(ident_of(text), like.shape, "upstream", text, tex or tex_of(text))


# ---- operations -------------------------------------------------------------------------


def name(text: str, value: Tensor, *, tex: str | None = None, adjoint: bool = True) -> Ref:
    """``value`` under the name ``text`` in the printed equations (``Z[1]``, ``mu``).

    With ``adjoint`` its gradient gets an equation of its own (``dZ[1] = …``) and later
    equations use it; without, it is only a name in the forward pass.
    """
    if not isinstance(value, Tensor):
        raise ShapeError(f"name {text!r} is given to a tensor, got {type(value).__name__}")
    return Ref(text, tex or tex_of(text), ident_of(text), value, adjoint)


def apply(fn: Callable, *tensors) -> Tensor:
    """``fn`` applied to every entry: a SymPy function or symgrad function (``sympy.tanh``,
    ``relu``), or a callable building a scalar SymPy expression from one symbol per tensor
    (``lambda s, y: Max(0, s - y + 1)``). Vectors and scalars are broadcast."""
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise ShapeError("apply takes a function and one or more tensors")
    if len(tensors) > len(ARG):
        raise ShapeError(f"apply takes at most {len(ARG)} tensors")
    symbols = ARG[: len(tensors)]
    try:
        kernel = constant(fn(*symbols))
    except (TypeError, ValueError, sympy.SympifyError) as error:
        raise SymgradError(
            f"apply: {getattr(fn, '__name__', fn)} gave no formula: {error}"
        ) from None
    # exact numbers, as in the rest of a program (0.1 is 1/10): one derivation, printed exactly
    kernel = kernel.xreplace(
        {f: sympy.nsimplify(f, rational=True) for f in kernel.atoms(sympy.Float)}
    )
    stray = kernel.free_symbols - set(symbols) - {m, LAMBDA}
    if stray:
        names = ", ".join(sorted(str(s) for s in stray))
        raise SymgradError(f"apply: the formula {kernel} has symbols of no tensor: {names}")
    for s in symbols:
        try:
            grad(kernel, s)
        except NoDerivativeRuleError as error:
            raise NoDerivativeRuleError(f"apply: {kernel} has no derivative: {error}") from None
    shape = common_shape([t.shape for t in tensors])
    return elementwise(kernel, tuple(broadcast(t, shape) for t in tensors))


def exp(a: Tensor) -> Tensor:
    return apply(sympy.exp, a)


def log(a: Tensor) -> Tensor:
    return apply(sympy.log, a)


def tanh(a: Tensor) -> Tensor:
    return apply(sympy.tanh, a)


def sqrt(a: Tensor) -> Tensor:
    return apply(sympy.sqrt, a)


#: What each reduction sums over, by its name in :func:`sum`.
_OVER = {None: SumAll, **REDUCTIONS}


def sum(a: Tensor, over: str | None = None) -> Tensor:  # noqa: A001 - the lecture's Σ
    """Σ over every entry (a scalar), over the ``"examples"`` (a vector of one entry per
    row) or over the ``"rows"`` (a 1×m row: one value per example)."""
    if over not in _OVER:
        raise SymgradError(f"sum over {over!r}: give 'examples', 'rows' or nothing (all)")
    if not isinstance(a, Tensor):
        raise ShapeError(f"sum takes a tensor, got {type(a).__name__}")
    if over == "examples" and len(a.shape) != 2:
        raise ShapeError(f"a sum over the examples needs a matrix, got shape {a.shape}")
    return _OVER[over](a)


def mean(a: Tensor, over: str | None = None) -> Tensor:
    """The mean over every entry, the ``"examples"`` (divided by m) or the ``"rows"``."""
    total = sum(a, over)
    count = {
        SumAll: sympy.Mul(*a.shape),
        SumExamples: a.shape[-1],
        SumRows: a.shape[0],
    }[type(total)]
    return scale(1 / count, total)


def softmax(z: Tensor) -> Tensor:
    """Softmax of each column (over the rows of one example)."""
    return Softmax(z)


def log_softmax(z: Tensor) -> Tensor:
    """log softmax of each column, stable for logits of any size."""
    return LogSoftmax(z)


def softmax_cross_entropy(z: Tensor, y: Tensor) -> Tensor:
    """``−Σₖ Y log softmax(Z)`` per example (1×m) from the logits: its dZ is ``A − Y``."""
    return SoftmaxCrossEntropy(z, y)


def dropout(a: Tensor, keep: float, text: str = "M", *, tex: str | None = None) -> Tensor:
    """Inverted dropout: ``a ⊙ M``, M drawn every training step (entries 1/keep with
    probability ``keep``, else 0) and all ones at prediction time."""
    if isinstance(keep, bool) or not isinstance(keep, int | float) or not 0 < keep <= 1:
        raise SymgradError(f"dropout keeps a share in (0, 1] of the units, got {keep!r}")
    mask = Mask(ident_of(text), a.shape, constant(keep), text, tex or tex_of(text))
    return elementwise(ARG[0] * ARG[1], (a, mask))


# ---- the program ------------------------------------------------------------------------

#: The kinds of labels by name, for ``Program(labels=...)``.
LABELS: dict[str, Labels] = {"targets": TARGETS, "binary": BINARY, "classes": CLASSES}


def _labels(labels) -> Labels:
    if isinstance(labels, Labels):
        return labels
    if not isinstance(labels, str) or labels not in LABELS:
        raise SymgradError(f"labels {labels!r} is not one of {', '.join(LABELS)} or a Labels")
    return LABELS[labels]


class Program:
    """A tensor program: its loss (a scalar), the named intermediates, the leaves.

    ``loss`` is a scalar tensor; or give ``output`` and its ``upstream`` gradient
    (:func:`upstream`) for the backward pass of a layer on its own (the loss is then
    Σ output ⊙ upstream, whose gradient with respect to the output is the upstream one).
    ``output`` is also what a trained program predicts. ``constants`` gives the values of
    symbols such as :data:`LAMBDA`. ``labels`` says what training takes as labels and how
    predictions are made: a :class:`~symgrad.model.losses.Labels` or one of
    :data:`LABELS`' names (real ``targets``, 0/1 ``binary``, ``classes`` made one-hot).
    """

    def __init__(
        self,
        loss: Tensor | None = None,
        *,
        output: Tensor | None = None,
        upstream: Var | None = None,
        constants: dict | None = None,
        title: str = "",
        labels: str | Labels = "targets",
    ):
        if (loss is None) == (upstream is None):
            raise SymgradError("a program has a loss, or an output and its upstream gradient")
        if upstream is not None:
            if output is None or upstream.shape != output.shape:
                raise ShapeError("the upstream gradient needs an output of its shape")
            loss = SumAll(elementwise(ARG[0] * ARG[1], (output, upstream)))
        if not isinstance(loss, Tensor) or loss.shape != ():
            shape = getattr(loss, "shape", type(loss).__name__)
            raise ShapeError(f"a loss is a scalar (shape ()), got {shape}: sum or mean it")
        self.upstream = upstream
        self.title = title
        self.labels = _labels(labels)
        self._constants = dict(constants or {})
        roots = [loss] + ([output] if output is not None else [])
        self._strip(roots)
        self.loss = self.node(loss)
        self.output = self.node(output) if output is not None else None
        order = topological_order([self.loss], lambda n: n.children())
        self.leaves = [n for n in order if isinstance(n, Var | Mask)]
        self.params = [v for v in self.leaves if isinstance(v, Var) and v.role == "param"]
        if not self.params and upstream is None:
            raise SymgradError("the loss depends on no parameter (declare them with param)")
        self._check_names()
        self._check_symbols(order)

    def _strip(self, roots: list) -> None:
        """Remove the name markers from the graph, keeping the names in ``forward``."""
        self._stripped: dict = {}
        rewrite(roots, lambda n: n.target if isinstance(n, Ref) else n, self._stripped)
        refs = sorted((n for n in self._stripped if isinstance(n, Ref)), key=lambda r: r.serial)
        self.forward = [
            Named(r.text, r.tex, r.ident, self._stripped[r], adjoint=r.adjoint) for r in refs
        ]

    def node(self, tensor: Tensor) -> Tensor:
        """The program's graph for ``tensor`` (a named tensor, a leaf or an intermediate)."""
        if tensor in self._stripped:
            return self._stripped[tensor]
        return rewrite([tensor], lambda n: n.target if isinstance(n, Ref) else n)[0]

    def _check_names(self) -> None:
        """One name, one tensor: two different tensors may not share a name in code."""
        owner: dict = {}
        for ident, thing in [(f.ident, f.node) for f in self.forward] + [
            (v.ident, v) for v in self.leaves
        ]:
            if owner.setdefault(ident, thing) != thing:
                raise SymgradError(f"two different tensors are named {ident!r}")

    def _check_symbols(self, order: list) -> None:
        known = {m, *self._constants}
        for node in order:
            for expr in (getattr(node, "kernel", None), getattr(node, "c", None)):
                stray = expr.free_symbols - set(ARG) - known if expr is not None else set()
                if stray:
                    names = ", ".join(sorted(str(s) for s in stray))
                    raise SymgradError(f"no value for {names}: give constants={{{names}: …}}")

    @property
    def X(self) -> Var:
        """The one data leaf (training takes one data matrix)."""
        return self._only("data")

    @property
    def Y(self) -> Var:
        """The one labels leaf."""
        return self._only("labels")

    def _only(self, role: str) -> Var:
        found = [v for v in self.leaves if isinstance(v, Var) and v.role == role]
        if len(found) != 1:
            raise SymgradError(f"this program has {len(found)} {role} leaves; training needs one")
        return found[0]

    def constants(self) -> dict:
        """Values of the symbols in the graph other than the batch size."""
        return dict(self._constants)

    @property
    def labels_owner(self) -> str:
        """Whose labels messages say they are: ``y: the program's labels must lie in …``."""
        return f"{self.title}'s" if self.title else "the program's"

    def describe(self, *, values: bool = True) -> str:
        """One line naming the program: its title, else its parameters (``values`` is for a
        network's λ, which a program's title does not show)."""
        return self.title or "program of " + ", ".join(p.text for p in self.params)
