"""Codegen stage: the generated training module of a network and an optimizer.

From one :class:`~symgrad.derive.backprop.Backprop` and one optimizer, writes a
standalone module (imports numpy, numba and math only) with:

- ``loss_and_grad(params..., X, Y, lam)`` and ``predict(params..., X)``;
- ``_forward_backward``: forward, loss and backward into preallocated buffers;
- ``_update``: the optimizer's rule, one loop per parameter;
- ``train``: epochs × minibatches (seeded shuffling; the data itself when the batch
  is the whole set), filling the loss history, stopping at a non-finite loss or
  one above ``limit``.

Data in the generated functions is in the lecture's layout (X of n×m, Y of k×m)
except ``train``'s ``X_rows`` (m×n), from which minibatches are gathered.
"""

from __future__ import annotations

import sympy

from symgrad._version import __version__
from symgrad.codegen.emit import INDEX, LARGE_MAP, SMALL_PRODUCT, Emitter
from symgrad.codegen.kernels import (
    KernelPrinter,
    helper_source,
    njit_source,
    numpy_helper_source,
)
from symgrad.codegen.runtime import RUNTIME
from symgrad.codegen.scalarized import straight_line_sgd
from symgrad.codegen.signature import Signature


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
        self.params = [p.ident for p in net.params]
        self.grads = ["g" + p for p in self.params]
        pairs = [(f"{sym}_{p}", (str(sym), p)) for sym in optimizer.state for p in self.params]
        self.state = [name for name, _ in pairs]
        self.hyper = [h.code for h in optimizer.tuned]
        data = ["X", "X_rows", "Y", "lr", "lam", "epochs", "batch_size", "seed", "t", "limit"]
        self.signature = Signature(
            params=tuple(self.params),
            state=tuple(pairs),
            hyper=tuple((h.symbol, h.code) for h in optimizer.tuned),
            functions={
                "train": (*self.params, *data, "history", *self.state, *self.hyper),
                "loss_and_grad": (*self.params, "X", "Y", "lam"),
                "predict": (*self.params, "X"),
                "_update": (*self.params, *self.grads, *self.state, "lr", "t", *self.hyper),
            },
        )
        self.printer = KernelPrinter()
        names = {f.node: f for f in backprop.forward}
        preferred = {f.node: f.ident for f in reversed(backprop.forward)}
        preferred.update({g: "g" + p for p, g in backprop.gradients.items()})
        for e in backprop.backward:
            if e.kind == "dZ":
                preferred.setdefault(e.node, e.ident)
        roots = [backprop.fused_loss, *backprop.gradients.values()]
        preferred[backprop.fused_loss] = "loss"
        self.step = Emitter(roots, preferred, names, self.printer)
        self.straight = straight_line_sgd(backprop, self.printer, self._rule(), optimizer.state)
        # without a straight-line step, one example gets a loop version with literal extents
        self.one = None if self.straight else Emitter(roots, preferred, names, self.printer, 1)
        self.fwd = Emitter([net.output], preferred, names, self.printer)

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
        return njit_source(
            f"_allocate({', '.join(self.params)}, B)", "Buffers for a batch of B examples.", lines
        )

    def _forward_backward(self) -> str:
        buffers = ", ".join(n for n, _ in self.step.buffers)
        args = f"{', '.join(self.params)}, X, Y, lam, {buffers}"
        body = ["B = X.shape[1]", *self.step.lines, "return loss"]
        general = njit_source(
            f"_forward_backward({args})",
            "Loss of the batch (X, Y); writes every gradient into its buffer.",
            body,
        )
        if self.straight:
            p = ", ".join(self.params)
            state = "".join(f", {s}" for s in self.state)
            hyper = "".join(f", {h}" for h in self.hyper)
            one = njit_source(
                f"_step_one({p}, X_rows, Y, r, lam, lr, t{state}{hyper})",
                "Per-example SGD on example r: forward, loss, backward and update as "
                "straight-line code, every weight a scalar. Returns the loss.",
                self.straight,
            )
        else:
            one = njit_source(
                f"_forward_backward_one({args})",
                "The same for one example: every extent a literal, so the loops unroll.",
                ["B = 1", *self.one.lines, "return loss"],
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
        return njit_source(self._call("_update"), doc, lines)

    def _call(self, function: str) -> str:
        """``function(args...)`` as the signature records it."""
        return f"{function}({', '.join(self.signature.functions[function])})"

    def _check_shapes(self) -> str:
        """Loops use the layer widths as literals: arrays of other shapes must not get in."""
        net = self.bp.network
        n, k = net.layers[0].n_in, net.classes
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
        return njit_source(f"_check_shapes({p}, X, Y)", doc, body)

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
        return njit_source(self._call("loss_and_grad"), doc, body)

    def _predict(self) -> str:
        p = ", ".join(self.params)
        alloc = [
            f"{n} = np.empty({shape}, {self.params[0]}.dtype)" for n, shape in self.fwd.buffers
        ]
        out = self.fwd.code[self.bp.network.output]
        k = self.bp.network.classes
        body = [f"_check_shapes({p}, X, np.empty(({k}, X.shape[1])))", "B = X.shape[1]", *alloc]
        body += [*self.fwd.lines, f"return {out}"]
        return njit_source(self._call("predict"), "The network's output for X (n×m): k×m.", body)

    def _minibatches(self, step) -> list[str]:
        """One epoch's minibatches (after shuffling); per-example SGD through ``_step_one``."""
        batches = [
            "for start in range(0, m - size + 1, size):",
            "    _gather(X_rows, Y, order, start, Xb, Yb)",
            *step("Xb", "Yb", "", 1),
            "    total += loss * (size / m)",
            "if m % size:",
            "    _gather(X_rows, Y, order, m - m % size, Xr, Yr)",
            *step("Xr", "Yr", "r_", 1),
            "    total += loss * ((m % size) / m)",
        ]
        if self.straight:
            p = ", ".join(self.params)
            state = "".join(f", {s}" for s in self.state)
            hyper = "".join(f", {h}" for h in self.hyper)
            one = f"_step_one({p}, X_rows, Y, order[q], lam, lr, t{state}{hyper})"
            batches = [
                "if size == 1:",
                "    for q in range(m):",
                "        t += 1.0",
                f"        total += {one} / m",
                "else:",
                *("    " + line for line in batches),
            ]
        return ["        " + line for line in batches]

    def _train(self) -> str:
        p = ", ".join(self.params)
        names = [n for n, _ in self.step.buffers]
        state = "".join(f", {s}" for s in self.state)
        hyper = "".join(f", {h}" for h in self.hyper)
        n, k = self.bp.network.layers[0].n_in, self.bp.network.classes

        def step(x, y, prefix, depth):
            bufs = ", ".join(prefix + b for b in names)
            grads = ", ".join(prefix + g for g in self.grads)
            call = f"({p}, {x}, {y}, lam, {bufs})"
            if x == "Xb" and not self.straight:  # one example: the unrolled step
                lines = [
                    "if size == 1:",
                    f"    loss = _forward_backward_one{call}",
                    "else:",
                    f"    loss = _forward_backward{call}",
                ]
            else:
                lines = [f"loss = _forward_backward{call}"]
            lines += ["t += 1.0", f"_update({p}, {grads}{state}, lr, t{hyper})"]
            return ["    " * depth + line for line in lines]

        body = [
            f"_check_shapes({p}, X_rows.T, Y)",
            "m = X_rows.shape[0]",
            "size = min(batch_size, m)",
            "rest = max(m % size, 1)",
            f"{', '.join(names)}, = _allocate({p}, size)",
            f"{', '.join('r_' + b for b in names)}, = _allocate({p}, rest)",
            f"Xb, Yb = np.empty(({n}, size), X_rows.dtype), np.empty(({k}, size), Y.dtype)",
            f"Xr, Yr = np.empty(({n}, rest), X_rows.dtype), np.empty(({k}, rest), Y.dtype)",
            "order = np.arange(m)",
            "for epoch in range(epochs):",
            "    total = 0.0",
            "    if size == m:",
            *step("X", "Y", "", 2),
            "        total = loss",
            "    else:",
            "        for r in range(m):  # epoch e's order depends on seed + e only",
            "            order[r] = r",
            "        np.random.seed(seed + epoch)",
            "        np.random.shuffle(order)",
            *self._minibatches(step),
            "    history[epoch] = total  # each batch's mean weighted by its share: no overflow",
            "    if not math.isfinite(history[epoch]) or history[epoch] > limit:",
            "        return epoch + 1, t",
            "return epochs, t",
        ]
        sig = self._call("train")
        doc = (
            "Epochs of minibatch training in place; returns (epochs run, steps so far).\n\n"
            "    X is X_rows transposed into a C-ordered n×m array (used when the batch is\n"
            "    the whole set); history[e] is epoch e's mean loss before its updates;\n"
            "    epoch e shuffles with seed + e, so chunks of epochs give the same result.\n"
            "    "
        )
        return njit_source(sig, doc, body)

    def _numpy_helpers(self) -> set:
        return self.step.numpy_printer.helpers | self.fwd.numpy_printer.helpers

    # ---- the module --------------------------------------------------------------
    def docstring(self) -> str:
        net = self.bp.network
        lines = [
            f"Generated by symgrad {__version__} — do not edit (the body hash below is checked).",
            "",
            f"Network: {net.describe(values=False)}; optimizer: {self.opt.name}.",
            "Layout: X is n×m (one column per example), Y is k×m; every gradient has its",
            "parameter's shape; dZ[l] = m ∂L/∂Z[l] (the lecture's convention).",
            "",
            *self.bp.text().splitlines(),
            "Update (g = ∂L/∂θ)",
            *self.opt.equations(),
        ]
        return '"""' + "\n".join(lines) + '\n"""'

    def source(self) -> str:
        """The module's text, without the hash header (deterministic)."""
        runtime = sorted(self.step.runtime | self.fwd.runtime | {"_gather"})
        parts = [
            self.docstring(),
            "import math\n\nimport numba\nimport numpy as np",
            f"SMALL_PRODUCT = {SMALL_PRODUCT}  # up to this many multiply-adds, loops beat BLAS\n"
            f"LARGE_MAP = {LARGE_MAP}  # above this many entries, exp/log/tanh go through NumPy",
            helper_source(self.printer.helpers) if self.printer.helpers else "",
            numpy_helper_source(self._numpy_helpers()),
            *dict.fromkeys(self.step.numpy_kernels + self.fwd.numpy_kernels),
            *(RUNTIME[r] for r in runtime),
            self._check_shapes(),
            self._allocate(),
            self._forward_backward(),
            self._update(),
            self._loss_and_grad(),
            self._predict(),
            self._train(),
        ]
        return "\n\n\n".join(part.rstrip() for part in parts if part) + "\n"
