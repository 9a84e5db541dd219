"""Benchmark: deriving and printing backprop equations with the tensor front end.

After one untimed run of every model (first-call set-up), the script times for each model,
as the median of ``--repeats`` runs with SymPy's cache cleared before each,

* derive: ``symgrad.nn.derive(...)`` of the model (building it included);
* printing: ``.text()``, ``.markdown()`` and ``.latex()`` of the result,

and prints a Markdown table with the number of tensor graph nodes (the fused loss, every
gradient and the forward tensors, each distinct node once). The models:

* 784-128-10: tanh hidden layer, softmax output, cross-entropy (MNIST-sized);
* 64-32-10: the same architecture, narrower;
* 256-256-256-256-256-10: ``mlp([256] * 5 + [10], hidden="relu", output="softmax")``,
  four ReLU layers of 256 and a softmax layer of 10 on 256 inputs, cross-entropy;
* tensor programs written with ``symgrad.nn``: a vanilla RNN unrolled over 10 steps with
  shared weights (state 64 and state 4, 32 and 2 inputs a step: the same graph at other
  widths), batch normalization in training mode, one LSTM cell step.

A 784×128 layer is one node, so the time must not grow with the layer widths. Before timing,
each derivation is checked against central differences of the NumPy evaluation of its own
loss along a random unit direction (8 examples): a fast wrong answer is not a result.

Run: ``PYTHONPATH=. python benchmarks/derive_tensor.py`` from the repository root
(``--repeats N`` for another number of runs).
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import statistics
import time

import numpy as np
import sympy
from sympy.core.cache import clear_cache

import symgrad.nn as nn
from symgrad import sigmoid
from symgrad.check.oracle import values
from symgrad.check.program import sample_leaves
from symgrad.engine.graph import topological_order
from symgrad.nn import Network, derive, mlp

EPS = 1e-5


def network(sizes: list, hidden: str):
    return lambda: Network(mlp(sizes, hidden=hidden, output="softmax"), loss="cross_entropy")


def rnn(steps: int, state: int, inputs: int):
    """h_t = tanh(W_hh h_{t-1} + W_xh x_t + b), x_t rows of X, a squared loss on h_steps."""

    def build():
        X = nn.data("X", steps * inputs)
        W_hh, W_xh = nn.param("W_hh", (state, state)), nn.param("W_xh", (state, inputs))
        b, h = nn.param("b", state), None
        for t in range(1, steps + 1):
            x = nn.name(f"x_{t}", X[inputs * (t - 1) : inputs * t], adjoint=False)
            a = W_xh @ x + b if h is None else W_hh @ h + W_xh @ x + b
            h = nn.name(f"h_{t}", nn.tanh(nn.name(f"a_{t}", a)))
        return nn.Program(nn.mean(nn.sum((h - nn.labels("y", state)) ** 2, "rows") / 2))

    return build


def batch_norm():
    X = nn.data("X", 16)
    gamma, beta = nn.param("gamma", 16, init="ones"), nn.param("beta", 16)
    mu = nn.name("mu", nn.mean(X, "examples"))
    var = nn.name("var", nn.mean((X - mu) ** 2, "examples"))
    sigma = nn.name("sigma", nn.sqrt(var + sympy.Rational(1, 10**5)))
    out = nn.name("out", gamma * nn.name("X_hat", (X - mu) / sigma) + beta, adjoint=False)
    return nn.Program(output=out, upstream=nn.upstream("dout", out))


def lstm():
    x, h_prev, c_prev = nn.data("x", 32), nn.data("h_prev", 64), nn.data("c_prev", 64)
    gates = {}
    for gate, act in (("i", sigmoid), ("f", sigmoid), ("o", sigmoid), ("g", None)):
        W, U, b = (
            nn.param(f"W_{gate}", (64, 32)),
            nn.param(f"U_{gate}", (64, 64)),
            nn.param(f"b_{gate}", 64),
        )
        pre = W @ x + U @ h_prev + b
        gates[gate] = nn.name(gate, nn.tanh(pre) if act is None else nn.apply(act, pre))
    c = nn.name("c", gates["f"] * c_prev + gates["i"] * gates["g"])
    h = nn.name("h", gates["o"] * nn.tanh(c), adjoint=False)
    return nn.Program(output=h, upstream=nn.upstream("dh", h))


MODELS = [
    ("784-128-10 tanh/softmax", network([784, 128, 10], "tanh")),
    ("64-32-10 tanh/softmax", network([64, 32, 10], "tanh")),
    ("256×5-10 relu/softmax", network([256] * 5 + [10], "relu")),
    ("RNN, 10 steps, state 64", rnn(10, 64, 32)),
    ("RNN, 10 steps, state 4", rnn(10, 4, 2)),
    ("batch norm, 16 features", batch_norm),
    ("LSTM cell, state 64", lstm),
]


def tensor_nodes(bp) -> int:
    """Distinct nodes of the fused loss, the gradients and the forward tensors."""
    roots = [bp.fused_loss, *bp.gradients.values(), *(f.node for f in bp.forward)]
    return len(topological_order(roots, lambda n: n.children()))


def timed_run(build) -> tuple[float, float, object]:
    """Seconds to build and derive, seconds to print in three formats, and the result."""
    clear_cache()
    start = time.perf_counter()
    bp = derive(build())
    mid = time.perf_counter()
    bp.text(), bp.markdown(), bp.latex()
    return mid - start, time.perf_counter() - mid, bp


def check(bp, seed: int = 0) -> float:
    """Relative error of ∇L·d against central differences along a random direction d."""
    program = bp.program
    rng = np.random.default_rng(seed)
    env = sample_leaves(program, seed=seed)
    params = [p.ident for p in program.params]
    d = {k: rng.standard_normal(np.shape(env[k])) for k in params}
    norm = np.sqrt(sum(np.sum(v**2) for v in d.values()))
    d = {k: v / norm for k, v in d.items()}  # a unit step, whatever the parameter count
    analytic = sum(float(np.sum(values(bp, env).gradients[k] * d[k])) for k in params)
    plus = values(bp, {**env, **{k: env[k] + EPS * d[k] for k in params}}).loss
    minus = values(bp, {**env, **{k: env[k] - EPS * d[k] for k in params}}).loss
    numeric = (plus - minus) / (2 * EPS)
    return abs(analytic - numeric) / (abs(analytic) + abs(numeric))


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per network (median)")
    args = parser.parse_args(argv)

    print(
        f"CPU: {cpu_model()}, {multiprocessing.cpu_count()} cores; "
        f"Python {platform.python_version()}, SymPy {sympy.__version__}, NumPy {np.__version__}"
    )
    for _, build in MODELS:  # first-call set-up (imports, code paths), not timed
        timed_run(build)
    rows = []
    for label, build in MODELS:
        runs = [timed_run(build) for _ in range(args.repeats)]
        bp = runs[0][2]
        err = check(bp)
        if not err < 1e-7:
            raise SystemExit(f"{label}: gradient check failed (relative error {err:.1e})")
        t_derive = statistics.median(r[0] for r in runs)
        t_print = statistics.median(r[1] for r in runs)
        t_total = statistics.median(r[0] + r[1] for r in runs)
        rows.append((label, tensor_nodes(bp), t_derive, t_print, t_total))
        print(f"  done {label}: {t_total:.3f} s (gradient check {err:.1e})", flush=True)

    print()
    print("| model | tensor nodes | derive s | printing s | total s |")
    print("|---|---|---|---|---|")
    for label, nodes, t_derive, t_print, t_total in rows:
        print(f"| {label} | {nodes} | {t_derive:.3f} | {t_print:.3f} | {t_total:.3f} |")


if __name__ == "__main__":
    main()
