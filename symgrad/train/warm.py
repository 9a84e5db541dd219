"""Train stage: whether a training run will compile, so that a front end can say so first.

A run compiles the loop its batch size runs (the whole set, minibatches or one example a
step, as the generated ``train`` chooses) and ``predict``, unless Numba's cache beside the
generated module already holds them. :func:`compiled_already` asks each function's cache
index (Numba's own, through its dispatcher), which is fresh only for the module's current
text. Imports :mod:`symgrad.train.compiled` for its type only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from symgrad.train.compiled import CompiledNetwork


def loop_name(batch_size: int | None, m: int) -> str:
    """The generated training loop that ``batch_size`` runs on ``m`` examples."""
    if batch_size is None or batch_size >= m:
        return "train_full_batch"
    return "train_per_example" if batch_size == 1 else "train_minibatches"


def compiled_already(compiled: CompiledNetwork, batch_size: int | None, m: int) -> bool | None:
    """True when the run's loop and ``predict`` are in Numba's cache, False when one is not,
    None when this Numba cannot say (its cache's layout is not the one known here)."""
    try:
        for name in (loop_name(batch_size, m), "predict"):
            index = getattr(compiled.module, name)._cache._cache_file
            if not index._load_index():
                return False
    except (AttributeError, OSError, ValueError, EOFError):
        return None
    return True
