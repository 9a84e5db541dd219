"""``python -m symgrad``: the command line, as the ``symgrad`` console script (cli package)."""

from symgrad.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
