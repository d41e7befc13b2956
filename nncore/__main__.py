"""``python -m nncore``: the command line of :mod:`nncore.cli`."""
import sys

from nncore.cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
