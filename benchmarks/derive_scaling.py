"""Benchmark: deriving a network's gradient with symgrad versus ``sympy.diff``.

A one-hidden-layer network is written out as scalar SymPy expressions (every weight its
own symbol): ``z1_j = sum_i W1_ji x_i + b1_j``, ``a1_j = tanh(z1_j)``,
``a = sigmoid(sum_j W2_j a1_j + b2)`` and the binary cross-entropy
``-(y log a + (1 - y) log(1 - a))``. For each size n-h the script times

* symgrad: ``symgrad.grad(loss, params)``, then ``sympy.cse`` of the result;
* SymPy: ``[sympy.diff(loss, p) for p in params]``, then ``sympy.cse`` of the result,

and prints a Markdown table. Once the SymPy path takes longer than ``--max-diff-seconds`` at
one size it is skipped at that size and every larger one. SymPy's cache is cleared before every
timed run, and the SymPy path runs in a forked child process so that it can be stopped at
the limit.

Run: ``PYTHONPATH=. python benchmarks/derive_scaling.py`` from the repository root
(``--help`` for the options; ``--profile`` prints where symgrad's time goes at the largest size).
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import platform
import pstats
import random
import statistics
import time

import sympy
from sympy.core.cache import clear_cache

import symgrad
from symgrad.engine.graph import topological_order

SIZES = [(2, 3), (4, 8), (8, 16), (16, 32), (32, 64), (64, 128)]


def network_loss(n: int, h: int) -> tuple[sympy.Expr, list[sympy.Symbol], list[sympy.Symbol]]:
    """The scalarized n-h-1 network's loss, its parameters and its inputs (x1..xn, y)."""
    xs = sympy.symbols(f"x1:{n + 1}")
    y = sympy.Symbol("y")
    w1 = [[sympy.Symbol(f"W1_{j + 1}_{i + 1}") for i in range(n)] for j in range(h)]
    b1 = [sympy.Symbol(f"b1_{j + 1}") for j in range(h)]
    w2 = [sympy.Symbol(f"W2_{j + 1}") for j in range(h)]
    b2 = sympy.Symbol("b2")
    hidden = [
        sympy.tanh(sympy.Add(*(w1[j][i] * xs[i] for i in range(n))) + b1[j]) for j in range(h)
    ]
    a = symgrad.sigmoid(sympy.Add(*(w2[j] * hidden[j] for j in range(h))) + b2)
    loss = -(y * sympy.log(a) + (1 - y) * sympy.log(1 - a))
    params = [w for row in w1 for w in row] + b1 + w2 + [b2]
    return loss, params, [*xs, y]


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def symgrad_path(loss, params) -> tuple[float, float, tuple]:
    """Seconds for ``symgrad.grad`` and for ``sympy.cse`` of its result, and the gradient."""
    clear_cache()
    gradient, t_grad = _timed(lambda: symgrad.grad(loss, params))
    _, t_cse = _timed(lambda: sympy.cse(list(gradient)))
    return t_grad, t_cse, gradient


def sympy_path(loss, params) -> tuple[float, float, list]:
    """Seconds for ``sympy.diff`` per parameter and for ``sympy.cse`` of the result."""
    clear_cache()
    gradient, t_diff = _timed(lambda: [sympy.diff(loss, p) for p in params])
    _, t_cse = _timed(lambda: sympy.cse(gradient))
    return t_diff, t_cse, gradient


def _child(conn, loss, params, probe_points):
    t_diff, t_cse, gradient = sympy_path(loss, params)
    probes = [float(gradient[k].xreplace(pt)) for k, pt in probe_points]
    conn.send((t_diff, t_cse, probes))
    conn.close()


def sympy_path_limited(loss, params, limit: float, probe_points):
    """``sympy_path`` in a forked child, stopped after ``limit`` seconds (then ``None``)."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, loss, params, probe_points))
    proc.start()
    child.close()
    ready = parent.poll(limit)
    result = parent.recv() if ready else None
    if proc.is_alive() and result is None:
        proc.terminate()
    proc.join()
    return result


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def _probe_points(loss, params, inputs, k: int, seed: int):
    """k (parameter index, numeric point) pairs for comparing the two gradients."""
    rng = random.Random(seed)
    symbols = sorted(loss.free_symbols, key=str)
    picks = sorted({0, len(params) - 1, *rng.sample(range(len(params)), min(k, len(params)))})
    points = []
    for idx in picks:
        pt = {s: sympy.Float(rng.uniform(-1, 1)) for s in symbols}
        pt[inputs[-1]] = sympy.Float(rng.choice([0, 1]))
        points.append((idx, pt))
    return points


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
    parser.add_argument(
        "--max-diff-seconds",
        type=float,
        default=120.0,
        help="skip the sympy.diff path at sizes slower than this (default 120)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="runs per size (median) for sizes under --repeat-below params",
    )
    parser.add_argument(
        "--repeat-below",
        type=int,
        default=500,
        help="sizes with fewer parameters than this are repeated",
    )
    parser.add_argument(
        "--sizes",
        default=",".join(f"{n}-{h}" for n, h in SIZES),
        help="comma-separated n-h sizes (default: %(default)s)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile symgrad.grad + cse at the largest size"
    )
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("-")) for s in args.sizes.split(",")]

    print(
        f"CPU: {cpu_model()}, {multiprocessing.cpu_count()} cores; "
        f"Python {platform.python_version()}, SymPy {sympy.__version__}"
    )
    print()
    header = [
        "size",
        "#params",
        "graph nodes",
        "symgrad grad s",
        "symgrad cse s",
        "symgrad total",
        "sympy.diff s",
        "sympy cse s",
        "sympy total",
        "speed-up",
    ]
    rows, growth = [], []
    skip_sympy = False
    for n, h in sizes:
        loss, params, inputs = network_loss(n, h)
        nodes = len(topological_order([loss]))
        repeats = args.repeats if len(params) < args.repeat_below else 1

        runs = [symgrad_path(loss, params) for _ in range(repeats)]
        t_grad = statistics.median(r[0] for r in runs)
        t_cse = statistics.median(r[1] for r in runs)
        ours = t_grad + t_cse
        gradient = runs[0][2]
        growth.append((f"{n}-{h}", nodes, t_grad, ours))

        cells = [
            f"{n}-{h}",
            f"{len(params):,}",
            f"{nodes:,}",
            _fmt(t_grad),
            _fmt(t_cse),
            _fmt(ours),
        ]
        limit_txt = f"skipped (> {args.max_diff_seconds:g} s)"
        if skip_sympy:
            cells += [limit_txt, "—", "—", "—"]
        else:
            probes = _probe_points(loss, params, inputs, 3, seed=n * 1000 + h)
            sruns = []
            for _ in range(repeats):
                res = sympy_path_limited(loss, params, args.max_diff_seconds, probes)
                if res is None:
                    break
                sruns.append(res)
            if not sruns:
                skip_sympy = True
                cells += [limit_txt, "—", "—", "—"]
            else:
                s_diff = statistics.median(r[0] for r in sruns)
                s_cse = statistics.median(r[1] for r in sruns)
                theirs = s_diff + s_cse
                cells += [_fmt(s_diff), _fmt(s_cse), _fmt(theirs), f"{theirs / ours:,.0f}×"]
                # the two derivations must agree before their times mean anything
                mine = [float(gradient[k].xreplace(pt)) for k, pt in probes]
                for a, b in zip(mine, sruns[0][2], strict=True):
                    if abs(a - b) > 1e-9 * (1 + abs(b)):
                        raise SystemExit(f"gradients disagree at {n}-{h}: {a} vs {b}")
                if theirs > args.max_diff_seconds:
                    skip_sympy = True
        rows.append(cells)
        print(f"  done {n}-{h}: symgrad {ours:.3f} s", flush=True)

    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")

    print()
    print("Growth: symgrad time per graph node (constant if time is linear in graph size)")
    print()
    print("| size | graph nodes | grad µs per node | grad + cse µs per node |")
    print("|---|---|---|---|")
    for size, nodes, t_grad, total in growth:
        print(f"| {size} | {nodes:,} | {1e6 * t_grad / nodes:.1f} | {1e6 * total / nodes:.1f} |")

    if args.profile:
        n, h = sizes[-1]
        loss, params, _ = network_loss(n, h)
        clear_cache()
        prof = cProfile.Profile()
        prof.enable()
        gradient = symgrad.grad(loss, params)
        sympy.cse(list(gradient))
        prof.disable()
        print()
        print(f"Profile of symgrad.grad + sympy.cse at {n}-{h}:")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(20)


if __name__ == "__main__":
    main()
