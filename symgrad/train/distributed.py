"""Train stage: data-parallel training of a network on Dask (the ``dask`` extra).

When the data outgrow one machine, ``fit`` hands them here: a Dask array chunked along the
examples, or shard files (see :mod:`symgrad.train.shards`), on a ``dask.distributed``
cluster. Each step hands the parameters to the cluster (as one task's result, which the
workers fetch from each other and the scheduler can remake), runs the network's
generated ``loss_and_grad`` on every partition where it lives, and sums the partitions'
losses and gradients, each weighted by its number of examples, in a tree of pairwise
sums whose order is fixed (partition 0 + 1, 2 + 3, ..., then the sums of those): the
total does not depend on which worker ran what, so a run is reproducible. The driver
applies the update with the generated module's own ``_update``, as the single-process
loop does; full-batch gradient descent therefore matches it to rounding (1e-12).

The generated module's text goes to each worker once and is imported there through
:func:`symgrad.codegen.files.import_file`, so a worker compiles it once (or loads it from
the compiled-code cache shared by the workers of one machine). λ of the L2 penalty is
split among the partitions by their share of the step's examples, so the weighted sum is
the mean loss plus the penalty once.

Memory: ``persist=True`` (the default for a Dask array) loads each partition once and
keeps it in its worker's memory (spilled by Dask's memory limit); ``persist=False`` (the
default for shard files) reads each file in the step that uses it and releases it, so a
worker holds one partition at a time: out of core, one read of the data per step.

Minibatch SGD (``batch_size`` < m) samples within partitions: an epoch has
S = ⌈m / batch_size⌉ steps; in epoch e partition p orders its m_p rows by the seeded
permutation ``default_rng([seed, e, p])`` and gives step s its rows s·b_p to (s+1)·b_p,
b_p = ⌈m_p / S⌉, so every example is used once an epoch and a step sees about
batch_size examples from all partitions. Local steps (several updates per round-trip)
are not offered: they change what the optimizer computes.

Faults: a worker that dies is replaced by its nanny; Dask reruns its tasks and reloads
its partitions from their recipe (file or graph), and a step whose inputs were lost is
rerun from the same parameters (up to ``RETRIES`` times): the result is the same.
A lost scheduler ends training with one error naming its address.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from pathlib import Path

import numpy as np

from symgrad.codegen.files import import_file
from symgrad.errors import SymgradError, TrainingDivergedError, TrainingInterrupted
from symgrad.model.data import check_finite, init_params, l2_strength
from symgrad.model.network import Network
from symgrad.train.compiled import CompiledNetwork, check_params
from symgrad.train.shards import Layout, Shard, is_shards, shard_files

INSTALL = 'distributed training needs Dask: pip install "symgrad[dask]"'
#: Seconds to wait for a scheduler before giving up.
CONNECT_TIMEOUT = 5
#: Times one step is rerun after its inputs were lost with a worker.
RETRIES = 3

#: The generated modules a worker has imported, by their text (worker side).
_MODULES: dict = {}
#: Each partition's order of rows in its latest epoch (worker side, minibatches).
_ORDERS: dict = {}


def takes(X) -> bool:
    """Whether ``fit`` trains on ``X`` here: a Dask array, or shard files."""
    return type(X).__module__.split(".")[0] == "dask" or is_shards(X)


def require_dask():
    """The ``distributed`` package; SymgradError saying how to install it when missing."""
    try:
        import dask.array  # noqa: F401  (the extra's two halves)
        import distributed
    except ImportError:
        raise SymgradError(INSTALL) from None
    return distributed


@contextlib.contextmanager
def connected(address: str | None = None):
    """A Client of the scheduler at ``address``, or of a new local cluster of worker
    processes (one thread each) when None; closed (with its local cluster) on exit.

    Raises:
        SymgradError: Dask missing, or no scheduler answered at ``address`` in time.
    """
    distributed = require_dask()
    if address is None:
        with (
            distributed.LocalCluster(threads_per_worker=1, dashboard_address=":0") as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as error:
        why = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SymgradError(f"cannot reach the Dask scheduler at {address} ({why})") from None
    with client:
        yield client


@contextlib.contextmanager
def _current(client):
    """``client``, else the current Client, else a local cluster's for this run."""
    if client is None:
        try:
            client = require_dask().default_client()
        except ValueError:
            with connected(None) as client:
                yield client
            return
    yield client


def _module(name: str, text: str):
    """The generated module ``name`` (its ``text``) imported in this worker, once."""
    from distributed import get_worker

    if text not in _MODULES:
        path = Path(get_worker().local_directory) / f"{name}.py"
        path.write_text(text)
        _MODULES[text] = import_file(path, text)
    return _MODULES[text]


def _load(layout: Layout, part) -> tuple[np.ndarray, np.ndarray]:
    """A partition in the kernel's layout: a Shard is read, (X_rows, y) blocks converted."""
    if isinstance(part, Shard):
        return layout.columns(*part.read(), part.path)
    return layout.columns(*part, "a partition of X")


def _count(data) -> int:
    return int(data[0].shape[1])


def _partial(kernel, layout, values, part, lam: float, rows=None):
    """One partition's loss and gradients summed over its examples (means × count).

    ``kernel``: (module name, text); ``part``: a Shard, or its loaded (X, Y); ``rows``:
    None for all, else (seed, epoch, partition, step, steps), the step's rows (see above).
    """
    module = _module(*kernel)
    X, Y = _load(layout, part) if isinstance(part, Shard) else part
    if rows is not None:
        seed, epoch, index, step, steps = rows
        m = X.shape[1]
        key = (index, m, seed)
        if _ORDERS.get(key, (None,))[0] != epoch:
            _ORDERS[key] = (epoch, np.random.default_rng([seed, epoch, index]).permutation(m))
        b = -(-m // steps)
        pick = _ORDERS[key][1][step * b : (step + 1) * b]
        X, Y = np.ascontiguousarray(X[:, pick]), np.ascontiguousarray(Y[:, pick])
    count = X.shape[1]
    loss, grads = module.loss_and_grad(*values, X, Y, lam)
    return loss * count, [g * count for g in grads]


def _value(x):
    """``x``, as a task's result: workers fetch it from each other, and the scheduler can
    make it again if its worker dies (scattered data could not be, and a scatter to a
    worker that just died waits for it)."""
    return x


def _add(a, b):
    return a[0] + b[0], [x + y for x, y in zip(a[1], b[1], strict=True)]


def _tree(client, tasks: list):
    """The sum of ``tasks`` (futures) in a fixed order: pairs, then pairs of those."""
    while len(tasks) > 1:
        pairs = zip(tasks[::2], tasks[1::2], strict=False)
        sums = [client.submit(_add, a, b, pure=False) for a, b in pairs]
        tasks = sums + tasks[len(tasks) - len(tasks) % 2 :]
    return tasks[0]


def _in_step(rows: int, steps: int, step: int) -> int:
    """How many of a partition's ``rows`` step ``step`` of ``steps`` uses."""
    b = -(-rows // steps)
    return max(0, min(rows, (step + 1) * b) - step * b)


def _partitions(client, X, y, layout: Layout, persist: bool):
    """The partitions (Shards, or futures of their loaded (X, Y)) and their sizes."""
    if is_shards(X):
        if not isinstance(y, str | numbers.Integral):
            raise SymgradError("with shard files, y names the label (a column or array name)")
        parts = [Shard(str(f), str(y)) for f in shard_files(X)]
        if persist:
            parts = [client.submit(_load, layout, p, pure=False) for p in parts]
            sizes = client.gather([client.submit(_count, p, pure=False) for p in parts])
        else:
            sizes = client.gather([client.submit(Shard.rows, p, pure=False) for p in parts])
        return parts, [int(s) for s in sizes]
    if not persist:
        raise SymgradError(
            "a Dask array is trained in memory (persist=True); for data larger than memory "
            "give shard files"
        )
    import dask
    import dask.array as da

    X = da.asarray(X)
    if X.ndim != 2 or X.shape[1] != layout.n:
        raise SymgradError(f"X must have shape (m, {layout.n}) (rows = examples), got {X.shape}")
    X = X.rechunk({1: -1})
    if any(math.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    y = da.asarray(y)
    if y.shape[0] != X.shape[0]:
        raise SymgradError(f"y has {y.shape[0]} labels for {X.shape[0]} examples in X")
    y = y.rechunk((X.chunks[0], *((d,) for d in y.shape[1:])))
    pairs = zip(X.to_delayed().ravel(), y.to_delayed().ravel(), strict=True)
    blocks = [dask.delayed(_load)(layout, (xb, yb)) for xb, yb in pairs]
    return client.compute(blocks), [int(c) for c in X.chunks[0]]


def _update(compiled: CompiledNetwork, named: dict, grads: list, lr: float, t: float) -> None:
    """One step of the optimizer in place, by the generated module's own ``_update``."""
    sig = compiled.signature
    given = {**named, **{"g" + p: g for p, g in zip(sig.params, grads, strict=True)}}
    compiled.module._update(*sig.arguments("_update", {**given, "lr": lr, "t": t}))


def train(
    network,
    X,
    y,
    *,
    client=None,
    optimizer="gd",
    lr: float = 0.1,
    epochs: int = 100,
    batch_size: int | None = None,
    seed: int = 0,
    dtype=np.float64,
    params: dict | None = None,
    folder=None,
    compiled: CompiledNetwork | None = None,
    persist: bool | None = None,
    bar=None,
    diverge: float = math.inf,
):
    """Train ``network`` on a cluster (``client``: a ``dask.distributed.Client``; default:
    the current one, else a local cluster for this run). Settings as :func:`fit`'s
    (checked there); ``persist``: keep the partitions in the workers' memory (default:
    for a Dask array, not for shard files); ``bar``: a tqdm bar (closed here);
    ``diverge``: the factor of the first loss past which training stops.

    Returns:
        (parameters by ident, loss history per epoch, the CompiledNetwork).
    """
    if not isinstance(network, Network):
        raise SymgradError(
            "distributed training takes a Network (a program's loss need not be a sum over "
            "examples)"
        )
    require_dask()
    dtype = np.dtype(dtype)
    n, k = int(network.X.shape[0]), int(network.Y.shape[0])
    layout = Layout(n, k, network.labels, network.labels_owner, dtype.name)
    start = params if params is not None else init_params(network, seed=seed, dtype=dtype)
    values = check_params(network, start, dtype)
    compiled = compiled or CompiledNetwork(network, optimizer, folder=folder)
    try:
        with _current(client) as client:
            persist = not is_shards(X) if persist is None else persist
            parts, sizes = _partitions(client, X, y, layout, persist)
            run = _Run(client, compiled, layout, parts, sizes, l2_strength(network))
            history = run.epochs(values, lr, epochs, batch_size, seed, bar, diverge)
    finally:
        if bar is not None:
            bar.close()
    trained = {p.ident: v for p, v in zip(network.params, values, strict=True)}
    return trained, history, compiled


class _Run:
    """The steps of one distributed training run on its partitions."""

    def __init__(self, client, compiled, layout, parts, sizes, lam):
        self.client, self.compiled, self.parts, self.sizes, self.lam = (
            client,
            compiled,
            parts,
            sizes,
            lam,
        )
        self.kernel = (compiled.path.stem, compiled.module.__symgrad_source__)
        self.layout = layout
        self.shared = None
        self.address = client.scheduler.address

    def epochs(self, values, lr, epochs, batch_size, seed, bar, diverge) -> np.ndarray:
        """Train ``values`` in place for ``epochs``; the loss history."""
        sig, opt = self.compiled.signature, self.compiled.optimizer
        named = dict(zip(sig.params, values, strict=True))
        named.update({arg: np.zeros_like(named[p]) for arg, (_, p) in sig.state})
        named.update({arg: float(opt.hyper[symbol]) for symbol, arg in sig.hyper})
        m = sum(self.sizes)
        if m == 0:
            raise SymgradError("no examples: the partitions hold 0 rows")
        steps = 1 if batch_size is None or batch_size >= m else -(-m // int(batch_size))
        history, t, limit = np.empty(epochs), 0.0, math.inf
        for epoch in range(epochs):
            total = 0.0
            for step in range(steps):
                counts = [_in_step(rows, steps, step) for rows in self.sizes]
                rows = None if steps == 1 else (seed, epoch, step, steps)
                try:
                    loss, grads = self.step(values, counts, rows)
                except KeyboardInterrupt:
                    raise TrainingInterrupted(
                        f"interrupted at epoch {epoch + 1}; parameters after epoch {epoch} kept",
                        epoch=epoch + 1,
                        history=history[:epoch],
                        params=dict(zip(sig.params, values, strict=True)),
                    ) from None
                total += loss * (sum(counts) / m)
                t += 1.0
                _update(self.compiled, named, grads, lr, t)
            history[epoch] = total
            if epoch == 0 and math.isfinite(total):
                limit = diverge * abs(total) + 1.0
            if not math.isfinite(total) or total > limit:
                raise TrainingDivergedError.at(history[: epoch + 1], lr)
            if bar is not None:
                bar.update(1)
                workers = len(self.client.scheduler_info()["workers"])
                bar.set_postfix(loss=f"{total:.4g}", workers=workers)
        for v in values:
            check_finite("a trained parameter", v)
        return history

    def step(self, values, counts, rows):
        """The step's mean loss and gradients; rerun when a worker took its inputs along."""
        import distributed

        lost = (distributed.scheduler.KilledWorker, distributed.client.FutureCancelledError)
        for attempt in range(RETRIES + 1):
            try:
                return self._step(values, counts, rows, fresh=attempt > 0)
            except lost:
                if attempt == RETRIES:
                    raise
            except (OSError, distributed.comm.CommClosedError) as error:
                raise SymgradError(f"lost the Dask scheduler at {self.address} ({error})") from None

    def _step(self, values, counts, rows, fresh: bool):
        client = self.client
        if fresh or self.shared is None:
            self.shared = [client.submit(_value, x, pure=False) for x in (self.kernel, self.layout)]
        params = client.submit(_value, [v.copy() for v in values], pure=False)
        batch = sum(counts)
        tasks = [
            client.submit(
                _partial,
                *self.shared,
                params,
                part,
                self.lam * count / batch,
                None if rows is None else (rows[0], rows[1], i, rows[2], rows[3]),
                pure=False,
            )
            for i, (part, count) in enumerate(zip(self.parts, counts, strict=True))
            if count
        ]
        loss, grads = _tree(client, tasks).result()
        return loss / batch, [g / batch for g in grads]
