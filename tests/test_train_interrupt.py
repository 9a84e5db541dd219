"""Ctrl-C (SIGINT) during training: ``fit`` stops within a chunk of the compiled loop and
raises TrainingInterrupted with the history and the parameters of the epochs done; the
command line prints one line and exits 130 within a second, while Numba compiles too.

Oracles: a second run of exactly the epochs done (same seed) gives the same history and
parameters; wall-clock time from the signal to the process's exit.
"""

import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import symgrad
from symgrad.errors import TrainingDivergedError, TrainingInterrupted
from symgrad.paths import CACHE_VARIABLE
from symgrad.train.fit import fit

INTERRUPTED = re.compile(r"interrupted at epoch (\d+); parameters after epoch (\d+) kept")


@pytest.fixture(scope="module")
def net(compiled_model):
    """2-3-1 ReLU/sigmoid, BCE, gradient descent; its training loop compiled and cached."""
    c = compiled_model("relu_bce")
    X, y = data(20)
    fit(c.network, X, y, epochs=1, compiled=c)  # the CLI's signature, in Numba's disk cache
    fit(c.network, X, y, epochs=1, batch_size=8, compiled=c)  # the minibatch loop, compiled
    return c


def data(m, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 2))
    return X, (X.sum(axis=1) > 0).astype(float)


@pytest.fixture
def default_sigint():
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT has a handler other than Python's default here")


def test_sigint_stops_fit_with_the_history_and_the_last_good_parameters(net, default_sigint):
    X, y = data(100, seed=1)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(TrainingInterrupted) as info:
            fit(net.network, X, y, lr=0.1, epochs=10**8, batch_size=8, seed=2, compiled=net)
    finally:
        timer.join()
    stop, done = info.value, len(info.value.history)
    assert done > 1 and stop.epoch == done + 1
    assert str(stop) == f"interrupted at epoch {done + 1}; parameters after epoch {done} kept"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    again = fit(net.network, X, y, lr=0.1, epochs=done, batch_size=8, seed=2, compiled=net)
    np.testing.assert_array_equal(stop.history, again.history)
    assert stop.params.keys() == again.params.keys()
    for k, v in again.params.items():
        np.testing.assert_array_equal(stop.params[k], v)


def test_the_previous_sigint_handler_is_restored_after_an_error(net, default_sigint):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 2)), (rng.random(50) < 0.5).astype(float)
    with pytest.raises(TrainingDivergedError):
        fit(net.network, X, y, lr=1e3, epochs=50, compiled=net)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_handler_of_the_callers_own_is_left_alone(net):
    seen = []
    previous = signal.signal(signal.SIGINT, lambda *_: seen.append(1))
    try:
        X, y = data(30)
        assert len(fit(net.network, X, y, epochs=5, compiled=net).history) == 5
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        signal.raise_signal(signal.SIGINT)
        assert seen == [1]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_fit_runs_in_a_thread_other_than_the_main_one(net):
    X, y = data(30)
    out = {}
    worker = threading.Thread(
        target=lambda: out.update(r=fit(net.network, X, y, epochs=5, seed=3, compiled=net))
    )
    worker.start()
    worker.join()
    want = fit(net.network, X, y, epochs=5, seed=3, compiled=net)
    np.testing.assert_array_equal(out["r"].history, want.history)


# ---- the command line ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    X, y = data(200, seed=4)
    path = tmp_path_factory.mktemp("interrupt") / "d.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",", header="x1,x2,y", comments="")
    return path


def train_and_interrupt(csv_file, folder, wait: float, cache=None, options=()):
    """Start ``symgrad train ... --epochs 100000000``; SIGINT ``wait`` s after its first line.

    ``cache``: its own folder of compiled code (default: the session's); ``options``: more
    arguments of ``train``.
    Returns (exit status, seconds from the signal to the exit, stderr).
    """
    root = str(Path(symgrad.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    if cache is not None:
        env[CACHE_VARIABLE] = str(cache)
    args = ["train", str(csv_file), "--layers", "2,3,1", "--epochs", "100000000", *options]
    proc = subprocess.Popen(
        [sys.executable, "-m", "symgrad", *args, "--folder", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert select.select([proc.stdout], [], [], 60)[0], "no output within 60 s"
        assert proc.stdout.readline().startswith("2-3-1")  # the header: training begins
        time.sleep(wait)
        proc.send_signal(signal.SIGINT)
        sent = time.perf_counter()
        status = proc.wait(timeout=30)
        seconds = time.perf_counter() - sent
        return status, seconds, proc.stderr.read()
    finally:
        proc.kill()
        proc.communicate()


def test_sigint_during_the_compiled_loop_exits_130_within_a_second(net, csv_file, codegen_folder):
    # the loop is in Numba's cache (see `net`), loaded in about 1 s: 4 s after the header
    # (which comes before it is loaded) the process is training
    status, seconds, err = train_and_interrupt(csv_file, codegen_folder, 4.0)
    assert status == 130, err
    assert seconds < 1.0
    assert "Traceback" not in err and len(err.splitlines()) == 1
    match = INTERRUPTED.fullmatch(err.strip().removeprefix("symgrad: "))
    assert match, err
    assert int(match[1]) > 1 and int(match[2]) == int(match[1]) - 1  # it had trained


def test_sigint_on_the_numpy_tier_exits_130_within_a_second(csv_file, tmp_path):
    # a new folder and an empty cache: the whole set trains in NumPy at once
    status, seconds, err = train_and_interrupt(csv_file, tmp_path / "cold", 0.5, tmp_path / "c")
    assert status == 130, err
    assert seconds < 1.0
    match = INTERRUPTED.fullmatch(err.strip().removeprefix("symgrad: "))
    assert match, err
    assert int(match[1]) > 1 and int(match[2]) == int(match[1]) - 1  # it had trained


def test_sigint_while_numba_compiles_exits_130_within_a_second(csv_file, tmp_path):
    # minibatches (the NumPy tier runs only the whole set), a new folder and an empty cache:
    # the loop is compiled from scratch (several seconds) before the first epoch
    cold, cache = tmp_path / "cold", tmp_path / "c"
    status, seconds, err = train_and_interrupt(csv_file, cold, 0.5, cache, ["--batch-size", "2"])
    assert status == 130, err
    assert seconds < 1.0
    assert err == "symgrad: interrupted at epoch 1; parameters after epoch 0 kept\n"
