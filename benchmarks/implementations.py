"""The training runs that ``train_speed.py`` times: its cases, their data, and one
implementation of each run per column (issue 4, issue 11).

Every maker takes a Problem (data, initial parameters, schedule) and returns ``run(epochs)``,
which trains a copy of the initial parameters for ``epochs`` epochs and returns
``(params, history)``, or None where the implementation is missing (JAX or PyTorch not
installed) or has no version of that network. All use the same update rule, plain gradient
descent, and float64.

The hand-written Numba loops are written once as Python and compiled twice, with and without
``fastmath``: the two columns run the same code, so their difference is what ``fastmath``
(reassociation, no inf/NaN checks) buys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from symgrad.nn import Network, init_params, mlp, to_columns
from symgrad.train.compiled import CompiledNetwork
from symgrad.train.fit import fit

IMPLS = [
    "symgrad fit",
    "symgrad train",
    "NumPy",
    "Numba by hand",
    "Numba fastmath",
    "JAX jit step",
    "JAX fori_loop",
    "PyTorch",
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
def _logreg_gd(W, b, X, y, lr, epochs, history):
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


def _mlp_softmax_gd(W1, b1, W2, b2, X, Y, lr, epochs, history, relu):
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


def _sgd_2layer(W1, b1, W2, b2, X, y, orders, lr, epochs, history, relu):
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


# the same loops compiled twice: strict IEEE and fastmath (Numba compiles at the first call)
_LOOPS = {
    fast: {
        "logreg": numba.njit(fastmath=fast)(_logreg_gd),
        "softmax": numba.njit(fastmath=fast)(_mlp_softmax_gd),
        "sgd": numba.njit(fastmath=fast)(_sgd_2layer),
    }
    for fast in (False, True)
}


def make_numba(p: Problem, lr: float, fastmath: bool):
    loops = _LOOPS[fastmath]
    depth = len(p.hidden)
    relu = depth == 1 and p.hidden[0] == "relu"
    y = np.ascontiguousarray(p.Yh[:, 0]) if p.bce else None
    if p.orders is None and depth == 0 and p.bce:
        kernel = lambda ps, e, hist: loops["logreg"](*ps, p.X, y, lr, e, hist)  # noqa: E731
    elif p.orders is None and depth == 1 and not p.bce:
        kernel = lambda ps, e, hist: loops["softmax"](*ps, p.X, p.Yh, lr, e, hist, relu)  # noqa: E731
    elif p.orders is not None and depth == 1 and p.bce:
        kernel = lambda ps, e, hist: loops["sgd"](*ps, p.X, y, p.orders, lr, e, hist, relu)  # noqa: E731
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


def installed(impl: str) -> bool:
    """Whether the library a column needs can be imported (JAX and PyTorch are optional)."""
    if impl.startswith("JAX"):
        return _jax() is not None
    if impl == "PyTorch":
        try:
            import torch  # noqa: F401
        except ImportError:
            return False
    return True


def make_run(impl: str, p: Problem, compiled: CompiledNetwork):
    """``run(epochs)`` of one column for ``p``, or None where it has no version of it."""
    lr = p.case.lr
    if impl == "symgrad fit":
        return make_symgrad_fit(p, lr, compiled)
    if impl == "symgrad train":
        return make_symgrad_train(p, lr, compiled)
    if impl.startswith("Numba"):
        return make_numba(p, lr, fastmath=impl == "Numba fastmath")
    maker = {
        "NumPy": make_numpy,
        "JAX jit step": make_jax_step,
        "JAX fori_loop": make_jax_fori,
        "PyTorch": make_torch,
    }[impl]
    return maker(p, lr)
