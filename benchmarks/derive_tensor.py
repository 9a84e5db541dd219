"""Benchmark: deriving and printing a network's backprop equations with the tensor front end.

After one untimed run of every network (first-call set-up), the script times for each
network, as the median of ``--repeats`` runs with SymPy's cache cleared before each,

* derive: ``symgrad.nn.derive(Network(...))`` (building the network included);
* printing: ``.text()``, ``.markdown()`` and ``.latex()`` of the result,

and prints a Markdown table with the number of tensor graph nodes (the fused loss, every
gradient and the forward tensors, each distinct node once). The networks:

* 784-128-10: tanh hidden layer, softmax output, cross-entropy (MNIST-sized);
* 64-32-10: the same architecture, narrower;
* 256-256-256-256-256-10: ``mlp([256] * 5 + [10], hidden="relu", output="softmax")``,
  four ReLU layers of 256 and a softmax layer of 10 on 256 inputs, cross-entropy.

A 784×128 layer is one node, so the time must not grow with the layer widths. Before timing,
each derivation is checked against central differences of the NumPy reference loss along a
random unit direction (8 examples): a fast wrong answer is not a result.

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

from symgrad.engine.graph import topological_order
from symgrad.nn import Network, derive, init_params, mlp, reference

NETWORKS = [
    ("784-128-10 tanh/softmax", [784, 128, 10], "tanh"),
    ("64-32-10 tanh/softmax", [64, 32, 10], "tanh"),
    ("256×5-10 relu/softmax", [256] * 5 + [10], "relu"),
]
EPS = 1e-5


def network(sizes: list, hidden: str) -> Network:
    return Network(mlp(sizes, hidden=hidden, output="softmax"), loss="cross_entropy")


def tensor_nodes(bp) -> int:
    """Distinct nodes of the fused loss, the gradients and the forward tensors."""
    roots = [bp.fused_loss, *bp.gradients.values(), *(f.node for f in bp.forward)]
    return len(topological_order(roots, lambda n: n.children()))


def timed_run(sizes: list, hidden: str) -> tuple[float, float, object]:
    """Seconds to build and derive, seconds to print in three formats, and the result."""
    clear_cache()
    start = time.perf_counter()
    bp = derive(network(sizes, hidden))
    mid = time.perf_counter()
    bp.text(), bp.markdown(), bp.latex()
    return mid - start, time.perf_counter() - mid, bp


def check(bp, seed: int = 0) -> float:
    """Relative error of ∇L·d against central differences along a random direction d."""
    net = bp.network
    rng = np.random.default_rng(seed)
    params = init_params(net, seed=seed)
    X = rng.standard_normal((8, net.layers[0].n_in))
    y = rng.integers(0, net.classes, 8)
    d = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    norm = np.sqrt(sum(np.sum(v**2) for v in d.values()))
    d = {k: v / norm for k, v in d.items()}  # a unit step, whatever the parameter count
    ev = reference(bp, params, X, y)
    analytic = sum(float(np.sum(ev.gradients[k] * d[k])) for k in params)
    plus = reference(bp, {k: v + EPS * d[k] for k, v in params.items()}, X, y).loss
    minus = reference(bp, {k: v - EPS * d[k] for k, v in params.items()}, X, y).loss
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
    for _, sizes, hidden in NETWORKS:  # first-call set-up (imports, code paths), not timed
        timed_run(sizes, hidden)
    rows = []
    for label, sizes, hidden in NETWORKS:
        runs = [timed_run(sizes, hidden) for _ in range(args.repeats)]
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
    print("| network | tensor nodes | derive s | printing s | total s |")
    print("|---|---|---|---|---|")
    for label, nodes, t_derive, t_print, t_total in rows:
        print(f"| {label} | {nodes} | {t_derive:.3f} | {t_print:.3f} | {t_total:.3f} |")


if __name__ == "__main__":
    main()
