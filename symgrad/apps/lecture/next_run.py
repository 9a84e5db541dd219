"""Apps stage: what the lecture leaves compiling for its next run.

The network's 3000 epochs train on the NumPy tier in a fresh cache (a second or two) while
Numba is busy compiling the gradient checks' code; compiling the loop too would slow that
first run for nothing it uses. A later run, in any folder, loads the loop from the cache
and trains in a fraction of a second, if it is there: so the lecture's last step starts
compiling it, in a process that outlives the lecture's own (see
:mod:`symgrad.codegen.precompile`).
"""

from __future__ import annotations

import math

import numpy as np

from symgrad.model.data import init_params, to_columns
from symgrad.train.compiled import CompiledNetwork, check_params
from symgrad.train.fit import loop_arguments
from symgrad.train.numpy_tier import loop_name


def compile_for_next_run(compiled: CompiledNetwork, data) -> bool:
    """Start compiling the full-batch loop that training ``compiled`` on ``data`` runs
    (float64), unless it is loaded or cached; whether a compile was started."""
    network = compiled.network
    path = loop_name(None, len(data.X))
    if compiled.cached(path):
        return False
    X, Y = to_columns(network, data.X, data.y)
    X_rows, Y = np.ascontiguousarray(X.T, dtype=float), np.ascontiguousarray(Y, dtype=float)
    values = check_params(network, init_params(network, seed=0), np.float64)
    X_cols = np.ascontiguousarray(X_rows.T)
    fixed = loop_arguments(compiled, values, X_rows, Y, X_cols, 0.0, network, len(X_rows))
    step = {"epochs": 0, "seed": 0, "t": 0.0, "limit": math.inf, "history": np.empty(0)}
    compiled.compile_elsewhere("train", {**fixed, **step}, marks=path)
    return True
