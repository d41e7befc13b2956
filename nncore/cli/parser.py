"""The argument parser of ``python -m nncore``: every subcommand and flag, with its help
text and default.

Example
-------
>>> from nncore.cli.parser import build_parser
>>> build_parser().parse_args(["train", "--task", "regression"]).standardize
True
"""
from __future__ import annotations

import argparse
import textwrap

from nncore.cli import commands
from nncore.cli.harness import bench

DESCRIPTION = "nncore's command line: train, evaluate and use dense neural networks."
EPILOG = """\
examples:
  python -m nncore demo
  python -m nncore train --data wine.csv --label class --epochs 50 --output wine.nnc
  python -m nncore evaluate wine.nnc --data wine.csv
  python -m nncore predict wine.nnc --input wine.csv --label class | head
  python -m nncore <command> --help    (every flag of a command, with its default)"""


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each flag's default after its help; descriptions and examples as written."""


def _add(sub, name: str, help: str, description: str, run) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=textwrap.fill(description, 79),
                            formatter_class=_Formatter)
    parser.set_defaults(run=run)
    return parser


def _table_flags(parser, *, target: bool) -> None:
    parser.add_argument("--delimiter", default=None,
                        help="the CSV's column separator: one character, or tab, space, "
                             "comma, semicolon; None sniffs it from the file (csv.Sniffer)")
    parser.add_argument("--label", default=None,
                        help="name (in the header row) of the label column"
                             + ("" if target else ", dropped from the input: a training "
                                                  "file can be given as it is"))
    if target:
        parser.add_argument("--target-column", type=int, default=None,
                            help="index of the label column when the file has no header "
                                 "(-1 is the last); None means the last")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (``main`` runs the one chosen)."""
    parser = argparse.ArgumentParser(prog="nncore", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=_Formatter)
    sub = parser.add_subparsers(dest="command", required=True, title="commands",
                                metavar="COMMAND")

    demo = _add(sub, "demo", "train the course's 4-8-8-3 network on Iris and test it",
                commands.demo.__doc__, commands.demo)
    demo.add_argument("--epochs", type=int, default=40, help="passes over the training set")
    demo.add_argument("--seed", type=int, default=0, help="seed of the split and the weights")

    train = _add(sub, "train", "train an MLP classifier or regressor on a CSV and save it",
                 "Train an MLP on MNIST, Iris or a CSV/.npy file (a classifier with a "
                 "softmax output, or a regressor with a linear one), report its held-out "
                 "scores and save it. Features are standardized with the training rows' "
                 "statistics, which the model file keeps for predict and evaluate. Flags may "
                 "also come from a JSON --config with the same keys.", commands.train)
    train.add_argument("--data", default="iris",
                       help="'mnist', 'iris', or a CSV (.csv, .csv.gz) or .npy file with a "
                            "label column")
    _table_flags(train, target=True)
    train.add_argument("--task", default="auto",
                       choices=["auto", "classification", "regression"],
                       help="auto: classification for whole-number labels 0..k-1 (k <= 100 "
                            "and at most half the rows), regression otherwise; the choice "
                            "is printed")
    train.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                       help="scale each feature to mean 0, std 1 with the training split's "
                            "statistics (and a regression target likewise); MNIST is "
                            "divided by 255 instead")
    train.add_argument("--validation-split", type=float, default=0.2,
                       help="fraction of the rows held out (shuffled, stratified by class) "
                            "to report accuracy or MSE/MAE/R2 on; 0 holds out none")
    train.add_argument("--data-path", default=None,
                       help="folder of the MNIST IDX files; None means $NNCORE_DATA, else "
                            "~/.cache/nncore")
    train.add_argument("--download", action="store_true",
                       help="fetch the MNIST files into the --data-path folder when they "
                            "are missing (their SHA-256 is checked)")
    train.add_argument("--mnist-test", action="store_true",
                       help="train on MNIST's t10k files (when the training files are absent)")
    train.add_argument("--layers", default="64", help="hidden units, comma-separated")
    train.add_argument("--activation", default="relu", help="activation of the hidden layers")
    train.add_argument("--dropout", type=float, default=0.0,
                       help="dropout rate after each hidden layer (0 means none)")
    train.add_argument("--optimizer", default="adam", help="sgd, adam, rmsprop, ...")
    train.add_argument("--learning-rate", type=float, default=0.001, help="the step size")
    train.add_argument("--epochs", type=int, default=10, help="passes over the training rows")
    train.add_argument("--batch-size", type=int, default=32, help="rows per gradient step")
    train.add_argument("--seed", type=int, default=None,
                       help="seed of the split, the weights and the shuffling (the same seed "
                            "writes the same file); None means fresh randomness")
    train.add_argument("--backend", default=None, choices=["native", "numpy"],
                       help="None means nncore's default (native when built)")
    train.add_argument("--config", default=None,
                       help="JSON file of the same settings (keys as the flags, with _)")
    train.add_argument("--output", default="model.nnc",
                       help="the model file to write (checked writable before training)")

    predict = _add(sub, "predict", "predict with a saved model",
                   "Print (or write) the predicted class of each row of a CSV/.npy file, the "
                   "class probabilities with --proba, or the predicted value of a regression "
                   "model. The model file's preprocessing is applied first.", commands.predict)
    predict.add_argument("model", help="a model file written by train")
    predict.add_argument("--input", required=True,
                         help="CSV (.csv, .csv.gz) or .npy file of feature rows (required)")
    _table_flags(predict, target=False)
    predict.add_argument("--output", default="-",
                         help="file to write, '-' for the standard output")
    predict.add_argument("--proba", action="store_true",
                         help="print the class probabilities instead of the class")
    predict.add_argument("--scale", type=float, default=None,
                         help="divide inputs by this first, for model files that do not "
                              "store their preprocessing (255 for MNIST pixels)")
    predict.add_argument("--batch-size", type=int, default=256, help="rows per forward pass")

    evaluate = _add(sub, "evaluate", "score a saved model on a labelled CSV",
                    "Print the loss and accuracy of a classifier, or the MSE, MAE and R2 of a "
                    "regression model, on a labelled CSV/.npy file (or 'iris'). The label "
                    "column is the one named at training when the file's header has it.",
                    commands.evaluate)
    evaluate.add_argument("model", help="a model file written by train")
    evaluate.add_argument("--data", required=True,
                          help="'iris', or a CSV (.csv, .csv.gz) or .npy file with a label "
                               "column (required)")
    _table_flags(evaluate, target=True)
    evaluate.add_argument("--batch-size", type=int, default=256, help="rows per forward pass")

    bench_parser = _add(sub, "bench", "from a checkout: run benchmarks/bench.py (nncore "
                        "against the GEMM-only bound and PyTorch)",
                        "Run the checkout's benchmarks/bench.py: training epochs, tiny-net "
                        "steps, predict latency and memory, side by side in one process. Its "
                        "own --help lists every option.", bench)
    bench_parser.add_argument("--quick", action="store_true",
                              help="one batch size, fewer rows and repetitions (a smoke run)")
    bench_parser.add_argument("--output-dir", default=None,
                              help="where latest.json and latest.md go; None means "
                                   "benchmarks/results")
    return parser
