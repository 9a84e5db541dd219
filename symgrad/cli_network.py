"""Command line, tensor front end: ``symgrad notes``, ``compile`` and ``train``.

A network is described on the command line (``--layers 2,3,1 --hidden relu --output
sigmoid --loss bce``) or by a Python file that defines ``network`` (a
:class:`symgrad.nn.Network`). Registers its commands in :data:`symgrad.cli.COMMANDS`.
"""

from __future__ import annotations

import argparse
import csv
import runpy
import sys
import warnings
from pathlib import Path

import numpy as np

from symgrad.cli import command
from symgrad.errors import SymgradError, TrainingWarning


def _network_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layers", help="sizes, inputs first: 2,3,1")
    p.add_argument("--hidden", default="relu", help="hidden activation (default relu)")
    p.add_argument("--output", default="sigmoid", help="output activation (default sigmoid)")
    p.add_argument("--loss", default="bce", help="bce, cross_entropy or mse (default bce)")
    p.add_argument("--l2", type=float, default=0.0, help="L2 penalty λ (default 0)")
    p.add_argument("--file", help="a Python file that defines `network`, instead of --layers")


def network_from(args: argparse.Namespace):
    """The network the arguments describe."""
    from symgrad.nn import Network, mlp

    if args.file:
        if not Path(args.file).is_file():
            raise SymgradError(f"no such file: {args.file}")
        network = runpy.run_path(args.file).get("network")
        if not isinstance(network, Network):
            raise SymgradError(f"{args.file} must define `network`, a symgrad.nn.Network")
        return network
    if not args.layers:
        raise SymgradError("describe the network with --layers 2,3,1 (or --file model.py)")
    try:
        sizes = [int(s) for s in args.layers.split(",")]
    except ValueError:
        raise SymgradError(f"--layers takes sizes like 2,3,1, got {args.layers!r}") from None
    return Network(mlp(sizes, hidden=args.hidden, output=args.output), loss=args.loss, l2=args.l2)


def _notes_arguments(p: argparse.ArgumentParser) -> None:
    _network_arguments(p)
    p.add_argument("-o", "--out", help="Markdown file (default generated/notes_<model>.md)")


@command("notes", "write the lecture notes (backprop equations) of a network", _notes_arguments)
def _notes(args: argparse.Namespace) -> int:
    from symgrad.nn import derive
    from symgrad.nn.notes import write_notes
    from symgrad.train.compiled import module_name

    network = network_from(args)
    out = args.out or Path("generated") / f"notes_{module_name(network, None)}.md"
    print(f"wrote {write_notes(derive(network), out)}")
    return 0


def _compile_arguments(p: argparse.ArgumentParser) -> None:
    _network_arguments(p)
    p.add_argument("--optimizer", default="gd", help="gd, momentum or adam (default gd)")
    p.add_argument(
        "--folder", default="generated", help="where the module goes (default generated)"
    )


@command(
    "compile", "write (and compile) the generated training module of a network", _compile_arguments
)
def _compile(args: argparse.Namespace) -> int:
    from symgrad.train.compiled import CompiledNetwork

    compiled = CompiledNetwork(network_from(args), args.optimizer, folder=args.folder)
    print(f"wrote {compiled.path}")
    return 0


def _train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DATA", help="a .csv file with a header row, or a .npz file")
    p.add_argument("--label", default="y", help="the label column (CSV) or array (NPZ) (default y)")
    _compile_arguments(p)
    p.add_argument("--lr", type=float, default=0.1, help="learning rate α (default 0.1)")
    p.add_argument("--epochs", type=int, default=100, help="epochs (default 100)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the whole set")
    p.add_argument("--seed", type=int, default=0)


def load_data(path: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Features (rows = examples) and labels from a CSV (header row) or NPZ file."""
    file = Path(path)
    if not file.is_file():
        raise SymgradError(f"no such file: {path}")
    if file.suffix == ".npz":
        data = np.load(file)
        if label not in data.files:
            raise SymgradError(f"{file.name} has no array {label!r} (has: {', '.join(data.files)})")
        features = [k for k in data.files if k != label]
        if len(features) != 1:
            raise SymgradError(f"{file.name} must hold one feature array beside {label!r}")
        return np.asarray(data[features[0]], dtype=float), np.asarray(data[label])
    if file.suffix != ".csv":
        raise SymgradError(f"cannot read {file.name}: use a .csv or .npz file")
    with open(file, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    if label not in header:
        raise SymgradError(f"{file.name} has no column {label!r} (columns: {', '.join(header)})")
    try:
        table = np.array(body, dtype=float)
    except ValueError as e:
        raise SymgradError(f"{file.name}: non-numeric value ({e})") from None
    k = header.index(label)
    return np.delete(table, k, axis=1), table[:, k]


@command("train", "train a network on a CSV or NPZ file and print the loss curve", _train_arguments)
def _train(args: argparse.Namespace) -> int:
    from symgrad.nn import to_columns
    from symgrad.train.compiled import CompiledNetwork
    from symgrad.train.fit import check_settings, fit

    X, y = load_data(args.data, args.label)
    network = network_from(args)
    to_columns(network, X, y)  # shape and label errors before anything is compiled
    check_settings(
        network, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed
    )
    compiled = CompiledNetwork(network, args.optimizer, folder=args.folder)
    print(f"{network.describe()}, {compiled.optimizer.name}, α = {args.lr:g}, m = {len(X)}")
    sys.stdout.flush()  # training may take long (Ctrl-C stops it)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)  # printed below, in one line
        result = fit(
            network,
            X,
            y,
            lr=args.lr,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            compiled=compiled,
        )
    marks = sorted({0, *np.linspace(0, args.epochs - 1, 6).astype(int)})
    for e in marks:
        print(f"epoch {e + 1:>6}: loss {result.history[e]:.6g}")
    if network.loss_name != "mse":
        print(f"training accuracy: {100 * result.accuracy(X, y):.2f}%")
    if result.warning:
        print(f"symgrad: warning: {result.warning}", file=sys.stderr)
    return 0
