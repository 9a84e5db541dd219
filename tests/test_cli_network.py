"""CLI for networks: ``symgrad notes``, ``compile`` and ``train`` (good paths and bad input).

Run in-process through ``main``; one generated folder for the module, so Numba compiles once.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from symgrad.cli import main
from symgrad.paths import CACHE_VARIABLE

LAYERS = ["--layers", "2,3,1", "--hidden", "relu", "--output", "sigmoid", "--loss", "bce"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Separable 2-feature data as CSV (header row) and NPZ, and a code folder."""
    folder = tmp_path_factory.mktemp("cli_network")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    np.savetxt(folder / "d.csv", np.c_[X, y], delimiter=",", header="x1,x2,label", comments="")
    np.savez(folder / "d.npz", X=X, y=y)
    return folder


def test_notes_writes_the_lectures_backprop_equations(tmp_path, capsys):
    out = tmp_path / "notes.md"
    assert main(["notes", *LAYERS, "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    text = out.read_text()
    for line in [
        "$dZ^{[2]} = A^{[2]} - Y$",
        r"$dW^{[2]} = \frac{1}{m} dZ^{[2]} A^{[1]T}$",
        r"$dZ^{[1]} = \left(W^{[2]T} dZ^{[2]}\right) \odot \mathbb{1}\left[Z^{[1]} > 0\right]$",
        r"$dW^{[1]} = \frac{1}{m} dZ^{[1]} X^{T}$",
    ]:
        assert line in text
    assert "## Forward pass" in text and "## Backward pass" in text


def test_notes_from_a_python_file(tmp_path):
    model = tmp_path / "model.py"
    model.write_text(
        "from symgrad.nn import logistic_regression\nnetwork = logistic_regression(3)\n"
    )
    out = tmp_path / "notes.md"
    assert main(["notes", "--file", str(model), "-o", str(out)]) == 0
    assert "$dZ = A - Y$" in out.read_text()


def test_compile_writes_the_generated_module(data, capsys, tmp_path):
    # the session's cache (test_files checks with an empty one that another process loads it)
    cache = Path(os.environ[CACHE_VARIABLE])
    assert main(["compile", *LAYERS, "--folder", str(data / "code")]) == 0
    path = data / "code" / "mlp_2_3_1_relu_sigmoid_bce_gd.py"
    assert f"wrote {path}" in capsys.readouterr().out
    assert "dZ[2] = A[2] - Y" in path.read_text()
    loops = ["train_full_batch", "train_minibatches", "train_per_example"]
    for entry in [*loops, "predict"]:  # compiled, in the cache
        assert list(cache.glob(f"*/__pycache__/{path.stem}.{entry}-*.nbc")), entry
    compiled = sorted(cache.rglob(f"*{path.stem}*"))  # other tests may add other models
    args = ["train", str(data / "d.csv"), "--label", "label", *LAYERS, "--folder", str(tmp_path)]
    assert main([*args, "--epochs", "3"]) == 0
    assert sorted(cache.rglob(f"*{path.stem}*")) == compiled  # train compiled nothing more


@pytest.mark.parametrize("file, label", [("d.csv", "label"), ("d.npz", "y")])
def test_train_prints_the_loss_curve_and_accuracy(data, capsys, file, label):
    args = ["train", str(data / file), "--label", label, *LAYERS, "--folder", str(data / "code")]
    assert main([*args, "--lr", "0.5", "--epochs", "200"]) == 0
    out = capsys.readouterr().out
    losses = [float(line.split("loss")[1]) for line in out.splitlines() if "epoch" in line]
    assert len(losses) == 6 and losses[-1] < 0.5 * losses[0]
    accuracy = float(out.split("training accuracy:")[1].strip().rstrip("%"))
    assert accuracy > 95


@pytest.mark.parametrize(
    "args, message",
    [
        (["notes"], "--layers"),
        (["notes", "--layers", "2,x,1"], "--layers takes sizes"),
        (["notes", "--layers", "2,3,1", "--loss", "hinge"], "unknown loss 'hinge'"),
        (["notes", "--file", "no_such_model.py"], "no such file"),
        (["train", "DATA.csv", *LAYERS], "no such file: DATA.csv"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("symgrad: error:") and message in err and err.count("\n") == 1


def test_train_bad_data_is_named_before_compiling(data, capsys, tmp_path):
    code = tmp_path / "code"
    assert (
        main(["train", str(data / "d.csv"), "--label", "zz", *LAYERS, "--folder", str(code)]) == 2
    )
    assert "no column 'zz'" in capsys.readouterr().err
    args = ["train", str(data / "d.csv"), "--label", "label", "--layers", "3,3,1"]
    assert main([*args, "--folder", str(code)]) == 2
    assert "X must have shape (m, 3)" in capsys.readouterr().err
    assert not code.exists()


def test_train_divergence_is_reported(data, capsys):
    args = ["train", str(data / "d.npz"), *LAYERS, "--folder", str(data / "code")]
    assert main([*args, "--lr", "500", "--epochs", "50"]) == 2
    err = capsys.readouterr().err
    assert "training diverged at epoch" in err and "smaller learning rate" in err


@pytest.mark.parametrize("loss", ["huber", "mae"])
def test_train_a_regression_with_per_layer_activations_and_rmsprop(
    data, capsys, loss, codegen_folder
):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 3))
    Y = np.c_[np.sin(X[:, 0]) + 0.5 * X[:, 1], X[:, 2]]
    np.savez(data / "r.npz", X=X, y=Y)
    args = ["train", str(data / "r.npz"), "--layers", "3,4,2", "--activations", "tanh,identity"]
    # the session folder: test_losses trains the same network and optimizer (one compile)
    args += ["--loss", loss, "--optimizer", "rmsprop", "--folder", str(codegen_folder)]
    assert main([*args, "--lr", "0.01", "--epochs", "300"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"3-4-2, tanh/identity, {loss}, rmsprop, α = 0.01, m = 100")
    losses = [float(line.split("loss")[1]) for line in out.splitlines() if "epoch" in line]
    assert losses[-1] < 0.5 * losses[0]
    assert "accuracy" not in out  # regression: no classes to count


@pytest.mark.parametrize(
    "args, message",
    [
        (["--activations", "relu"], "--activations names 1 activation(s) for the 2 layer(s)"),
        (["--activations", "relu,swish"], "layer 2: unknown activation 'swish'"),
        (["--optimizer", "lion"], "unknown optimizer 'lion' (known: gd, momentum, adam, rmsprop)"),
    ],
)
def test_per_layer_activations_and_registry_names_are_checked(capsys, tmp_path, args, message):
    assert main(["compile", "--layers", "2,3,1", *args, "--folder", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_help_lists_the_registries(capsys):
    assert main(["train", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "bce, cross_entropy, mse, huber or mae" in out
    assert "gd, momentum, adam or rmsprop" in out and "--activations" in out


def test_activations_with_a_model_file_is_refused(tmp_path, capsys):
    model = tmp_path / "model.py"
    model.write_text(
        "from symgrad.nn import logistic_regression\nnetwork = logistic_regression(3)\n"
    )
    assert main(["notes", "--file", str(model), "--activations", "sigmoid"]) == 2
    assert "leave out --activations" in capsys.readouterr().err


#: A tensor program in a file: logistic regression written by hand, labels 0/1.
PROGRAM = """
import symgrad.nn as nn
from symgrad import sigmoid

X, Y = nn.data("X", 2), nn.labels("Y")
w, b = nn.param("w", (1, 2)), nn.param("b", 1)
A = nn.name("A", nn.apply(sigmoid, w @ X + b), adjoint=False)
loss = nn.mean(-(Y * nn.log(A) + (1 - Y) * nn.log(1 - A)))
program = nn.Program(loss, output=A, labels="binary", title="logistic by hand")
"""


def test_a_program_file_gives_notes_check_and_training(data, tmp_path, capsys):
    model = tmp_path / "model.py"
    model.write_text(PROGRAM)
    out = tmp_path / "notes.md"
    assert main(["notes", "--file", str(model), "-o", str(out)]) == 0
    # σ then cross-entropy: fused into the lecture's a - y (w X + b is not named)
    assert r"$dw = \frac{1}{m} \left(A - Y\right) X^{T}$" in out.read_text()
    capsys.readouterr()
    assert main(["check", "--file", str(model)]) == 0
    assert "passed: 3 of 3 correct" in capsys.readouterr().out
    assert main(["check", "--file", str(model), "--data", str(data / "d.npz")]) == 2
    assert "no --data" in capsys.readouterr().err
    args = ["train", str(data / "d.npz"), "--file", str(model), "--epochs", "50", "--lr", "1"]
    assert main([*args, "--folder", str(tmp_path / "code")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("logistic by hand, gd, α = 1, m = 200")
    accuracy = float(printed.split("training accuracy: ")[1].rstrip("%\n"))
    assert accuracy > 95  # the labels are the sign of x1 + x2: separable
