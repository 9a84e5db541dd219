"""Benchmark: whole training runs of symgrad against hand-written NumPy and Numba, JAX and
PyTorch, at one thread and at two, with peak memory for the big cases (issues 4 and 11).

The cases (``implementations.CASES``; float64, the same data, initial parameters and plain
gradient descent everywhere):

1. logistic regression, full batch: m = 100,000, n = 50, 200 steps (``logreg``) and
   m = 1,000, n = 10, 200 steps (``logreg-small``);
2. tanh/softmax networks with cross-entropy, full batch: 64-32-10 on scikit-learn's digits,
   200 steps (``digits``), and 784-128-10 on 10,000 synthetic examples, 50 steps (``wide``);
3. the lecture's 2-3-1 network (ReLU or tanh, σ output, bce) by per-example SGD, 10,000
   examples × 5 epochs = 50,000 updates (``sgd-relu``, ``sgd-tanh``), every implementation
   visiting the examples in symgrad's seeded order.

The columns: symgrad fit (``symgrad.train.fit``, what users call), symgrad train (the
generated loop called directly, data already in its layout), NumPy (hand-written backprop in
a Python loop), Numba by hand and Numba fastmath (one hand-written ``njit`` loop compiled
without and with ``fastmath``), JAX (``jit`` of a step in a Python loop, and the whole run as
one jitted ``lax.fori_loop``; "JAX best" is the faster) and PyTorch (eager autograd).

Every thread count runs in a fresh process whose thread settings are in its environment
before anything is imported (NUMBA_NUM_THREADS, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
MKL_NUM_THREADS, XLA_FLAGS) and ``torch.set_num_threads``. In it, each implementation runs
one step or epoch first (compiling), then whole runs take turns, one each in round robin, so
that a change of the machine's load falls on all of them; a column's time is the median
(3 runs at most when a run takes over 3 s). Every implementation's final loss, evaluated by
one NumPy function at its final parameters, must agree with symgrad's to 1e-6 relative, or
the exit status is 1.

Peak memory (``--memory``, the default; the big cases ``logreg`` and ``wide``): each
(case, implementation) runs in its own process at one thread, which builds the data, runs
one step (compiling), returns freed memory to the system, resets the kernel's high-water mark
of its resident memory (``/proc/self/clear_refs``) and then trains the whole run; the report
is that high-water mark minus the resident memory just before the run: the memory the run
needs beyond data, parameters and compiled code. Large blocks are kept out of malloc's reuse
(``MALLOC_MMAP_THRESHOLD_``) so that freed temporaries leave the resident set.

The one-read floor of ``logreg`` (one pass over X a step) is the fastest of 5 reads of X,
by BLAS's matrix-vector product and by a Numba sum, times the steps, at that thread count.

Run from the repository root (the full run: about 25 minutes on a quiet 2-core machine):

    pip install ".[bench,data]"
    python benchmarks/train_speed.py
    python benchmarks/train_speed.py --quick --threads 1 --no-memory   # a smoke run

Time to a first result (cold and warm processes) is ``first_fit.py``'s job.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
AGREE = 1e-6  # final losses must agree to this relative difference
SLOW = 3.0  # seconds: a run slower than this is repeated 3 times at most
MEMORY_CASES = ("logreg", "wide")
COLUMNS = [  # the main table: JAX's two forms are one column, the faster
    "symgrad fit",
    "symgrad train",
    "NumPy",
    "Numba by hand",
    "Numba fastmath",
    "JAX best",
    "PyTorch",
]
CASE_NAMES = ["logreg", "logreg-small", "digits", "wide", "sgd-relu", "sgd-tanh"]
GROUPS = {"logreg": 1, "logreg-small": 1, "digits": 2, "wide": 2, "sgd-relu": 3, "sgd-tanh": 3}
THREAD_VARIABLES = (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


@dataclass
class Row:
    impl: str
    status: str = "ok"
    median: float = math.nan
    runs: int = 0
    first: float = math.nan
    loss: float = math.nan
    flag: str = ""
    times: list = field(default_factory=list)


# ---- a child process: one thread count, every case ------------------------------------------
def measure(runs: dict, p, repeats: int) -> list:
    """Rows for ``runs`` (impl -> run): a warm-up each, then whole runs in round robin."""
    import numpy as np
    from implementations import final_loss

    rows, results, wanted = {}, {}, {}
    for impl, run in runs.items():
        rows[impl] = Row(impl)
        try:
            t0 = time.perf_counter()
            run(1)
            rows[impl].first = time.perf_counter() - t0
            wanted[impl] = repeats
        except Exception as e:  # a broken competitor must not stop the run
            rows[impl].status = f"error: {type(e).__name__}: {e}"[:120]
    for i in range(repeats):
        for impl, run in runs.items():
            if i >= wanted.get(impl, 0):
                continue
            row = rows[impl]
            gc.collect()
            try:
                t0 = time.perf_counter()
                results[impl] = run(p.epochs)
                row.times.append(time.perf_counter() - t0)
            except Exception as e:
                row.status, wanted[impl] = f"error: {type(e).__name__}: {e}"[:120], 0
                continue
            if row.times[0] > SLOW:
                wanted[impl] = min(repeats, 3)
    for impl, row in rows.items():
        if row.status != "ok":
            continue
        row.median, row.runs = statistics.median(row.times), len(row.times)
        params, history = results[impl]
        if not np.all(np.isfinite(history)):
            row.flag = "NON-FINITE LOSS"
        row.loss = final_loss(p, params)
        print(f"  {impl:<15} {row.median:9.4f} s", file=sys.stderr, flush=True)
    return list(rows.values())


def check_losses(rows: list) -> None:
    ref = next((r for r in rows if r.impl.startswith("symgrad") and r.status == "ok"), None)
    for r in rows if ref else []:
        if r.status == "ok" and abs(r.loss - ref.loss) > AGREE * abs(ref.loss):
            r.flag = (r.flag + " " if r.flag else "") + "LOSS MISMATCH"


def read_floor(X, steps: int) -> dict:
    """One read of X a step: the fastest of 5 reads by BLAS's X @ w and by a Numba sum."""
    import numba
    import numpy as np

    @numba.njit(fastmath=True)
    def total(flat):
        s = 0.0
        for v in flat:
            s += v
        return s

    w, flat = np.ones(X.shape[1]), X.reshape(-1)
    total(flat[:8])
    best = math.inf
    for _ in range(5):
        for read in (lambda: X @ w, lambda: total(flat)):
            t0 = time.perf_counter()
            read()
            best = min(best, time.perf_counter() - t0)
    return {"read_s": best, "gb_s": X.nbytes / best / 1e9, "floor_s": best * steps}


def set_torch_threads(threads: int) -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # only before PyTorch's first parallel work
        pass


def machine(threads: int) -> str:
    import numba
    import numpy as np
    from implementations import _jax

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    versions.append(f"Numba {numba.__version__}")
    seen = [f"Numba {numba.get_num_threads()}"]
    try:
        from threadpoolctl import threadpool_info

        seen += [
            f"{i['internal_api']} {i['version']} {i['num_threads']}" for i in threadpool_info()
        ]
    except ImportError:
        pass
    jax = _jax()
    versions.append(f"JAX {jax.__version__}" if jax else "JAX not installed")
    try:
        import torch

        versions.append(f"PyTorch {torch.__version__}")
        seen.append(f"torch {torch.get_num_threads()}")
    except ImportError:
        versions.append("PyTorch not installed")
    return f"{cpu}, {os.cpu_count()} CPUs; {threads} thread(s): {', '.join(seen)}; " + ", ".join(
        versions
    )


def worker(args) -> None:
    """Every chosen case at ``args.threads`` threads; results as JSON in ``args.out``."""
    try:  # load the BLAS that Numba's np.dot calls, so that the thread report sees it
        import scipy.linalg.cython_blas  # noqa: F401
    except ImportError:
        pass
    from implementations import BY_NAME, installed, make_problem, make_run

    from symgrad.train.compiled import CompiledNetwork

    threads = args.threads[0]
    set_torch_threads(threads)
    report = {"threads": threads, "machine": machine(threads), "cases": {}}
    report["load_start"] = os.getloadavg()[0]
    print(f"\n== {threads} thread(s): {report['machine']}", file=sys.stderr, flush=True)
    for name in args.cases:
        case = BY_NAME[name]
        try:
            p = make_problem(case, args.quick)
        except ImportError as e:  # the digits need scikit-learn
            report["cases"][name] = {"skipped": f"{e.name} is not installed"}
            continue
        title = case.title(len(p.X), p.epochs)
        print(f"### {name}: {title}, lr = {case.lr}", file=sys.stderr, flush=True)
        compiled = CompiledNetwork(p.network, "gd", folder=Path(args.folder) / name)
        # compile the generated loop first, so that fit's runs take it (as a second fit does)
        make_run("symgrad train", p, compiled)(1)
        runs, missing = {}, []
        for impl in args.impls:
            run = make_run(impl, p, compiled) if installed(impl) else None
            if run is not None:
                runs[impl] = run
            else:
                missing.append(Row(impl, "n/a" if installed(impl) else "not installed"))
        rows = measure(runs, p, args.repeats) + missing
        check_losses(rows)
        found = {"title": title, "rows": [asdict(r) for r in rows]}
        if name == "logreg":
            found["floor"] = read_floor(p.X, p.epochs)
        report["cases"][name] = found
        report["load_end"] = os.getloadavg()[0]
        Path(args.out).write_text(json.dumps(report))


# ---- a child process: peak memory of one (case, implementation) -------------------------------
def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(key + ":"))
    return int(line.split()[1]) / 1024


def memory_probe(args) -> None:
    """The memory one whole run needs beyond its data, parameters and compiled code."""
    import resource

    from implementations import BY_NAME, installed, make_problem, make_run

    from symgrad.train.compiled import CompiledNetwork

    (name, impl), case = args.memory_probe, BY_NAME[args.memory_probe[0]]
    set_torch_threads(1)
    p = make_problem(case, args.quick)
    compiled = None
    if impl.startswith("symgrad"):
        compiled = CompiledNetwork(p.network, "gd", folder=Path(args.folder) / name)
        make_run("symgrad train", p, compiled)(1)
    run = make_run(impl, p, compiled) if installed(impl) else None
    if run is None:
        missing = "n/a" if installed(impl) else "not installed"
        Path(args.out).write_text(json.dumps({"missing": missing, "x_mb": p.X.nbytes / 2**20}))
        return
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
    run(1)
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc: hand freed heap back to the system
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # Linux: the high-water mark of the resident set restarts from here
        reset, base = True, _status_mb("VmRSS")
    except OSError:
        reset, base = False, before
    run(p.epochs)
    if reset:
        peak, method = _status_mb("VmHWM"), "high-water mark reset before the run"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
        method = "ru_maxrss less its value before the first step: compiling included"
    found = {"extra_mb": peak - base, "base_mb": base, "x_mb": p.X.nbytes / 2**20}
    Path(args.out).write_text(json.dumps({**found, "method": method}))


# ---- the parent: start the children, print the tables and the targets ---------------------------
def child_env(threads: int, cache: str) -> dict:
    env = dict(os.environ)
    env.update({var: str(threads) for var in THREAD_VARIABLES})
    multi = "true" if threads > 1 else "false"
    xla = f"--xla_cpu_multi_thread_eigen={multi} intra_op_parallelism_threads={threads}"
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {xla}".strip()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    env["SYMGRAD_CACHE"] = cache  # one cache for the run: only the first child compiles
    return env


def child(flags: list, threads: int, tmp: Path, out: Path, env_extra=None) -> dict | None:
    env = {**child_env(threads, str(tmp / "cache")), **(env_extra or {})}
    cmd = [sys.executable, str(Path(__file__).resolve()), *flags, "--folder", str(tmp)]
    done = subprocess.run([*cmd, "--out", str(out)], env=env)
    if done.returncode != 0 or not out.exists():
        print(f"!!! {' '.join(flags)} failed (exit {done.returncode})", flush=True)
        return None
    return json.loads(out.read_text())


def header(names: list) -> str:
    return "| " + " | ".join(names) + " |\n" + "|---" * len(names) + "|"


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "—"
    return f"{x:.3g}" if x < 1 else f"{x:.2f}"


def cells(rows: list) -> dict:
    """Column -> (seconds, note) of one case; JAX best is the faster of JAX's two forms."""
    by = {r["impl"]: r for r in rows if r["status"] == "ok"}
    out = {impl: (r["median"], "") for impl, r in by.items()}
    jax = [(by[k]["median"], k.split()[1]) for k in ("JAX jit step", "JAX fori_loop") if k in by]
    if jax:
        out["JAX best"] = min(jax)
    return out


def print_tables(report: dict) -> None:
    print(f"\n## {report['threads']} thread(s)\n\n{report['machine']}")
    load = (report.get("load_start", math.nan), report.get("load_end", math.nan))
    print(f"load average {load[0]:.1f} at the start, {load[1]:.1f} at the end\n")
    print("whole training run, median seconds (JAX best: the faster of jit step and fori_loop)\n")
    print(header(["case", *COLUMNS]))
    for name, found in report["cases"].items():
        if "skipped" in found:
            print(f"| {name} | skipped: {found['skipped']} |")
            continue
        c = cells(found["rows"])
        row = [
            _fmt(c[k][0]) + (f" ({c[k][1]})" if c[k][1] else "") if k in c else "—" for k in COLUMNS
        ]
        print(f"| {found['title']} | " + " | ".join(row) + " |")
    print("\neach column ÷ symgrad fit; runs; final loss check\n")
    head = ["symgrad train", "NumPy", "Numba by hand", "Numba fastmath", "JAX jit step"]
    head += ["JAX fori_loop", "PyTorch"]
    print(header(["case", *head, "runs", "check"]))
    for name, found in report["cases"].items():
        if "skipped" in found:
            continue
        by = {r["impl"]: r for r in found["rows"]}
        fit = by.get("symgrad fit", {}).get("median", math.nan)
        ratios = [
            f"{by[k]['median'] / fit:.2f}"
            if k in by and by[k]["status"] == "ok"
            else by.get(k, {}).get("status", "—")
            for k in head
        ]
        runs = "/".join(sorted({str(r["runs"]) for r in found["rows"] if r["status"] == "ok"}))
        flags = sorted({f"{r['impl']}: {r['flag']}" for r in found["rows"] if r["flag"]})
        print(f"| {name} | " + " | ".join(ratios) + f" | {runs} | {'; '.join(flags) or 'ok'} |")
    floor = report["cases"].get("logreg", {}).get("floor")
    if floor:
        print(
            f"\none read of X (logreg): {floor['read_s'] * 1e3:.2f} ms ({floor['gb_s']:.1f} GB/s), "
            f"so the one-read floor of its run is {_fmt(floor['floor_s'])} s"
        )


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def speed_targets(report: dict) -> list:
    """(target, measured, verdict) of issue 11's per-step targets, symgrad fit's medians."""
    out = []
    for name, found in report["cases"].items():
        if "skipped" in found:
            continue
        c = cells(found["rows"])
        fit = c.get("symgrad fit", (math.nan, ""))[0]
        if not math.isfinite(fit):
            continue
        others = [(c[k][0], k) for k in COLUMNS[2:] if k in c]
        if others:
            best, who = min(others)
            out.append(
                (
                    f"{name}: ≤ 1.1× the fastest other column",
                    f"{fit / best:.2f}× {who}",
                    verdict(fit <= 1.1 * best),
                )
            )
        if "JAX best" in c:
            jax = c["JAX best"][0]
            out.append(
                (f"{name}: ahead of JAX", f"JAX best ÷ fit = {jax / fit:.2f}", verdict(fit < jax))
            )
        else:
            out.append((f"{name}: ahead of JAX", "JAX did not run", "n/a"))
        if GROUPS[name] == 3 and "Numba by hand" in c:
            ratio = fit / c["Numba by hand"][0]
            out.append(
                (f"{name}: ≤ 1.2× the hand-written loop", f"{ratio:.2f}×", verdict(ratio <= 1.2))
            )
        if "floor" in found:
            ratio = fit / found["floor"]["floor_s"]
            out.append(
                (f"{name}: within 2× of the one-read floor", f"{ratio:.2f}×", verdict(ratio <= 2.0))
            )
    return out


def print_memory(memory: dict) -> None:
    print(
        "\n## peak memory of a whole run beyond data, parameters and compiled code, MB "
        "(one thread)\n"
    )
    cases = sorted({case for case, _ in memory})
    for case in cases:
        x = next(v["x_mb"] for (c, _), v in memory.items() if c == case and v)
        print(f"{case}: X is {x:.1f} MB")
    print("\n" + header(["implementation", *cases]))
    for impl in dict.fromkeys(impl for _, impl in memory):
        row = [memory.get((c, impl)) for c in cases]
        shown = [(v.get("missing") or f"{v['extra_mb']:.1f}") if v else "—" for v in row]
        print(f"| {impl} | " + " | ".join(shown) + " |")
    methods = {v["method"] for v in memory.values() if v and "method" in v}
    print(f"\nmethod: {', '.join(sorted(methods))}")


def memory_targets(memory: dict) -> list:
    """A step holds no m × n temporary when the run's extra peak stays below X's size."""
    out = []
    for (case, impl), v in memory.items():
        if impl != "symgrad train" or not v or "missing" in v:
            continue
        hand = memory.get((case, "Numba by hand"))
        measured = f"{v['extra_mb']:.1f} MB; X {v['x_mb']:.1f} MB"
        measured += f"; hand Numba {hand['extra_mb']:.1f} MB" if hand else ""
        target = f"{case}: no m × n temporary in a step (symgrad train's extra peak < X)"
        out.append((target, measured, verdict(v["extra_mb"] < v["x_mb"])))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument(
        "--cases",
        nargs="+",
        metavar="CASE",
        choices=CASE_NAMES + ["1", "2", "3"],
        help=f"names or the issue's groups 1, 2, 3 (default: all of {', '.join(CASE_NAMES)})",
    )
    parser.add_argument("--impls", nargs="+", metavar="IMPL", help="implementations (default: all)")
    parser.add_argument("--repeats", type=int, help="timed runs of each (default 5; 3 quick)")
    parser.add_argument(
        "--threads", nargs="+", type=int, default=[1, 2], help="thread counts (default: 1 2)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory-probe", nargs=2, metavar=("CASE", "IMPL"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from implementations import IMPLS

    chosen = args.cases or CASE_NAMES
    args.cases = [c for c in CASE_NAMES if c in chosen or str(GROUPS[c]) in chosen]
    unknown = set(args.impls or []) - set(IMPLS)
    if unknown:
        parser.error(f"unknown implementations {sorted(unknown)}; choose from {IMPLS}")
    args.impls = [i for i in IMPLS if i in (args.impls or IMPLS)]
    if "symgrad fit" not in args.impls:
        args.impls.insert(0, "symgrad fit")  # the reference for losses, ratios and targets
    args.repeats = args.repeats or (3 if args.quick else 5)
    if args.memory_probe:
        memory_probe(args)
        return 0
    if args.worker:
        worker(args)
        return 0
    passed = ["--cases", *args.cases, "--impls", *args.impls, "--repeats", str(args.repeats)]
    passed += ["--quick"] * args.quick
    reports, memory, bad = [], {}, False
    with tempfile.TemporaryDirectory(prefix="symgrad_bench_") as tmp:
        tmp = Path(tmp)
        for threads in args.threads:  # each thread count in its own process
            out = tmp / f"threads-{threads}.json"
            report = child(["--worker", "--threads", str(threads), *passed], threads, tmp, out)
            if report is None:
                bad = True
                continue
            reports.append(report)
            print_tables(report)
        chosen_memory = [] if args.no_memory else [c for c in MEMORY_CASES if c in args.cases]
        for case in chosen_memory:
            for impl in args.impls:
                flags = ["--memory-probe", case, impl, "--threads", "1"] + ["--quick"] * args.quick
                out = tmp / f"memory-{case}-{impl.replace(' ', '_')}.json"
                print(f"memory: {case}, {impl}", file=sys.stderr, flush=True)
                malloc = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "131072"}
                memory[case, impl] = child(flags, 1, tmp, out, malloc)
    if memory:
        print_memory(memory)
    print(
        "\n## targets (issue 11), symgrad fit's medians against the others' at each thread count\n"
    )
    print("| threads | target | measured | verdict |\n|---|---|---|---|")
    for report in reports:
        for target, measured, v in speed_targets(report):
            print(f"| {report['threads']} | {target} | {measured} | {v} |")
    for target, measured, v in memory_targets(memory):
        print(f"| 1 | {target} | {measured} | {v} |")
    for report in reports:
        for found in report["cases"].values():
            bad |= any(r["flag"] for r in found.get("rows", []))
    if bad:
        print("\n!!! A CHILD FAILED OR SOME FINAL LOSSES DISAGREE (see 'check' above) !!!")
        return 1
    print("\nall final losses agree with symgrad fit's to 1e-6 relative")
    return 0


if __name__ == "__main__":
    sys.exit(main())
