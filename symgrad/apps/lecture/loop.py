"""Apps stage: the network's training loop, compiling from the lecture's start.

In a fresh cache the network's 3000 epochs and the study's four runs start on the NumPy
tier; ``fit`` asks for the compiled loop only once it judges the epochs left slow enough,
and each run asked anew. Started with the gradient checks' compiles, in a process of its
own (see :mod:`symgrad.codegen.precompile`), the loop is ready sooner: the runs switch to
it when it is, measured faster on a loaded 2-core machine than leaving it to ``fit``, and
the process outlives the lecture's, so a later run, in any folder, loads the loop from the
cache and trains the network in a fraction of a second.
"""

from __future__ import annotations

import math

import numpy as np

from symgrad.model.data import init_params
from symgrad.train.compiled import CompiledNetwork, check_params
from symgrad.train.fit import loop_arguments, loop_data
from symgrad.train.numpy_tier import loop_name


def start_compiling_loop(compiled: CompiledNetwork, data) -> bool:
    """Start compiling the full-batch loop that training ``compiled`` on ``data`` runs
    (float64), unless it is loaded or cached; whether a compile was started."""
    network = compiled.network
    path = loop_name(None, len(data.X))
    if compiled.cached(path):
        return False
    X_rows, Y, X_cols, size = loop_data(network, data.X, data.y, np.float64, None)
    values = check_params(network, init_params(network, seed=0), np.float64)
    fixed = loop_arguments(compiled, values, X_rows, Y, X_cols, 0.0, network, size)
    step = {"epochs": 0, "seed": 0, "t": 0.0, "limit": math.inf, "history": np.empty(0)}
    compiled.compile_elsewhere("train", {**fixed, **step}, marks=path)
    return True
