"""Command line, end of the pipeline: ``symgrad lecture`` and ``symgrad study``.

``lecture`` rebuilds the lecture into a folder (:func:`symgrad.apps.lecture.build_lecture`);
``study`` trains one network with several learning rates and draws the loss curves
(:func:`symgrad.apps.study.learning_rate_study`) on two moons, the breast-cancer data or a CSV/NPZ
file. Its commands are in its table :data:`COMMANDS`; it imports the stages lazily.
"""

from __future__ import annotations

import argparse
import math

from symgrad.cli import network as cli_network
from symgrad.cli.common import Commands
from symgrad.errors import SymgradError
from symgrad.paths import DEFAULT_FOLDER

#: This group's subcommands.
COMMANDS = Commands()
command = COMMANDS.command


def _lecture_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o",
        "--output",
        default=str(DEFAULT_FOLDER / "lecture"),
        metavar="FOLDER",
        help="the folder to write (default generated/lecture)",
    )
    p.add_argument("--quick", action="store_true", help="fewer epochs: a first look in seconds")


@command(
    "lecture",
    "rebuild the lecture (traces, equations, training, checks, figures)",
    _lecture_arguments,
)
def _lecture(args: argparse.Namespace) -> int:
    from symgrad.apps.lecture import build_lecture

    build_lecture(args.output, quick=args.quick)
    return 0


def _rates(text: str) -> list[float]:
    """``"0.01,0.1,1"`` -> ``[0.01, 0.1, 1.0]``, every rate finite and > 0."""
    try:
        rates = [float(r) for r in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected rates like 0.01,0.1,1; got {text!r}") from None
    if not rates or any(not 0 < r < math.inf for r in rates):
        raise argparse.ArgumentTypeError(f"learning rates must be > 0 and finite, got {text!r}")
    return rates


def _study_arguments(p: argparse.ArgumentParser) -> None:
    cli_network.network_arguments(p)
    p.add_argument(
        "--data",
        default="moons",
        help="moons, breast-cancer, or a .csv/.npz file (default moons)",
    )
    p.add_argument("--label", default="y", help="the label column (CSV) or array (NPZ)")
    p.add_argument(
        "--rates",
        type=_rates,
        default=[0.01, 1.0, 10.0, 50.0],
        metavar="0.01,1,10,50",
        help="learning rates (default 0.01,1,10,50)",
    )
    p.add_argument("--epochs", type=int, default=500, help="epochs per rate (default 500)")
    p.add_argument("--optimizer", default="gd", help=cli_network.optimizer_help())
    p.add_argument("--batch-size", type=int, default=None, help="default: the whole set")
    p.add_argument("--seed", type=cli_network.seed, default=0, help="0 to 4294967295")
    p.add_argument(
        "-o",
        "--out",
        default=str(DEFAULT_FOLDER / "study"),
        metavar="FOLDER",
        help="where the figures go (default generated/study)",
    )
    p.add_argument("--code", metavar="FOLDER", help="where generated code goes (default OUT/code)")


def _study_data(args: argparse.Namespace):
    from symgrad.apps.datasets import breast_cancer, two_moons

    if args.data == "moons":
        data = two_moons(seed=args.seed)
    elif args.data in ("breast-cancer", "breast_cancer"):
        data = breast_cancer()
    else:
        return cli_network.load_data(args.data, args.label)
    if data.fallback:
        print(f"note: {data.fallback}")
    return data.X, data.y


@command("study", "train with several learning rates and plot the loss curves", _study_arguments)
def _study(args: argparse.Namespace) -> int:
    from symgrad.apps.study import learning_rate_study
    from symgrad.train.fit import check_settings

    X, y = _study_data(args)
    if args.layers is None and args.file is None:
        args.layers = f"{X.shape[1]},16,1"
    network = cli_network.network_from(args)
    if args.epochs < 1:
        raise SymgradError(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size is not None and args.batch_size < 1:
        raise SymgradError(f"--batch-size must be at least 1, got {args.batch_size}")
    for rate in args.rates:  # fit's own ranges (epochs up to 10**9), before anything compiles
        check_settings(lr=rate, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    cli_network.check_data(network, X, y, args.data)
    study = learning_rate_study(
        network,
        X,
        y,
        args.rates,
        epochs=args.epochs,
        optimizer=args.optimizer,
        batch_size=args.batch_size,
        seed=args.seed,
        folder=args.out,
        code_folder=args.code,
    )
    print(f"{study.description}, {args.epochs} epochs per rate, m = {len(X)}")
    for run in study.runs:
        loss = run.diverged_loss if run.diverged else run.final_loss
        print(f"α = {run.rate:<8g} loss {loss:<10.4g} {study.verdict(run)}")
    print("wrote " + ", ".join(str(f) for f in study.files))
    return 0
