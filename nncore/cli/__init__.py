"""The command line: ``python -m nncore {demo,train,evaluate,predict,bench}`` (also the
``nncore`` script).

``parser`` declares every subcommand and flag, ``commands`` runs them, ``tables`` reads
CSV and .npy files, ``preprocess`` is what ``train`` does to the data and stores in the
model file for ``predict`` and ``evaluate``, and ``harness`` runs a checkout's benchmarks
(``bench``).

Example
-------
>>> from nncore.cli import main
>>> main(["train", "--data", "iris", "--epochs", "1",
...       "--output", "/nonexistent/folder/m.nnc"])  # doctest: +SKIP
nncore train: error: --output: the folder /nonexistent/folder does not exist. ...
2
"""
from __future__ import annotations

import os
import sys

from nncore.cli.parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; the exit code: 0 done, 2 refused (the reason on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a command killed by SIGPIPE
        # does, and point stdout at /dev/null so the interpreter's final flush is silent.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # stdout without a file descriptor
            pass
        return 141
    except (ValueError, TypeError, OSError) as exc:
        print(f"nncore {args.command}: error: {exc}", file=sys.stderr)
        return 2
