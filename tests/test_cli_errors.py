"""Bad command lines: each is one stderr line ``symgrad: error: ...`` and exit status 2.

A table of command lines a careless user or an attacker would type (everything but the
formula text, which test_parsing covers): bad model files, output paths that are files or
under one, broken data files, bad numbers in options, options given twice. Each runs
in-process through ``main`` in a folder of prepared files; a row passes when the status is 2,
stderr is exactly one line with the prefix and the expected fragment, nothing went to stdout
and no file was written. A few rows run as ``python -m symgrad`` to show that no traceback
reaches a terminal.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symgrad.cli import main

NET = ["--layers", "2,3,1"]

#: Files the rows refer to, by name, written into the rows' working folder.
FILES = {
    "afile": "just text\n",
    "syntax.py": "import symgrad\nnetwork = (\n",
    "raises.py": "x = 1\nraise RuntimeError('boom')\n",
    "exits.py": "import sys\nsys.exit(3)\n",
    "badnet.py": "from symgrad.nn import Network, mlp\nnetwork = Network(mlp([2, 0, 1]))\n",
    "nonet.py": "network = 3\n",
    "good.py": "from symgrad.nn import logistic_regression\nnetwork = logistic_regression(2)\n",
    "empty.csv": "",
    "header.csv": "a,b,y\n",
    "ragged.csv": "a,b,y\n1,2,0\n3,4\n",
    "words.csv": "a,b,y\n1,2,0\n3,4,cat\n",
    "cell.csv": "a,b,y\n1,2,0\n3,four,1\n",
    "twice.csv": "a,y,y\n1,0,1\n",
    "half.csv": "a,b,y\n1,2,0.5\n3,4,1\n",
    "two.csv": "a,b,y\n1,2,2\n3,4,1\n",
    "text.npz": "not a zip file\n",
    "data.txt": "a,b,y\n1,2,0\n",
    "good.csv": "a,b,y\n1,2,0\n3,4,1\n-1,0,0\n",
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder with the files of :data:`FILES`, binary and NumPy ones, and two folders."""
    folder = tmp_path_factory.mktemp("cli_errors")
    for name, text in FILES.items():
        (folder / name).write_text(text)
    (folder / "binary.csv").write_bytes(b"\xff\xfe\x00\x01binary")
    (folder / "adir").mkdir()
    (folder / "folder.csv").mkdir()
    (folder / "lecture").mkdir()
    (folder / "lecture" / "code").write_text("a file where the code folder goes\n")
    X, y = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0, 1])
    np.savez(folder / "good.npz", X=X, y=y)
    np.savez(folder / "objects.npz", X=np.array([[1, "a"]], dtype=object), y=y)
    np.savez(folder / "strings.npz", X=np.array([["a", "b"], ["c", "d"]]), y=y)
    np.savez(folder / "three.npz", X=X, Z=X, y=y)
    np.savez(folder / "flat.npz", X=np.arange(10.0), y=np.arange(10.0))
    np.save(folder / "plain.npy", X)
    (folder / "plain.npz").write_bytes((folder / "plain.npy").read_bytes())
    return folder


def _tree(folder: Path) -> set:
    return {(p.relative_to(folder), p.stat().st_size) for p in folder.rglob("*")}


def fails(capsys, folder: Path, argv: list[str]) -> str:
    """Run ``argv`` in ``folder``; assert status 2, one line, nothing written; the line."""
    before = _tree(folder)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        status = main(argv)
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    assert status == 2, (status, out, err)
    assert out == ""
    assert err.startswith("symgrad: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert _tree(folder) == before, "a file was written or changed"
    return err


ROWS = [
    # --file: a model file runs as trusted Python; its faults are named with file and line
    (["notes", "--file", "syntax.py"], "syntax.py, line 2: '(' was never closed"),
    (["notes", "--file", "raises.py"], "raises.py, line 2: RuntimeError: boom"),
    (["notes", "--file", "exits.py"], "exits.py, line 2: SystemExit: 3"),
    (
        ["notes", "--file", "badnet.py"],
        "badnet.py, line 2: layer 1 has a size outside 1..1,000,000",
    ),
    (["notes", "--file", "nonet.py"], "nonet.py must define `network`"),
    (["notes", "--file", "adir"], "adir is a folder, not a file"),
    (["notes", "--file", "missing.py"], "no such file: missing.py"),
    (["notes", "--file", "good.py", *NET], "--file defines the whole network: leave out --layers"),
    (["notes", "--file", "good.py", "--l2", "0.1"], "leave out --l2 (or --file)"),
    # output paths
    (["notes", *NET, "-o", "afile/notes.md"], "cannot write afile/notes.md: afile is a file"),
    (["notes", *NET, "-o", "adir"], "cannot write adir: it is a folder"),
    (["notes", *NET, "-o", ""], "an empty path"),
    (["compile", *NET, "--folder", "afile"], "cannot use afile as a folder: it is a file"),
    (["compile", *NET, "--folder", "afile/sub"], "cannot create folder afile/sub: afile is a file"),
    (["compile", *NET, "--folder", ""], "an empty path"),
    (["compile", *NET, "--optimizer", "sgd", "--folder", "out"], "(known: gd, momentum, adam, "),
    (["train", "good.csv", *NET, "--folder", "afile"], "cannot use afile as a folder"),
    (["check", *NET, "--folder", "afile"], "cannot use afile as a folder"),
    (["check", "x*y", "--at", "x=1,y=2", "--folder", "afile"], "cannot use afile as a folder"),
    (["graph", "x*y", "--at", "x=1,y=2", "-o", "afile/x.dot"], "afile is a file, not a folder"),
    (["graph", "x*y", "--at", "x=1,y=2", "-o", "adir"], "cannot write adir: it is a folder"),
    (["lecture", "-o", "afile"], "cannot use afile as a folder: it is a file"),
    (["lecture", "-o", "afile/sub"], "cannot create folder afile/sub: afile is a file"),
    (["lecture", "-o", "lecture"], "cannot use lecture/code as a folder: it is a file"),
    (["study", "--epochs", "2", "-o", "afile"], "cannot use afile as a folder"),
    (["study", "--epochs", "2", "-o", "out", "--code", "afile"], "cannot use afile as a folder"),
    # hyper-parameters of the network
    (["notes", *NET, "--l2", "-1"], "l2 must be a finite number ≥ 0, got -1"),
    (["notes", *NET, "--l2", "nan"], "l2 must be a finite number ≥ 0, got nan"),
    (["notes", *NET, "--l2", "inf"], "l2 must be a finite number ≥ 0, got inf"),
    (["notes", *NET, "--l2", "lots"], "argument --l2: invalid float value: 'lots'"),
    (["notes", "--layers", "2,0,1"], "layer 1 has a size outside 1..1,000,000: 2 -> 0"),
    (["notes", "--layers", "2,-3,1"], "layer 1 has a size outside 1..1,000,000: 2 -> -3"),
    (["compile", "--layers", "2,100000000000,1"], "size outside 1..1,000,000"),
    (["compile", "--layers", "20000,20000,1"], "400,000,000 weights (20000×20000)"),
    (["notes", "--layers", ",".join(["3"] * 200)], "a network has at most 50 layers, got 199"),
    (["notes", "--layers", "2,x,1"], "--layers takes sizes like 2,3,1, got '2,x,1'"),
    (["notes", "--layers", "2"], "at least two sizes"),
    (["notes", *NET, "--hidden", "swish"], "unknown activation 'swish' (known: sigmoid, relu"),
    (["notes", *NET, "--loss", "hinge"], "unknown loss 'hinge' (known: bce, cross_entropy, mse, "),
    # data files
    (["train", "empty.csv", *NET], "empty.csv is empty"),
    (["train", "header.csv", *NET], "header.csv has a header row but no examples"),
    (["train", "ragged.csv", *NET], "ragged.csv, line 3: 2 values for the header's 3 columns"),
    (
        ["train", "words.csv", *NET],
        "words.csv, line 3, the label column 'y': 'cat' is not a number",
    ),
    (["train", "cell.csv", *NET], "cell.csv, line 3, column 'b': 'four' is not a number"),
    (["train", "binary.csv", *NET], "binary.csv is not a CSV text file"),
    (["train", "twice.csv", *NET], "twice.csv has the column 'y' twice"),
    (["train", "text.npz", *NET], "text.npz is not an NPZ file"),
    (["train", "plain.npz", *NET], "plain.npz is not an NPZ file"),
    (["train", "objects.npz", *NET], "objects.npz: array 'X' holds Python objects"),
    (["train", "flat.npz", *NET], "flat.npz: the features must be a table"),
    (["study", "--data", "flat.npz"], "flat.npz: the features must be a table"),
    (["train", "strings.npz", *NET], "strings.npz: array 'X' holds text, not real numbers"),
    (["train", "three.npz", *NET], "three.npz must hold one feature array beside 'y'"),
    (["train", "good.npz", "--label", "label", *NET], "good.npz has no array 'label'"),
    (["train", "good.csv", "--label", "zz", *NET], "good.csv has no column 'zz'"),
    (["train", "good.csv", "--layers", "3,3,1"], "good.csv: X must have shape (m, 3)"),
    (["train", "two.csv", *NET], "two.csv: y: binary cross-entropy labels must lie in [0, 1]"),
    (
        [
            "train",
            "half.csv",
            "--layers",
            "2,3,2",
            "--output",
            "softmax",
            "--loss",
            "cross_entropy",
        ],
        "half.csv: y must hold integer class labels",
    ),
    (["train", "folder.csv", *NET], "folder.csv is a folder, not a file"),
    (["train", "missing.csv", *NET], "no such file: missing.csv"),
    (["train", "data.txt", *NET], "cannot read data.txt: use a .csv or .npz file"),
    (["check", *NET, "--data", "header.csv"], "header.csv has a header row but no examples"),
    (["study", "--data", "ragged.csv"], "ragged.csv, line 3"),
    # numbers in options, options given twice, missing arguments
    (["train", "good.csv", *NET, "--seed", "-1"], "--seed: expected a whole number from 0"),
    (["train", "good.csv", *NET, "--seed", "4294967296"], "--seed: expected a whole number"),
    (["check", *NET, "--seed", "one"], "--seed: expected a whole number"),
    (["train", "good.csv", *NET, "--epochs", "1.5"], "argument --epochs: invalid int value"),
    (["check", *NET, "--step", "nan"], "argument --step: expected a positive number"),
    (["study", "--rates", "0.1,nan"], "--rates: learning rates must be > 0 and finite"),
    (["study", "--rates", "1,inf"], "--rates: learning rates must be > 0 and finite"),
    (["study", "--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["study", "--epochs", "1000000000000", "-o", "out"], "epochs must be an integer from 1"),
    (["study", "--batch-size", "-3", "-o", "out"], "--batch-size must be at least 1, got -3"),
    (["train", "good.csv", *NET, "--lr", "0.1", "--lr", "0.2"], "argument --lr: given twice"),
    (["notes", *NET, "--layers", "2,4,1"], "argument --layers: given twice"),
    (["explain", "x*y", "--at", "x=1,y=2", "--at", "x=2,y=3"], "argument --at: given twice"),
    (["grad", "x*y", "--wrt", "x", "--wrt", "y"], "argument --wrt: given twice"),
    (["train", *NET], "required: DATA"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "required: COMMAND"),
]


@pytest.mark.parametrize("argv, message", ROWS, ids=[" ".join(a)[:60] for a, _ in ROWS])
def test_bad_command_line_is_one_line_and_status_2(capsys, workdir, argv, message):
    assert message in fails(capsys, workdir, argv)


def test_the_table_is_large_enough():
    assert len(ROWS) >= 30


#: Training hyper-parameters that ``fit`` validates (issue 8, item 4): refused before compiling.
FIT_ROWS = [
    (["--lr", "nan"], "lr"),
    (["--lr", "-1"], "lr"),
    (["--lr", "inf"], "lr"),
    (["--epochs", "0"], "epochs"),
    (["--epochs", "1000000000000"], "epochs"),
    (["--batch-size", "0"], "batch"),
]


@pytest.mark.parametrize("options, message", FIT_ROWS, ids=[" ".join(o) for o, _ in FIT_ROWS])
def test_bad_training_numbers_are_refused_before_compiling(
    capsys, workdir, tmp_path, options, message
):
    code = tmp_path / "code"
    err = fails(capsys, workdir, ["train", "good.csv", *NET, "--folder", str(code), *options])
    assert message in err and "diverged" not in err
    assert not code.exists(), "compiled before refusing"


def test_an_os_error_while_writing_is_one_line(capsys, workdir, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_text", refuse)
    err = fails(capsys, workdir, ["notes", *NET, "-o", "notes.md"])
    assert err == "symgrad: error: notes.md: Permission denied\n"


def test_a_good_model_file_still_works(capsys, workdir, tmp_path):
    out = tmp_path / "notes.md"
    assert main(["notes", "--file", str(workdir / "good.py"), "-o", str(out)]) == 0
    assert "$dZ = A - Y$" in out.read_text()
    assert capsys.readouterr().err == ""


def test_the_file_option_says_it_runs_trusted_python(capsys):
    assert main(["notes", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "runs the file as Python: only use files you trust" in help_text


SUBPROCESS_ROWS = [
    (["notes", "--file", "raises.py"], "raises.py, line 2: RuntimeError: boom"),
    (["train", "empty.csv", *NET, "--folder", "out"], "empty.csv is empty"),
    (["train", "objects.npz", *NET, "--folder", "out"], "holds Python objects"),
    (["compile", *NET, "--folder", "afile"], "cannot use afile as a folder"),
    (["notes", *NET, "--l2", "nan"], "l2 must be a finite number ≥ 0, got nan"),
]


@pytest.mark.parametrize("argv, message", SUBPROCESS_ROWS, ids=[a[1] for a, _ in SUBPROCESS_ROWS])
def test_no_traceback_reaches_the_terminal(workdir, argv, message):
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONIOENCODING": "utf-8"}
    before = _tree(workdir)
    done = subprocess.run(
        [sys.executable, "-m", "symgrad", *argv],
        cwd=workdir,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("symgrad: error: ") and done.stderr.count("\n") == 1
    assert message in done.stderr and "Traceback" not in done.stderr
    assert _tree(workdir) == before


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_on_stdout_is_one_line(workdir):
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONIOENCODING": "utf-8"}
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "symgrad", "grad", "x*y"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr == "symgrad: error: No space left on device\n"
