"""Codegen stage: tensor graphs as straight-line Numba statements.

:class:`Emitter` walks derived tensor graphs in topological order and writes one
block of statements per node into preallocated C-ordered buffers: matrix products
as BLAS calls (``np.dot(a, b, out)``) or, when tiny, a loop (a BLAS call costs
more than a 3×2 product); each elementwise kernel as one loop; the bias added in
place after its product; sums that feed the loss accumulated without a buffer.
Every block is preceded by the equation it computes, as a comment.

A scaled sum such as the loss's ``(1/m) Σ`` scales each term before adding it, so a
mean of terms near 1e308 stays finite (their plain sum would overflow first). A term
that is itself out of range, such as ``(a − y)²/2`` for ``|a − y| > 1.3e154``, stays
``inf``: that loss is genuinely not representable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import sympy

from symgrad.codegen.kernels import KernelPrinter, NumpyKernelPrinter, slow_in_numba, stable_form
from symgrad.engine.graph import topological_order
from symgrad.model.program import LAMBDA
from symgrad.model.tensor import (
    ARG,
    AddBias,
    Broadcast,
    LogSoftmax,
    Map,
    Mask,
    MatMul,
    Ones,
    PadRows,
    Ref,
    RowSlice,
    Scale,
    Softmax,
    SoftmaxCrossEntropy,
    Sum,
    SumAll,
    SumExamples,
    SumRows,
    Transpose,
    Var,
    broadcast_axis,
    entry,
    m,
)
from symgrad.show.equations import Renderer

#: Products with at most this many multiply-adds run as loops instead of BLAS calls.
SMALL_PRODUCT = 4096
#: Elementwise kernels over more entries than this that call a function Numba has only as a
#: libm call (erf, erfc: see ``kernels.slow_in_numba``) run through NumPy's ufuncs (in
#: ``numba.objmode``); exp, log and tanh have vectorizable forms (``codegen.vector_math``).
LARGE_MAP = 20000
_BATCH = sympy.Symbol("B")
_SCALE = sympy.Symbol("_c")  # a loss's 1/m, set before the loop
_SCALARS = {m: _BATCH, LAMBDA: sympy.Symbol("lam")}
#: The loop indices of an entry of a 1-d or 2-d buffer (a scalar is a plain variable).
INDEX = {0: "", 1: "[i]", 2: "[i, j]"}


class Emitter:
    """Statements computing ``roots`` of one network's graphs into named buffers."""

    def __init__(
        self,
        roots: list,
        preferred: dict,
        names: dict,
        printer: KernelPrinter,
        batch=None,
        *,
        train: bool = True,
    ):
        self.batch = batch  # a fixed batch size makes every extent a literal
        self.train = train  # at prediction time a dropout mask is all ones
        self.order = topological_order(roots, lambda n: n.children())
        self.consumers = Counter(c for n in self.order for c in n.children())
        self.printer = printer
        self.names = names
        self.code: dict = {}
        self.buffers: list[tuple[str, str]] = []
        self.lines: list[str] = []
        self.inline: set = set()
        self.runtime: set[str] = set()
        self.numpy_printer = NumpyKernelPrinter(printer.constants)
        self.numpy_kernels: list[str] = []
        self._name_nodes(preferred)
        self._emit_all([n for n in self.order if n not in self.inline | self.code_only])

    def _emit_all(self, nodes: list) -> None:
        """Emit ``nodes`` in order; runs of elementwise loops over the same entries become one
        loop (σ, the loss's terms and A − Y read z once and share one e^-|z|),
        and a softmax cross-entropy loss followed by the softmax of the same logits one pass."""
        run: list = []
        done = set()
        for k, node in enumerate(nodes):
            if node in done:
                continue
            following = nodes[k + 1] if k + 1 < len(nodes) else None
            both = self._softmax_with_loss(node, following)
            loop = None if both else self._elementwise(node)
            if run and (loop is None or loop[0] != run[0][1][0]):  # another shape
                self._emit_loop(run)
                run = []
            if both:
                self._say(node)
                self._say(following, *both)
                done.add(following)
            elif loop is None:
                self._emit(node)
            else:
                run.append((node, loop))
        if run:
            self._emit_loop(run)

    def _softmax_with_loss(self, node, following) -> list[str] | None:
        """The one call computing a (scaled) softmax cross-entropy sum ``node`` and the
        softmax ``following`` of the same logits, else None."""
        total, scale = node, "1.0"
        if isinstance(node, Scale) and node.a in self.inline:
            total, scale = node.a, self.scalar(node.c)
        if not (isinstance(total, SumAll) and total.a in self.inline):
            return None
        loss = total.a
        if not isinstance(loss, SoftmaxCrossEntropy):
            return None
        if not (isinstance(following, Softmax) and following.z == loss.z):
            return None
        self.runtime.update(("_softmax_loss", "_softmax_column", "_scaled_gap"))
        z, y, out = self.code[loss.z], self.code[loss.y], self.code[following]
        return [f"{self.code[node]} = _softmax_loss({z}, {y}, {out}, {scale})"]

    # ---- naming -------------------------------------------------------------
    def _name_nodes(self, preferred: dict) -> None:
        self.code_only: set = set()
        temp = 0
        for node in self.order:
            view = VIEWS.get(type(node))
            if view is not None:  # a name for another array: no buffer, no statement
                self.code[node] = view(self, node)
                self.code_only.add(node)
            else:
                if node in preferred:
                    name = preferred[node]
                else:
                    name, temp = f"t{temp}", temp + 1
                self.code[node] = name
                if node.shape != ():
                    self.buffers.append((name, self._shape(node.shape)))
            self._mark_inline(node)

    def _mark_inline(self, node) -> None:
        """Fuse ``node``'s only child into it (no buffer of its own) where FUSED says so."""
        child = node.children()[0] if node.children() else None
        if child is None or self.consumers[child] != 1:
            return
        if child.shape == () and not (isinstance(node, Scale) and isinstance(child, SumAll)):
            return
        if type(child) in FUSED.get(type(node), ()):
            self.inline.add(child)
            self.buffers = [b for b in self.buffers if b[0] != self.code[child]]
            self.code[child] = self.code[node]

    def _shape(self, shape) -> str:
        dims = [
            self.scalar(d) if d.free_symbols else str(int(d))
            for d in (sympy.sympify(d, strict=True) for d in shape)
        ]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"

    def scalar(self, c) -> str:
        """Code for a scalar SymPy expression (1/m, λ/m) in the statements' variables."""
        return self.printer.doprint(sympy.sympify(c, strict=True).xreplace(_SCALARS))

    # ---- emission -----------------------------------------------------------
    def _say(self, node, *lines: str) -> None:
        others = {k: v for k, v in self.names.items() if k is not node}
        self.lines.append(f"# {self.code[node]} = {Renderer('text', others)(node)}")
        self.lines.extend(lines)

    def _dim(self, array: str, shape: tuple, k: int) -> str:
        """Extent k: a literal for a layer width (Numba can unroll tiny loops), else read."""
        d = sympy.sympify(shape[k], strict=True)
        if not d.is_Integer and self.batch is not None:
            d = d.subs(m, self.batch)
        return str(int(d)) if d.is_Integer else f"{array}.shape[{k}]"

    def _loops(self, out: str, shape: tuple, body: list[str]) -> list[str]:
        if len(shape) == 1:
            return [f"for i in range({self._dim(out, shape, 0)}):", *("    " + b for b in body)]
        return [
            f"for i in range({self._dim(out, shape, 0)}):",
            f"    for j in range({self._dim(out, shape, 1)}):",
            *("        " + b for b in body),
        ]

    def _entry(self, node, row: str, col: str) -> str:
        """``node[row, col]``, reading a transpose from its array (no view per access)."""
        if isinstance(node, Transpose):
            return f"{self.code[node.a]}[{col}, {row}]"
        return f"{self.code[node]}[{row}, {col}]"

    def _matmul(self, node: MatMul, out: str) -> list[str]:
        """A BLAS call for big products; tiny ones (per-example SGD) as loops right here."""
        a, b = self.code[node.a], self.code[node.b]
        self.runtime.add("_blas")
        product = f"{self._entry(node.a, 'i', 'k')} * {self._entry(node.b, 'k', 'j')}"
        loops = [
            f"for i in range({self._dim(out, node.shape, 0)}):",
            f"    for j in range({self._dim(out, node.shape, 1)}):",
            "        _acc = 0.0",
            f"        for k in range({self._dim(a, node.a.shape, 1)}):",
            f"            _acc += {product}",
            f"        {out}[i, j] = _acc",
        ]
        size = self._size(node.shape[0], node.shape[1], node.a.shape[1])
        if size is not None:  # a fixed batch: decided here, no BLAS call site at all
            return loops if size <= SMALL_PRODUCT else [f"_blas({a}, {b}, {out})"]
        return [
            f"if {out}.shape[0] * {out}.shape[1] * {a}.shape[1] > SMALL_PRODUCT:",
            f"    _blas({a}, {b}, {out})",
            "else:",
            *("    " + line for line in loops),
        ]

    def _size(self, *dims) -> int | None:
        """The product of ``dims`` when all are known (layer widths, a fixed batch)."""
        total = sympy.Mul(*dims)
        if self.batch is not None:
            total = total.subs(m, self.batch)
        return int(total) if total.is_Integer else None

    def _through_numpy(self, node: Map) -> bool:
        """Whether big batches run ``node`` through NumPy: its kernel is slow in Numba, and
        its size is not known to be small."""
        size = self._size(*node.shape)
        return slow_in_numba(node.kernel) and (size is None or size > LARGE_MAP)

    def _numpy_path(
        self, node: Map, loops: list[str], result: str | None = None, scaled: bool = False
    ) -> list[str]:
        """``loops`` behind a switch to a NumPy version for large kernels slow in Numba.

        ``result`` names a scalar the NumPy version returns (a sum) instead of writing ``out``;
        ``scaled``: each of its terms is multiplied by ``_c`` first.
        """
        if not self._through_numpy(node):
            return loops
        out = self.code[node]
        name = f"_np_{result or out}"
        args = ", ".join(str(ARG[k]) for k in range(len(node.args))) + ", _c" * scaled
        expr = self.numpy_printer.doprint(node.kernel)
        terms = f"_c * ({expr})" if scaled else expr
        body = f"return float(np.sum({terms}))" if result else f"out[...] = {expr}"
        params = f"{args}{'' if result else ', out'}"
        wrapper = (
            f'    with numba.objmode(total="float64"):\n'
            f"        total = {name}({args})\n"
            "    return total"
            if result
            else f"    with numba.objmode():\n        {name}({params})"
        )
        # Each objmode block in its own small function: several in one function trip Numba.
        self.numpy_kernels.append(
            f"def {name}({params}):\n    {body}\n\n\n"
            f"@numba.njit(cache=True)\ndef {name}_big({params}):\n{wrapper}"
        )
        extra = ["_c"] if scaled else [] if result else [out]
        call_args = ", ".join([self.code[a] for a in node.args] + extra)
        call = f"{result} = {name}_big({call_args})" if result else f"{name}_big({call_args})"
        first = self.code[node.args[0]]
        return [
            f"if {first}.size > LARGE_MAP:",
            f"    {call}",
            "else:",
            *("    " + line for line in loops),
        ]

    def _map_body(self, node: Map, target: str) -> list[str]:
        return self._loop_body([(target, node, None)], len(node.shape))

    def _loop_body(self, writes: list, ndim: int) -> list[str]:
        """Statements of one iteration writing each ``(target, map, factor)`` of ``writes``.

        Each array is read once, and a map computed earlier in the same loop is used as the
        value it stored, not read back; primitives are written in their stable forms and
        ``sympy.cse`` runs over all the maps at once, so that σ(z) and the loss's log σ(z)
        share one e^-|z|."""
        reads: dict[str, sympy.Symbol] = {}
        values: dict[str, sympy.Symbol] = {}  # array written -> the variable holding its entry
        exprs = []
        for _, node, factor in writes:
            subs = {}
            for k, a in enumerate(node.args):
                code = self.code[a]  # by name: a Ref reads the array its target wrote
                if code in values:
                    subs[ARG[k]] = values[code]
                else:
                    name = f"_{code}" if code.isidentifier() else f"_r{len(reads)}"
                    subs[ARG[k]] = reads.setdefault(code, sympy.Symbol(name))
            value = stable_form(node.kernel.xreplace(subs))
            exprs.append(value if factor is None else factor * value)
            code = self.code[node]
            name = f"_{code}"
            taken = name in {str(r) for r in reads.values()} or not code.isidentifier()
            values[code] = sympy.Symbol(f"_v{len(values)}" if taken else name)
        temps, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("_s"))
        outputs = list(values.values())
        lines = [f"{symbol} = {code}{INDEX[ndim]}" for code, symbol in reads.items()]
        for symbol, expr in _in_order([*temps, *zip(outputs, reduced, strict=True)]):
            lines.append(f"{symbol} = {self.printer.doprint(expr)}")
        return lines + [f"{w[0]} = {v}" for w, v in zip(writes, outputs, strict=True)]

    def _emit(self, node) -> None:
        emit = entry(EMITTERS, node, "Numba emission (codegen.emit.EMITTERS)")
        self._say(node, *emit(self, node, self.code[node]))

    def _elementwise(self, node) -> tuple | None:
        """(shape, an array of that shape, lines before, writes, lines after) of a node
        computed by one loop over its entries in Numba (a map, or a sum of a map's terms);
        the writes are ``(target, map, factor)`` (see :meth:`_loop_body`)."""
        scale = None
        if isinstance(node, Scale) and node.a in self.inline and isinstance(node.a, SumAll):
            node, scale = node.a, self.scalar(node.c)
        if isinstance(node, SumAll) and node.a in self.inline and isinstance(node.a, Map):
            child = node.a
            if self._through_numpy(child):
                return None
            extent = self.code[child.args[0]]
            return (child.shape, extent, *self._sum_terms(child, self.code[node], scale))
        if isinstance(node, Map) and node.shape != () and not self._through_numpy(node):
            target = self.code[node] + INDEX[len(node.shape)]
            return node.shape, self.code[node], [], [(target, node, None)], []
        return None

    def _emit_loop(self, run: list) -> None:
        """One loop nest computing every node of ``run`` (each its equation as a comment)."""
        shape, extent = run[0][1][:2]
        for node, _ in run[:-1]:
            self._say(node)
        before = [line for _, loop in run for line in loop[2]]
        body = self._loop_body([w for _, loop in run for w in loop[3]], len(shape))
        after = [line for _, loop in run for line in loop[4]]
        self._say(run[-1][0], *before, *self._loops(extent, shape, body), *after)

    def _sum_terms(self, child: Map, out: str, scale: str | None) -> tuple:
        """(before, writes, after) of ``out = Σ child`` (``Σ scale · child`` with a scale):
        the terms go to a buffer and are summed pairwise, since a running sum in the loop
        would make it serial (no vectorizing) and lose digits over many terms."""
        terms = f"{out}_terms"
        self.buffers.append((terms, self._shape(child.shape)))
        self.runtime.add("_pairwise_sum")
        factor = None if scale is None else _SCALE
        writes = [(f"{terms}{INDEX[len(child.shape)]}", child, factor)]
        before = [] if scale is None else [f"{_SCALE} = {scale}"]
        return before, writes, [f"{out} = _pairwise_sum({terms}.reshape({terms}.size))"]

    def _sum_all(self, node: SumAll, out: str, scale: str | None = None) -> list[str]:
        """``out = Σ node.a``, or with ``scale`` (code of a scalar) ``Σ scale · node.a``."""
        child = node.a
        if child in self.inline and isinstance(child, Map):  # big ones slow in Numba
            before, writes, after = self._sum_terms(child, out, scale)
            body = self._loop_body(writes, len(child.shape))
            loops = [*self._loops(self.code[child.args[0]], child.shape, body), *after]
            return before + self._numpy_path(child, loops, out, scaled=scale is not None)
        if child in self.inline:
            self.runtime.update(("_softmax_cross_entropy_sum", "_logsumexp", "_scaled_gap"))
            z, y = self.code[child.z], self.code[child.y]
            return [f"{out} = _softmax_cross_entropy_sum({z}, {y}, {scale or 1.0})"]
        if scale is None:
            return [f"{out} = np.sum({self.code[child]})"]
        return [f"{out} = np.sum({scale} * {self.code[child]})"]

    def _sum_examples(self, a: str, out: str) -> list[str]:
        return [
            f"for i in range({out}.shape[0]):",
            "    _acc = 0.0",
            f"    for j in range({a}.shape[1]):",
            f"        _acc += {a}[i, j]",
            f"    {out}[i] = _acc",
        ]

    def _scale(self, node: Scale, out: str) -> list[str]:
        c = self.scalar(node.c)
        if node.a in self.inline and isinstance(node.a, SumAll):
            return self._sum_all(node.a, out, scale=c)
        factor = f"({c})" if sympy.sympify(node.c, strict=True).is_Add else c  # α + 1
        if node.shape == ():
            return [f"{out} = {factor} * {self.code[node.a]}"]
        idx = INDEX[len(node.shape)]
        child = node.a
        if child in self.inline:
            first = (
                self._matmul(child, out)
                if isinstance(child, MatMul)
                else self._sum_examples(self.code[child.a], out)
            )
            return [*first, *self._loops(out, node.shape, [f"{out}{idx} *= {c}"])]
        return self._loops(out, node.shape, [f"{out}{idx} = {factor} * {self.code[child]}{idx}"])


def _in_order(assignments: list) -> list:
    """``(symbol, expression)`` pairs reordered so that each comes after those it uses."""
    pending, done = list(assignments), []
    waiting = {symbol for symbol, _ in pending}
    while pending:
        k = next(k for k, (_, e) in enumerate(pending) if not e.free_symbols & waiting)
        symbol, expr = pending.pop(k)
        waiting.discard(symbol)
        done.append((symbol, expr))
    return done


def _add_bias(e: Emitter, node: AddBias, out: str) -> list[str]:
    z, b = node.z, e.code[node.b]
    first = e._matmul(z, out) if z in e.inline else []
    src = out if z in e.inline else e.code[z]
    return [*first, *e._loops(out, node.shape, [f"{out}[i, j] = {src}[i, j] + {b}[i]"])]


def _map(e: Emitter, node: Map, out: str) -> list[str]:
    if node.shape == ():  # a formula of scalars, such as two loss terms added
        return e._map_body(node, out)
    idx = INDEX[len(node.shape)]
    return e._numpy_path(node, e._loops(out, node.shape, e._map_body(node, f"{out}{idx}")))


def _sum(e: Emitter, node: Sum, out: str) -> list[str]:
    terms = [e.code[t] for t in node.terms]
    if node.shape == ():
        return [f"{out} = {' + '.join(terms)}"]
    idx = INDEX[len(node.shape)]
    return e._loops(out, node.shape, [f"{out}{idx} = " + " + ".join(t + idx for t in terms)])


def _softmax(e: Emitter, node: Softmax, out: str) -> list[str]:
    e.runtime.update(("_softmax", "_softmax_column"))
    return [f"_softmax({e.code[node.z]}, {out})"]


def _broadcast(e: Emitter, node: Broadcast, out: str) -> list[str]:
    source = {"all": "", "examples": "[i]", "rows": "[0, j]"}
    read = e.code[node.a] + source[broadcast_axis(node.a.shape, node.shape)]
    return e._loops(out, node.shape, [f"{out}{INDEX[len(node.shape)]} = {read}"])


def _sum_rows(e: Emitter, node: SumRows, out: str) -> list[str]:
    a = e.code[node.a]
    return [
        f"for j in range({a}.shape[1]):",
        "    _acc = 0.0",
        f"    for i in range({a}.shape[0]):",
        f"        _acc += {a}[i, j]",
        f"    {out}[0, j] = _acc",
    ]


def _pad_rows(e: Emitter, node: PadRows, out: str) -> list[str]:
    a = e.code[node.a]
    return [
        f"{out}[...] = 0.0",
        f"{out}[{node.start} : {node.start} + {a}.shape[0]] = {a}",
    ]


def _log_softmax(e: Emitter, node: LogSoftmax, out: str) -> list[str]:
    e.runtime.update(("_log_softmax", "_logsumexp"))
    return [f"_log_softmax({e.code[node.z]}, {out})"]


def _mask(e: Emitter, node: Mask, out: str) -> list[str]:
    """Inverted dropout's mask, drawn anew each step; all ones at prediction time."""
    if not e.train:
        return [f"{out}[...] = 1.0"]
    keep = e.scalar(node.keep)
    draw = f"{out}{INDEX[len(node.shape)]} = (1.0 / {keep}) if np.random.random() < {keep} else 0.0"
    return e._loops(out, node.shape, [draw])


def _softmax_cross_entropy(e: Emitter, node: SoftmaxCrossEntropy, out: str) -> list[str]:
    e.runtime.update(("_softmax_cross_entropy", "_logsumexp", "_scaled_gap"))
    return [f"_softmax_cross_entropy({e.code[node.z]}, {e.code[node.y]}, {out})"]


#: The statements computing each tensor node class into its buffer ``out``:
#: ``(emitter, node, out) -> lines``.
EMITTERS: dict[type, Callable] = {
    MatMul: lambda e, node, out: e._matmul(node, out),
    AddBias: _add_bias,
    Map: _map,
    SumAll: lambda e, node, out: e._sum_all(node, out),
    SumExamples: lambda e, node, out: e._sum_examples(e.code[node.a], out),
    Scale: lambda e, node, out: e._scale(node, out),
    Sum: _sum,
    Softmax: _softmax,
    SoftmaxCrossEntropy: _softmax_cross_entropy,
    Ones: lambda e, node, out: [f"{out}[...] = 1.0"],
    Broadcast: _broadcast,
    SumRows: _sum_rows,
    LogSoftmax: _log_softmax,
    Mask: _mask,
    PadRows: _pad_rows,
}

#: Node classes that are names for other arrays, with the code naming them: no buffer, no
#: statement (a transpose is a view, never a copy).
VIEWS: dict[type, Callable] = {
    Var: lambda e, node: node.ident,
    Ref: lambda e, node: e.code[node.target],
    Transpose: lambda e, node: e.code[node.a] + ".T",
    RowSlice: lambda e, node: f"{e.code[node.a]}[{node.start} : {node.stop}]",
}

#: Which children each node class computes in place (the child gets no buffer of its own):
#: the bias added after its product, a loss's sum over its terms without storing them, a
#: scale applied to a product, a row sum or a sum where it is computed.
FUSED: dict[type, tuple] = {
    AddBias: (MatMul,),
    SumAll: (Map, SoftmaxCrossEntropy),
    Scale: (MatMul, SumExamples, SumAll),
}
