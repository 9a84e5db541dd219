"""``python -m symgrad``: the command line, as the ``symgrad`` console script (see cli.py)."""

from symgrad.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
