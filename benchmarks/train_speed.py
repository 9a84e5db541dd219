"""Benchmark: whole training runs of symgrad's generated Numba loop against hand-written code,
JAX and PyTorch (issue 4).

Each case trains in float64, from the same initial parameters (``symgrad.nn.init_params``,
seed 0) on the same data, at the machine's default thread count:

1. logistic regression, full-batch gradient descent: m = 100,000, n = 50, 200 steps, and
   m = 1,000, n = 10, 200 steps (cases ``logreg`` and ``logreg-small``; X ~ N(0, 1), labels
   drawn from σ of a random linear teacher);
2. softmax networks with a tanh hidden layer and cross-entropy, full-batch gradient descent:
   64-32-10 on scikit-learn's digits (pixels / 16, m = 1,797, 200 steps, ``digits``) and
   784-128-10 on 10,000 synthetic examples (X uniform in [-0.5, 0.5], labels the argmax of a
   random linear teacher plus noise, 50 steps, ``wide``);
3. the lecture's 2-3-1 network (ReLU or tanh hidden layer, σ output, binary cross-entropy)
   trained by per-example SGD (batch size 1), 10,000 examples × 5 epochs (``sgd-relu``,
   ``sgd-tanh``; X ~ N(0, I), label 1 outside the circle that halves the data).

Implementations (each row times a whole training run, losses of every step or epoch recorded):

* symgrad fit: ``symgrad.train.fit(..., compiled=compiled)``, everything a user calls;
* symgrad train: the generated ``compiled.module.train(...)`` loop called directly (data already
  in its layout), so fit's Python overhead is the difference between the two rows;
* NumPy: a hand-written forward and backward pass with NumPy arrays, a Python loop of steps;
* Numba (hand): a hand-written ``@numba.njit(fastmath=True)`` loop, fused elementwise loops,
  BLAS products through ``np.dot``, single-threaded loops like symgrad's;
* JAX jit step: ``jax.jit`` of one step (value_and_grad + update) called in a Python loop;
* JAX fori_loop: the whole run as one jitted ``lax.fori_loop``;
* PyTorch eager: autograd and in-place updates, ``torch.set_default_dtype(torch.float64)``.

Each time is the median of ``--repeats`` runs (3 when one run takes over 3 s) after one warm-up
run of a single step or epoch with the same shapes, whose time ("first call", compiling
included) is shown separately. The implementations of a case take turns, one whole run each, so
that a change of the machine's load falls on all of them. Per-example SGD visits the examples
in symgrad's order for every implementation: symgrad shuffles ``arange(m)`` with Numba's
``np.random.seed(seed + e)`` at epoch e, and this script replays those shuffles in Numba and
hands that order to the others (symgrad's time includes its shuffling, about 0.1 ms per epoch
of 10,000 examples; the others get the order for free). The final training loss of every
implementation, evaluated by one NumPy function at its final parameters, must agree with
symgrad's to 1e-6 relative: a mismatch is flagged in the table and makes the exit status 1.

Compile times of symgrad (derive + generate + import, then Numba compiling ``train``) are
measured in subprocesses: cold in a fresh temporary folder, warm in a second subprocess on the
same folder (Numba's cache). The issue's targets are checked at the end.

Run: ``pip install ".[bench]"`` (and scikit-learn for the digits: ``".[bench,data]"``), then
``python benchmarks/train_speed.py`` (``--quick`` for a smoke run with small sizes, ``--cases``
to pick cases, ``--repeats N``, ``--no-compile`` to skip the compile-time subprocesses,
``--single-thread`` for one thread everywhere, e.g. on a machine shared with other work, where
multi-threaded BLAS and OpenMP suffer most).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

import symgrad
from symgrad.nn import Network, init_params, mlp, to_columns
from symgrad.train.compiled import CompiledNetwork
from symgrad.train.fit import fit

AGREE = 1e-6  # final losses must agree to this relative difference
SLOW = 3.0  # seconds: a run slower than this is repeated 3 times at most
IMPLS = [
    "symgrad fit",
    "symgrad train",
    "NumPy",
    "Numba (hand)",
    "JAX jit step",
    "JAX fori_loop",
    "PyTorch eager",
]


# ---- cases ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """A network, its data and its training schedule (full sizes, and ``quick`` = (m, epochs))."""

    name: str
    group: int  # the case number
    sizes: tuple
    hidden: str
    output: str
    m: int
    epochs: int
    lr: float
    batch: int | None  # None: full batch; 1: per-example SGD
    quick: tuple

    def network(self) -> Network:
        loss = "cross_entropy" if self.output == "softmax" else "bce"
        return Network(mlp(list(self.sizes), hidden=self.hidden, output=self.output), loss=loss)

    def title(self, m: int, epochs: int) -> str:
        if len(self.sizes) == 2:
            net = f"logistic regression, n = {self.sizes[0]}"
        else:
            net = "-".join(map(str, self.sizes)) + f" {self.hidden}/{self.output}"
        data = "digits" if self.name == "digits" else "synthetic"
        if self.batch is None:
            return f"{net}, m = {m:,} {data}, full-batch gd, {epochs} steps"
        return f"{net}, bce, m = {m:,} {data}, per-example SGD, {epochs} epochs"


CASES = [
    Case("logreg", 1, (50, 1), "none", "sigmoid", 100_000, 200, 1.0, None, (5_000, 20)),
    Case("logreg-small", 1, (10, 1), "none", "sigmoid", 1_000, 200, 1.0, None, (1_000, 20)),
    Case("digits", 2, (64, 32, 10), "tanh", "softmax", 1_797, 200, 0.5, None, (500, 20)),
    Case("wide", 2, (784, 128, 10), "tanh", "softmax", 10_000, 50, 0.5, None, (1_000, 5)),
    Case("sgd-relu", 3, (2, 3, 1), "relu", "sigmoid", 10_000, 5, 0.05, 1, (500, 2)),
    Case("sgd-tanh", 3, (2, 3, 1), "tanh", "sigmoid", 10_000, 5, 0.05, 1, (500, 2)),
]
BY_NAME = {c.name: c for c in CASES}


@dataclass
class Problem:
    """One case made concrete: data in rows, one-hot/column targets, initial parameters."""

    case: Case
    network: Network
    X: np.ndarray  # m×n, C-ordered
    y: np.ndarray  # labels as symgrad takes them (0/1 floats or class integers)
    Yh: np.ndarray  # m×k targets (k = 1 for bce, one-hot for cross-entropy)
    init: list  # [W1, b1, W2, b2, ...] in the lecture's shapes (W: h×n)
    idents: list
    epochs: int
    orders: np.ndarray | None  # epochs×m example order for SGD

    @property
    def hidden(self) -> list:
        return [self.case.hidden] * (len(self.case.sizes) - 2)

    @property
    def bce(self) -> bool:
        return self.case.output == "sigmoid"


@numba.njit(cache=False)
def _sgd_orders(m, epochs, seed):
    """The example order of symgrad's fit: epoch e shuffles arange(m) seeded with seed + e."""
    out = np.empty((epochs, m), np.int64)
    for e in range(epochs):
        order = np.arange(m)
        np.random.seed(seed + e)
        np.random.shuffle(order)
        out[e] = order
    return out


def _data(case: Case, m: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    n = case.sizes[0]
    if case.name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.data[:m] / 16.0, digits.target[:m].astype(np.int64)
    if case.group == 1:
        X = rng.standard_normal((m, n))
        w = rng.standard_normal(n) * 3.0 / math.sqrt(n)
        return X, (rng.random(m) < 1.0 / (1.0 + np.exp(-X @ w))).astype(float)
    if case.group == 2:
        X = rng.random((m, n)) - 0.5
        teacher = rng.standard_normal((case.sizes[-1], n))
        return X, np.argmax(X @ teacher.T + rng.standard_normal((m, case.sizes[-1])), axis=1)
    X = rng.standard_normal((m, n))
    return X, ((X**2).sum(axis=1) > 2.0 * math.log(2.0)).astype(float)


def make_problem(case: Case, quick: bool) -> Problem:
    m, epochs = case.quick if quick else (case.m, case.epochs)
    network = case.network()
    X, y = _data(case, m)
    X = np.ascontiguousarray(X, dtype=np.float64)
    _, Y = to_columns(network, X, y)
    start = init_params(network, seed=0)
    idents = [p.ident for p in network.params]
    orders = _sgd_orders(len(X), epochs, 0) if case.batch == 1 else None
    return Problem(
        case,
        network,
        X,
        y,
        np.ascontiguousarray(Y.T),
        [start[k] for k in idents],
        idents,
        epochs,
        orders,
    )


# ---- reference loss and the NumPy implementation ---------------------------------------------
def numpy_value_and_grad(params, X, Yh, hidden, bce):
    """Loss and gradients of a dense network, rows = examples, by hand-written backprop."""
    m = X.shape[0]
    a, cache = X, []
    for k, act in enumerate(hidden):
        z = a @ params[2 * k].T + params[2 * k + 1]
        cache.append((a, z))
        a = np.maximum(z, 0.0) if act == "relu" else np.tanh(z)
    z = a @ params[-2].T + params[-1]
    if bce:
        ez = np.exp(-np.abs(z))
        loss = np.sum(np.maximum(z, 0.0) + np.log1p(ez) - Yh * z) / m
        dz = (np.where(z >= 0.0, 1.0 / (1.0 + ez), ez / (1.0 + ez)) - Yh) / m
    else:
        top = z.max(axis=1, keepdims=True)
        ez = np.exp(z - top)
        total = ez.sum(axis=1, keepdims=True)
        loss = np.sum(top + np.log(total) - np.sum(Yh * z, axis=1, keepdims=True)) / m
        dz = (ez / total - Yh) / m
    grads = [dz.T @ a, dz.sum(axis=0)]
    for k in range(len(hidden) - 1, -1, -1):
        prev, zk = cache[k]
        da = dz @ params[2 * k + 2]
        dz = da * (zk > 0.0) if hidden[k] == "relu" else da * (1.0 - np.tanh(zk) ** 2)
        grads = [dz.T @ prev, dz.sum(axis=0), *grads]
    return float(loss), grads


def final_loss(p: Problem, params) -> float:
    """The training loss at ``params``: one NumPy evaluation for every implementation."""
    return numpy_value_and_grad([np.asarray(q) for q in params], p.X, p.Yh, p.hidden, p.bce)[0]


def make_numpy(p: Problem, lr: float):
    X, Yh, hidden, bce = p.X, p.Yh, p.hidden, p.bce

    def run(epochs):
        params = [q.copy() for q in p.init]
        history = np.zeros(epochs)
        for e in range(epochs):
            if p.orders is None:
                steps = [(X, Yh)]
            else:
                steps = ((X[r : r + 1], Yh[r : r + 1]) for r in p.orders[e])
            total = 0.0
            for xb, yb in steps:
                loss, grads = numpy_value_and_grad(params, xb, yb, hidden, bce)
                for q, g in zip(params, grads, strict=True):
                    q -= lr * g
                total += loss
            history[e] = total if p.orders is None else total / len(X)
        return params, history

    return run


# ---- hand-written Numba ------------------------------------------------------------------------
@numba.njit(fastmath=True)
def nb_logreg_gd(W, b, X, y, lr, epochs, history):
    """Logistic regression, full batch: W (1×n), b (1,), X (m×n), y (m,)."""
    m, n = X.shape
    w = W[0]
    z = np.empty(m)
    dz = np.empty(m)
    gw = np.empty(n)
    inv_m = 1.0 / m
    for e in range(epochs):
        np.dot(X, w, z)
        total = 0.0
        gb = 0.0
        for i in range(m):
            zi = z[i] + b[0]
            ez = math.exp(-abs(zi))
            total += max(zi, 0.0) + math.log1p(ez) - y[i] * zi
            s = 1.0 / (1.0 + ez) if zi >= 0.0 else ez / (1.0 + ez)
            d = (s - y[i]) * inv_m
            dz[i] = d
            gb += d
        history[e] = total * inv_m
        np.dot(dz, X, gw)
        for j in range(n):
            w[j] -= lr * gw[j]
        b[0] -= lr * gb


@numba.njit(fastmath=True)
def nb_mlp_softmax_gd(W1, b1, W2, b2, X, Y, lr, epochs, history, relu):
    """One hidden layer (tanh or ReLU), softmax cross-entropy, full batch, rows = examples."""
    m, n = X.shape
    h, k = W1.shape[0], W2.shape[0]
    Z1, A1, D1 = np.empty((m, h)), np.empty((m, h)), np.empty((m, h))
    Z2, D2 = np.empty((m, k)), np.empty((m, k))
    gW1, gW2, gb1, gb2 = np.empty((h, n)), np.empty((k, h)), np.empty(h), np.empty(k)
    inv_m = 1.0 / m
    for e in range(epochs):
        np.dot(X, W1.T, Z1)
        for i in range(m):
            for j in range(h):
                zij = Z1[i, j] + b1[j]
                Z1[i, j] = zij
                A1[i, j] = (zij if zij > 0.0 else 0.0) if relu else math.tanh(zij)
        np.dot(A1, W2.T, Z2)
        total = 0.0
        gb2[:] = 0.0
        for i in range(m):
            top = Z2[i, 0] + b2[0]
            for c in range(k):
                zic = Z2[i, c] + b2[c]
                Z2[i, c] = zic
                top = max(top, zic)
            s = 0.0
            for c in range(k):
                ez = math.exp(Z2[i, c] - top)
                D2[i, c] = ez
                s += ez
            lse = top + math.log(s)
            inv_s = 1.0 / s
            for c in range(k):
                total += Y[i, c] * (lse - Z2[i, c])
                d = (D2[i, c] * inv_s - Y[i, c]) * inv_m
                D2[i, c] = d
                gb2[c] += d
        history[e] = total * inv_m
        np.dot(D2.T, A1, gW2)
        np.dot(D2, W2, D1)
        gb1[:] = 0.0
        for i in range(m):
            for j in range(h):
                if relu:
                    d = D1[i, j] if Z1[i, j] > 0.0 else 0.0
                else:
                    d = D1[i, j] * (1.0 - A1[i, j] * A1[i, j])
                D1[i, j] = d
                gb1[j] += d
        np.dot(D1.T, X, gW1)
        for j in range(h):
            for c in range(n):
                W1[j, c] -= lr * gW1[j, c]
            b1[j] -= lr * gb1[j]
        for c in range(k):
            for j in range(h):
                W2[c, j] -= lr * gW2[c, j]
            b2[c] -= lr * gb2[c]


@numba.njit(fastmath=True)
def nb_sgd_2layer(W1, b1, W2, b2, X, y, orders, lr, epochs, history, relu):
    """One hidden layer (ReLU or tanh), σ output and bce, per-example SGD in ``orders``."""
    m, n = X.shape
    h = W1.shape[0]
    z1, a1 = np.empty(h), np.empty(h)
    for e in range(epochs):
        total = 0.0
        for q in range(m):
            r = orders[e, q]
            z2 = b2[0]
            for i in range(h):
                zi = b1[i]
                for j in range(n):
                    zi += W1[i, j] * X[r, j]
                z1[i] = zi
                a1[i] = (zi if zi > 0.0 else 0.0) if relu else math.tanh(zi)
                z2 += W2[0, i] * a1[i]
            ez = math.exp(-abs(z2))
            total += max(z2, 0.0) + math.log1p(ez) - y[r] * z2
            d2 = (1.0 / (1.0 + ez) if z2 >= 0.0 else ez / (1.0 + ez)) - y[r]
            for i in range(h):
                slope = (1.0 if z1[i] > 0.0 else 0.0) if relu else 1.0 - a1[i] * a1[i]
                d1 = W2[0, i] * d2 * slope
                W2[0, i] -= lr * d2 * a1[i]
                b1[i] -= lr * d1
                for j in range(n):
                    W1[i, j] -= lr * d1 * X[r, j]
            b2[0] -= lr * d2
        history[e] = total / m


def make_numba(p: Problem, lr: float):
    depth = len(p.hidden)
    relu = depth == 1 and p.hidden[0] == "relu"
    y = np.ascontiguousarray(p.Yh[:, 0]) if p.bce else None
    if p.orders is None and depth == 0 and p.bce:
        kernel = lambda ps, e, hist: nb_logreg_gd(*ps, p.X, y, lr, e, hist)  # noqa: E731
    elif p.orders is None and depth == 1 and not p.bce:
        kernel = lambda ps, e, hist: nb_mlp_softmax_gd(*ps, p.X, p.Yh, lr, e, hist, relu)  # noqa: E731
    elif p.orders is not None and depth == 1 and p.bce:
        kernel = lambda ps, e, hist: nb_sgd_2layer(*ps, p.X, y, p.orders, lr, e, hist, relu)  # noqa: E731
    else:
        return None

    def run(epochs):
        params = [q.copy() for q in p.init]
        history = np.zeros(epochs)
        kernel(params, epochs, history)
        return params, history

    return run


# ---- symgrad -----------------------------------------------------------------------------------
def make_symgrad_fit(p: Problem, lr: float, compiled: CompiledNetwork):
    start = dict(zip(p.idents, p.init, strict=True))

    def run(epochs):
        result = fit(
            p.network,
            p.X,
            p.y,
            lr=lr,
            epochs=epochs,
            batch_size=p.case.batch,
            seed=0,
            params=start,
            compiled=compiled,
        )
        return [result.params[k] for k in p.idents], result.history

    return run


def make_symgrad_train(p: Problem, lr: float, compiled: CompiledNetwork):
    m, n = p.X.shape
    train = compiled.module.train
    opt = compiled.optimizer
    hyper = [opt.hyper[h] for h in sorted(opt.hyper, key=str)]
    Y = np.ascontiguousarray(p.Yh.T)
    X_cols = np.ascontiguousarray(p.X.T) if p.case.batch is None else np.empty((n, 0))
    l2 = p.network.l2

    def run(epochs):
        values = [q.copy() for q in p.init]
        state = [np.zeros_like(v) for _ in opt.state for v in values]
        history = np.full(epochs, np.nan)
        size = p.case.batch or m
        args = (X_cols, p.X, Y, lr, l2, epochs, size, 0, 0.0, math.inf, history)
        train(*values, *args, *state, *hyper)
        return values, history

    return run


# ---- JAX ---------------------------------------------------------------------------------------
def _jax():
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def _jax_loss(jax, hidden, bce):
    jnp = jax.numpy

    def loss(params, X, Yh):
        a = X
        for k, act in enumerate(hidden):
            z = a @ params[2 * k].T + params[2 * k + 1]
            a = jnp.maximum(z, 0.0) if act == "relu" else jnp.tanh(z)
        z = a @ params[-2].T + params[-1]
        if bce:
            return jnp.mean(jax.nn.softplus(z) - Yh * z)
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.sum(Yh * z, axis=1))

    return jax.value_and_grad(loss)


def make_jax_step(p: Problem, lr: float):
    jax = _jax()
    if jax is None:
        return None
    jnp, lax = jax.numpy, jax.lax
    vg = _jax_loss(jax, p.hidden, p.bce)
    X, Yh = jnp.asarray(p.X), jnp.asarray(p.Yh)

    if p.orders is None:

        @jax.jit
        def step(params, X, Yh):
            loss, grads = vg(params, X, Yh)
            return [q - lr * g for q, g in zip(params, grads, strict=True)], loss

    else:

        @jax.jit
        def step(params, total, X, Yh, r):
            loss, grads = vg(
                params, lax.dynamic_slice_in_dim(X, r, 1), lax.dynamic_slice_in_dim(Yh, r, 1)
            )
            return [q - lr * g for q, g in zip(params, grads, strict=True)], total + loss

    def run(epochs):
        params = [jnp.asarray(q) for q in p.init]
        if p.orders is None:
            losses = []
            for _ in range(epochs):
                params, loss = step(params, X, Yh)
                losses.append(loss)
            history = np.asarray(jnp.stack(losses))
        else:
            history = np.zeros(epochs)
            for e in range(epochs):
                total = jnp.zeros(())
                for r in p.orders[e].tolist():
                    params, total = step(params, total, X, Yh, r)
                history[e] = float(total) / len(p.X)
        return [np.asarray(q) for q in params], history

    return run


def make_jax_fori(p: Problem, lr: float):
    jax = _jax()
    if jax is None:
        return None
    jnp, lax = jax.numpy, jax.lax
    vg = _jax_loss(jax, p.hidden, p.bce)
    X, Yh = jnp.asarray(p.X), jnp.asarray(p.Yh)
    m, size = len(p.X), p.epochs
    orders = None if p.orders is None else jnp.asarray(p.orders)

    @jax.jit
    def whole(params, X, Yh, orders, epochs):
        def body(i, carry):
            params, hist = carry
            if orders is None:
                loss, grads = vg(params, X, Yh)
                hist = hist.at[i].set(loss)
            else:
                r = orders[i // m, i % m]
                loss, grads = vg(
                    params, lax.dynamic_slice_in_dim(X, r, 1), lax.dynamic_slice_in_dim(Yh, r, 1)
                )
                hist = hist.at[i // m].add(loss / m)
            return [q - lr * g for q, g in zip(params, grads, strict=True)], hist

        steps = epochs if orders is None else epochs * m
        return lax.fori_loop(0, steps, body, (params, jnp.zeros(size)))

    def run(epochs):
        params, hist = whole([jnp.asarray(q) for q in p.init], X, Yh, orders, epochs)
        return [np.asarray(q) for q in params], np.asarray(hist)[:epochs]

    return run


# ---- PyTorch -----------------------------------------------------------------------------------
def make_torch(p: Problem, lr: float):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_default_dtype(torch.float64)
    X = torch.from_numpy(p.X)
    target = torch.from_numpy(p.Yh) if p.bce else torch.from_numpy(p.Yh.argmax(axis=1))
    hidden, m = p.hidden, len(p.X)

    def loss_fn(params, x, t):
        a = x
        for k, act in enumerate(hidden):
            z = a @ params[2 * k].T + params[2 * k + 1]
            a = torch.relu(z) if act == "relu" else torch.tanh(z)
        z = a @ params[-2].T + params[-1]
        return F.binary_cross_entropy_with_logits(z, t) if p.bce else F.cross_entropy(z, t)

    def step(params, x, t):
        loss = loss_fn(params, x, t)
        loss.backward()
        with torch.no_grad():
            for q in params:
                q.add_(q.grad, alpha=-lr)
                q.grad = None
        return loss.item()

    def run(epochs):
        params = [torch.tensor(q, requires_grad=True) for q in p.init]
        history = np.zeros(epochs)
        for e in range(epochs):
            if p.orders is None:
                history[e] = step(params, X, target)
            else:
                total = 0.0
                for r in p.orders[e].tolist():
                    total += step(params, X[r : r + 1], target[r : r + 1])
                history[e] = total / m
        return [q.detach().numpy() for q in params], history

    return run


# ---- timing ------------------------------------------------------------------------------------
@dataclass
class Row:
    impl: str
    status: str = "ok"
    median: float = math.nan
    runs: int = 0
    first: float = math.nan
    loss: float = math.nan
    flag: str = ""
    times: list = field(default_factory=list)


def measure(runs: dict, p: Problem, repeats: int) -> list:
    """Rows for ``runs`` (impl -> run): a warm-up each, then whole runs in round-robin.

    The warm-up is one step or epoch (compiling included). Taking turns spreads any change of
    the machine's load over every implementation; one slower than ``SLOW`` stops at 3 runs.
    """
    rows, results, wanted = {}, {}, {}
    for impl, run in runs.items():
        rows[impl] = Row(impl)
        try:
            t0 = time.perf_counter()
            run(1)
            rows[impl].first = time.perf_counter() - t0
            wanted[impl] = repeats
        except Exception as e:  # a broken competitor must not stop the run
            rows[impl].status = f"error: {type(e).__name__}: {e}"[:120]
    for i in range(repeats):
        for impl, run in runs.items():
            if i >= wanted.get(impl, 0):
                continue
            row = rows[impl]
            gc.collect()
            try:
                t0 = time.perf_counter()
                results[impl] = run(p.epochs)
                row.times.append(time.perf_counter() - t0)
            except Exception as e:
                row.status, wanted[impl] = f"error: {type(e).__name__}: {e}"[:120], 0
                continue
            if row.times[0] > SLOW:
                wanted[impl] = min(repeats, 3)
    for impl, row in rows.items():
        if row.status != "ok":
            continue
        row.median, row.runs = statistics.median(row.times), len(row.times)
        params, history = results[impl]
        if not np.all(np.isfinite(history)):
            row.flag = "NON-FINITE LOSS"
        row.loss = final_loss(p, params)
        print(f"  {impl:<14} {row.median:9.4f} s", file=sys.stderr, flush=True)
    return list(rows.values())


def compile_probe(folder: str, name: str) -> None:
    """Subprocess body: time CompiledNetwork (derive, generate, import) and Numba's compile."""
    case = BY_NAME[name]
    t0 = time.perf_counter()
    network = case.network()
    compiled = CompiledNetwork(network, "gd", folder=folder)
    t1 = time.perf_counter()
    n, m = case.sizes[0], 4
    X = np.ascontiguousarray(np.random.default_rng(0).random((m, n)))
    y = np.arange(m) % case.sizes[-1] if case.output == "softmax" else np.arange(m) % 2 * 1.0
    _, Y = to_columns(network, X, y)
    values = [v.copy() for v in init_params(network).values()]
    X_cols = np.ascontiguousarray(X.T) if case.batch is None else np.empty((n, 0))
    compiled.module.train(
        *values,
        X_cols,
        X,
        np.ascontiguousarray(Y),
        0.1,
        0.0,
        1,
        case.batch or m,
        0,
        0.0,
        math.inf,
        np.zeros(1),
    )
    t2 = time.perf_counter()
    print(json.dumps({"derive_generate": t1 - t0, "numba": t2 - t1}))


def compile_times(case: Case, folder: Path) -> dict:
    """Cold (fresh folder) and warm (same folder) compile times, each in a new interpreter."""
    env = dict(os.environ)
    root = str(Path(symgrad.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    out = {}
    for kind in ("cold", "warm"):
        proc = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--compile-probe",
                str(folder),
                case.name,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        out[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


MAKERS = {
    "NumPy": make_numpy,
    "Numba (hand)": make_numba,
    "JAX jit step": make_jax_step,
    "JAX fori_loop": make_jax_fori,
    "PyTorch eager": make_torch,
}


def run_case(case: Case, args, folder: Path) -> tuple[Problem, list, dict | None]:
    p = make_problem(case, args.quick)
    print(f"\n### {case.name}: {case.title(len(p.X), p.epochs)}, lr = {case.lr}", flush=True)
    times = None
    if not args.no_compile:
        times = compile_times(case, folder)
    compiled = CompiledNetwork(p.network, "gd", folder=folder)
    runs, missing = {}, []
    for impl in IMPLS:
        if args.impls and impl not in args.impls:
            continue
        if impl == "symgrad fit":
            run = make_symgrad_fit(p, case.lr, compiled)
        elif impl == "symgrad train":
            run = make_symgrad_train(p, case.lr, compiled)
        else:
            run = MAKERS[impl](p, case.lr)
        if run is None:
            absent = impl.split()[0] in ("JAX", "PyTorch")
            missing.append(Row(impl, "not installed" if absent else "n/a"))
        else:
            runs[impl] = run
    rows = measure(runs, p, args.repeats) + missing
    check_losses(rows)
    return p, rows, times


def check_losses(rows: list) -> None:
    ref = next((r for r in rows if r.impl.startswith("symgrad") and r.status == "ok"), None)
    if ref is None:
        return
    for r in rows:
        if r.status == "ok" and abs(r.loss - ref.loss) > AGREE * abs(ref.loss):
            r.flag = (r.flag + " " if r.flag else "") + "LOSS MISMATCH"


# ---- report ------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return f"{x:.3g}" if x < 1 else f"{x:.2f}"


def case_table(rows: list) -> str:
    by = {r.impl: r for r in rows}
    fit_t = by.get("symgrad fit", Row("")).median
    train_t = by.get("symgrad train", Row("")).median
    lines = [
        "| implementation | median s | runs | first call s | ÷ symgrad fit | ÷ symgrad train "
        "| final loss | check |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.status != "ok":
            lines.append(f"| {r.impl} | {r.status} | | | | | | |")
            continue
        lines.append(
            f"| {r.impl} | {_fmt(r.median)} | {r.runs} | {_fmt(r.first)} | "
            f"{r.median / fit_t:.2f} | {r.median / train_t:.2f} | {r.loss:.10g} | "
            f"{r.flag or 'ok'} |"
        )
    return "\n".join(lines)


def _best(by: dict, names: list) -> float:
    values = [by[n].median for n in names if n in by and by[n].status == "ok"]
    return min(values) if values else math.nan


def targets(results: dict, compile_results: dict) -> list:
    """(target, measured, verdict) for the issue's targets on the cases that ran."""
    out = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "MISSED")

    for name, rows in results.items():
        by = {r.impl: r for r in rows}
        s = by.get("symgrad fit", Row("")).median
        jax_t = _best(by, ["JAX jit step", "JAX fori_loop"])
        torch_t = _best(by, ["PyTorch eager"])
        group = BY_NAME[name].group
        if group == 1:
            for label, t in (("JAX", jax_t), ("PyTorch", torch_t)):
                ratio = t / s
                ok = None if math.isnan(ratio) else ratio >= 2.0
                out.append((f"{name}: ≥ 2× faster than {label}", f"{ratio:.2f}×", verdict(ok)))
        elif group == 2:
            fastest = (
                np.nanmin([jax_t, torch_t])
                if not (np.isnan(jax_t) and np.isnan(torch_t))
                else math.nan
            )
            ratio = s / fastest
            ok = None if math.isnan(ratio) else ratio <= 1.1
            out.append((f"{name}: ≤ 1.1× the fastest of JAX/PyTorch", f"{ratio:.2f}×", verdict(ok)))
            if name == "digits":
                ratio = s / jax_t
                ok = None if math.isnan(ratio) else ratio <= 1.0
                out.append((f"{name}: at least as fast as JAX", f"{ratio:.2f}×", verdict(ok)))
        else:
            ratio = s / _best(by, ["Numba (hand)"])
            ok = None if math.isnan(ratio) else ratio <= 1.2
            out.append((f"{name}: ≤ 1.2× hand Numba", f"{ratio:.2f}×", verdict(ok)))
            ratio = jax_t / s
            ok = None if math.isnan(ratio) else ratio >= 10.0
            out.append((f"{name}: ≥ 10× faster than JAX's best", f"{ratio:.1f}×", verdict(ok)))
    for name, t in compile_results.items():
        cold = t["cold"]["derive_generate"] + t["cold"]["numba"]
        warm = t["warm"]["derive_generate"] + t["warm"]["numba"]
        out.append((f"{name}: compile cold < 10 s", f"{cold:.2f} s", verdict(cold < 10.0)))
        out.append((f"{name}: compile warm < 1 s", f"{warm:.2f} s", verdict(warm < 1.0)))
    return out


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = [
        f"Python {platform.python_version()}",
        f"NumPy {np.__version__}",
        f"Numba {numba.__version__}",
    ]
    threads = [f"Numba {numba.get_num_threads()}"]
    try:
        from threadpoolctl import threadpool_info

        threads += [
            f"{i['internal_api']} {i['version']} {i['num_threads']}" for i in threadpool_info()
        ]
    except ImportError:
        pass
    jax = _jax()
    versions.append(f"JAX {jax.__version__}" if jax else "JAX not installed")
    try:
        import torch

        versions.append(f"PyTorch {torch.__version__}")
        threads.append(f"torch {torch.get_num_threads()}")
    except ImportError:
        versions.append("PyTorch not installed")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, load average {load:.1f} at the start; "
        f"threads: {', '.join(threads)}\n{', '.join(versions)}"
    )


def single_thread():
    """One thread everywhere (for a shared machine, or to compare single-core code)."""
    from threadpoolctl import threadpool_limits

    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )
    numba.set_num_threads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    return threadpool_limits(1)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument(
        "--cases",
        nargs="+",
        metavar="CASE",
        choices=[c.name for c in CASES] + ["1", "2", "3"],
        help="cases (names or issue groups 1, 2, 3; default: all)",
    )
    parser.add_argument(
        "--impls",
        nargs="+",
        choices=IMPLS,
        metavar="IMPL",
        help=f"implementations (default: all of {', '.join(IMPLS)})",
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (default 5; 3 quick)")
    parser.add_argument("--no-compile", action="store_true", help="skip the compile-time probes")
    parser.add_argument(
        "--single-thread",
        action="store_true",
        help="one thread for BLAS, OpenMP, PyTorch and XLA (default: the machine's thread count)",
    )
    parser.add_argument(
        "--compile-probe", nargs=2, metavar=("FOLDER", "CASE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.compile_probe:
        compile_probe(*args.compile_probe)
        return 0
    args.repeats = args.repeats or (3 if args.quick else 5)
    chosen = args.cases or [c.name for c in CASES]
    cases = [c for c in CASES if c.name in chosen or str(c.group) in chosen]
    if args.impls and not {"symgrad fit", "symgrad train"} & set(args.impls):
        args.impls.append("symgrad train")  # the reference for losses and ratios
    try:  # load the BLAS that Numba's np.dot calls now, so that thread reports and limits see it
        import scipy.linalg.cython_blas  # noqa: F401
    except ImportError:
        pass
    if args.single_thread:
        _limit = single_thread()  # noqa: F841 (kept alive for the whole run)
    print(machine())
    results, compiles, mismatch = {}, {}, False
    with tempfile.TemporaryDirectory(prefix="symgrad_bench_") as tmp:
        for case in cases:
            if case.name == "digits":
                try:
                    import sklearn  # noqa: F401
                except ImportError:
                    print("\n### digits: skipped, scikit-learn is not installed")
                    continue
            folder = Path(tmp) / case.name
            _, rows, times = run_case(case, args, folder)
            results[case.name] = rows
            if times:
                compiles[case.name] = times
            print(case_table(rows), flush=True)
            mismatch |= any(r.flag for r in rows)
    if compiles:
        print("\n### symgrad compile times (s): derive + generate + import, then Numba's train")
        print(
            "| case | cold derive+gen | cold Numba | cold total | warm derive+gen | warm Numba "
            "| warm total |\n|---|---|---|---|---|---|---|"
        )
        for name, t in compiles.items():
            c, w = t["cold"], t["warm"]
            print(
                f"| {name} | {c['derive_generate']:.2f} | {c['numba']:.2f} | "
                f"{c['derive_generate'] + c['numba']:.2f} | {w['derive_generate']:.2f} | "
                f"{w['numba']:.2f} | {w['derive_generate'] + w['numba']:.2f} |"
            )
    if hasattr(os, "getloadavg"):
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    print("\n### targets (symgrad fit's median against the others' medians)")
    print("| target | measured | verdict |\n|---|---|---|")
    for target, measured, v in targets(results, compiles):
        print(f"| {target} | {measured} | {v} |")
    if mismatch:
        print("\n!!! SOME FINAL LOSSES DISAGREE (see 'check' above) !!!")
        return 1
    print("\nall final losses agree with symgrad's to 1e-6 relative")
    return 0


if __name__ == "__main__":
    sys.exit(main())
