"""Train stage: the NumPy tier, which trains at once while Numba compiles.

A first ``fit`` in a fresh cache used to wait 5 to 20 s for Numba before its first epoch,
where a small model's whole run takes milliseconds in NumPy. This tier runs the same
derivation as the generated module: the Backprop's loss and gradient graphs, evaluated by
:mod:`symgrad.model.numeric` (the checks' oracle), and the optimizer's rule lambdified
from the equations the generated ``_update`` is written from. ``fit`` runs it while the
compiled loop builds in a helper thread and switches over between two chunks of epochs,
on the same parameter and state arrays, so the switch is invisible but for rounding.

It covers what the full-batch loop does in float64 without dropout (:func:`covers`);
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
        scalars = {m: X.shape[1], **self.program.constants()}
        for epoch in range(epochs):
            env.update(zip(self.idents, params, strict=True))
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
