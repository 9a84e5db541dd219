"""Command line, check stage: ``symgrad check``, symbolic gradients against numbers.

``symgrad check EXPR --at a=1,b=2`` checks a scalar expression at a point;
``symgrad check --layers 2,3,1 [--data FILE --label y]`` checks a network (described as for
``symgrad train``) on a data file or a small seeded synthetic data set. With ``--claim
"w = ...; b = ..."`` the user's own partials of EXPR are checked against symgrad's, with
``--backward FILE`` the ``backward`` function of the user's Python file against the network's
gradient (the file is run as Python, so it must be trusted). Prints the table of
:func:`symgrad.check.check` and exits 0 when the check passes, 1 when a row is wrong, 2 on bad
input. Its command is in its table :data:`COMMANDS`; it describes a network with the options
of :mod:`symgrad.cli.network`.
"""

from __future__ import annotations

import argparse

from symgrad.cli.common import Commands, parse_source, point
from symgrad.cli.network import (
    _run_model_file,
    check_data,
    load_data,
    network_arguments,
    network_from,
    seed,
)
from symgrad.errors import SymgradError
from symgrad.paths import DEFAULT_FOLDER

#: This group's subcommand.
COMMANDS = Commands()
command = COMMANDS.command


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "expr",
        metavar="EXPR",
        nargs="?",
        help='an expression or "j = 3*(a + b*c)"; leave it out to check a network',
    )
    p.add_argument("--at", type=point, metavar="a=1,b=2", help="the point (with EXPR)")
    p.add_argument(
        "--claim",
        metavar='"a=3; b=3*c"',
        help="your partial derivatives of EXPR, checked against symgrad's (never run as code)",
    )
    p.add_argument(
        "--backward",
        metavar="FILE",
        help="a Python file defining backward(params, X, Y) -> dict, checked against the "
        "network's gradient; runs the file as Python: only use files you trust",
    )
    network_arguments(p)
    p.add_argument("--data", metavar="FILE", help="a .csv or .npz file (default: synthetic)")
    p.add_argument("--label", default="y", help="the label column or array (default y)")
    p.add_argument("--step", type=_positive, default=1e-5, help="the step h (default 1e-5)")
    p.add_argument("--per-entry", action="store_true", help="a row per parameter entry")
    p.add_argument(
        "--direction", action="store_true", help="random directions instead of every entry"
    )
    p.add_argument("--seed", type=seed, default=0, help="parameters, data, directions")
    p.add_argument(
        "--no-exact", dest="exact", action="store_false", help="skip SymPy's exact values"
    )
    p.add_argument("--format", choices=("text", "markdown"), default="text")
    p.add_argument(
        "--folder", default=str(DEFAULT_FOLDER), help="where modules go (default generated)"
    )


@command("check", "check symbolic gradients against finite differences", _check_arguments)
def _check(args: argparse.Namespace) -> int:
    """``symgrad check EXPR --at ...`` or ``symgrad check --layers ...``: the check's table."""
    from symgrad.check import check
    from symgrad.paths import output_folder

    network_options = args.layers or args.file or args.data or args.per_entry or args.direction
    if args.expr is not None:
        if network_options:
            raise SymgradError("give EXPR with --at, or a network (--layers/--file), not both")
        if args.at is None:
            raise SymgradError("EXPR needs the point: --at a=1,b=2")
        if args.backward is not None:
            raise SymgradError("--backward checks a network's backward pass; EXPR takes --claim")
        name, expr = parse_source(args.expr)
        if args.claim is not None:
            report = check(expr, at=args.at, claim=args.claim, name=name, seed=args.seed)
            print(report.markdown() if args.format == "markdown" else report.text())
            return 0 if report.passed else 1
        output_folder(args.folder, create=False)
        report = check(
            expr, at=args.at, step=args.step, exact=args.exact, name=name, folder=args.folder
        )
    else:
        if args.at is not None:
            raise SymgradError("--at goes with EXPR; a network is checked on --data")
        if args.claim is not None:
            raise SymgradError("--claim goes with EXPR; a network's backward pass is --backward")
        network = network_from(args)
        if not hasattr(network, "layers"):  # a program from --file: its leaves are drawn
            if args.data is not None or args.direction:
                raise SymgradError("a program from --file is checked at random values: no --data")
            if args.backward is not None:
                raise SymgradError("--backward checks a network's (--layers or `network`)")
            report = check(network, step=args.step, per_entry=args.per_entry, seed=args.seed)
            print(report.markdown() if args.format == "markdown" else report.text())
            return 0 if report.passed else 1
        data = None
        if args.data is not None:
            data = load_data(args.data, args.label)
            check_data(network, *data, args.data)
        output_folder(args.folder, create=False)
        if args.backward is not None:
            if args.per_entry or args.direction:
                raise SymgradError(
                    "--backward is checked entry by entry: no --per-entry/--direction"
                )
            backward = _run_model_file(args.backward).get("backward")
            if not callable(backward):
                raise SymgradError(f"{args.backward} must define backward(params, X, Y)")
            report = check(
                network, data=data, seed=args.seed, folder=args.folder, backward=backward
            )
            print(report.markdown() if args.format == "markdown" else report.text())
            return 0 if report.passed else 1
        report = check(
            network,
            data=data,
            step=args.step,
            per_entry=args.per_entry,
            direction=args.direction,
            seed=args.seed,
            folder=args.folder,
        )
    print(report.markdown() if args.format == "markdown" else report.text())
    return 0 if report.passed else 1
