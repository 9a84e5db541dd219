"""``symgrad train`` and ``symgrad predict`` (cli.training): standardization, a seeded test
split, class names, per-layer activations, model files, the loss picture, the progress bar,
the "compiling" line, ``--version``, and bad input as one line with status 2.

The networks are the session's (conftest's ``relu_bce``, and the 3-4-2 tanh/identity huber
network that test_cli_network and test_losses train): generated into the session's folder,
so nothing compiles twice. Expected values are computed here with NumPy from the saved file.
"""

import csv
import io
import json
import os

import numpy as np
import pytest

import symgrad
from symgrad.cli import main
from symgrad.paths import CACHE_VARIABLE

TRAIN = ["--layers", "2,3,1", "--lr", "0.5", "--no-progress"]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    """200 pets, far from mean 0 / deviation 1, labelled by name: cat or dog."""
    folder = tmp_path_factory.mktemp("train_cli")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2)) * [3.0, 0.5] + [10.0, -2.0]
    kind = np.where((X[:, 0] - 10) / 3 + (X[:, 1] + 2) / 0.5 > 0, "dog", "cat")
    rows = [f"{w:.6f},{h:.6f},{k}" for (w, h), k in zip(X, kind, strict=True)]
    (folder / "pets.csv").write_text("weight,height,kind\n" + "\n".join(rows) + "\n")
    # new pets: the columns in another order, the label column left out
    rows = [f"{h:.6f},{w:.6f}" for w, h in X[:20]]
    (folder / "new.csv").write_text("height,weight\n" + "\n".join(rows) + "\n")
    return folder, X, kind


@pytest.fixture(scope="module")
def trained(pets, codegen_folder):
    """One run of train with every option; its output, the model file and the picture."""
    folder, X, kind = pets
    args = ["train", str(folder / "pets.csv"), "--label", "kind", *TRAIN, "--epochs", "300"]
    args += ["--standardize", "--test-split", "0.25", "--save", str(folder / "pets.npz")]
    args += ["--plot", str(folder / "loss.png"), "--folder", str(codegen_folder)]
    capture = io.StringIO()
    from contextlib import redirect_stdout

    with redirect_stdout(capture):
        status = main(args)
    assert status == 0
    return capture.getvalue(), folder / "pets.npz"


def _saved(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def test_train_reports_the_split_the_classes_and_the_test_accuracy(trained, pets):
    out, path = trained
    _, X, kind = pets
    lines = out.splitlines()
    assert lines[0] == "2-3-1, relu/sigmoid, bce, gd, α = 0.5, m = 150"
    assert "held out 50 of 200 examples for testing (--seed 0)" in lines
    assert "classes: 0 = cat, 1 = dog" in lines
    assert f"saved the model to {path}" in lines
    saved = _saved(path)
    order = np.random.default_rng(0).permutation(200)  # the documented seeded split
    train, test = np.sort(order[:150]), np.sort(order[150:])
    assert np.allclose(saved["mean"], X[train].mean(axis=0), atol=1e-6)
    assert np.allclose(saved["std"], X[train].std(axis=0), atol=1e-6)
    assert list(saved["classes"]) == ["cat", "dog"] and list(saved["features"]) == [
        "weight",
        "height",
    ]
    # the test accuracy, by hand from the file: standardize, forward, threshold, name
    Z = (np.round(X, 6) - saved["mean"]) / saved["std"]
    A1 = np.maximum(0, saved["param:W1"] @ Z.T + saved["param:b1"][:, None])
    named = np.where(
        _sigmoid(saved["param:W2"] @ A1 + saved["param:b2"][:, None])[0] >= 0.5, "dog", "cat"
    )
    accuracy = 100 * np.mean(named[test] == kind[test])
    assert f"test accuracy: {accuracy:.2f}%" in lines and accuracy > 90
    assert f"training accuracy: {100 * np.mean(named[train] == kind[train]):.2f}%" in lines


def test_predict_writes_the_names_as_csv(trained, pets, codegen_folder, capsys, tmp_path):
    _, path = trained
    folder, X, _ = pets
    args = ["predict", str(path), str(folder / "new.csv"), "--folder", str(codegen_folder)]
    assert main(args) == 0
    out = capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["kind"] and len(rows) == 21
    model = symgrad.load(path, folder=codegen_folder)
    assert [r[0] for r in rows[1:]] == list(model.predict(np.round(X[:20], 6)))
    saved = _saved(path)
    Z = (np.round(X[:20], 6) - saved["mean"]) / saved["std"]
    A1 = np.maximum(0, saved["param:W1"] @ Z.T + saved["param:b1"][:, None])
    out2 = _sigmoid(saved["param:W2"] @ A1 + saved["param:b2"][:, None])[0]
    assert [r[0] for r in rows[1:]] == list(np.where(out2 >= 0.5, "dog", "cat"))
    assert main([*args, "-o", str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "p.csv").read_text() == out
    assert capsys.readouterr().out == f"wrote 20 predictions to {tmp_path / 'p.csv'}\n"


def test_the_loss_picture_leaves_the_backend_alone(trained, pets):
    matplotlib = pytest.importorskip("matplotlib")
    folder = pets[0]
    assert (folder / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = matplotlib.get_backend()
    args = ["train", str(folder / "pets.csv"), "--label", "kind", *TRAIN, "--epochs", "2"]
    assert main([*args, "--plot", str(folder / "loss.svg"), "--folder", str(folder / "code")]) == 0
    assert matplotlib.get_backend() == before
    assert "<svg" in (folder / "loss.svg").read_text()


def test_per_layer_activations_regression_save_and_predict(pets, codegen_folder, capsys, tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 3))
    Y = np.c_[np.sin(X[:, 0]) + 0.5 * X[:, 1], X[:, 2]]
    np.savez(tmp_path / "r.npz", X=X, y=Y)
    np.savez(tmp_path / "new.npz", X=X[:7])
    args = ["train", str(tmp_path / "r.npz"), "--layers", "3,4,2", "--activations", "tanh,identity"]
    args += ["--loss", "huber", "--optimizer", "rmsprop", "--folder", str(codegen_folder)]
    args += ["--lr", "0.01", "--epochs", "50", "--test-split", "0.2", "--no-progress"]
    assert main([*args, "--save", str(tmp_path / "r_model.npz")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3-4-2, tanh/identity, huber, rmsprop, α = 0.01, m = 80\n")
    assert "accuracy" not in out
    saved = _saved(tmp_path / "r_model.npz")
    info = json.loads(str(saved["model"]))
    assert [layer[2] for layer in info["layers"]] == ["tanh", "identity"]

    def forward(rows):
        A1 = np.tanh(saved["param:W1"] @ rows.T + saved["param:b1"][:, None])
        return (saved["param:W2"] @ A1 + saved["param:b2"][:, None]).T

    test = np.sort(np.random.default_rng(0).permutation(100)[80:])
    r = np.abs(forward(X[test]) - Y[test])
    huber = np.where(r <= 1, r**2 / 2, r - 0.5).sum() / len(test)
    printed = float(out.split("test loss:")[1].split()[0])
    assert printed == pytest.approx(huber, rel=1e-5)
    args = ["predict", str(tmp_path / "r_model.npz"), str(tmp_path / "new.npz")]
    assert main([*args, "--folder", str(codegen_folder)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["y_1", "y_2"]
    assert np.allclose(np.array(rows[1:], dtype=float), forward(X[:7]), rtol=1e-12, atol=1e-12)


def test_progress_bar_on_request(pets, codegen_folder, capsys):
    pytest.importorskip("tqdm")
    folder = pets[0]
    args = ["train", str(folder / "pets.csv"), "--label", "kind", "--layers", "2,3,1"]
    args += ["--epochs", "40", "--folder", str(codegen_folder)]
    assert main([*args, "--progress"]) == 0
    err = capsys.readouterr().err
    assert "/40" in err and "epoch/s" in err
    assert main([*args, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_the_compiling_line_says_whether_the_run_waits_for_numba(
    pets, codegen_folder, capsys, monkeypatch
):
    from symgrad.train import numpy_tier

    folder = pets[0]
    args = ["train", str(folder / "pets.csv"), "--label", "kind", *TRAIN, "--epochs", "2"]
    args += ["--folder", str(codegen_folder)]
    assert main(args) == 0  # the whole set: the NumPy tier starts at once
    assert "compiling" not in capsys.readouterr().out
    monkeypatch.setattr(numpy_tier, "waits_for_numba", lambda *a: True)
    assert main(args) == 0
    assert "compiling (first time for this model) ...\n" in capsys.readouterr().out


def test_a_run_waits_for_numba_when_its_loop_is_not_cached_and_numpy_cannot_run_it(
    codegen_folder, tmp_path, monkeypatch
):
    from symgrad.nn import Network, mlp
    from symgrad.train.compiled import CompiledNetwork
    from symgrad.train.fit import fit
    from symgrad.train.numpy_tier import loop_name, waits_for_numba

    assert [loop_name(b, 10) for b in (None, 10, 1, 3)] == [
        "train_full_batch",
        "train_full_batch",
        "train_per_example",
        "train_minibatches",
    ]
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "empty"))  # nothing compiled there
    network = Network(mlp([2, 3, 1]), loss="bce")
    cold = CompiledNetwork(network, "gd", folder=tmp_path / "code")
    assert not waits_for_numba(cold, None, 4)  # the whole set: the NumPy tier
    assert waits_for_numba(cold, 1, 4) and waits_for_numba(cold, None, 4, np.float32)
    fit(network, np.ones((4, 2)), np.ones(4), epochs=1, batch_size=1, compiled=cold)
    again = CompiledNetwork(network, "gd", folder=tmp_path / "code")
    assert not waits_for_numba(again, 1, 4)  # compiled by the run above, and marked
    assert os.listdir(tmp_path / "empty")


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"symgrad {symgrad.__version__}\n"


@pytest.fixture(scope="module")
def bad_files(pets):
    folder = pets[0]
    (folder / "cols.csv").write_text("weight,size\n1,2\n")
    (folder / "three.csv").write_text("a,b,y\n1,2,cat\n3,4,dog\n5,6,eel\n")
    np.savez(folder / "wide.npz", X=np.zeros((2, 3)))
    np.savez(folder / "data.npz", X=np.zeros((2, 2)), y=np.zeros(2))
    (folder / "program.py").write_text(PROGRAM)
    return folder


#: A tensor program in a file: logistic regression written by hand.
PROGRAM = """
import symgrad.nn as nn
from symgrad import sigmoid

X, Y = nn.data("X", 2), nn.labels("Y")
w, b = nn.param("w", (1, 2)), nn.param("b", 1)
A = nn.name("A", nn.apply(sigmoid, w @ X + b), adjoint=False)
loss = nn.mean(-(Y * nn.log(A) + (1 - Y) * nn.log(1 - A)))
program = nn.Program(loss, output=A, labels="binary", title="logistic by hand")
"""


ROWS = [
    (["predict", "missing.npz", "new.csv"], "no such model file: missing.npz"),
    (["predict", "pets.npz", "missing.csv"], "no such file: missing.csv"),
    (["predict", "data.npz", "new.csv"], "data.npz is not a symgrad model file"),
    (["predict", "pets.csv", "new.csv"], "pets.csv is not a symgrad model file"),
    (["predict", "pets.npz", "cols.csv"], "cols.csv has no column height and has columns the"),
    (["predict", "pets.npz", "wide.npz"], "wide.npz has 3 feature column(s); the model takes 2"),
    (["train", "pets.csv", "--label", "kind", *TRAIN, "--test-split", "1.5"], "a fraction"),
    (["train", "pets.csv", "--label", "kind", *TRAIN, "--test-split", "0.001"], "leaves 0 for"),
    (["train", "three.csv", *TRAIN], "three.csv: 3 class names (cat, dog, eel) for a network"),
    (
        ["train", "pets.csv", "--label", "kind", *TRAIN, "--loss", "mse", "--output", "identity"],
        "the labels are names (cat, dog, ...)",
    ),
    (["train", "pets.csv", "--label", "kind", *TRAIN, "--plot", "x.txt"], "cannot draw x.txt"),
    (["train", "pets.csv", "--label", "kind", *TRAIN, "--save", "code"], "it is a folder"),
    (
        ["train", "pets.csv", "--label", "kind", "--file", "program.py", "--save", "p.npz"],
        "only a Network can be saved",
    ),
]


@pytest.mark.parametrize("argv, message", ROWS, ids=[" ".join(a)[:50] for a, _ in ROWS])
def test_bad_input_is_one_line_and_status_2(
    trained, bad_files, codegen_folder, capsys, argv, message
):
    (bad_files / "code").mkdir(exist_ok=True)
    cwd = os.getcwd()
    os.chdir(bad_files)
    try:
        status = main([*argv, "--folder", str(codegen_folder)])
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert err.startswith("symgrad: error: ") and err.count("\n") == 1 and message in err, err
