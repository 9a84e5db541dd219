"""symgrad.apps.lecture.loop: the loop the lecture starts compiling is the one ``fit`` runs.

Oracle: ``fit`` itself, made to ask for its loop's compile at once; both requests are caught
before a process starts, and must name the same function, marker and argument types. Also:
``CompiledNetwork.compile_elsewhere`` starts one process per function while it runs.
"""

import numpy as np

from symgrad.apps.datasets import two_moons
from symgrad.apps.lecture.loop import start_compiling_loop
from symgrad.codegen import precompile
from symgrad.nn import Network, mlp
from symgrad.paths import CACHE_VARIABLE
from symgrad.train import fit as fit_module
from symgrad.train import numpy_tier
from symgrad.train.compiled import CompiledNetwork


class Running:
    """A stand-in for a compile's process: running until its ``returncode`` is set."""

    def __init__(self):
        self.returncode = None

    def poll(self):
        return self.returncode


def _asked(monkeypatch, started: list):
    def start(file, function, arguments, marker):
        started.append((function, arguments, marker.name))
        return Running()

    monkeypatch.setattr(precompile, "start", start)


def test_the_lecture_asks_for_the_loop_fit_compiles(tmp_path, monkeypatch):
    # a cache of its own: in the session's, another test may have compiled this loop already
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    data = two_moons(40)
    net = Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")
    started = []
    _asked(monkeypatch, started)
    compiled = CompiledNetwork(net, "gd", folder=tmp_path)
    assert start_compiling_loop(compiled, data)
    monkeypatch.setattr(numpy_tier, "COMPILE_AFTER", 0.0)  # fit asks from its first chunk
    monkeypatch.setattr(fit_module, "CHUNK_SECONDS", 1e-6)
    fresh = CompiledNetwork(net, "gd", folder=tmp_path)
    fit_module.fit(net, data.X, data.y, lr=0.5, epochs=5, compiled=fresh)
    assert len(started) == 2
    (name, arguments, marker), fits = started
    assert (name, marker) == (
        "train",
        ".mlp_2_3_1_relu_sigmoid_bce_gd.train_full_batch.float64.compiled",
    )
    assert fits[0] == name and fits[2] == marker
    kinds = [(a[0], a[2] if a[0] == "array" else None) for a in arguments]
    assert kinds == [(a[0], a[2] if a[0] == "array" else None) for a in fits[1]]
    shapes = [a[1] for a in arguments if a[0] == "array"]
    assert shapes == [a[1] for a in fits[1] if a[0] == "array"]


def test_one_compile_per_function_while_it_runs(tmp_path, monkeypatch):
    started = []
    _asked(monkeypatch, started)
    net = Network(mlp([2, 3, 1], hidden="relu", output="sigmoid"), loss="bce")
    compiled = CompiledNetwork(net, "gd", folder=tmp_path)
    first = compiled.compile_elsewhere("loss_and_grad", _given(compiled))
    assert compiled.compile_elsewhere("loss_and_grad", _given(compiled)) is first
    assert len(started) == 1
    first.returncode = 1  # ended (and failed): asked again, it starts again
    assert compiled.compile_elsewhere("loss_and_grad", _given(compiled)) is not first
    assert len(started) == 2


def _given(compiled):
    zeros = [np.zeros(tuple(int(d) for d in p.shape)) for p in compiled.network.params]
    named = dict(zip(compiled.signature.params, zeros, strict=True))
    return {**named, "X": np.zeros((2, 1)), "Y": np.zeros((1, 1)), "lam": 0.0}
