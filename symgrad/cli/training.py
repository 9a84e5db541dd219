"""Command line, training: ``symgrad train`` (a network on a data file) and ``symgrad predict``
(a saved model on a data file). Its commands are in its table :data:`COMMANDS`.

``train`` holds out a seeded test share (``--test-split``), standardizes the features with
the training share's mean and deviation (``--standardize``), maps a label column of names to
classes, says when the model's compiled code is not in the cache yet, shows a progress bar
(the ``progress`` extra), and writes the model file (``--save``, see
:mod:`symgrad.train.saved`) and a picture of the loss curve (``--plot``, the ``plot`` extra).
Every file and option is checked before anything is compiled. ``predict`` writes one CSV
row per example, to stdout or ``-o``. Imports the network group for the shared options and
readers, and the training stages inside its commands.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import sys
import warnings
from pathlib import Path

import numpy as np

from symgrad.cli.cluster import dask_argument, train_on_dask
from symgrad.cli.common import Commands
from symgrad.cli.network import (
    check_data,
    load_table,
    module_arguments,
    network_from,
    seed,
)
from symgrad.errors import SymgradError, TrainingWarning
from symgrad.paths import DEFAULT_FOLDER, input_file, output_file, output_folder

#: This group's subcommands.
COMMANDS = Commands()
command = COMMANDS.command

#: The picture formats of ``--plot``.
PICTURES = (".png", ".svg", ".pdf")


def fraction(text: str) -> float:
    """The ``--test-split`` option: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
    return value


def _train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DATA", help="a .csv file with a header row, or a .npz file")
    p.add_argument(
        "--label",
        default="y",
        help="the label column (CSV) or array (NPZ) (default y); names (cat, dog) are classes",
    )
    module_arguments(p)
    p.add_argument("--lr", type=float, default=0.1, help="learning rate α (default 0.1)")
    p.add_argument("--epochs", type=int, default=100, help="epochs (default 100)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the whole set")
    p.add_argument("--seed", type=seed, default=0, help="0 to 4294967295 (default 0)")
    p.add_argument(
        "--standardize",
        action="store_true",
        help="scale each feature to mean 0 and deviation 1 with the training examples' mean "
        "and deviation (kept in the --save file, for predict)",
    )
    p.add_argument(
        "--test-split",
        type=fraction,
        metavar="FRACTION",
        help="hold out this share of the examples (chosen with --seed) and report the test "
        "loss and accuracy",
    )
    p.add_argument("--save", metavar="MODEL.npz", help="write the trained model to this file")
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="draw the loss curve into a .png, .svg or .pdf file (needs matplotlib)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (needs tqdm; default: when stderr is a terminal)",
    )
    dask_argument(p)


def classes_of(network, y: np.ndarray, path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels that are names as class indices (in sorted order of the names), and the names;
    numeric labels unchanged, with None.

    Raises:
        SymgradError: names for a loss that takes no classes, or a number of names that is
            not the network's number of classes.
    """
    if y.dtype.kind != "U":
        return y, None
    names, index = np.unique(y, return_inverse=True)
    if not network.labels.classify:
        raise SymgradError(
            f"{path}: the labels are names ({', '.join(names[:3])}, ...), and the network "
            "predicts numbers: use --loss bce or cross_entropy for classes"
        )
    k = int(network.Y.shape[0])
    if k == 1 and len(names) != 2:
        raise SymgradError(
            f"{path}: {len(names)} class names ({', '.join(names[:5])}) for a network with one "
            f"output, which tells two apart: use --output softmax --loss cross_entropy and "
            f"{len(names)} outputs"
        )
    if k > 1 and len(names) != k:
        raise SymgradError(
            f"{path}: {len(names)} class names ({', '.join(names[:5])}) for a network with "
            f"{k} outputs: give it {len(names)}"
        )
    return index, names


def split(m: int, share: float | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and test examples: a seeded shuffle, the last ``share`` held
    out (rounded, at least one of each).

    Raises:
        SymgradError: a share that leaves no training or no test example.
    """
    order = np.random.default_rng(seed).permutation(m)
    if share is None:
        return np.arange(m), order[:0]
    test = round(share * m)
    if not 1 <= test <= m - 1:
        raise SymgradError(
            f"--test-split {share:g} of {m} examples leaves {test} for testing and "
            f"{m - test} for training; each needs at least one"
        )
    return np.sort(order[: m - test]), np.sort(order[m - test :])


def standardization(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The features' means and standard deviations (1 for a constant feature)."""
    std = X.std(axis=0)
    return X.mean(axis=0), np.where(std > 0, std, 1.0)


def _check_picture(path: str) -> Path:
    """The ``--plot`` file, checked with matplotlib's presence before training."""
    from symgrad.apps.study import figure

    file = output_file(path, create=False)
    if file.suffix.lower() not in PICTURES:
        raise SymgradError(f"cannot draw {path}: use {', '.join(PICTURES)}")
    figure()  # refuses at once when matplotlib is missing
    return file


def _progress(wanted: bool | None) -> bool:
    if wanted is None:
        wanted = sys.stderr.isatty()
    if wanted and importlib.util.find_spec("tqdm") is None:
        print('symgrad: no progress bar: pip install "symgrad[progress]"', file=sys.stderr)
        return False
    return wanted


#: Options of a training run in this process that ``--dask`` does not take (yet).
_LOCAL_ONLY = {
    "--standardize": lambda args: args.standardize,
    "--test-split": lambda args: bool(args.test_split),
    "--save": lambda args: args.save is not None,
    "--plot": lambda args: args.plot is not None,
}


@command("train", "train a network on a CSV or NPZ file and print the loss curve", _train_arguments)
def _train(args: argparse.Namespace) -> int:
    from symgrad.check.oracle import reference
    from symgrad.train import numpy_tier
    from symgrad.train.compiled import CompiledNetwork
    from symgrad.train.fit import check_settings, fit
    from symgrad.train.saved import describe

    if args.dask is not None:
        local = [name for name, on in _LOCAL_ONLY.items() if on(args)]
        if local:
            raise SymgradError(f"{', '.join(local)} not yet with --dask: leave it out")
        return train_on_dask(args, network_from(args))
    X, y, features = load_table(args.data, args.label, text_labels=True)
    network = network_from(args)
    y, classes = classes_of(network, y, args.data)
    check_data(network, X, y, args.data)
    check_settings(lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    train, test = split(len(X), args.test_split, args.seed)
    save = None
    if args.save is not None:
        save = output_file(args.save, create=False)
        describe(network, args.optimizer, "")  # a network a model file can hold
    picture = _check_picture(args.plot) if args.plot is not None else None
    output_folder(args.folder, create=False)
    mean = std = None
    if args.standardize:
        mean, std = standardization(X[train])
        X = (X - mean) / std
    compiled = CompiledNetwork(network, args.optimizer, folder=args.folder)
    print(f"{network.describe()}, {compiled.optimizer.name}, α = {args.lr:g}, m = {len(train)}")
    if len(test):
        print(f"held out {len(test)} of {len(X)} examples for testing (--seed {args.seed})")
    if args.standardize:
        print(f"standardized {X.shape[1]} features with the training examples' mean and deviation")
    if classes is not None:
        print("classes: " + ", ".join(f"{i} = {name}" for i, name in enumerate(classes)))
    if numpy_tier.waits_for_numba(compiled, args.batch_size, len(train)):
        print("compiling (first time for this model) ...")
    sys.stdout.flush()  # training may take long (Ctrl-C stops it)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)  # printed below, in one line
        result = fit(
            network,
            X[train],
            y[train],
            lr=args.lr,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            compiled=compiled,
            progress=_progress(args.progress),
        )
    marks = sorted({0, *np.linspace(0, args.epochs - 1, 6).astype(int)})
    for e in marks:
        print(f"epoch {e + 1:>6}: loss {result.history[e]:.6g}")
    if network.labels.classify:
        print(f"training accuracy: {100 * result.accuracy(X[train], y[train]):.2f}%")
    if len(test):
        # NumPy's evaluation: loss_and_grad would compile once more
        loss = reference(compiled.backprop, result.params, X[test], y[test]).loss
        print(f"test loss: {loss:.6g}")
        if network.labels.classify:
            print(f"test accuracy: {100 * result.accuracy(X[test], y[test]):.2f}%")
    if save is not None:
        names = dict(mean=mean, std=std, classes=classes, features=features, label=args.label)
        print(f"saved the model to {result.save(save, **names)}")
    if picture is not None:
        print(f"wrote {draw_losses(result.history, picture, network.describe())}")
    if result.warning:
        print(f"symgrad: warning: {result.warning}", file=sys.stderr)
    return 0


def draw_losses(history: np.ndarray, path: Path, title: str) -> Path:
    """The loss per epoch as a line, into ``path`` (its suffix picks the format)."""
    from symgrad.apps.study import figure

    fig = figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    ax.plot(np.arange(1, len(history) + 1), history)
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def _predict_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="a model file written by train --save")
    p.add_argument(
        "data",
        metavar="DATA",
        help="a .csv file with the model's feature columns (its label column may be there "
        "too, and is left out), or a .npz file with one feature array",
    )
    p.add_argument("-o", "--out", help="the CSV file to write (default: stdout)")
    p.add_argument(
        "--folder",
        default=DEFAULT_FOLDER,
        help=f"where the model's module goes (default {DEFAULT_FOLDER})",
    )


@command(
    "predict", "predict with a saved model (train --save) on a CSV or NPZ file", _predict_arguments
)
def _predict(args: argparse.Namespace) -> int:
    from symgrad.train.saved import load

    input_file(args.data)  # before the model's code is compiled
    out = output_file(args.out, create=False) if args.out is not None else None
    output_folder(args.folder, create=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load(args.model, folder=args.folder)
    for warning in caught:
        print(f"symgrad: warning: {warning.message}", file=sys.stderr)
    label = model.info.get("label") or "y"
    X, _, names = load_table(args.data, label, text_labels=True, label_optional=True)
    X = _columns(model, X, names, args.data, label)
    try:
        predictions = model.predict(X)
    except SymgradError as error:
        raise SymgradError(f"{args.data}: {error}") from None
    text = _csv(predictions, label)
    if out is None:
        sys.stdout.write(text)
    else:
        output_file(out).write_text(text, encoding="utf-8")
        print(f"wrote {len(predictions)} predictions to {out}")
    return 0


def _columns(model, X: np.ndarray, names: list[str] | None, path: str, label: str) -> np.ndarray:
    """``X``'s columns in the order the model takes its features (by name, for a CSV file).

    Raises:
        SymgradError: a feature missing, a column the model does not know, the wrong width.
    """
    n = int(model.network.X.shape[0])
    if names is not None and model.features is not None:
        want = [str(f) for f in model.features]
        if sorted(names) != sorted(want):
            missing = [f for f in want if f not in names]
            extra = [c for c in names if c not in want]
            what = f"has no column {', '.join(missing)}" if missing else ""
            what += " and " * bool(missing and extra)
            what += f"has columns the model does not take: {', '.join(extra)}" if extra else ""
            raise SymgradError(
                f"{path} {what} (the model takes {', '.join(want)}, and optionally {label})"
            )
        return X[:, [names.index(f) for f in want]]
    if X.shape[1] != n:
        raise SymgradError(f"{path} has {X.shape[1]} feature column(s); the model takes {n}")
    return X


def _csv(predictions: np.ndarray, label: str) -> str:
    """One row per example under a header: the label's name (``label_1``, ... per output)."""
    rows = predictions.reshape(len(predictions), -1)
    header = [label] if rows.shape[1] == 1 else [f"{label}_{j + 1}" for j in range(rows.shape[1])]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([v if isinstance(v, str) else repr(v.item()) for v in row])
    return text.getvalue()
