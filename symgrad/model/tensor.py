"""Model stage: the nodes of a tensor graph.

A network over a batch is a small DAG of tensor operations in the lecture's layout
(X is n×m, one column per example; W[l] is h×n; b[l] has h entries). Nodes are
immutable and compare structurally, so equal subgraphs are one node. Elementwise
maps carry a small SymPy scalar kernel over placeholders ``ARG[0], ARG[1], ...``;
everything else is one matrix operation. Shapes are tuples of SymPy expressions
(layer widths are integers, the batch size is the symbol ``m``), so the cost of a
graph does not depend on how many scalar weights a layer has.

Each interpretation of the nodes (VJP in :mod:`symgrad.derive.vjp`, NumPy evaluation in
:mod:`symgrad.model.numeric`, printing in :mod:`symgrad.show.equations`, Numba emission in
:mod:`symgrad.codegen.emit`, scalarization in :mod:`symgrad.codegen.scalarized`) is a table
keyed by node class beside its code, looked up with :func:`entry`; a class an
interpretation leaves out on purpose is in that module's explicit exclusion set.

Imports SymPy and symgrad.errors only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sympy
from sympy import S

from symgrad.errors import ShapeError

#: The batch size, a symbol in every shape and in the 1/m of every mean.
m = sympy.Symbol("m", positive=True, integer=True)

#: Numbers for :class:`Ref`'s ``serial``, in the order the names are made.
_SERIALS = itertools.count()

#: Placeholders of elementwise kernels: ``ARG[i]`` stands for the i-th argument.
ARG = sympy.symbols("_x0:64")


class Tensor:
    """Base of all tensor nodes; subclasses are frozen dataclasses.

    Their hashes are computed once (nodes are immutable): graphs are dict keys at every
    stage, and a recursive hash per lookup made deriving deep networks quadratic.
    """

    shape: tuple

    def children(self) -> tuple:
        return ()

    # The user's arithmetic (the tensor front end, :mod:`symgrad.model.program`): elementwise
    # with per-row vectors and scalars broadcast, ``@`` the matrix product, ``.T`` the
    # transpose. ``==`` stays structural equality: nodes are dict keys at every stage.
    def __add__(self, other):
        return binary(ARG[0] + ARG[1], self, other)

    def __radd__(self, other):
        return binary(ARG[0] + ARG[1], other, self)

    def __sub__(self, other):
        return binary(ARG[0] - ARG[1], self, other)

    def __rsub__(self, other):
        return binary(ARG[0] - ARG[1], other, self)

    def __mul__(self, other):
        return binary(ARG[0] * ARG[1], self, other)

    def __rmul__(self, other):
        return binary(ARG[0] * ARG[1], other, self)

    def __truediv__(self, other):
        return binary(ARG[0] / ARG[1], self, other)

    def __rtruediv__(self, other):
        return binary(ARG[0] / ARG[1], other, self)

    def __pow__(self, other):
        return binary(ARG[0] ** ARG[1], self, other)

    def __neg__(self):
        return scale(-1, self)

    def __matmul__(self, other):
        return MatMul(self, _tensor(other, "@"))

    def __rmatmul__(self, other):
        return MatMul(_tensor(other, "@"), self)

    def __getitem__(self, rows):
        """Rows ``start:stop`` of a matrix (``X[2:4]``, one time step's inputs), every column."""
        return RowSlice(self, *_row_range(rows, self.shape))

    def __iter__(self):
        raise TypeError("a tensor is not iterable: slice its rows (X[2:4]) instead")

    @property
    def T(self):
        """The transpose, with ``(Aᵀ)ᵀ = A``."""
        return self.a if isinstance(self, Transpose) else Transpose(self)


def _cache_hashes() -> None:
    """Wrap every node class's dataclass ``__hash__`` so it runs once per node."""
    for cls in Tensor.__subclasses__():
        structural = cls.__hash__

        def cached(self, _structural=structural):
            try:
                return self.__dict__["_hash"]
            except KeyError:
                h = _structural(self)
                object.__setattr__(self, "_hash", h)
                return h

        cls.__hash__ = cached


@dataclass(frozen=True)
class Var(Tensor):
    """A leaf: a parameter (``role="param"``) or data (``"data"``, ``"labels"``).

    ``ident`` is the Python name (``W1``); ``text`` and ``tex`` are how it prints
    (``W[1]``, ``W^{[1]}``); ``layer`` (from 1) and ``kind`` (``W``, ``b``) say whose
    parameter it is, so no stage reads them back out of the name.
    """

    ident: str
    shape: tuple
    role: str = "param"
    text: str = ""
    tex: str = ""
    layer: int | None = None
    kind: str = ""
    init: str = ""


@dataclass(frozen=True)
class Ones(Tensor):
    """A tensor of ones; the adjoint of a sum before it is scaled."""

    shape: tuple


@dataclass(frozen=True)
class MatMul(Tensor):
    a: Tensor
    b: Tensor
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        if len(self.a.shape) != 2 or len(self.b.shape) != 2 or self.a.shape[1] != self.b.shape[0]:
            raise ShapeError(
                f"matrix product of shapes {_fmt(self.a.shape)} and {_fmt(self.b.shape)}"
            )
        object.__setattr__(self, "shape", (self.a.shape[0], self.b.shape[1]))

    def children(self):
        return (self.a, self.b)


@dataclass(frozen=True)
class Transpose(Tensor):
    a: Tensor
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(reversed(self.a.shape)))

    def children(self):
        return (self.a,)


@dataclass(frozen=True)
class AddBias(Tensor):
    """``Z + b``: the bias vector ``b`` (h entries) added to every column of ``Z`` (h×m)."""

    z: Tensor
    b: Tensor
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        if self.b.shape != self.z.shape[:1]:
            raise ShapeError(f"bias of shape {_fmt(self.b.shape)} for rows of {_fmt(self.z.shape)}")
        object.__setattr__(self, "shape", self.z.shape)

    def children(self):
        return (self.z, self.b)


@dataclass(frozen=True)
class Map(Tensor):
    """Elementwise ``kernel(ARG[0], ARG[1], ...)`` over arguments of one shape."""

    kernel: sympy.Expr
    args: tuple
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        shapes = {a.shape for a in self.args}
        if len(shapes) != 1:
            raise ShapeError(
                "elementwise operation on shapes " + ", ".join(_fmt(a.shape) for a in self.args)
            )
        object.__setattr__(self, "shape", self.args[0].shape)

    def children(self):
        return self.args


@dataclass(frozen=True)
class Softmax(Tensor):
    """Softmax of each column (over the k classes of one example)."""

    z: Tensor
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "shape", self.z.shape)

    def children(self):
        return (self.z,)


@dataclass(frozen=True)
class SoftmaxCrossEntropy(Tensor):
    """Per-example ``-Σ_k Y_k log softmax(Z)_k`` (1×m), fused so that dZ = A − Y.

    Each column of ``y`` is a probability vector (one-hot labels); the loss
    constructors guarantee it.
    """

    z: Tensor
    y: Tensor
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        if self.z.shape != self.y.shape:
            raise ShapeError(
                f"labels of shape {_fmt(self.y.shape)} for logits {_fmt(self.z.shape)}"
            )
        object.__setattr__(self, "shape", (S.One, self.z.shape[1]))

    def children(self):
        return (self.z, self.y)


@dataclass(frozen=True)
class SumAll(Tensor):
    """The sum of every entry: a scalar (shape ``()``)."""

    a: Tensor
    shape: tuple = field(init=False, compare=False, default=())

    def children(self):
        return (self.a,)


@dataclass(frozen=True)
class SumExamples(Tensor):
    """Row sums ``Σ_examples A`` of an h×m tensor: the h entries of a bias gradient."""

    a: Tensor
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "shape", self.a.shape[:1])

    def children(self):
        return (self.a,)


@dataclass(frozen=True)
class Scale(Tensor):
    """``c · A`` for a scalar SymPy expression ``c`` (such as 1/m or λ/m)."""

    c: sympy.Expr
    a: Tensor
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "shape", self.a.shape)

    def children(self):
        return (self.a,)


@dataclass(frozen=True)
class Sum(Tensor):
    """``A + B + ...`` of tensors of one shape (adjoints from several consumers)."""

    terms: tuple
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        if len({t.shape for t in self.terms}) != 1:
            raise ShapeError("sum of shapes " + ", ".join(_fmt(t.shape) for t in self.terms))
        object.__setattr__(self, "shape", self.terms[0].shape)

    def children(self):
        return self.terms


@dataclass(frozen=True)
class Broadcast(Tensor):
    """``a`` repeated to ``shape``: a scalar to any shape, a vector of h entries to every
    column of an h×c matrix (a bias, a batch mean), a 1×c row to every row of a k×c matrix
    (a per-example value)."""

    a: Tensor
    shape: tuple

    def __post_init__(self):
        if broadcast_axis(self.a.shape, self.shape) is None:
            raise ShapeError(f"cannot broadcast shape {_fmt(self.a.shape)} to {_fmt(self.shape)}")

    def children(self):
        return (self.a,)


@dataclass(frozen=True)
class SumRows(Tensor):
    """Column sums ``Σₖ A`` of a k×c tensor: a 1×c row (per example, over the classes)."""

    a: Tensor
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        if len(self.a.shape) != 2:
            raise ShapeError(f"a sum over rows needs a matrix, got shape {_fmt(self.a.shape)}")
        object.__setattr__(self, "shape", (S.One, self.a.shape[1]))

    def children(self):
        return (self.a,)


@dataclass(frozen=True)
class LogSoftmax(Tensor):
    """``log softmax`` of each column: ``Z − log Σₖ exp Z``, computed stably."""

    z: Tensor
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "shape", self.z.shape)

    def children(self):
        return (self.z,)


@dataclass(frozen=True)
class Mask(Tensor):
    """Inverted dropout's mask: each entry ``1/keep`` with probability ``keep``, else 0,
    drawn anew every training step; all ones at prediction time. A leaf, like a Var."""

    ident: str
    shape: tuple
    keep: sympy.Expr
    text: str = ""
    tex: str = ""


@dataclass(frozen=True)
class RowSlice(Tensor):
    """Rows ``start`` to ``stop`` (not included) of a matrix, every column: one time step's
    inputs stacked in one data matrix."""

    a: Tensor
    start: int
    stop: int
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "shape", (sympy.Integer(self.stop - self.start), self.a.shape[1]))

    def children(self):
        return (self.a,)


@dataclass(frozen=True)
class PadRows(Tensor):
    """``a`` placed in rows ``start`` onwards of a ``rows``-row matrix of zeros: the adjoint
    of a :class:`RowSlice`."""

    a: Tensor
    start: int
    rows: int
    shape: tuple = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "shape", (sympy.Integer(self.rows), self.a.shape[1]))

    def children(self):
        return (self.a,)


@dataclass(frozen=True)
class Ref(Tensor):
    """A named intermediate (``dZ[2]``): prints as its name, evaluates as ``target``.

    The user's names (:func:`symgrad.model.program.name`) are Refs too until the program
    collects them; ``adjoint`` says whether such a name's gradient is wanted, ``serial``
    counts names as they are given.
    """

    text: str
    tex: str
    ident: str
    target: Tensor
    adjoint: bool = True
    shape: tuple = field(init=False, compare=False)
    #: when the name was given: the printed forward pass lists names in the order written
    serial: int = field(default_factory=lambda: next(_SERIALS), compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "shape", self.target.shape)

    def children(self):
        return (self.target,)


_cache_hashes()


def entry(table: Mapping[type, Callable], node: Tensor, interpretation: str) -> Callable:
    """``table``'s entry for ``node``'s class; a TypeError naming both when there is none."""
    try:
        return table[type(node)]
    except KeyError:
        raise TypeError(f"no {interpretation} for tensor node {type(node).__name__}") from None


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def scale(c, a: Tensor) -> Tensor:
    """``c · a``, merging nested scales and dropping a factor of one."""
    c = sympy.sympify(c, strict=True)
    if isinstance(a, Scale):
        c, a = c * a.c, a.a
    return a if c == 1 else Scale(c, a)


def split_scale(a: Tensor) -> tuple:
    """``(c, core)`` with ``a = c · core``."""
    return (a.c, a.a) if isinstance(a, Scale) else (S.One, a)


def elementwise(kernel: sympy.Expr, args: tuple) -> Tensor:
    """A :class:`Map` with duplicate and unused arguments removed, ``c·x`` written as a
    :class:`Scale` of the argument, the identity map collapsed to its argument and a
    constant kernel written as a scaled :class:`Ones`.

    Other numeric factors stay in the kernel, so a named ``dZ`` keeps them (dZ = m ∂L/∂Z)."""
    kernel = sympy.sympify(kernel, strict=True)
    coeff, rest = kernel.as_coeff_Mul()
    if coeff != 1 and coeff.is_Number and rest in ARG:  # c·x: a scaled argument, not a map
        return scale(coeff, elementwise(rest, args))
    used, mapping = [], {}
    for i, a in enumerate(args):
        if ARG[i] not in kernel.free_symbols:
            continue
        if a not in used:
            used.append(a)
        mapping[ARG[i]] = ARG[used.index(a)]
    kernel = kernel.xreplace(mapping)
    if kernel == ARG[0] and len(used) == 1:
        return used[0]
    if not kernel.free_symbols & set(ARG):  # x − x, or maps fused into a constant
        if not args:
            raise ShapeError(f"elementwise kernel {kernel} has no arguments")
        return scale(kernel, Ones(args[0].shape))
    return Map(kernel, tuple(used))


def broadcast_axis(small: tuple, big: tuple) -> str | None:
    """How ``small`` repeats to ``big``: ``"same"``, over ``"all"`` entries (a scalar), over
    the ``"examples"`` (a vector of h entries to h×c), over the ``"rows"`` (1×c to k×c);
    None when it does not."""
    if tuple(small) == tuple(big):
        return "same"
    if small == ():
        return "all"
    if len(big) == 2 and len(small) == 1 and small[0] == big[0]:
        return "examples"
    if len(big) == 2 and len(small) == 2 and small[0] == 1 and small[1] == big[1]:
        return "rows"
    return None


#: The sum over each way of broadcasting (:func:`broadcast_axis`): what a broadcast's adjoint
#: reduces with, and what ``symgrad.nn.sum`` reduces over.
REDUCTIONS = {"all": SumAll, "examples": SumExamples, "rows": SumRows}


def broadcast(a: Tensor, shape: tuple) -> Tensor:
    """``a`` repeated to ``shape`` (see :class:`Broadcast`), its scalar factor kept outside."""
    if tuple(a.shape) == tuple(shape):
        return a
    c, core = split_scale(a)
    return scale(c, Ones(tuple(shape)) if isinstance(core, Ones) else Broadcast(core, tuple(shape)))


def constant(value) -> sympy.Expr:
    """A number (or a SymPy expression of no tensor) as an exact SymPy constant."""
    if isinstance(value, str) or isinstance(value, bool):
        raise ShapeError(f"tensor arithmetic takes tensors and numbers, got {value!r}")
    if isinstance(value, float):
        return sympy.nsimplify(value, rational=True)
    try:
        return sympy.sympify(value, strict=True)
    except sympy.SympifyError:
        raise ShapeError(
            f"tensor arithmetic takes tensors and numbers, got {type(value).__name__}"
        ) from None


def _row_range(rows, shape: tuple) -> tuple[int, int]:
    """``(start, stop)`` of a row index or a slice ``start:stop`` within a matrix's rows."""
    if len(shape) != 2 or not shape[0].is_Integer:
        raise ShapeError(f"rows are sliced from a matrix of known rows, not shape {_fmt(shape)}")
    total = int(shape[0])
    if isinstance(rows, int) and not isinstance(rows, bool):
        rows = slice(rows, rows + 1 if rows != -1 else None)
    if not isinstance(rows, slice) or rows.step not in (None, 1):
        raise ShapeError(f"rows are sliced as X[start:stop], got {rows!r}")
    start = 0 if rows.start is None else rows.start + total * (rows.start < 0)
    stop = total if rows.stop is None else rows.stop + total * (rows.stop < 0)
    if not 0 <= start < stop <= total:
        raise ShapeError(f"rows {rows.start}:{rows.stop} of a matrix with {total} rows")
    return start, stop


def _tensor(value, op: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise ShapeError(f"{op} takes two tensors, got {type(value).__name__}")
    return value


def common_shape(shapes: list) -> tuple:
    """The shape every one of ``shapes`` broadcasts to; a ShapeError naming them otherwise."""
    for big in shapes:
        if all(broadcast_axis(s, big) is not None for s in shapes):
            return tuple(big)
    raise ShapeError("elementwise operation on shapes " + ", ".join(_fmt(s) for s in shapes))


def binary(kernel: sympy.Expr, a, b) -> Tensor:
    """``kernel(a, b)`` elementwise, with numbers folded into the kernel, a scalar factor
    kept as a :class:`Scale`, ``Z + b`` for a vector b an :class:`AddBias` (the lecture's
    bias), and the smaller operand broadcast to the larger one's shape."""
    tensors = [(i, x) for i, x in enumerate((a, b)) if isinstance(x, Tensor)]
    numbers = {ARG[i]: constant(x) for i, x in enumerate((a, b)) if not isinstance(x, Tensor)}
    kernel = kernel.xreplace(numbers)
    if len(tensors) == 1:
        ((i, t),) = tensors
        kernel = kernel.xreplace({ARG[i]: ARG[0]})
        coeff, rest = kernel.as_independent(ARG[0], as_Add=False)
        return scale(coeff, t) if rest == ARG[0] else elementwise(kernel, (t,))
    x, y = a, b
    if kernel == ARG[0] + ARG[1]:
        for z, v in ((x, y), (y, x)):
            if len(z.shape) == 2 and broadcast_axis(v.shape, z.shape) == "examples":
                return AddBias(z, v)
    shape = common_shape([x.shape, y.shape])
    return elementwise(kernel, (broadcast(x, shape), broadcast(y, shape)))
