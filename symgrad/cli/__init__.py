"""Command line, one module per command group; :mod:`symgrad.cli.main` puts them together.

Re-exports the entry point (``symgrad = "symgrad.cli:main"``), the command table and the
``--at`` argument type.
"""

from symgrad.cli.common import point
from symgrad.cli.main import COMMANDS, main

__all__ = ["COMMANDS", "main", "point"]
