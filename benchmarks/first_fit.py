"""Time to a first result: a first ``fit`` in a fresh process, cold and warm (issue 11).

Each run is a new Python process in a new output folder that fits one model:

- ``logreg``: logistic regression on the breast-cancer data (standardized), 500 epochs of
  gradient descent at α = 0.5, as in the README;
- ``lecture``: the lecture's 2-16-1 tanh/sigmoid network on two moons (400 points), 3000
  epochs at α = 1, as ``symgrad lecture`` trains it;
- ``digits``: 64-32-10 tanh/softmax on scikit-learn's digits (1797 examples), 200 epochs;
- ``wide``: 784-128-10 tanh/softmax on 10,000 random examples, 50 epochs.

*Cold*: an empty cache of compiled code (``SYMGRAD_CACHE`` set to a new folder); *warm*:
the cache the cold run left, in another new folder. Two modes take turns: ``tier`` is
``fit`` as users call it (the NumPy tier trains while Numba compiles, when it must), and
``compiled`` waits for Numba first (``numpy_tier=False``, what ``fit`` did before). The
child reports its phases (imports; loading the data, deriving and writing the module;
``fit``; of it, in ``compiled`` mode, Numba compiling, from its compile events) and
whether Numba was imported at all. Medians of ``--runs`` runs.

For comparison, ``--jax`` (when JAX is installed) runs the same models, data, epochs and
learning rates in JAX, float64, a new process each run: imports, data, then a ``jax.jit`` of
one gradient-descent step (``value_and_grad`` and the update) called once per epoch. Its
"first step" is JAX's first call, tracing and compiling included; JAX keeps no compiled code
between processes here (its persistent cache is off by default on the CPU), so every run is
cold.

    PYTHONPATH=. python benchmarks/first_fit.py [--runs 3] [--models logreg lecture] [--jax]
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

MODELS = ("logreg", "lecture", "digits", "wide")
PATH = os.environ.get("PYTHONPATH")

CHILD = """
import json, sys, time
began = time.perf_counter()
import numpy as np
from symgrad.apps.datasets import breast_cancer, two_moons
from symgrad.nn import Network, logistic_regression, mlp
from symgrad.train.compiled import CompiledNetwork
from symgrad.train.fit import fit

imported = time.perf_counter()
model, tier = sys.argv[2], sys.argv[3] == "tier"
if model == "logreg":
    data = breast_cancer()
    X, y, net, lr, epochs = data.X, data.y, logistic_regression(30), 0.5, 500
elif model == "lecture":
    data = two_moons()
    net = Network(mlp([2, 16, 1], hidden="tanh", output="sigmoid"), loss="bce")
    X, y, lr, epochs = data.X, data.y, 1.0, 3000
elif model == "digits":
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    net = Network(mlp([64, 32, 10], hidden="tanh", output="softmax"), loss="cross_entropy")
    lr, epochs = 0.5, 200
else:
    rng = np.random.default_rng(0)
    X, y = rng.random((10_000, 784)), rng.integers(10, size=10_000)
    net = Network(mlp([784, 128, 10], hidden="tanh", output="softmax"), loss="cross_entropy")
    lr, epochs = 0.1, 50
compiled = CompiledNetwork(net, "gd", folder=sys.argv[1])
built = time.perf_counter()
recorder = None
if not tier:  # the tier's compile, if any, runs in a helper thread after Numba's import
    from numba.core import event

    recording = event.install_recorder("numba:compile")
    recorder = recording.__enter__()
result = fit(net, X, y, lr=lr, epochs=epochs, compiled=compiled, numpy_tier=tier)
done = time.perf_counter()
compiling, depth, start = 0.0, 0, 0.0
for moment, ev in recorder.buffer if recorder else []:  # outermost compiles only
    if ev.is_start:
        depth, start = depth + 1, start if depth else moment
    else:
        depth -= 1
        compiling += 0.0 if depth else moment - start
print(json.dumps({
    "imports": imported - began, "module": built - imported, "fit": done - built,
    "total": done - began, "compiling": compiling, "numba": "numba" in sys.modules,
    "loss": float(result.history[-1]),
}))
"""

JAX_CHILD = """
import json, sys, time
began = time.perf_counter()
import numpy as np
import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)
imported = time.perf_counter()
from symgrad.apps.datasets import breast_cancer, two_moons

model = sys.argv[1]
if model == "logreg":
    data = breast_cancer()
    X, y, sizes, hidden, lr, epochs = data.X, data.y, [30, 1], None, 0.5, 500
elif model == "lecture":
    data = two_moons()
    X, y, sizes, hidden, lr, epochs = data.X, data.y, [2, 16, 1], "tanh", 1.0, 3000
elif model == "digits":
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, sizes, hidden, lr, epochs = X / 16.0, [64, 32, 10], "tanh", 0.5, 200
else:
    rng = np.random.default_rng(0)
    X, y = rng.random((10_000, 784)), rng.integers(10, size=10_000)
    sizes, hidden, lr, epochs = [784, 128, 10], "tanh", 0.1, 50
softmax = sizes[-1] > 1
Y = np.eye(sizes[-1])[y] if softmax else np.asarray(y, float).reshape(-1, 1)
rng = np.random.default_rng(0)
params = []
for n, h in zip(sizes, sizes[1:]):
    params += [jnp.asarray(rng.standard_normal((h, n)) / np.sqrt(n)), jnp.zeros(h)]
X, Y = jnp.asarray(X), jnp.asarray(Y)
loaded = time.perf_counter()


def loss(params, X, Y):
    a = X
    for k in range(len(params) // 2 - 1):
        a = jnp.tanh(a @ params[2 * k].T + params[2 * k + 1])
    z = a @ params[-2].T + params[-1]
    if softmax:
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.sum(Y * z, axis=1))
    return jnp.mean(jax.nn.softplus(z) - Y * z)


@jax.jit
def step(params, X, Y):
    value, grads = jax.value_and_grad(loss)(params, X, Y)
    return [q - lr * g for q, g in zip(params, grads)], value


params, value = step(params, X, Y)
value.block_until_ready()
first = time.perf_counter()
for _ in range(epochs - 1):
    params, value = step(params, X, Y)
value = float(value)
done = time.perf_counter()
print(json.dumps({
    "imports": imported - began, "module": loaded - imported, "first": first - loaded,
    "fit": done - loaded, "total": done - began, "loss": value,
}))
"""


def jax_installed() -> bool:
    found = subprocess.run([sys.executable, "-c", "import jax"], capture_output=True)
    return found.returncode == 0


def run_jax(model: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), PATH]))}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", JAX_CHILD, model], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return {**json.loads(done.stdout), "process": wall}


def run_child(folder: Path, cache: Path, model: str, mode: str) -> dict:
    path = os.pathsep.join(filter(None, [str(ROOT), PATH]))
    env = {**os.environ, "PYTHONPATH": path, "SYMGRAD_CACHE": str(cache)}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), model, mode],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return {**json.loads(done.stdout), "process": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--jax", action="store_true", help="also JAX's first call, for comparison")
    args = parser.parse_args()
    if args.jax and not jax_installed():
        print("JAX is not installed: no JAX rows (pip install jax)")
        args.jax = False
    runs: dict = {}
    jax_runs: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(args.runs):
            for model in args.models:
                for mode in ("tier", "compiled"):  # taking turns
                    cache = tmp / f"cache-{model}-{mode}-{i}"
                    for state in ("cold", "warm"):
                        found = run_child(tmp / f"{model}-{mode}-{state}-{i}", cache, model, mode)
                        runs.setdefault((model, mode, state), []).append(found)
                if args.jax:
                    jax_runs.setdefault(model, []).append(run_jax(model))
    print(f"first fit in a new process and a new folder, medians of {args.runs}")
    print(
        "| model | mode | cache | process s | imports s | data+module s | fit s | "
        "of it compiling s | Numba imported | final loss |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (model, mode, state), found in runs.items():
        cells = [
            statistics.median(r[k] for r in found)
            for k in ("process", "imports", "module", "fit", "compiling")
        ]
        numba = sum(r["numba"] for r in found)
        loss = statistics.median(r["loss"] for r in found)
        print(
            f"| {model} | {mode} | {state} | "
            + " | ".join(f"{c:.2f}" for c in cells)
            + f" | {numba}/{len(found)} | {loss:.6g} |"
        )
    if jax_runs:
        print(
            f"\nJAX in a new process (jit of one step, called each epoch), medians of {args.runs}"
        )
        print(
            "| model | process s | imports s | data s | first step s (compiling) | whole run s "
            "| final loss |\n|---|---|---|---|---|---|---|"
        )
        for model, found in jax_runs.items():
            keys = ("process", "imports", "module", "first", "fit")
            cells = [statistics.median(r[k] for r in found) for k in keys]
            loss = statistics.median(r["loss"] for r in found)
            print(f"| {model} | " + " | ".join(f"{c:.2f}" for c in cells) + f" | {loss:.6g} |")
    print("\nfit s, tier / compiled:")
    for model in args.models:
        for state in ("cold", "warm"):
            tier = statistics.median(r["fit"] for r in runs[model, "tier", state])
            compiled = statistics.median(r["fit"] for r in runs[model, "compiled", state])
            print(f"  {model:<8} {state}: {tier / compiled:.2f}")


if __name__ == "__main__":
    main()
