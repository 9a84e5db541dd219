"""Train stage: the NumPy tier, which trains at once while Numba compiles.

A first ``fit`` in a fresh cache used to wait 5 to 20 s for Numba before its first epoch,
where a small model's whole run takes milliseconds in NumPy. This tier runs the same
derivation as the generated module: the Backprop's loss and gradient graphs, evaluated by
:mod:`symgrad.model.numeric` (the checks' oracle), and the optimizer's rule lambdified
from the equations the generated ``_update`` is written from. ``fit`` runs it while the
compiled loop builds in a helper thread and switches over between two chunks of epochs,
on the same parameter and state arrays, so the switch is invisible but for rounding.

:class:`TieredLoop` runs the chunks on the tier, then on the compiled loop. The tier
covers what the full-batch loop does in float64 without dropout (:func:`covers`);
minibatches and per-example steps are Python-bound in NumPy (microseconds a step against
the compiled loop's nanoseconds), and their shuffled order and dropout masks come from
Numba's generator, so those paths wait for the compiled loop.
"""

from __future__ import annotations

import math

import numpy as np
import sympy

from symgrad.model.numeric import Plan
from symgrad.model.program import Program
from symgrad.model.tensor import Mask, m
from symgrad.train import optimizers
from symgrad.train.compiled import Background, CompiledNetwork, in_helper_thread

#: Training on the NumPy tier starts compiling its loop (in a helper thread) once the
#: epochs left would take this many seconds more in NumPy: about what Numba needs cold.
COMPILE_AFTER = 3.0


def covers(program: Program, *, full_batch: bool, dtype) -> bool:
    """Whether the tier can run this training: the whole set a step, float64, no masks."""
    masks = any(isinstance(leaf, Mask) for leaf in program.leaves)
    return full_batch and np.dtype(dtype) == np.float64 and not masks


class NumpyTier:
    """Full-batch training of ``backprop``'s program by ``optimizer``, in NumPy.

    ``train`` takes and returns what the generated ``train_full_batch`` does, so ``fit``
    calls either one for a chunk of epochs.
    """

    def __init__(self, backprop, optimizer: optimizers.Optimizer):
        program = backprop.program
        self.program = program
        self.idents = [p.ident for p in program.params]
        grads = [backprop.gradients[ident] for ident in self.idents]
        self.plan = Plan([backprop.fused_loss, *grads])
        self.state = [str(symbol) for symbol in optimizer.state]
        symbols = (
            optimizers.theta,
            optimizers.g,
            *optimizer.state,
            optimizers.alpha,
            optimizers.t,
            *optimizer.hyper,
        )
        self.rules = [
            (symbols.index(lhs), sympy.lambdify(symbols, rhs, modules="numpy"))
            for lhs, rhs in optimizer.updates
        ]
        self.hyper = [float(value) for value in optimizer.hyper.values()]

    def train(self, params: list, state: dict, X, Y, lr, epochs, t, limit, history):
        """``epochs`` steps of gradient descent on the whole set (X: n×m, Y: k×m), updating
        ``params`` (arrays in the program's order) and ``state`` ((state name, parameter
        ident) -> array) in place; ``history[e]`` is epoch e's loss before its update.
        Returns (epochs run, steps so far), stopping after a non-finite loss or one above
        ``limit``."""
        env = {self.program.X.ident: X, self.program.Y.ident: Y}
        env.update(zip(self.idents, params, strict=True))  # updated in place below
        scalars = {m: X.shape[1], **self.program.constants()}
        for epoch in range(epochs):
            with np.errstate(all="ignore"):  # inf or NaN: a diverged loss, reported by fit
                loss, *grads = self.plan(env, scalars)
            t += 1.0
            for i, (theta, grad) in enumerate(zip(params, grads, strict=True)):
                self._update(
                    theta, grad, [state[name, self.idents[i]] for name in self.state], lr, t
                )
            history[epoch] = loss
            if not math.isfinite(loss) or loss > limit:
                return epoch + 1, t
        return epochs, t

    def _update(self, theta, grad, state: list, lr: float, t: float) -> None:
        """The optimizer's assignments in order, each into its array (θ or a state)."""
        arrays = [theta, np.broadcast_to(grad, theta.shape), *state]
        for target, rule in self.rules:
            with np.errstate(all="ignore"):
                value = rule(*arrays, lr, t, *self.hyper)
            arrays[target][...] = value


def loop_name(batch_size: int | None, m: int) -> str:
    """The generated loop that ``batch_size`` runs on ``m`` examples, as ``train`` picks it."""
    if batch_size is None or batch_size >= m:
        return "train_full_batch"
    return "train_per_example" if batch_size == 1 else "train_minibatches"


def waits_for_numba(compiled: CompiledNetwork, batch_size: int | None, m: int, dtype=np.float64):
    """Whether a ``fit`` of ``m`` examples waits for Numba before its first epoch: its loop is
    not in the cache, and the NumPy tier does not cover the run."""
    path = loop_name(batch_size, m)
    full = path == "train_full_batch"
    return not (
        compiled.cached(path, dtype) or covers(compiled.network, full_batch=full, dtype=dtype)
    )


class TieredLoop:
    """Runs a chunk of epochs: on the NumPy tier (``first``) until the compiled loop
    (``train``) is ready, then on it, with the same arrays; ``build`` compiles or loads the
    compiled loop in this process, ``precompile`` starts compiling it into the cache in a
    process of its own (see :mod:`symgrad.codegen.precompile`).

    Without a tier, it builds at once and waits. With one, it loads a cached loop from the
    start; else it starts ``precompile`` once the tier's pace says the epochs left would
    take longer than ``COMPILE_AFTER`` seconds, and loads its result when it ends.
    """

    def __init__(self, train, build, first=None, *, cached: bool = False, precompile=None):
        self.train, self.first, self.precompile = train, first, precompile
        self.builder, self.process, self.chunks = Background(build), None, 0
        if first is None:
            if build is not None:  # None: built already in this process
                in_helper_thread(build)
        elif cached:
            self.builder.start()

    def __call__(self, count: int, done: int, t: float, limit: float):
        if self.first is not None:
            if self.process is not None and self.process.poll() is not None:
                self.builder.start()  # loads what it compiled (if it failed: compiles, raising)
            if self.builder.ready():
                self.first = None  # compiled: it takes over between two chunks
        return (self.first or self.train)(count, done, t, limit)

    def plan(self, seconds: float, ran: int, left: int) -> None:
        """Start compiling when the epochs left would take over COMPILE_AFTER seconds on
        the tier (judged after the first chunk, which warms NumPy up)."""
        self.chunks += 1
        idle = self.process is None and not self.builder.started
        if self.first is not None and idle and self.chunks > 1:
            if seconds * left > COMPILE_AFTER * ran:
                self.process = self.precompile()
