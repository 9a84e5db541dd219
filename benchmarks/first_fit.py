"""Time to a first result: a first ``fit`` in a fresh process, cold and warm (issue 11).

Each run is a new Python process in a new output folder that fits logistic regression on the
breast-cancer data (``symgrad.apps.datasets.breast_cancer``, 500 epochs of gradient descent at
α = 0.5, as in the README; ``--batch-size`` for minibatches, default the whole set). *Cold*:
an empty cache of compiled code (``SYMGRAD_CACHE`` set to a new folder); *warm*: the cache a
cold run left, in another new folder. The child process reports its phases (imports; loading
the data set, then deriving, writing and loading the module; the first call of the training
loop, which compiles or loads it, the rest of ``fit``) and, from Numba's compile events, the
seconds each generated function spent compiling (its own time, the functions it calls
excluded). Medians of ``--runs`` runs; cold and warm runs take turns.

    PYTHONPATH=. python benchmarks/first_fit.py [--runs 3] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
began = time.perf_counter()
from numba.core import event
from symgrad.apps.datasets import breast_cancer
from symgrad.nn import logistic_regression
from symgrad.train.compiled import CompiledNetwork
from symgrad.train.fit import fit

imported = time.perf_counter()
data = breast_cancer()
network = logistic_regression(30)
compiled = CompiledNetwork(network, "gd", folder=sys.argv[1])
batch_size = json.loads(sys.argv[2])
built = time.perf_counter()
with event.install_recorder("numba:compile") as recorder:
    result = fit(
        network, data.X, data.y, lr=0.5, epochs=500, batch_size=batch_size, compiled=compiled
    )
done = time.perf_counter()
own, stack = {}, []
for moment, ev in recorder.buffer:
    name = ev.data["dispatcher"].py_func.__name__
    if ev.is_start:
        stack.append([name, moment, 0.0])
    else:
        name, start, inner = stack.pop()
        own[name] = own.get(name, 0.0) + (moment - start) - inner
        if stack:
            stack[-1][2] += moment - start
jitted = [f for f in vars(compiled.module).values() if hasattr(f, "stats")]
hits = sum(sum(f.stats.cache_hits.values()) for f in jitted)
print(json.dumps({
    "imports": imported - began, "module": built - imported, "fit": done - built,
    "total": done - began, "compiling": sum(own.values()), "own": own, "cache_hits": hits,
    "loss": float(result.history[-1]),
}))
"""


def run_child(folder: Path, cache: Path, batch_size) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SYMGRAD_CACHE": str(cache)}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), json.dumps(batch_size)],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return {**json.loads(done.stdout), "process": wall}


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the whole set")
    args = parser.parse_args()
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(args.runs):
            cache = tmp / f"cache{i}"
            cold.append(run_child(tmp / f"cold{i}", cache, args.batch_size))
            warm.append(run_child(tmp / f"warm{i}", cache, args.batch_size))
        size = sum(f.stat().st_size for f in (tmp / "cache0").rglob("*") if f.is_file())
    assert all(r["cache_hits"] == 0 for r in cold) and all(r["cache_hits"] for r in warm)
    batches = "the whole set" if args.batch_size is None else f"batches of {args.batch_size}"
    print(
        f"first fit of logistic regression (breast cancer, 500 epochs, {batches}), "
        f"median of {args.runs}"
    )
    print("| run | process s | imports s | data+module s | fit s | of it compiling s |")
    print("|---|---|---|---|---|---|")
    for label, runs in [("cold (empty cache, new folder)", cold), ("warm (new folder)", warm)]:
        cells = [median(runs, k) for k in ("process", "imports", "module", "fit", "compiling")]
        print(f"| {label} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    print(f"\nwarm/cold process time: {median(warm, 'process') / median(cold, 'process'):.2f}")
    print(f"cache after one cold run: {size / 1e3:.0f} kB")
    names = sorted(cold[0]["own"], key=lambda n: -statistics.median(r["own"][n] for r in cold))
    print("\ncold compile, own seconds per generated function (median):")
    for name in names:
        print(f"  {name:<20} {statistics.median(r['own'][name] for r in cold):.2f}")


if __name__ == "__main__":
    main()
