"""Command line: the ``symgrad`` console script (and ``python -m symgrad``).

Takes an argument list, gives printed gradients, chain-rule traces and graph pictures
on stdout or in files, and an exit status: 0 on success, 2 on bad input with one line
``symgrad: error: ...`` on stderr (never a traceback). Each subcommand is a small function
registered in :data:`COMMANDS` with :func:`command`, so new ones are one entry each.

Sits at the end of the pipeline: may import every stage (imported lazily, per command).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import sympy

from symgrad.errors import SymgradError, TrainingInterrupted, UnknownSymbolError, shorten

FORMATS = ("text", "markdown", "latex")


@dataclass(frozen=True)
class Command:
    """A subcommand: its help line, what it adds to its parser, and what it runs."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


#: The subcommands by name, in the order ``symgrad --help`` lists them.
COMMANDS: dict[str, Command] = {}


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None]):
    """Register the decorated ``run(args) -> int`` as subcommand ``name``.

    Args:
        name: the subcommand, as typed after ``symgrad``.
        help: its one-line description in ``symgrad --help``.
        arguments: adds the subcommand's arguments to its parser.

    Returns:
        A decorator that registers ``run`` and returns it unchanged.
    """

    def register(run: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = Command(help, arguments, run)
        return run

    return register


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
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.arguments(p)
        p.set_defaults(run=cmd.run)
    return parser


# ---- argument types -------------------------------------------------------------------


def _number(text: str):
    """A value after ``--at``, read as a formula by the whitelisting reader: ``"3"`` -> 3,
    ``"1/2"`` or ``"0.5"`` -> Fraction(1, 2) (exact), ``"pi/4"`` -> a SymPy number."""
    from symgrad.reader import read_number

    value = read_number(text)
    if value.is_Integer:
        return int(value)
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    return value


def point(text: str) -> dict[str, int | Fraction]:
    """The values of the ``--at`` option: ``"a=1,b=1/2"`` -> ``{"a": 1, "b": Fraction(1, 2)}``.

    Args:
        text: ``name=value`` items separated by commas; a value is a constant formula:
            an integer, a decimal (``-0.5``, ``1e-3``), a fraction (``1/2``) or ``pi/4``.

    Returns:
        dict name -> int or Fraction (decimals exactly: ``0.1`` is 1/10) or, for an
        irrational constant, a SymPy number; in order.

    Raises:
        argparse.ArgumentTypeError: an item that is not ``name=value``, a value that is
            not a number (or divides by zero), a name given twice.
    """
    values: dict = {}
    for item in text.split(","):
        name, eq, value = (part.strip() for part in item.partition("="))
        if not eq or not name.isidentifier():
            raise argparse.ArgumentTypeError(f"expected name=value, e.g. a=1,b=1/2; got {item!r}")
        if name in values:
            raise argparse.ArgumentTypeError(f"{name} is given twice")
        try:
            values[name] = _number(value)
        except SymgradError as error:
            raise argparse.ArgumentTypeError(
                f"{name}={shorten(value, 40)}: expected a number like 3, -0.5 or 1/2 ({error})"
            ) from None
    return values


def _names(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]`` (the ``--wrt`` option)."""
    result = [n.strip() for n in text.split(",")]
    bad = [n for n in result if not n.isidentifier()]
    if bad:
        raise argparse.ArgumentTypeError(f"expected names like a,b; got {text!r}")
    return result


def _expression_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "expr",
        metavar="EXPR",
        help='an expression, "j = 3*(a + b*c)", or steps "u = b*c; v = a + u; j = 3*v"',
    )


def _format_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="text", help="default: text")


def _at_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--at", type=point, required=True, metavar="a=1,b=2", help="the point")


# ---- parsing EXPR ---------------------------------------------------------------------


def parse_source(source: str) -> tuple[str, sympy.Expr]:
    """The name and whole expression of an expression, an assignment or steps.

    Args:
        source: ``"3*(a + b*c)"`` (named ``f``), ``"j = 3*(a + b*c)"`` or steps
            ``"u = b*c; j = 3*(a + u)"``, parsed by :func:`symgrad.parsing.parse_steps`.

    Returns:
        ``(name, expr)`` of the output, with the steps substituted into it.

    Raises:
        ParseError: as for :func:`symgrad.parsing.parse_steps`.
    """
    from symgrad.parsing import parse_steps

    known: dict = {}
    for step in parse_steps(source):
        known[step.name] = step.expr.xreplace(known)
    return str(step.name), known[step.name]


def _render(obj, fmt: str, **options) -> str:
    from symgrad import printing

    return getattr(printing, fmt)(obj, **options)


# ---- commands -------------------------------------------------------------------------


def _grad_arguments(p: argparse.ArgumentParser) -> None:
    _expression_argument(p)
    p.add_argument("--wrt", type=_names, metavar="a,b", help="default: every variable")
    _format_argument(p)


@command("grad", "print the gradient in closed form", _grad_arguments)
def _grad(args: argparse.Namespace) -> int:
    """``symgrad grad EXPR [--wrt a,b] [--format F]``: the gradient equations."""
    name, expr = parse_source(args.expr)
    if args.wrt is None and not expr.free_symbols:
        raise UnknownSymbolError(f"nothing to differentiate: {args.expr.strip()} has no variables")
    print(_render(expr, args.format, wrt=args.wrt, name=name))
    return 0


def _explain_arguments(p: argparse.ArgumentParser) -> None:
    _expression_argument(p)
    _at_argument(p)
    _format_argument(p)


@command("explain", "print the chain rule step by step at a point", _explain_arguments)
def _explain(args: argparse.Namespace) -> int:
    """``symgrad explain EXPR --at a=1,b=2 [--format F]``: the chain-rule trace."""
    from symgrad.trace import explain

    print(_render(explain(args.expr, args.at), args.format))
    return 0


def _graph_arguments(p: argparse.ArgumentParser) -> None:
    _expression_argument(p)
    _at_argument(p)
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="a .dot, .svg or .png file"
    )


@command("graph", "draw the computation graph with values and gradients", _graph_arguments)
def _graph(args: argparse.Namespace) -> int:
    """``symgrad graph EXPR --at a=1,b=2 -o FILE``: the graph picture."""
    from symgrad.draw import render
    from symgrad.paths import output_file
    from symgrad.trace import explain

    trace = explain(args.expr, args.at)
    try:
        render(trace, output_file(args.output, create=False))
    except OSError as error:
        raise SymgradError(f"cannot write {args.output}: {error.strerror or error}") from None
    print(f"wrote {args.output}")
    return 0


from symgrad import cli_check  # noqa: E402,F401,I001  (registers check)
from symgrad import cli_network  # noqa: E402,F401  (registers notes, compile and train)
from symgrad import cli_lecture  # noqa: E402,F401  (registers lecture and study)
