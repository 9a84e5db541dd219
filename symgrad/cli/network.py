"""Command line, tensor front end: ``symgrad notes`` and ``compile``, and what every command
that takes a network or data shares (``train`` and ``predict`` are in
:mod:`symgrad.cli.training`).

A network is described on the command line (``--layers 2,3,1 --hidden relu --output
sigmoid --loss bce``, or ``--activations relu,sigmoid`` for one activation per layer;
losses and optimizers as named in their registries) or by a Python file that defines
``network`` (a :class:`symgrad.nn.Network`); that file is run as Python, so it must be
trusted. Data come from a CSV file with a header row or an NPZ file (never unpickled); a
fault in either file is one error naming the file (and the line, for a model file or a
CSV); a label column of names (none a number) is read as text where a command asks for
it. Its commands are in its table :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import csv
import os
import runpy
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from symgrad.cli.common import Commands
from symgrad.errors import ShapeError, SymgradError
from symgrad.paths import DEFAULT_FOLDER, input_file, output_file, output_folder

#: This group's subcommands.
COMMANDS = Commands()
command = COMMANDS.command


def seed(text: str) -> int:
    """The ``--seed`` option: a whole number from 0 to 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 0 to {2**32 - 1}, got {text!r}"
        )
    return value


#: The options that describe a ``--layers`` network, with their defaults.
LAYER_OPTIONS = {
    "hidden": "relu",
    "output": "sigmoid",
    "activations": None,
    "loss": "bce",
    "l2": 0.0,
}


def _one_of(names) -> str:
    """``a, b or c``."""
    names = list(names)
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def optimizer_help() -> str:
    """The ``--optimizer`` help, naming every optimizer of the registry."""
    from symgrad.train.optimizers import OPTIMIZERS

    return f"{_one_of(OPTIMIZERS)} (default gd)"


def network_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options that describe a network (``--layers`` ... or ``--file``) to ``p``;
    :func:`network_from` reads them. Shared by every command that takes a network."""
    from symgrad.model.losses import LOSSES

    p.add_argument("--layers", help="sizes, inputs first: 2,3,1")
    p.add_argument("--hidden", help="hidden activation (default relu)")
    p.add_argument("--output", help="output activation (default sigmoid)")
    p.add_argument(
        "--activations",
        metavar="relu,tanh,sigmoid",
        help="one activation per layer, instead of --hidden and --output",
    )
    p.add_argument("--loss", help=f"{_one_of(LOSSES)} (default bce)")
    p.add_argument("--l2", type=float, help="L2 penalty λ ≥ 0 (default 0)")
    p.add_argument(
        "--file",
        help="a Python file that defines `network` or `program` (a tensor program), instead "
        "of --layers; runs the file as Python: only use files you trust",
    )


def _run_model_file(path: str) -> dict:
    """The globals of the user's model file; its faults as one line with file and line."""
    file = input_file(path)
    try:
        return runpy.run_path(os.fspath(file), run_name="__symgrad_model__")
    except SyntaxError as error:
        where = path if error.filename in (None, os.fspath(file)) else error.filename
        line = f", line {error.lineno}" if error.lineno else ""
        raise SymgradError(f"{where}{line}: {error.msg}") from None
    except (Exception, SystemExit) as error:
        lines = [
            frame.tb_lineno
            for frame in _frames(error.__traceback__)
            if frame.tb_frame.f_code.co_filename == os.fspath(file)
        ]
        where = f"{path}, line {lines[-1]}" if lines else path
        what = str(error) if isinstance(error, SymgradError) else _exception_text(error)
        raise SymgradError(f"{where}: {what}") from None


def _frames(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _exception_text(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def network_from(args: argparse.Namespace):
    """The network the arguments describe (``--file`` runs the user's file, trusted code)."""
    from symgrad.nn import Network, Program, mlp

    given = {name: getattr(args, name) for name in LAYER_OPTIONS if getattr(args, name) is not None}
    if args.file is not None:
        extra = ["--layers"] * (args.layers is not None) + [f"--{name}" for name in given]
        if extra:
            raise SymgradError(
                f"--file defines the whole network: leave out {', '.join(extra)} (or --file)"
            )
        defined = _run_model_file(args.file)
        network = defined.get("network", defined.get("program"))
        if not isinstance(network, Program):
            raise SymgradError(
                f"{args.file} must define `network` (a symgrad.nn.Network) "
                "or `program` (a symgrad.nn.Program)"
            )
        return network
    if not args.layers:
        raise SymgradError("describe the network with --layers 2,3,1 (or --file model.py)")
    try:
        sizes = [int(s) for s in args.layers.split(",")]
    except ValueError:
        raise SymgradError(f"--layers takes sizes like 2,3,1, got {args.layers!r}") from None
    options = {**LAYER_OPTIONS, **given}
    layers = mlp(sizes, hidden=options["hidden"], output=options["output"])
    if options["activations"] is not None:
        names = [name.strip() for name in options["activations"].split(",")]
        if len(names) != len(layers):
            raise SymgradError(
                f"--activations names {len(names)} activation(s) for the {len(layers)} "
                f"layer(s) of --layers {args.layers}: give one per layer"
            )
        layers = [
            replace(layer, activation=name) for layer, name in zip(layers, names, strict=True)
        ]
    return Network(layers, loss=options["loss"], l2=options["l2"])


def _notes_arguments(p: argparse.ArgumentParser) -> None:
    network_arguments(p)
    p.add_argument("-o", "--out", help="Markdown file (default generated/notes_<model>.md)")
    p.add_argument("--optimizer", default="gd", help=optimizer_help())


@command("notes", "write the lecture notes (backprop equations) of a network", _notes_arguments)
def _notes(args: argparse.Namespace) -> int:
    from symgrad.nn import derive
    from symgrad.show.notes import write_notes
    from symgrad.train.compiled import module_name
    from symgrad.train.optimizers import get

    network = network_from(args)
    optimizer = get(args.optimizer)
    if args.out is None:
        args.out = DEFAULT_FOLDER / f"notes_{module_name(network, None)}.md"
    output_file(args.out, create=False)
    print(f"wrote {write_notes(derive(network), args.out, optimizer)}")
    return 0


def module_arguments(p: argparse.ArgumentParser) -> None:
    """The network, its optimizer and the folder of its module: what compile and train take."""
    network_arguments(p)
    p.add_argument("--optimizer", default="gd", help=optimizer_help())
    p.add_argument(
        "--folder",
        default=DEFAULT_FOLDER,
        help=f"where the module goes (default {DEFAULT_FOLDER})",
    )


@command(
    "compile", "write and compile the generated training module of a network", module_arguments
)
def _compile(args: argparse.Namespace) -> int:
    from symgrad.train.compiled import CompiledNetwork
    from symgrad.train.fit import fit

    network = network_from(args)
    output_folder(args.folder, create=False)
    compiled = CompiledNetwork(network, args.optimizer, folder=args.folder)
    print(f"wrote {compiled.path}")
    sys.stdout.flush()
    # an epoch of each training loop on three zero examples (the whole set, minibatches of
    # 2, one example a step) and a prediction compile what `train` runs into the cache,
    # with the argument types `train` passes
    X = np.zeros((3, network.X.shape[0]))
    y = network.labels.sample(np.random.default_rng(0), 3, int(network.Y.shape[0]))
    for batch_size in (None, 2, 1):
        result = fit(
            network, X, y, epochs=1, batch_size=batch_size, compiled=compiled, numpy_tier=False
        )
    compiled.predict_proba(result.params, X, numpy=False)
    print(f"compiled it into {compiled.module.__file__}")
    return 0


def load_data(path: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Features (rows = examples) and labels from a CSV (header row) or NPZ file.

    Raises:
        SymgradError: the file is missing or unreadable, not CSV or NPZ, empty, ragged, has
            no such label, or holds values that are not numbers (each naming the file).
    """
    X, y, _ = load_table(path, label)
    return X, y


def load_table(
    path: str, label: str, *, text_labels: bool = False, label_optional: bool = False
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Features, labels and feature names (a CSV's columns; None for NPZ), as :func:`load_data`.

    Args:
        text_labels: a label column (or array) of names, none of them a number, is returned
            as text (``"setosa"``, ...) instead of refused.
        label_optional: a file without the label gives labels None instead of an error.

    Raises:
        SymgradError: as for :func:`load_data`.
    """
    file = input_file(path)
    suffix = file.suffix.lower()
    if suffix not in (".npz", ".csv"):
        raise SymgradError(f"cannot read {path}: use a .csv or .npz file")
    load = _load_npz if suffix == ".npz" else _load_csv
    X, y, names = load(file, path, label, text_labels, label_optional)
    if X.ndim != 2:
        raise SymgradError(
            f"{path}: the features must be a table (rows = examples), got {X.ndim} dimension(s)"
        )
    return X, y, names


def _load_npz(file: Path, path: str, label: str, text_labels=False, label_optional=False):
    if not zipfile.is_zipfile(file):
        raise SymgradError(f"{path} is not an NPZ file (a zip of NumPy arrays, as np.savez writes)")
    try:
        with np.load(file, allow_pickle=False) as data:
            names = data.files
            if label not in names and not label_optional:
                raise SymgradError(f"{path} has no array {label!r} (has: {', '.join(names)})")
            features = [k for k in names if k != label]
            if len(features) != 1:
                raise SymgradError(f"{path} must hold one feature array beside {label!r}")
            X = _npz_array(data, path, features[0])
            y = _npz_array(data, path, label, text_labels) if label in names else None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise SymgradError(f"cannot read {path}: {error}") from None
    return X.astype(float), y, None


_KINDS = {"U": "text", "S": "bytes", "c": "complex numbers", "M": "dates", "m": "times"}


def _npz_array(data, path: str, name: str, text: bool = False) -> np.ndarray:
    """Array ``name`` of an NPZ file, refused unless it holds numbers (or, with ``text``,
    names)."""
    try:
        array = np.asarray(data[name])
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise SymgradError(
                f"{path}: array {name!r} holds Python objects, which symgrad does not load "
                "(loading them can run code); save numbers"
            ) from None
        raise SymgradError(f"{path}: cannot read array {name!r} ({error})") from None
    except MemoryError:
        raise SymgradError(f"{path}: array {name!r} is too large to load") from None
    if array.dtype.kind not in "biuf" and not (text and array.dtype.kind == "U"):
        kind = _KINDS.get(array.dtype.kind, str(array.dtype))
        raise SymgradError(f"{path}: array {name!r} holds {kind}, not real numbers")
    return array


def _load_csv(file: Path, path: str, label: str, text_labels=False, label_optional=False):
    try:
        with open(file, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except (UnicodeDecodeError, csv.Error) as error:
        raise SymgradError(f"{path} is not a CSV text file ({error})") from None
    if not rows:
        raise SymgradError(f"{path} is empty: expected a header row and one row per example")
    header = [name.strip() for name in rows[0][1]]
    body = rows[1:]
    if label not in header and not label_optional:
        raise SymgradError(f"{path} has no column {label!r} (columns: {', '.join(header)})")
    if header.count(label) > 1:
        raise SymgradError(f"{path} has the column {label!r} twice")
    if not body:
        raise SymgradError(f"{path} has a header row but no examples")
    for line, row in body:
        if len(row) != len(header):
            raise SymgradError(
                f"{path}, line {line}: {len(row)} values for the header's {len(header)} columns"
            )
    k = header.index(label) if label in header else None
    names = _text_labels(body, k) if text_labels and k is not None else None
    try:
        table = np.array(
            [[c for i, c in enumerate(row) if names is None or i != k] for _, row in body],
            dtype=float,
        )
    except ValueError:
        raise SymgradError(_first_non_number(path, header, body, label, names)) from None
    if names is not None:
        return table, names, [c for i, c in enumerate(header) if i != k]
    if k is None:
        return table, None, header
    return np.delete(table, k, axis=1), table[:, k], header[:k] + header[k + 1 :]


def _text_labels(body: list, k: int) -> np.ndarray | None:
    """Column ``k`` as names when none of its cells is a number, else None."""
    cells = [row[k].strip() for _, row in body]
    return None if any(_is_number(c) for c in cells) else np.array(cells)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _first_non_number(path: str, header: list[str], body: list, label: str, names=None) -> str:
    """The message naming the first CSV cell that is not a number (not looking at the label
    column when its ``names`` were read as text)."""
    for line, row in body:
        for name, cell in zip(header, row, strict=True):
            if not _is_number(cell) and not (names is not None and name == label):
                column = f"the label column {name!r}" if name == label else f"column {name!r}"
                return f"{path}, line {line}, {column}: {cell.strip()!r} is not a number"
    return f"{path}: a value that is not a number"


def check_data(network, X, y, path: str) -> None:
    """Shape and label errors of the data, naming its file, before anything is compiled."""
    from symgrad.nn import to_columns

    try:
        to_columns(network, X, y)
    except ShapeError as error:
        raise ShapeError(f"{path}: {error}") from None
