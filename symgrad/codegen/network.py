"""Codegen stage: the generated training module of a network (or any tensor program with
one data and one labels leaf) and an optimizer.

From one :class:`~symgrad.derive.backprop.Backprop` and one optimizer, writes a
standalone module (imports numpy, numba and math only) with:

- ``loss_and_grad(params..., X, Y, lam)`` and ``predict(params..., X)``;
- ``_forward_backward``: forward, loss and backward into preallocated buffers;
- ``_update``: the optimizer's rule, one loop per parameter;
- one compiled training loop per path, ``train_full_batch`` (the data itself),
  ``train_minibatches`` and ``train_per_example`` (seeded shuffling), each filling the
  loss history and stopping at a non-finite loss or one above ``limit``;
- ``train``, plain Python, picking the loop from the batch size: Numba compiles a
  function when it is first called, so a first fit compiles only the path it runs.

Data in the generated functions is in the lecture's layout (X of n×m, Y of k×m)
except ``train``'s ``X_rows`` (m×n), from which minibatches are gathered. A dropout
mask is drawn from Numba's ``np.random`` every step, seeded with ``seed + epoch`` at each
epoch's start on every path (so a run is reproducible); ``predict`` sets it to ones.
A program predicts when its output is computed from its data and parameters alone.
"""

from __future__ import annotations

import sympy

from symgrad._version import __version__
from symgrad.codegen.emit import INDEX, LARGE_MAP, SMALL_PRODUCT, Emitter
from symgrad.codegen.kernels import (
    KernelPrinter,
    def_source,
    helper_source,
    njit_source,
    numpy_helper_source,
)
from symgrad.codegen.runtime import RUNTIME, RUNTIME_MATH
from symgrad.codegen.scalarized import straight_line_sgd
from symgrad.codegen.signature import Signature
from symgrad.engine.graph import topological_order
from symgrad.errors import SymgradError
from symgrad.model.network import Network
from symgrad.model.program import LAMBDA
from symgrad.model.tensor import Mask, Var

#: Names the generated functions use themselves: no tensor of a program may take one.
RESERVED = frozenset(
    "X_rows lr lam epochs batch_size seed t limit history B loss dtype m order size rest "
    "total epoch start q r i j k np math numba Xb Yb Xr Yr".split()
)


#: The most arguments of a generated step that Numba inlines: CPython compiles a call with
#: more than 30 as ``f(*args)`` (CALL_FUNCTION_EX), which Numba's inliner does not take.
INLINE_MAX_ARGUMENTS = 30


def _njit(signature: str, doc: str, body: list[str], *, inline: bool = False) -> str:
    """A function of the module, in NumPy's error model (see ``njit_source``)."""
    return njit_source(signature, doc, body, inline=inline, numpy_errors=True)


def _loop_nest(array: str, ndim: int, body: list[str]) -> list[str]:
    loops = [f"for i in range({array}.shape[0]):"]
    if ndim == 2:
        loops.append(f"    for j in range({array}.shape[1]):")
    return loops + ["    " * ndim + line for line in body]


class NetworkModule:
    """Source of the generated module for ``backprop`` trained by ``optimizer``.

    ``optimizer`` gives its rule over ``theta`` and ``g``, its state and, through
    ``code_names()`` and ``tuned``, the names its hyperparameters take in the code;
    ``signature`` records the argument lists of the functions generated.
    """

    def __init__(self, backprop, optimizer):
        self.bp, self.opt = backprop, optimizer
        net = backprop.network
        self.X, self.Y = net.X, net.Y
        self.params = [p.ident for p in net.params]
        self.grads = ["g" + p for p in self.params]
        self._check_names(net)
        pairs = [(f"{sym}_{p}", (str(sym), p)) for sym in optimizer.state for p in self.params]
        self.state = [name for name, _ in pairs]
        self.hyper = [h.code for h in optimizer.tuned]
        roots = [backprop.fused_loss, *backprop.gradients.values()]
        order = topological_order(roots, lambda n: n.children())
        self.masks = [n for n in order if isinstance(n, Mask)]
        # the full batch draws masks too: then it takes the seed (a network's does not)
        full_seed = ("seed",) if self.masks else ()
        data = ["X", "X_rows", "Y", "lr", "lam", "epochs", "batch_size", "seed", "t", "limit"]
        run = ("t", "limit", "history", *self.state, *self.hyper)
        self.signature = Signature(
            params=tuple(self.params),
            state=tuple(pairs),
            hyper=tuple((h.symbol, h.code) for h in optimizer.tuned),
            functions={
                "train": (*self.params, *data, "history", *self.state, *self.hyper),
                "train_full_batch": (
                    *(*self.params, "X", "Y", "lr", "lam", "epochs", *full_seed),
                    *run,
                ),
                "train_minibatches": (
                    *self.params,
                    *("X_rows", "Y", "lr", "lam", "epochs", "batch_size", "seed"),
                    *run,
                ),
                "train_per_example": (
                    *self.params,
                    *("X_rows", "Y", "lr", "lam", "epochs", "seed"),
                    *run,
                ),
                "loss_and_grad": (*self.params, "X", "Y", "lam"),
                **({"predict": (*self.params, "X")} if self._predicts(net) else {}),
                "_update": (*self.params, *self.grads, *self.state, "lr", "t", *self.hyper),
            },
        )
        # λ is an argument of the generated functions; other constants are numbers in them
        given = net.constants()
        constants = {s: v for s, v in given.items() if s != LAMBDA}
        self.printer = KernelPrinter(constants, vector_math=True)
        names = {f.node: f for f in backprop.forward}
        preferred = {f.node: f.ident for f in reversed(backprop.forward)}
        preferred.update({g: "g" + p for p, g in backprop.gradients.items()})
        for e in backprop.backward:
            if e.kind == "dZ":
                preferred.setdefault(e.node, e.ident)
        preferred.update({mask: mask.ident for mask in self.masks})
        preferred[backprop.fused_loss] = "loss"
        self.step = Emitter(roots, preferred, names, self.printer)
        # one example's scalar code calls libm: the vector forms pay off in loops only
        self.scalar_printer = KernelPrinter(constants)
        self.straight = straight_line_sgd(
            backprop, self.scalar_printer, self._rule(), optimizer.state
        )
        # without a straight-line step, one example gets a loop version with literal extents
        self.one = None if self.straight else Emitter(roots, preferred, names, self.printer, 1)
        self.fwd = (
            Emitter([net.output], preferred, names, self.printer, train=False)
            if "predict" in self.signature.functions
            else None
        )

    @staticmethod
    def _predicts(net) -> bool:
        """Whether the output is computed from the data and the parameters alone."""
        if net.output is None:
            return False
        order = topological_order([net.output], lambda n: n.children())
        leaves = {v for v in order if isinstance(v, Var)}
        return leaves <= {net.X, *net.params}

    def _check_names(self, net) -> None:
        """The tensors' names in code must not be the generated code's own."""
        mine = {"X": net.X, "Y": net.Y}
        taken = [(v.ident, v) for v in net.leaves if isinstance(v, Var | Mask)]
        taken += [(f.ident, f.node) for f in net.forward]
        for ident, node in taken:
            clash = ident in RESERVED or ident.startswith("_") or ident in ("gX", "gY")
            clash = clash or (ident in mine and mine[ident] is not node)
            clash = clash or ident in self.grads or (ident[0] == "t" and ident[1:].isdigit())
            if clash:
                raise SymgradError(
                    f"the name {ident!r} is taken in the generated code: rename that tensor"
                )

    def _aliases(self, labels: bool = True) -> list[str]:
        """The data and labels under their names in the program (a network's are X and Y)."""
        pairs = [(self.X.ident, "X")] + ([(self.Y.ident, "Y")] if labels else [])
        return [f"{name} = {arg}" for name, arg in pairs if name != arg]

    # ---- pieces ---------------------------------------------------------------
    def _allocate(self) -> str:
        grads = set(self.grads)
        lines = [f"dtype = {self.params[0]}.dtype"]
        for name, shape in self.step.buffers:
            lines.append(
                f"{name} = np.empty_like({name[1:]})"
                if name in grads
                else f"{name} = np.empty({shape}, dtype)"
            )
        names = [n for n, _ in self.step.buffers]
        lines.append(f"return ({', '.join(names)},)")
        return _njit(
            f"_allocate({', '.join(self.params)}, B)", "Buffers for a batch of B examples.", lines
        )

    def _forward_backward(self) -> str:
        buffers = ", ".join(n for n, _ in self.step.buffers)
        args = f"{', '.join(self.params)}, X, Y, lam, {buffers}"
        # a call with more arguments is compiled by CPython as f(*args), which Numba's
        # inliner refuses: such a step (an unrolled RNN's) stays a function of its own
        inline = len(self.params) + 3 + len(self.step.buffers) <= INLINE_MAX_ARGUMENTS
        body = ["B = X.shape[1]", *self._aliases(), *self.step.lines, "return loss"]
        general = _njit(
            f"_forward_backward({args})",
            "Loss of the batch (X, Y); writes every gradient into its buffer.",
            body,
            inline=inline,
        )
        general += "\n\n\n" + _njit(
            f"_batch_step({args})",
            "_forward_backward compiled once for the minibatch loop, which calls it for the "
            "full batches and the rest (inlined twice it would compile twice).",
            [f"return _forward_backward({args})"],
        )
        if self.straight:
            p = ", ".join(self.params)
            state = "".join(f", {s}" for s in self.state)
            hyper = "".join(f", {h}" for h in self.hyper)
            one = _njit(
                f"_step_one({p}, X_rows, Y, r, lam, lr, t{state}{hyper})",
                "Per-example SGD on example r: forward, loss, backward and update as "
                "straight-line code, every weight a scalar. Returns the loss.",
                self.straight,
                inline=len(self.params) + 6 + len(self.state) + len(self.hyper)
                <= INLINE_MAX_ARGUMENTS,
            )
        else:
            one = _njit(
                f"_forward_backward_one({args})",
                "The same for one example: every extent a literal, so the loops unroll.",
                ["B = 1", *self._aliases(), *self.one.lines, "return loss"],
                inline=inline,
            )
        return general + "\n\n\n" + one

    def _rule(self) -> list[str]:
        """The optimizer's assignments over ``_theta``, ``_g`` and ``_<state>``."""
        local = {self.opt.theta: sympy.Symbol("_theta"), self.opt.g: sympy.Symbol("_g")}
        local.update({s: sympy.Symbol(f"_{s}") for s in self.opt.state})
        rename = {h: sympy.Symbol(n) for h, n in self.opt.code_names().items()}
        return [
            f"{local[target]} = {self.printer.doprint(expr.xreplace({**rename, **local}))}"
            for target, expr in self.opt.updates
        ]

    def _update(self) -> str:
        """The optimizer's rule as one loop nest per parameter (no views: per-example SGD
        runs an update per example, where creating views costs more than the arithmetic)."""
        rule = self._rule()
        lines = []
        for var, g in zip(self.bp.network.params, self.grads, strict=True):
            p, idx = var.ident, INDEX[len(var.shape)]
            state = [f"{s}_{p}" for s in self.opt.state]
            body = [f"_theta = {p}{idx}", f"_g = {g}{idx}"]
            body += [f"_{s} = {a}{idx}" for s, a in zip(self.opt.state, state, strict=True)]
            body += [*rule, f"{p}{idx} = _theta"]
            body += [f"{a}{idx} = _{s}" for s, a in zip(self.opt.state, state, strict=True)]
            lines += _loop_nest(p, len(var.shape), body)
        doc = "One step in place: " + "; ".join(self.opt.equations()) + " (g = dL/dθ)."
        return _njit(self._call("_update"), doc, lines)

    def _call(self, function: str) -> str:
        """``function(args...)`` as the signature records it."""
        return f"{function}({', '.join(self.signature.functions[function])})"

    def _check_shapes(self) -> str:
        """Loops use the layer widths as literals: arrays of other shapes must not get in."""
        net = self.bp.network
        n, k = int(self.X.shape[0]), int(self.Y.shape[0])
        tests = []
        for var in net.params:
            dims = [int(d) for d in var.shape]
            tests += [f"{var.ident}.shape[{i}] != {d}" for i, d in enumerate(dims)]
        want = ", ".join(f"{v.ident} {tuple(int(d) for d in v.shape)}" for v in net.params)
        body = [
            f"if {' or '.join(tests)}:",
            f'    raise ValueError("parameters must have the shapes {want}")',
            f"if X.shape[0] != {n} or Y.shape[0] != {k} or X.shape[1] != Y.shape[1]:",
            f'    raise ValueError("X must be {n}×m and Y {k}×m (one column per example)")',
        ]
        p = ", ".join(self.params)
        doc = "Raise ValueError for arrays that do not fit."
        return _njit(f"_check_shapes({p}, X, Y)", doc, body)

    def _loss_and_grad(self) -> str:
        buffers = ", ".join(n for n, _ in self.step.buffers)
        p = ", ".join(self.params)
        body = [
            f"_check_shapes({p}, X, Y)",
            f"{buffers}, = _allocate({p}, X.shape[1])",
            f"loss = _forward_backward({p}, X, Y, lam, {buffers})",
            f"return loss, ({', '.join(self.grads)},)",
        ]
        doc = "Loss and gradients (X: n×m, Y: k×m)."
        return _njit(self._call("loss_and_grad"), doc, body)

    def _predict(self) -> str:
        p = ", ".join(self.params)
        alloc = [
            f"{n} = np.empty({shape}, {self.params[0]}.dtype)" for n, shape in self.fwd.buffers
        ]
        out = self.fwd.code[self.bp.network.output]
        k = int(self.Y.shape[0])
        body = [f"_check_shapes({p}, X, np.empty(({k}, X.shape[1])))", "B = X.shape[1]"]
        body += [*self._aliases(labels=False), *alloc]
        body += [*self.fwd.lines, f"return {out}"]
        doc = f"The {self._kind()}'s output for X (n×m)" + (": k×m." if self._network() else ".")
        return _njit(self._call("predict"), doc, body)

    def _step(self, x: str, y: str, prefix: str = "", kernel: str = "_forward_backward"):
        """One gradient step on the batch (x, y) with the buffers named ``prefix`` + name."""
        p = ", ".join(self.params)
        bufs = ", ".join(prefix + n for n, _ in self.step.buffers)
        grads = ", ".join(prefix + g for g in self.grads)
        state = "".join(f", {s}" for s in self.state)
        hyper = "".join(f", {h}" for h in self.hyper)
        return [
            f"loss = {kernel}({p}, {x}, {y}, lam, {bufs})",
            "t += 1.0",
            f"_update({p}, {grads}{state}, lr, t{hyper})",
        ]

    def _loop(self, function: str, doc: str, setup: list[str], epoch: list[str]) -> str:
        """A compiled training loop: ``setup``, then per epoch the lines ``epoch`` (which leave
        the epoch's mean loss in ``total``), the history and the stop at a bad loss."""
        body = [
            *setup,
            "for epoch in range(epochs):",
            *("    " + line for line in epoch),
            "    history[epoch] = total  # each batch's mean weighted by its share: no overflow",
            "    if not math.isfinite(history[epoch]) or history[epoch] > limit:",
            "        return epoch + 1, t",
            "return epochs, t",
        ]
        return _njit(self._call(function), doc, body)

    def _buffers(self, size: str, prefix: str = "") -> str:
        """The line allocating the step's buffers (``prefix`` + name) for ``size`` examples."""
        names = ", ".join(prefix + n for n, _ in self.step.buffers)
        return f"{names}, = _allocate({', '.join(self.params)}, {size})"

    def _columns(self, x: str, y: str, size: str) -> str:
        """The line allocating a minibatch's X and Y columns for ``size`` examples."""
        n, k = int(self.X.shape[0]), int(self.Y.shape[0])
        return f"{x}, {y} = np.empty(({n}, {size}), X_rows.dtype), np.empty(({k}, {size}), Y.dtype)"

    def _shuffled(self) -> list[str]:
        """The start of a shuffled loop: checks, and the order that epoch e shuffles."""
        p = ", ".join(self.params)
        return [f"_check_shapes({p}, X_rows.T, Y)", "m = X_rows.shape[0]", "order = np.arange(m)"]

    SHUFFLE = [
        "for r in range(m):  # epoch e's order depends on seed + e only",
        "    order[r] = r",
        "np.random.seed(seed + epoch)",
        "np.random.shuffle(order)",
        "total = 0.0",
    ]

    def _train_full_batch(self) -> str:
        p = ", ".join(self.params)
        setup = [f"_check_shapes({p}, X, Y)", self._buffers("X.shape[1]")]
        seed = ["np.random.seed(seed + epoch)  # the dropout masks"] if self.masks else []
        epoch = [*seed, *self._step("X", "Y"), "total = loss"]
        doc = "Gradient descent on the whole set (X: n×m, Y: k×m), one step an epoch."
        return self._loop("train_full_batch", doc, setup, epoch)

    def _train_minibatches(self) -> str:
        setup = [
            *self._shuffled(),
            "size = min(batch_size, m)",
            "rest = max(m % size, 1)",
            self._buffers("size"),
            self._buffers("rest", "r_"),
            self._columns("Xb", "Yb", "size"),
            self._columns("Xr", "Yr", "rest"),
        ]
        epoch = [
            *self.SHUFFLE,
            "for start in range(0, m - size + 1, size):",
            "    _gather(X_rows, Y, order, start, Xb, Yb)",
            *("    " + line for line in self._step("Xb", "Yb", kernel="_batch_step")),
            "    total += loss * (size / m)",
            "if m % size:",
            "    _gather(X_rows, Y, order, m - m % size, Xr, Yr)",
            *("    " + line for line in self._step("Xr", "Yr", "r_", "_batch_step")),
            "    total += loss * ((m % size) / m)",
        ]
        doc = "Minibatches of batch_size examples, gathered from X_rows (m×n) in shuffled order."
        return self._loop("train_minibatches", doc, setup, epoch)

    def _train_per_example(self) -> str:
        if self.straight:
            p = ", ".join(self.params)
            state = "".join(f", {s}" for s in self.state)
            hyper = "".join(f", {h}" for h in self.hyper)
            one = f"_step_one({p}, X_rows, Y, order[q], lam, lr, t{state}{hyper})"
            setup, steps = self._shuffled(), ["    t += 1.0", f"    total += {one} / m"]
        else:
            setup = [*self._shuffled(), self._buffers("1"), self._columns("Xb", "Yb", "1")]
            steps = [
                "    _gather(X_rows, Y, order, q, Xb, Yb)",
                *("    " + line for line in self._step("Xb", "Yb", kernel="_forward_backward_one")),
                "    total += loss * (1 / m)",
            ]
        epoch = [*self.SHUFFLE, "for q in range(m):", *steps]
        doc = "Per-example SGD: one step per example of X_rows (m×n), in shuffled order."
        return self._loop("train_per_example", doc, setup, epoch)

    def _train(self) -> str:
        """The entry that picks the loop: Numba compiles a loop when it first runs."""
        body = [
            "m = X_rows.shape[0]",
            "if batch_size >= m:",
            f"    return {self._call('train_full_batch')}",
            "if batch_size == 1:",
            f"    return {self._call('train_per_example')}",
            f"return {self._call('train_minibatches')}",
        ]
        doc = (
            "Epochs of training in place; returns (epochs run, steps so far).\n\n"
            "    Runs the compiled loop of one path, the whole set, minibatches or one example\n"
            "    a step, so Numba compiles only the path that runs. X is X_rows transposed\n"
            "    into a C-ordered n×m array (used when the batch is the whole set);\n"
            "    history[e] is epoch e's mean loss before its updates; epoch e shuffles with\n"
            "    seed + e, so chunks of epochs give the same result.\n"
            "    "
        )
        return def_source(self._call("train"), doc, body)

    def _helpers(self, runtime: list[str]) -> set:
        """What the kernels call, and the vector math the runtime functions call."""
        helpers = self.printer.helpers | self.scalar_printer.helpers
        return helpers.union(*(RUNTIME_MATH.get(r, ()) for r in runtime))

    def _numpy_helpers(self) -> set:
        return self.step.numpy_printer.helpers | (
            self.fwd.numpy_printer.helpers if self.fwd else set()
        )

    def _network(self) -> bool:
        return isinstance(self.bp.network, Network)

    def _kind(self) -> str:
        return "network" if self._network() else "program"

    # ---- the module --------------------------------------------------------------
    def docstring(self) -> str:
        net = self.bp.network
        lines = [
            f"Generated by symgrad {__version__} — do not edit (the body hash below is checked).",
            "",
            f"{self._kind().title()}: {net.describe(values=False)}; optimizer: {self.opt.name}.",
            "Layout: X is n×m (one column per example), Y is k×m; every gradient has its",
            "parameter's shape; "
            + (
                "dZ[l] = m ∂L/∂Z[l] (the lecture's convention)."
                if self._network()
                else "a named dA = m ∂L/∂A (the lecture's convention)."
            ),
            "",
            *self.bp.text().splitlines(),
            "Update (g = ∂L/∂θ)",
            *self.opt.equations(),
        ]
        return '"""' + "\n".join(lines) + '\n"""'

    def source(self) -> str:
        """The module's text, without the hash header (deterministic)."""
        fwd = [self.fwd] if self.fwd else []
        runtime = sorted(set().union(self.step.runtime, *(e.runtime for e in fwd), {"_gather"}))
        parts = [
            self.docstring(),
            "import math\n\nimport numba\nimport numpy as np",
            f"SMALL_PRODUCT = {SMALL_PRODUCT}  # up to this many multiply-adds, loops beat BLAS\n"
            f"LARGE_MAP = {LARGE_MAP}  # above this many entries, erf/erfc go through NumPy",
            helper_source(self._helpers(runtime), vector_math=True),
            numpy_helper_source(self._numpy_helpers()),
            *dict.fromkeys(self.step.numpy_kernels + [k for e in fwd for k in e.numpy_kernels]),
            *(RUNTIME[r] for r in runtime),
            self._check_shapes(),
            self._allocate(),
            self._forward_backward(),
            self._update(),
            self._loss_and_grad(),
            self._predict() if self.fwd else "",
            self._train_full_batch(),
            self._train_minibatches(),
            self._train_per_example(),
            self._train(),
        ]
        return "\n\n\n".join(part.rstrip() for part in parts if part) + "\n"
