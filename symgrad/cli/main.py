"""Command line: the ``symgrad`` console script (and ``python -m symgrad``).

Takes an argument list, gives printed gradients, chain-rule traces and graph pictures
on stdout or in files, and an exit status: 0 on success, 2 on bad input with one line
``symgrad: error: ...`` on stderr (never a traceback). The subcommands are the tables of
the command groups, read here in the order ``symgrad --help`` lists them; a new command is
one entry in its group.

Sits at the end of the pipeline: imports the command groups, which import the heavy stages
(codegen, training, printing) per command; the network group reads the loss and optimizer
registries while the parser is built, for its choices.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from symgrad._version import __version__
from symgrad.cli import check, formula, lecture, network, training
from symgrad.cli.common import Command
from symgrad.errors import SymgradError, TrainingInterrupted

#: The subcommands by name, in the order ``symgrad --help`` lists them.
COMMANDS: dict[str, Command] = {
    **formula.COMMANDS,
    **check.COMMANDS,
    **network.COMMANDS,
    **training.COMMANDS,
    **lecture.COMMANDS,
}


class _StoreOnce(argparse.Action):
    """argparse's ``store``, refusing an option given twice (which value was meant?)."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = vars(namespace).setdefault("_given", set())
        if option_string is not None and self.dest in given:
            raise argparse.ArgumentError(self, "given twice; give it once")
        given.add(self.dest)
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors in one line: ``symgrad: error: ...``, exit status 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)

    def error(self, message: str):
        if message.endswith("required: EXPR"):  # argparse took "-x**2" for an option
            message += " (an EXPR that starts with '-' goes after '--')"
        self.exit(2, f"symgrad: error: {message} (see '{self.prog} --help')\n")


def main(argv: list[str] | None = None) -> int:
    """Run the ``symgrad`` command line.

    Args:
        argv: the arguments after the program name; default ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success, 2 on bad input (after one line on stderr), 130
        after Ctrl-C.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, or a usage error already reported
        return done.code if isinstance(done.code, int) else 2
    try:
        return args.run(args)
    except (TrainingInterrupted, KeyboardInterrupt) as stop:  # Ctrl-C: 128 + SIGINT
        print(f"symgrad: {str(stop) or 'interrupted'}", file=sys.stderr)
        if argv is None:  # the program ends now, not after a compile or a last collection
            with contextlib.suppress(OSError):
                sys.stdout.flush()
            os._exit(130)
        return 130
    except SymgradError as error:
        lines = (line.strip() for line in str(error).splitlines())
        print(f"symgrad: error: {'; '.join(filter(None, lines))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `symgrad explain ... | head`: the reader left; not an error
        sys.stderr.close()
        return 0
    except OSError as error:  # a file that vanished or is unwritable, a full disk
        where = f"{error.filename}: " if error.filename else ""
        print(f"symgrad: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one subparser per entry of :data:`COMMANDS`.

    Returns:
        A parser whose ``parse_args`` sets ``run`` to the chosen command's function.
    """
    parser = _Parser(
        prog="symgrad",
        description="Derive gradients by the chain rule and print them for lecture notes.",
    )
    parser.add_argument("--version", action="version", version=f"symgrad {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.arguments(p)
        p.set_defaults(run=cmd.run)
    return parser
