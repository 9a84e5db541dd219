"""Benchmark: data-parallel training on Dask against one process (issue 13).

Logistic regression (``symgrad.nn.logistic_regression(n)``, full-batch gradient descent,
float64) on ``--rows`` examples × ``--features`` features (default 10 million × 50, about
4 GB), stored as ``--shards`` ``.npy`` shards (the label the last column; X ~ N(0, 1),
labels drawn from σ of a random linear teacher) in ``--data`` (written once, reused):

1. one process, the data in memory: ``fit`` (the generated loop); time per epoch;
2. the kernel alone: the generated ``loss_and_grad`` on one shard in this process, so the
   kernel time of a step on w workers is (shards / w) × that;
3. a local cluster of 1 and of 2 worker processes (one thread each), shards persisted in
   the workers' memory: time per epoch, the overhead per step (epoch time minus the
   kernel time of the busiest worker), and each worker's peak memory (its ru_maxrss);
4. out of core: 2 workers each given a memory limit of half its share of the data,
   ``persist=False`` (each step reads its shards, uses them and releases them);
5. the overhead alone: steps on 2 workers with 2, 8 and 32 tiny partitions (10 rows each),
   giving a fixed cost per step and a cost per partition, from which the paper estimate
   for 8, 64 and 512 workers in ``benchmarks/README.md`` is computed (printed here too).

Each time is the median over ``--epochs`` epochs after one warm-up epoch (compiling
included). Run from the repository root: ``pip install ".[dask]"``, then
``PYTHONPATH=. python benchmarks/dask_training.py --rows 1000000`` (the default size writes
4 GB of shards and takes a while: use a machine with the room).
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

#: The out-of-core run needs a worker's share of the data (MB) to weigh against the worker
#: itself (a few hundred MB with Numba); below this it is skipped.
MIN_SHARE = 64


def write_shards(folder: Path, rows: int, features: int, shards: int) -> list[Path]:
    """``shards`` .npy files of about rows / shards examples each (label last), made once."""
    folder.mkdir(parents=True, exist_ok=True)
    teacher = np.random.default_rng(1).standard_normal(features) / math.sqrt(features)
    files = []
    for i, part in enumerate(np.array_split(np.arange(rows), shards)):
        file = folder / f"part{i:04d}_{rows}x{features}.npy"
        if not file.exists():
            rng = np.random.default_rng([7, i])
            X = rng.standard_normal((len(part), features))
            y = rng.random(len(part)) < 1 / (1 + np.exp(-4 * X @ teacher))
            np.save(file, np.column_stack([X, y]))
        files.append(file)
    return files


def peak_rss_mb() -> float:
    """This process's peak memory since :func:`reset_peak` (Linux's VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Start this process's peak memory afresh (a forked worker inherits its parent's)."""
    Path("/proc/self/clear_refs").write_text("5")


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


class Timer:
    """A progress bar stand-in that records when each epoch ended."""

    def __init__(self):
        self.ends = [time.perf_counter()]

    def update(self, count):
        self.ends.append(time.perf_counter())

    def set_postfix(self, **values):
        pass

    def close(self):
        pass

    def per_epoch(self) -> float:
        times = np.diff(self.ends)
        return statistics.median(times[1:]) if len(times) > 1 else float(times[0])


def in_cluster(network, compiled, files, workers, epochs, *, persist=True, memory=None):
    """Median seconds an epoch on a local cluster, each worker's peak memory while training,
    and its memory before (after a warm-up on one shard: imports and compiling), MB.

    ``memory``: each worker's limit, past which its nanny restarts it (Dask's pausing and
    spilling turned off: with ``persist=False`` there is nothing to spill)."""
    import dask
    from distributed import Client, LocalCluster

    from symgrad.train import distributed

    off = {f"distributed.worker.memory.{k}": False for k in ("target", "spill", "pause")}
    with dask.config.set(off if memory else {}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            memory_limit=memory or "auto",
        )
    with cluster, Client(cluster) as client:
        # one partition for each worker: each imports symgrad and loads the kernel
        warm = [str(files[0])] * workers
        distributed.train(network, warm, -1, client=client, epochs=1, compiled=compiled)
        started = set(client.scheduler_info()["workers"])
        before = max(client.run(rss_mb).values())
        client.run(reset_peak)
        timer = Timer()
        distributed.train(
            network,
            [str(f) for f in files],
            -1,
            client=client,
            lr=0.5,
            epochs=epochs + 1,
            compiled=compiled,
            persist=persist,
            bar=timer,
        )
        peaks = client.run(peak_rss_mb)
        restarted = set(client.scheduler_info()["workers"]) != started
    return timer.per_epoch(), sorted(peaks.values()), before, restarted


def overhead(network, compiled, folder: Path, epochs: int) -> dict:
    """Seconds a step on 2 workers with P tiny partitions (10 rows each), by P."""
    from distributed import Client, LocalCluster

    from symgrad.train import distributed

    out = {}
    n = int(network.X.shape[0])
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        for parts in (2, 8, 32):
            files = []
            for i in range(parts):
                file = folder / f"tiny{parts}_{i}.npy"
                rng = np.random.default_rng(i)
                np.save(file, np.column_stack([rng.standard_normal((10, n)), np.ones(10)]))
                files.append(str(file))
            timer = Timer()
            distributed.train(
                network,
                files,
                -1,
                client=client,
                lr=0.1,
                epochs=epochs + 1,
                compiled=compiled,
                persist=True,
                bar=timer,
            )
            out[parts] = timer.per_epoch()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data", default=None, help="shard folder (default: a temporary one)")
    args = parser.parse_args()

    from symgrad.nn import logistic_regression
    from symgrad.train.compiled import CompiledNetwork
    from symgrad.train.fit import fit

    work = Path(tempfile.mkdtemp(prefix="symgrad-bench-"))
    data = Path(args.data) if args.data else work / "shards"
    began = time.perf_counter()
    files = write_shards(data, args.rows, args.features, args.shards)
    size = sum(f.stat().st_size for f in files) / 2**20
    print(f"{len(files)} shards, {size:.0f} MB, written in {time.perf_counter() - began:.1f} s")

    network = logistic_regression(args.features)
    compiled = CompiledNetwork(network, folder=work / "generated")
    shard = np.load(files[0])
    X1, y1 = shard[:, :-1], shard[:, -1]
    params = {p.ident: np.zeros(tuple(int(d) for d in p.shape)) for p in network.params}
    compiled.loss_and_grad(params, X1, y1)  # compiles it (and fills the cache the workers use)
    kernel = statistics.median(
        _timed(lambda: compiled.loss_and_grad(params, X1, y1)) for _ in range(5)
    )
    per_shard = kernel * args.rows / len(files) / len(X1)
    print(f"kernel: {kernel * 1e3:.1f} ms on one shard of {len(X1):_} rows")

    table = np.concatenate([np.load(f) for f in files])
    X, y = table[:, :-1], table[:, -1]
    del table
    fit(network, X[:10], y[:10], epochs=1, compiled=compiled)  # compiles the loop
    began = time.perf_counter()
    fit(network, X, y, epochs=args.epochs, lr=0.5, compiled=compiled)
    single = (time.perf_counter() - began) / args.epochs
    single_peak = peak_rss_mb()
    del X, y
    print(f"one process: {single:.3f} s an epoch, peak {single_peak:.0f} MB")

    rows = [("one process, data in memory", single, len(files) * per_shard, [single_peak])]
    for workers in (1, 2):
        epoch, peaks, base, _ = in_cluster(network, compiled, files, workers, args.epochs)
        busiest = math.ceil(len(files) / workers) * per_shard
        rows.append((f"Dask, {workers} worker(s), persisted", epoch, busiest, peaks))
        print(rows[-1], f"a worker before training: {base:.0f} MB")
    # a limit that the worker's share of the data does not fit in beside the worker itself
    # (its own footprint: its peak with the data persisted, less the data; compiling counts)
    share = size / 2
    own = max(peaks) - share
    if share < MIN_SHARE:
        print(f"out of core: skipped, a worker's share ({share:.0f} MB) is under {MIN_SHARE} MB")
    else:
        memory = int((own + share / 2) * 2**20)
        epoch, peaks, _, restarted = in_cluster(
            network, compiled, files, 2, args.epochs, persist=False, memory=memory
        )
        name = (
            f"Dask, 2 workers, out of core (limit {memory / 2**20:.0f} MB each < {own:.0f} MB "
            f"+ a share of {share:.0f} MB{'; a worker was restarted' * restarted})"
        )
        rows.append((name, epoch, math.ceil(len(files) / 2) * per_shard, peaks))
        print(rows[-1])

    print(f"\n{args.rows:_} rows × {args.features} features, {len(files)} shards\n")
    print("| run | s / epoch | kernel s / step | overhead s / step | peak MB per process |")
    print("|---|---|---|---|---|")
    for name, epoch, kernel_time, peaks in rows:
        shown = ", ".join(f"{p:.0f}" for p in peaks)
        print(f"| {name} | {epoch:.3f} | {kernel_time:.3f} | {epoch - kernel_time:.3f} | {shown} |")

    steps = overhead(network, compiled, work, args.epochs)
    print(
        "\nOverhead alone (2 workers, 10-row partitions): "
        + ", ".join(f"{p} partitions {s * 1e3:.0f} ms" for p, s in steps.items())
    )
    per_part = (steps[32] - steps[2]) / 30
    fixed = steps[2] - 2 * per_part
    throughput = len(X1) / kernel  # rows a second, one worker
    print(f"fixed {fixed * 1e3:.1f} ms a step + {per_part * 1e3:.2f} ms a partition")
    print("\nPaper estimate, 10 million × 50, one partition per worker:\n")
    print("| workers | kernel s / step | overhead s / step | step s | kernel share |")
    print("|---|---|---|---|---|")
    for w in (8, 64, 512):
        kernel_time = 10_000_000 / w / throughput
        cost = fixed + per_part * w
        print(
            f"| {w} | {kernel_time:.4f} | {cost:.3f} | {kernel_time + cost:.3f} | "
            f"{kernel_time / (kernel_time + cost):.0%} |"
        )


def _timed(run) -> float:
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


if __name__ == "__main__":
    main()
