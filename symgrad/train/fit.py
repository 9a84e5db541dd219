"""Train stage: ``fit`` a network on NumPy data with its compiled training loop.

Python only starts the compiled loop and reports progress (a tqdm bar, when the
``progress`` extra is installed) between chunks of epochs. A loss that becomes
inf or NaN, or grows past ``DIVERGENCE_FACTOR`` times its first value, stops
training with an error that names the epoch and suggests a smaller learning rate.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from symgrad.errors import SymgradError, TrainingDivergedError
from symgrad.nn.network import Network
from symgrad.nn.reference import init_params, to_columns
from symgrad.train.compiled import DEFAULT_FOLDER, CompiledNetwork

#: Training stops when the epoch loss exceeds this many times the first epoch's (+1).
DIVERGENCE_FACTOR = 1e3


@dataclass
class FitResult:
    """Trained parameters (ident -> array), the loss history per epoch, the compiled model."""

    params: dict
    history: np.ndarray
    compiled: CompiledNetwork

    def predict(self, X_rows) -> np.ndarray:
        return predict(self.compiled, self.params, X_rows)

    def accuracy(self, X_rows, y) -> float:
        return accuracy(self.compiled, self.params, X_rows, y)


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        warnings.warn('no progress bar: pip install "symgrad[progress]" for one', stacklevel=3)
        return None
    return tqdm(total=total, unit="epoch", leave=False)


def fit(
    network: Network,
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
) -> FitResult:
    """Train ``network`` on ``X`` (rows = examples) and labels ``y``.

    Args:
        optimizer: "gd", "momentum", "adam" or an Optimizer.
        lr: the learning rate α.
        batch_size: examples per step; None (or ≥ m) is full-batch gradient descent.
        seed: seeds the initialization and the shuffling.
        dtype: np.float64 or np.float32.
        params: initial parameters (copied); default: scaled random initialization.
        compiled: a CompiledNetwork to reuse (its folder and optimizer win).

    Raises:
        TrainingDivergedError: the loss became inf/NaN or grew by orders of magnitude.
    """
    if lr <= 0 or epochs < 1:
        raise SymgradError(f"need lr > 0 and epochs ≥ 1, got lr={lr}, epochs={epochs}")
    compiled = compiled or CompiledNetwork(network, optimizer, folder=folder)
    opt = compiled.optimizer
    X_rows = np.ascontiguousarray(X, dtype=dtype)
    _, Y = to_columns(network, X_rows, y)
    Y = np.ascontiguousarray(Y, dtype=dtype)
    m = X_rows.shape[0]
    size = m if batch_size is None else int(batch_size)
    if size < 1:
        raise SymgradError(f"batch_size must be at least 1, got {batch_size}")
    start = params if params is not None else init_params(network, seed=seed, dtype=dtype)
    values = [np.array(start[p.ident], dtype=dtype) for p in network.params]
    state = [np.zeros_like(v) for _ in opt.state for v in values]
    hyper = [opt.hyper[h] for h in sorted(opt.hyper, key=str)]
    X_cols = np.ascontiguousarray(X_rows.T) if size >= m else np.empty((X_rows.shape[1], 0), dtype)
    history = np.full(epochs, np.nan)
    bar = _progress(epochs, progress)
    chunk = max(1, math.ceil(epochs / 20))
    done, t, limit = 0, 0.0, math.inf
    while done < epochs:
        count = 1 if done == 0 else min(chunk, epochs - done)
        ran, t = compiled.module.train(
            *values,
            X_cols,
            X_rows,
            Y,
            lr,
            network.l2,
            count,
            size,
            seed + done,
            t,
            limit,
            history[done : done + count],
            *state,
            *hyper,
        )
        done += ran
        if bar is not None:
            bar.update(ran)
            bar.set_postfix(loss=f"{history[done - 1]:.4g}")
        if done == 1 and math.isfinite(history[0]):
            limit = DIVERGENCE_FACTOR * abs(history[0]) + 1.0
        # the compiled loop also stops at a loss above limit in a chunk's last epoch: ran == count
        last = history[done - 1]
        if ran < count or not math.isfinite(last) or last > limit:
            if bar is not None:
                bar.close()
            raise TrainingDivergedError(
                f"training diverged at epoch {done}: loss {last:.4g} "
                f"(epoch 1: {history[0]:.4g}); try a smaller learning rate than {lr:g}",
                epoch=done,
                history=history[:done].copy(),
            )
    if bar is not None:
        bar.close()
    if not all(np.all(np.isfinite(v)) for v in values):
        raise TrainingDivergedError(
            f"training diverged at epoch {epochs}: its last update made parameters inf or NaN; "
            f"try a smaller learning rate than {lr:g}",
            epoch=epochs,
            history=np.append(history, np.inf),
        )
    trained = {p.ident: v for p, v in zip(network.params, values, strict=False)}
    return FitResult(trained, history, compiled)


def predict(compiled: CompiledNetwork, params: dict, X_rows) -> np.ndarray:
    """Class labels (bce: 0/1; cross-entropy: argmax) or, for MSE, the outputs."""
    out = compiled.predict_proba(params, X_rows)
    loss = compiled.network.loss_name
    if loss == "bce":
        return (out[:, 0] >= 0.5).astype(int) if out.shape[1] == 1 else (out >= 0.5).astype(int)
    if loss == "cross_entropy":
        return out.argmax(axis=1)
    return out[:, 0] if out.shape[1] == 1 else out


def accuracy(compiled: CompiledNetwork, params: dict, X_rows, y) -> float:
    """Fraction of examples whose predicted class equals the label."""
    y = np.asarray(y)
    if compiled.network.loss_name == "cross_entropy" and y.ndim == 2:
        y = y.argmax(axis=1)
    return float(np.mean(predict(compiled, params, X_rows) == y))
