"""Train stage: ``fit`` a network (or a tensor program) on NumPy data with its compiled
training loop.

``fit`` checks its settings, the data and the start parameters before it compiles
anything, then runs the compiled loop in chunks of epochs sized by time (about
``CHUNK_SECONDS`` a call); full batches start on the NumPy tier while the loop compiles
(see :class:`~symgrad.train.numpy_tier.TieredLoop`). Between chunks Python updates the
progress bar (with the ``progress`` extra), checks the loss and notices Ctrl-C: SIGINT
stops training within
a chunk (or an epoch, if one takes longer) with :class:`TrainingInterrupted`, which
keeps the history and the parameters of the epochs done. A loss that becomes inf or
NaN, or grows past ``DIVERGENCE_FACTOR`` times its first value, stops training with
an error suggesting a smaller learning rate; a run that ends far above its best loss
(see ``FAR_ABOVE``) returns with a :class:`TrainingWarning`.
"""

from __future__ import annotations

import math
import numbers
import signal
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np

from symgrad.errors import (
    SymgradError,
    TrainingDivergedError,
    TrainingInterrupted,
    TrainingWarning,
)
from symgrad.model.data import check_finite, init_params, l2_strength, to_columns
from symgrad.model.program import Program
from symgrad.paths import DEFAULT_FOLDER
from symgrad.train import distributed
from symgrad.train.compiled import CompiledNetwork, check_params
from symgrad.train.numpy_tier import NumpyTier, TieredLoop, covers, loop_name

#: Training stops when the epoch loss exceeds this many times the first epoch's (+1).
DIVERGENCE_FACTOR = 1e3
#: A run ends far above its best when its last loss is over FAR_ABOVE times its best
#: and it has given back over half of what it gained from its first loss.
FAR_ABOVE = 2.0
#: The most epochs one ``fit`` runs (its history takes 8 bytes an epoch).
MAX_EPOCHS = 10**9
#: Seconds one call of the compiled loop aims at; Ctrl-C is seen between calls.
CHUNK_SECONDS = 0.1


@dataclass
class FitResult:
    """Trained parameters (ident -> array), the loss history per epoch, the compiled model,
    and a warning when the run ended far above its best loss (else None)."""

    params: dict
    history: np.ndarray
    compiled: CompiledNetwork
    warning: str | None = None

    def predict(self, X_rows) -> np.ndarray:
        return predict(self.compiled, self.params, X_rows)

    def accuracy(self, X_rows, y) -> float:
        return accuracy(self.compiled, self.params, X_rows, y)

    def save(self, path, **extras):
        """Write the trained network to a ``.npz`` model file; ``extras`` and the file as
        for :func:`symgrad.train.saved.save`; :func:`symgrad.load` reads it back."""
        from symgrad.train.saved import save

        return save(self, path, **extras)

    def __repr__(self) -> str:
        h = self.history
        losses = f"loss {h[0]:.4g} → {h[-1]:.4g}" if len(h) else "no epochs"
        what = self.compiled.network.describe()
        return f"<FitResult {what}, {self.compiled.optimizer.name}: {len(h)} epochs, {losses}>"


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        warnings.warn('no progress bar: pip install "symgrad[progress]" for one', stacklevel=3)
        return None
    return tqdm(total=total, unit="epoch", leave=False)


def _shown(value) -> str:
    return str(value) if isinstance(value, numbers.Real) else repr(value)


def _integer(name: str, value, low: int, high: int | None = None) -> int:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        allowed = f"≥ {low}" if high is None else f"from {low} to {high:_}"
        raise SymgradError(f"{name} must be an integer {allowed}, got {_shown(value)}")
    return int(value)


def check_settings(*, lr, epochs, batch_size=None, seed=0, dtype=np.float64) -> None:
    """Raise SymgradError for a setting of :func:`fit` out of its range, naming the range."""
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 < lr < math.inf:
        raise SymgradError(f"lr must be a finite number > 0, got {_shown(lr)}")
    _integer("epochs", epochs, 1, MAX_EPOCHS)
    if batch_size is not None:
        _integer("batch_size", batch_size, 1)
    _integer("seed", seed, 0, 2**32 - 1)
    try:
        known = np.dtype(dtype) in (np.float32, np.float64)
    except TypeError:
        known = False
    if not known:
        raise SymgradError(f"dtype must be np.float32 or np.float64, got {_shown(dtype)}")


class _Interrupts:
    """SIGINT while ``fit`` runs: raised at once (as KeyboardInterrupt) until ``deferred``
    is set, then only noted in ``seen``, for the loop to check between chunks.

    Installed only in the main thread over Python's default handler; restored on exit.
    """

    def __init__(self):
        self.seen = self.deferred = False
        self.previous = None

    def __enter__(self):
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum, frame):
        self.seen = True
        if not self.deferred:
            raise KeyboardInterrupt


def _interrupted(network: Program, values: list, history: np.ndarray, done: int):
    return TrainingInterrupted(
        f"interrupted at epoch {done + 1}; parameters after epoch {done} kept",
        epoch=done + 1,
        history=history[:done],
        params={p.ident: v for p, v in zip(network.params, values, strict=True)},
    )


def _next_chunk(count: int, seconds: float) -> int:
    """Epochs for the next call: about CHUNK_SECONDS at the last call's pace, ≤ 10× more."""
    if seconds <= 0:
        return 10 * count
    return max(1, min(10 * count, int(CHUNK_SECONDS * count / seconds)))


def _far_above_best(history: np.ndarray, lr: float) -> str | None:
    """The warning for a run that ended far above its best loss, else None."""
    best = int(np.argmin(history))
    first, low, last = history[0], history[best], history[-1]
    if last > FAR_ABOVE * low and last - low > 0.5 * (first - low):
        return (
            f"the loss ended at {last:.4g} (epoch {len(history)}), far above its best "
            f"{low:.4g} (epoch {best + 1}); the learning rate {lr:g} may be too large"
        )
    return None


def _finished(trained: dict, history: np.ndarray, compiled, lr: float) -> FitResult:
    """The FitResult of a run, warned about (to fit's caller) when it ended far above its best."""
    warning = _far_above_best(history, lr)
    if warning is not None:
        warnings.warn(warning, TrainingWarning, stacklevel=3)
    return FitResult(trained, history, compiled, warning)


def fit(
    network: Program,
    X,
    y,
    *,
    optimizer="gd",
    lr: float = 0.1,
    epochs: int = 100,
    batch_size: int | None = None,
    seed: int = 0,
    dtype=np.float64,
    params: dict | None = None,
    folder=DEFAULT_FOLDER,
    progress: bool = False,
    compiled: CompiledNetwork | None = None,
    client=None,
    persist: bool | None = None,
    numpy_tier: bool = True,
) -> FitResult:
    """Train ``network`` (a Network or a Program with one data and one labels leaf) on
    ``X`` (rows = examples) and labels ``y``.

    Args:
        optimizer: a name in ``optimizers.OPTIMIZERS`` (gd, momentum, adam, rmsprop) or an
            Optimizer.
        lr: the learning rate α, a finite number > 0.
        epochs: 1 to ``MAX_EPOCHS``.
        batch_size: examples per step; None (or ≥ m) is full-batch gradient descent.
        seed: seeds the initialization, the shuffling and the dropout masks (0 to 2**32 - 1).
        dtype: np.float64 or np.float32.
        params: initial parameters (copied, any memory layout); default: scaled random
            initialization.
        compiled: a CompiledNetwork to reuse (its folder and optimizer win).
        client: a ``dask.distributed.Client``: train on its cluster, as for a Dask array ``X``
            or shard files (a glob, folder or list; ``y`` the label's name); ``persist``:
            keep partitions in the workers' memory (see :mod:`symgrad.train.distributed`).
        numpy_tier: train full batches in NumPy (the same derived graphs) until the
            compiled loop is ready, when it is not compiled yet (see
            :mod:`symgrad.train.numpy_tier`); False waits for Numba.

    Returns:
        A FitResult; its ``warning`` (also issued as a TrainingWarning) says when the
        run ended far above its best loss.

    Raises:
        SymgradError: a setting out of range; DataError: no examples, NaN or inf in the
            data or the start parameters, labels that are not numbers.
        TrainingDivergedError: the loss became inf/NaN or grew by orders of magnitude.
        TrainingInterrupted: Ctrl-C (SIGINT); holds ``epoch``, ``history`` and ``params``.
    """
    check_settings(lr=lr, epochs=epochs, batch_size=batch_size, seed=seed, dtype=dtype)
    if client is not None or distributed.takes(X):
        trained, history, compiled = distributed.train(
            network,
            X,
            y,
            client=client,
            optimizer=optimizer,
            lr=float(lr),
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            dtype=dtype,
            params=params,
            folder=folder,
            compiled=compiled,
            persist=persist,
            bar=_progress(epochs, progress),
            diverge=DIVERGENCE_FACTOR,
        )
        return _finished(trained, history, compiled, float(lr))
    lr, dtype = float(lr), np.dtype(dtype).type
    X_rows, Y, X_cols, size = loop_data(network, X, y, dtype, batch_size)
    m = X_rows.shape[0]
    start = params if params is not None else init_params(network, seed=seed, dtype=dtype)
    values = check_params(network, start, dtype)
    try:
        history = np.empty(epochs)  # its pages are only taken as epochs fill them
    except MemoryError:
        raise SymgradError(f"no memory for the loss history of {epochs:_} epochs") from None

    with _Interrupts() as interrupts:
        try:
            compiled = compiled or CompiledNetwork(network, optimizer, folder=folder)
            sig, opt = compiled.signature, compiled.optimizer
            fixed = loop_arguments(compiled, values, X_rows, Y, X_cols, lr, network, size)
            state = {arg: fixed[arg] for arg, _ in sig.state}

            def train(count: int, done: int, t: float, limit: float):
                step = {"epochs": count, "seed": seed + done, "t": t, "limit": limit}
                step["history"] = history[done : done + count]
                return compiled.module.train(*sig.arguments("train", {**fixed, **step}))

            path = loop_name(size, m)

            def build():  # compiles the loop of this batch size (or loads it); runs no epoch
                train(0, 0, 0.0, math.inf)
                compiled.mark_compiled(path, dtype)

            first = None
            if numpy_tier and covers(network, full_batch=size >= m, dtype=dtype):
                if not compiled.loaded(path):
                    tier = NumpyTier(compiled.backprop, opt)
                    states = {pair: state[arg] for arg, pair in sig.state}

                    def first(count: int, done: int, t: float, limit: float):
                        chunk = history[done : done + count]
                        return tier.train(values, states, X_cols, Y, lr, count, t, limit, chunk)

            def compile_elsewhere():  # train with no epoch, on arguments of these types
                step = {"epochs": 0, "seed": seed, "t": 0.0, "limit": math.inf}
                given = {**fixed, **step, "history": history[:0]}
                return compiled.compile_elsewhere("train", given, marks=path)

            if compiled.built_here(path, dtype):
                build = None
            cached = compiled.cached(path, dtype)
            loop = TieredLoop(train, build, first, cached=cached, precompile=compile_elsewhere)
        except KeyboardInterrupt:
            raise _interrupted(network, values, history, 0) from None
        interrupts.deferred = True
        bar = _progress(epochs, progress)
        try:
            done, t, count, limit = 0, 0.0, 1, math.inf
            while done < epochs:
                if interrupts.seen:
                    raise _interrupted(network, values, history, done)
                count = min(count, epochs - done)
                began = time.perf_counter()
                ran, t = loop(count, done, t, limit)
                seconds = time.perf_counter() - began
                done += ran
                loop.plan(seconds, ran, epochs - done)
                if bar is not None:
                    bar.update(ran)
                    bar.set_postfix(loss=f"{history[done - 1]:.4g}")
                if done == 1 and math.isfinite(history[0]):
                    limit = DIVERGENCE_FACTOR * abs(history[0]) + 1.0
                # the compiled loop also stops at a loss above limit in a chunk's last epoch
                last = history[done - 1]
                if ran < count or not math.isfinite(last) or last > limit:
                    raise TrainingDivergedError.at(history[:done], lr)
                count = _next_chunk(count, seconds)
            if interrupts.seen:  # Ctrl-C during the last chunk: still a stop
                raise _interrupted(network, values, history, done)
        finally:
            if bar is not None:
                bar.close()
    if not all(np.all(np.isfinite(v)) for v in values):
        raise TrainingDivergedError(
            f"training diverged at epoch {epochs}: its last update made parameters inf or NaN; "
            f"try a smaller learning rate than {lr:g}",
            epoch=epochs,
            history=np.append(history, np.inf),
        )
    trained = {p.ident: v for p, v in zip(network.params, values, strict=True)}
    return _finished(trained, history, compiled, lr)


def loop_data(network, X, y, dtype, batch_size: int | None) -> tuple:
    """``(X_rows, Y, X_cols, size)``: the data as the generated ``train`` takes it, in
    ``dtype`` (rows = examples; Y one column per example; the columns, C-ordered, for a
    full batch, else an empty array) and the batch size, at most m."""
    X, Y = to_columns(network, X, y)
    with np.errstate(over="ignore"):  # float32 overflow: named just below
        X_rows, Y = np.ascontiguousarray(X.T, dtype=dtype), np.ascontiguousarray(Y, dtype=dtype)
    if dtype is not np.float64:
        check_finite(f"X as {np.dtype(dtype)}", X_rows)
    m = X_rows.shape[0]
    size = m if batch_size is None else min(int(batch_size), m)
    X_cols = np.ascontiguousarray(X_rows.T) if size >= m else np.empty((X_rows.shape[1], 0), dtype)
    return X_rows, Y, X_cols, size


def loop_arguments(compiled: CompiledNetwork, values, X_rows, Y, X_cols, lr, network, size):
    """The generated ``train``'s arguments that stay for a whole fit (all but a chunk's
    ``epochs``, ``seed``, ``t``, ``limit`` and ``history``), by name: the parameters
    ``values`` (trained in place), zero optimizer state, the hyperparameters, the data by
    rows and (full batches) by columns, ``lr``, ``network``'s L2 strength, the batch size."""
    sig, opt = compiled.signature, compiled.optimizer
    named = dict(zip(sig.params, values, strict=True))
    return {
        **named,
        **{arg: np.zeros_like(named[p]) for arg, (_, p) in sig.state},
        **{arg: float(opt.hyper[symbol]) for symbol, arg in sig.hyper},
        **{"X": X_cols, "X_rows": X_rows, "Y": Y, "lr": lr},
        **{"lam": l2_strength(network), "batch_size": size},
    }


def predict(compiled: CompiledNetwork, params: dict, X_rows) -> np.ndarray:
    """Predictions as the labels make them (bce, binary: 0/1; cross-entropy, classes: argmax;
    real targets: the outputs)."""
    out = compiled.predict_proba(params, X_rows)
    return compiled.network.labels.predict(out)


def accuracy(compiled: CompiledNetwork, params: dict, X_rows, y) -> float:
    """Fraction of examples whose predicted class equals the label."""
    y = compiled.network.labels.comparable(np.asarray(y))
    return float(np.mean(predict(compiled, params, X_rows) == y))
