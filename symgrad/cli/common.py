"""Command line, shared parts: the command table type and the argument types of every group.

Each command group (:mod:`symgrad.cli.formula`, :mod:`~symgrad.cli.check`,
:mod:`~symgrad.cli.network`, :mod:`~symgrad.cli.lecture`) keeps its own :class:`Commands`
table, filled by the :meth:`Commands.command` decorator as its functions are defined;
:mod:`symgrad.cli.main` reads the tables. Imports only :mod:`symgrad.errors` and, inside
functions, the reader and the formula stages it parses and prints with.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import sympy

from symgrad.errors import SymgradError, shorten


@dataclass(frozen=True)
class Command:
    """A subcommand: its help line, what it adds to its parser, and what it runs."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class Commands(dict):
    """A group's subcommands by name, in the order ``symgrad --help`` lists them."""

    def command(self, name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None]):
        """Enter the decorated ``run(args) -> int`` as subcommand ``name``.

        Args:
            name: the subcommand, as typed after ``symgrad``.
            help: its one-line description in ``symgrad --help``.
            arguments: adds the subcommand's arguments to its parser.

        Returns:
            A decorator that enters ``run`` and returns it unchanged.
        """

        def enter(run: Callable[[argparse.Namespace], int]):
            self[name] = Command(help, arguments, run)
            return run

        return enter


# ---- argument types -------------------------------------------------------------------


def _number(text: str):
    """A value after ``--at``, read as a formula by the whitelisting reader: ``"3"`` -> 3,
    ``"1/2"`` or ``"0.5"`` -> Fraction(1, 2) (exact), ``"pi/4"`` -> a SymPy number."""
    from symgrad.read.reader import read_number

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


# ---- parsing EXPR ---------------------------------------------------------------------


def parse_source(source: str) -> tuple[str, sympy.Expr]:
    """The name and whole expression of an expression, an assignment or steps.

    Args:
        source: ``"3*(a + b*c)"`` (named ``f``), ``"j = 3*(a + b*c)"`` or steps
            ``"u = b*c; j = 3*(a + u)"``, parsed by :func:`symgrad.read.parsing.parse_steps`.

    Returns:
        ``(name, expr)`` of the output, with the steps substituted into it.

    Raises:
        ParseError: as for :func:`symgrad.read.parsing.parse_steps`.
    """
    from symgrad.read.parsing import parse_steps

    known: dict = {}
    for step in parse_steps(source):
        known[step.name] = step.expr.xreplace(known)
    return str(step.name), known[step.name]
