"""The learning-rate study and the 1-D picture of gradient descent: the data behind the figures.

One study of the lecture's 2-16-1 network on two moons, compiled into the folder the lecture
test builds in (``<session tmp>/lecture/code``), so the session compiles the model once.
"""

import math
import sys

import numpy as np
import pytest
import sympy

pytest.importorskip("matplotlib")

import symgrad  # noqa: E402
from symgrad.apps.lecture import HIDDEN, RATES, two_moons  # noqa: E402
from symgrad.apps.study import (  # noqa: E402
    descent_picture,
    figure,
    learning_rate_study,
)
from symgrad.cli import main  # noqa: E402
from symgrad.errors import SymgradError, TrainingDivergedError  # noqa: E402
from symgrad.nn import Network, mlp  # noqa: E402
from symgrad.train.compiled import CompiledNetwork  # noqa: E402
from symgrad.train.fit import fit  # noqa: E402

EPOCHS = 150


@pytest.fixture(scope="module")
def moons():
    return two_moons()


@pytest.fixture(scope="module")
def code(tmp_path_factory):
    """The lecture test's code folder: one compilation of the 2-16-1 network per session."""
    folder = tmp_path_factory.getbasetemp() / "lecture" / "code"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def compiled(code, moons):
    """With its full-batch loop loaded here, so that every run of the study trains on it: the
    NumPy tier, which a run takes while the loop loads, rounds the first loss differently in
    the last bit. (Run after test_lecture on one worker, the lecture had loaded it.)"""
    network = Network(mlp([2, HIDDEN, 1], hidden="relu", output="sigmoid"), loss="bce")
    compiled = CompiledNetwork(network, "gd", folder=code)
    fit(network, moons.X, moons.y, epochs=1, compiled=compiled, numpy_tier=False)
    assert compiled.loaded("train_full_batch")
    return compiled


@pytest.fixture(scope="module")
def study(tmp_path_factory, moons, compiled):
    folder = tmp_path_factory.mktemp("study")
    return learning_rate_study(
        compiled.network,
        moons.X,
        moons.y,
        RATES,
        epochs=EPOCHS,
        folder=folder,
        compiled=compiled,
    )


def test_study_writes_png_and_svg(study):
    assert [p.suffix for p in study.files] == [".png", ".svg"]
    png, svg = (p.read_bytes() for p in study.files)
    assert png.startswith(b"\x89PNG")
    assert b"<svg" in svg
    assert b"diverged at epoch 3" in svg  # the marker's label (text is kept in the SVG)


def test_every_run_starts_from_the_same_parameters(study):
    first = {run.history[0] for run in study.runs}
    assert len(first) == 1


def test_runs_that_converge_keep_every_epoch(study):
    for run in study.runs[:3]:
        assert not run.diverged
        assert len(run.history) == EPOCHS
        assert np.all(np.isfinite(run.history))
        assert run.accuracy is not None


def test_the_divergent_run_keeps_its_history_up_to_the_divergence(study):
    run = study.runs[-1]
    assert run.rate == RATES[-1]
    assert run.diverged and run.diverged_at == 3
    assert len(run.history) == run.diverged_at - 1
    assert np.all(np.isfinite(run.history))
    assert run.diverged_loss > 100 * run.history[0]
    assert run.label == f"α = {RATES[-1]:g}: diverged at epoch 3"


def test_verdicts(study):
    small, good, large, divergent = (study.verdict(r) for r in study.runs)
    assert small.startswith("too small")
    assert good == "good"
    assert large.startswith("too large")
    assert divergent == "diverges (epoch 3)"
    assert study.runs[1].final_loss < study.runs[0].final_loss
    assert study.runs[2].rises > 0 and study.runs[1].rises == 0


def test_markdown_table(study):
    table = study.markdown()
    assert table.count("\n") == 2 + len(RATES)
    assert "| $50$ |" in table and "diverges (epoch 3)" in table


def test_divergence_error_carries_the_epoch_and_history(moons, compiled):
    start = symgrad.nn.init_params(compiled.network, seed=0)
    with pytest.raises(TrainingDivergedError) as caught:
        symgrad.train.fit.fit(
            compiled.network,
            moons.X,
            moons.y,
            lr=50.0,
            params=start,
            compiled=compiled,
            epochs=40,
        )
    error = caught.value
    assert error.epoch == 3 and len(error.history) == 3
    assert np.all(np.isfinite(error.history[:2]))
    assert error.history[-1] > 1e3 * error.history[0]


def test_study_refuses_bad_rates(moons, compiled):
    with pytest.raises(SymgradError, match="learning rates > 0"):
        learning_rate_study(compiled.network, moons.X, moons.y, [0.1, 0.0], compiled=compiled)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SymgradError, match=r'pip install "symgrad\[plot\]"'):
        figure()


# ---- the 1-D picture ----


def test_descent_on_the_parabola(tmp_path):
    w = sympy.Symbol("w")
    d = descent_picture(rates=(0.1, 0.9, 1.1), steps=12, folder=tmp_path, name="parabola")
    assert d.gradient == 2 * w - 6
    assert [p.name for p in d.files] == ["parabola.png", "parabola.svg"]
    assert all(p.stat().st_size > 0 for p in d.files)
    smooth, overshoot, away = d.paths[0.1], d.paths[0.9], d.paths[1.1]
    assert len(smooth) == 13 and np.all(np.diff(smooth) > 0) and smooth[-1] < 3
    assert np.any(overshoot > 3) and abs(overshoot[-1] - 3) < abs(overshoot[0] - 3)
    assert abs(away[-1] - 3) > abs(away[0] - 3)
    assert d.behaviour(0.1) == "converges smoothly"
    assert d.behaviour(0.9) == "overshoots (oscillates)"
    assert d.behaviour(1.1) == "diverges"


def test_descent_uses_the_derived_gradient(tmp_path, monkeypatch):
    """The steps follow symgrad.grad: a wrong rule in its place moves the iterates."""
    calls = []

    def spy(expr, wrt):
        calls.append(expr)
        return symgrad.grad(expr, wrt)

    monkeypatch.setattr("symgrad.apps.study.grad", spy)
    w = sympy.Symbol("w")
    loss = sympy.log(1 + sympy.exp(-2 * w)) + w**2 / 10  # a 1-D logistic loss, regularized
    d = descent_picture(loss, w, start=-2.0, rates=(0.5,), steps=5, folder=tmp_path)
    assert calls == [loss]
    dl = sympy.lambdify(w, sympy.diff(loss, w))
    path = d.paths[0.5]
    for before, after in zip(path, path[1:], strict=False):
        assert math.isclose(after, before - 0.5 * dl(before), rel_tol=1e-12)


def test_descent_rejects_a_loss_of_two_variables(tmp_path):
    a, b = sympy.symbols("a b")
    with pytest.raises(SymgradError, match="loss of a only"):
        descent_picture(a * b, a, folder=tmp_path)


# ---- the CLI ----


def test_cli_study(tmp_path, code, capsys):
    out = tmp_path / "study"
    status = main(
        ["study", "--rates", "0.01,1,50", "--epochs", "20", "-o", str(out), "--code", str(code)]
    )
    printed = capsys.readouterr().out
    assert status == 0
    assert "diverges (epoch 3)" in printed
    assert (out / "learning_rate_study.png").is_file()
    assert (out / "learning_rate_study.svg").is_file()
    assert not (out / "code").exists()


def test_cli_study_rejects_bad_rates(capsys):
    assert main(["study", "--rates", "0.1,-1"]) == 2
    assert "learning rates must be > 0" in capsys.readouterr().err


def test_study_of_a_users_program(tmp_path, moons):
    """A hand-written logistic regression is studied like a network: the same start for
    every rate, accuracy since its labels are binary, and the tiny rate ends above the good
    one (independently: gradient descent with α = 1e-3 barely moves in 60 epochs)."""
    import symgrad.nn as nn

    X, Y = nn.data("X", 2), nn.labels("Y")
    w, b = nn.param("w", (1, 2)), nn.param("b", 1)
    A = nn.name("A", nn.apply(symgrad.sigmoid, w @ X + b), adjoint=False)
    loss = nn.mean(-(Y * nn.log(A) + (1 - Y) * nn.log(1 - A)))
    program = nn.Program(loss, output=A, labels="binary", title="hand-written logistic")
    study = learning_rate_study(
        program, moons.X, moons.y, (1e-3, 1.0), epochs=60, folder=tmp_path, seed=2
    )
    small, good = study.runs
    assert small.history[0] == good.history[0]  # one start
    assert good.final_loss < small.final_loss < small.history[0] + 1e-12
    assert good.accuracy is not None and good.accuracy > 0.8
    assert study.description == "hand-written logistic"


# ---- verdicts on iris (binary: versicolor or not), read from each curve ----


@pytest.fixture(scope="module")
def iris(code):
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_iris(return_X_y=True)
    network = Network(mlp([4, HIDDEN, 1], hidden="relu", output="sigmoid"), loss="bce")
    return X, (y == 1).astype(float), CompiledNetwork(network, "gd", folder=code)


def _iris_study(iris, rates, tmp_path):
    X, y, compiled = iris
    return learning_rate_study(
        compiled.network, X, y, rates, epochs=500, folder=tmp_path, compiled=compiled
    )


def test_iris_the_middle_rate_is_best(iris, tmp_path):
    study = _iris_study(iris, (0.01, 0.1, 1.0, 5.0), tmp_path)
    finals = [run.final_loss for run in study.runs]
    assert int(np.argmin(finals)) == 1  # α = 0.1 reaches the lowest loss
    share = -(np.log(1 / 3) / 3 + 2 * np.log(2 / 3) / 3)  # predicting 1/3 for every flower
    assert finals[2] == pytest.approx(share, rel=1e-6) and finals[3] == pytest.approx(share)
    small, good, large, larger = (study.verdict(run) for run in study.runs)
    assert small == "too small: slow progress"
    assert good == "good"
    assert large.startswith("too large: stuck at loss 0.6365 from epoch")
    assert larger.startswith("too large: stuck at loss 0.6365 from epoch")
    assert study.runs[1].rises > 2  # its first epochs jump about: the curve, not that, counts


def test_iris_the_largest_rate_is_best(iris, tmp_path):
    study = _iris_study(iris, (0.001, 0.01, 0.1), tmp_path)
    finals = [run.final_loss for run in study.runs]
    assert int(np.argmin(finals)) == 2
    assert [study.verdict(run) for run in study.runs] == [
        "too small: slow progress",
        "too small: slow progress",
        "good",
    ]
