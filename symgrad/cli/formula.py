"""Command line, scalar front end: ``symgrad grad``, ``explain`` and ``graph``.

``grad`` prints a formula's gradient in closed form, ``explain`` the chain rule step by step
at a point (given a network instead, its backward pass in numbers: :mod:`symgrad.cli.trace`),
``graph`` the computation graph with values and gradients. Imports the formula stages
(printing, trace, draw) inside the commands, as the other groups do.
"""

from __future__ import annotations

import argparse

from symgrad.cli import trace
from symgrad.cli.common import Commands, parse_source, point
from symgrad.errors import SymgradError, UnknownSymbolError

FORMATS = ("text", "markdown", "latex")

#: This group's subcommands.
COMMANDS = Commands()
command = COMMANDS.command


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


def _render(obj, fmt: str, **options) -> str:
    from symgrad.show import printing

    return getattr(printing, fmt)(obj, **options)


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


def _wrt_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wrt",
        type=_names,
        metavar="w,b",
        help="the inputs to differentiate by; default: every input",
    )


def _explain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "expr", metavar="EXPR", nargs="?", help="as for grad; or leave it out for a network"
    )
    p.add_argument("--at", type=point, metavar="a=1,b=2", help="the point (with EXPR)")
    _wrt_argument(p)
    _format_argument(p)
    trace.arguments(p)


@command(
    "explain",
    "print the chain rule step by step at a point, or a network's backward pass in numbers",
    _explain_arguments,
)
def _explain(args: argparse.Namespace) -> int:
    """``symgrad explain EXPR --at a=1,b=2 [--wrt a,b] [--format F]``: the chain-rule trace;
    without EXPR, ``--layers 2,3,1 ...``: the network's (:mod:`symgrad.cli.trace`)."""
    from symgrad.show.trace import explain

    if args.expr is None:
        if args.wrt is not None:
            raise SymgradError("--wrt is for a formula's trace: give EXPR")
        return trace.run(args)
    options = trace.given(args)
    if options:
        verb = "describes" if len(options) == 1 else "describe"
        raise SymgradError(f"{', '.join(options)} {verb} a network: leave out EXPR")
    if args.at is None:
        raise SymgradError("the point is required: --at a=1,b=2 (the values of EXPR's inputs)")
    print(_render(explain(args.expr, args.at, wrt=args.wrt), args.format))
    return 0


def _graph_arguments(p: argparse.ArgumentParser) -> None:
    _expression_argument(p)
    _at_argument(p)
    _wrt_argument(p)
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="a .dot, .svg or .png file"
    )


@command("graph", "draw the computation graph with values and gradients", _graph_arguments)
def _graph(args: argparse.Namespace) -> int:
    """``symgrad graph EXPR --at a=1,b=2 [--wrt a,b] -o FILE``: the graph picture."""
    from symgrad.paths import output_file
    from symgrad.show.draw import render
    from symgrad.show.trace import explain

    trace = explain(args.expr, args.at, wrt=args.wrt)
    try:
        render(trace, output_file(args.output, create=False))
    except OSError as error:
        raise SymgradError(f"cannot write {args.output}: {error.strerror or error}") from None
    print(f"wrote {args.output}")
    return 0
