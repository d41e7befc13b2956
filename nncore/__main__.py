"""The command line: ``python -m nncore {demo,train,predict}`` (also the ``nncore`` script).

Example
-------
    python -m nncore demo
    python -m nncore train --data iris --layers 8,8 --epochs 60 --output iris.nnc
    python -m nncore predict iris.nnc --input rows.csv
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def _demo(args) -> int:
    """The course's network, Dense(8, input_dim=4) - Dense(8) - Dense(3, softmax), on Iris."""
    import nncore as nn

    x, y = nn.datasets.load_iris()
    x_train, x_test, y_train, y_test = nn.datasets.train_test_split(
        x, y, test_size=0.3, random_state=args.seed, stratify=y)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std  # train stats only
    model = nn.Sequential([
        nn.layers.Dense(8, input_dim=4, activation="relu"),
        nn.layers.Dense(8, activation="relu"),
        nn.layers.Dense(3, activation="softmax"),
    ], seed=args.seed)
    model.summary()
    model.compile(optimizer=nn.optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=8, verbose=1)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test)
    print(f"backend {model.ops.name}: trained {args.epochs} epochs in {seconds:.2f} s")
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f} "
          f"({len(x_test)} held-out flowers)")
    return 0 if accuracy >= 0.9 else 1


def _load_table(path: str, target: int | None):
    """x (and y from column ``target``) from a CSV (numbers, optional header) or .npy."""
    try:
        if path.endswith(".npy"):
            data = np.load(path, allow_pickle=False)
        else:
            with open(path, encoding="utf-8") as fh:
                first = fh.readline()
            skip = 0 if _is_numeric_row(first) else 1
            with warnings.catch_warnings():  # an empty file is reported just below
                warnings.simplefilter("ignore", UserWarning)
                data = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    # A damaged .npy ends early (EOFError); text that is no number, or bytes that are no
    # UTF-8, is a ValueError. Each gets the file's name.
    except (ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a table of numbers ({exc})") from None
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] < (1 if target is None else 2):
        raise ValueError(f"{path} must hold a table of rows and columns"
                         + ("" if target is None else ", features besides --target-column")
                         + f". Received an array of shape {data.shape}")
    if target is None:
        return data, None
    # Python's indexing rule (-1 is the last column), but never wrapping around: a column
    # past the end would otherwise silently pick another one as the labels.
    if not -data.shape[1] <= target < data.shape[1]:
        raise ValueError(f"--target-column must be in [{-data.shape[1]}, {data.shape[1]}) for "
                         f"{path} with {data.shape[1]} columns. Received: {target}")
    column = target % data.shape[1]
    return np.delete(data, column, axis=1), data[:, column]


def _class_count(y: np.ndarray, source: str) -> int:
    """The number of classes of the labels ``y``: whole numbers in [0, number of rows).

    When every class occurs at least once, the largest label is below the number of rows.
    A larger one means the wrong --target-column (an id, a measurement), which would
    otherwise become an output layer of that many units and exhaust memory."""
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0 or not np.isfinite(y).all() or np.any(y != np.round(y)) \
            or y.min() < 0 or y.max() >= len(y):
        raise ValueError(f"--target-column of {source} must hold whole-number class labels "
                         f"0, 1, ..., k-1, with k at most the number of rows ({len(y)}). "
                         f"Received labels in [{np.min(y) if y.size else np.nan:g}, "
                         f"{np.max(y) if y.size else np.nan:g}]")
    return int(y.max()) + 1


def _is_numeric_row(line: str) -> bool:
    try:
        [float(v) for v in line.strip().split(",")]
    except ValueError:
        return False
    return True


#: The types a --config value may have, by key (those of the flags; layers also a list).
_CONFIG_TYPES = {"data": (str,), "data_path": (str,), "mnist_test": (bool,),
                 "target_column": (int,), "layers": (str, list), "activation": (str,),
                 "dropout": (int, float), "optimizer": (str,), "learning_rate": (int, float),
                 "epochs": (int,), "batch_size": (int,), "validation_split": (int, float),
                 "seed": (int,), "backend": (str,), "output": (str,)}


def _train(args) -> int:
    import nncore as nn

    config = {}
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            config = json.load(fh)
        if not isinstance(config, dict):
            raise ValueError(f"--config must hold a JSON object. Received: {type(config).__name__}")
        unknown = sorted(set(config) - set(vars(args)) - {"command", "run", "config"})
        if unknown:
            raise ValueError(f"--config has unknown keys {unknown}; expected flag names "
                             "such as 'layers', 'epochs', 'learning_rate'.")
        # JSON can hold any type where a flag holds one: a number for --data would
        # otherwise fail deep inside (an AttributeError) instead of being named here.
        for key, value in config.items():
            types = _CONFIG_TYPES.get(key, ())
            if types and not (value is None and getattr(args, key) is None) and (
                    not isinstance(value, types) or
                    (isinstance(value, bool) and bool not in types)):
                names = " or ".join(t.__name__ for t in types)
                raise TypeError(f"--config key {key!r} must be a JSON {names}. "
                                f"Received: {key}={value!r}")
    get = lambda key: config.get(key, getattr(args, key))  # noqa: E731 - flag or config
    data = get("data")
    if data == "mnist":
        x, y = nn.datasets.load_mnist(args.data_path, kind="train" if not args.mnist_test
                                      else "test")
        x = x.reshape(len(x), -1).astype(np.float32) / 255.0
    elif data == "iris":
        x, y = nn.datasets.load_iris()
    else:
        x, y = _load_table(data, get("target_column"))
    classes = _class_count(y, data)
    hidden = get("layers")
    try:
        hidden = [int(u) for u in (hidden.split(",") if isinstance(hidden, str) else hidden)
                  if u]
    except (TypeError, ValueError):
        raise ValueError(f"--layers must be comma-separated numbers of units such as 64,32. "
                         f"Received: {hidden!r}") from None
    layer_list = [nn.layers.Dense(units, activation=get("activation"),
                                  input_dim=x.shape[1] if i == 0 else None)
                  for i, units in enumerate(hidden)]
    if get("dropout"):
        layer_list = [item for layer in layer_list
                      for item in (layer, nn.layers.Dropout(get("dropout")))]
    layer_list.append(nn.layers.Dense(classes, activation="softmax",
                                      input_dim=None if hidden else x.shape[1]))
    model = nn.Sequential(layer_list, seed=get("seed"), backend=get("backend"))
    optimizer = nn.optimizers.get(get("optimizer"))
    optimizer.learning_rate = get("learning_rate")
    model.compile(optimizer, "sparse_categorical_crossentropy", ["accuracy"])
    model.summary()
    model.fit(x, y, epochs=get("epochs"), batch_size=get("batch_size"),
              validation_split=get("validation_split"), verbose=1)
    model.save(get("output"))
    print(f"saved {get('output')}")
    return 0


def _predict(args) -> int:
    import nncore as nn

    model = nn.load_model(args.model, compile=False)
    x, _ = _load_table(args.input, None)
    if args.scale is not None:
        x = x / args.scale
    probabilities = model.predict(x, batch_size=args.batch_size)
    out = probabilities if args.proba else probabilities.argmax(axis=1)[:, None]
    target = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    try:
        np.savetxt(target, out, delimiter=",", fmt="%.6g" if args.proba else "%d")
    finally:
        if target is not sys.stdout:
            target.close()
    return 0


def _bench(args) -> int:
    """Run the benchmark harness of the checkout nncore was installed from.

    The harness is developer tooling (benchmarks/bench.py), not part of the installed
    package: an install made from a checkout finds it there, any other is told how to get
    it."""
    harness = bench_harness()
    if harness is None:
        print("nncore's benchmarks live in its source checkout, not in the installed "
              "package: from a checkout, run `python benchmarks/bench.py` (see "
              "benchmarks/README.md).", file=sys.stderr)
        return 2
    argv = ["--quick"] if args.quick else []
    if args.output_dir is not None:
        argv += ["--output-dir", args.output_dir]
    return subprocess.call([sys.executable, str(harness), *argv])


def bench_harness() -> Path | None:
    """benchmarks/bench.py of the checkout this nncore was imported from, if there is one."""
    harness = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"
    return harness if harness.is_file() else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nncore", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="train the course's 4-8-8-3 network on Iris",
                          description=_demo.__doc__)
    demo.add_argument("--epochs", type=int, default=40)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)

    train = sub.add_parser("train", help="train a classifier MLP and save it",
                           description="Train an MLP classifier (softmax output, sparse "
                           "cross-entropy) on MNIST, Iris or a CSV file, then save it. "
                           "Flags may also come from a JSON --config with the same keys.")
    train.add_argument("--data", default="iris",
                       help="'mnist', 'iris', or a CSV/.npy file whose --target-column holds "
                            "integer class labels")
    train.add_argument("--data-path", default=None, help="folder of the MNIST IDX files")
    train.add_argument("--mnist-test", action="store_true",
                       help="train on MNIST's t10k files (when the training files are absent)")
    train.add_argument("--target-column", type=int, default=-1)
    train.add_argument("--layers", default="64", help="hidden units, comma-separated")
    train.add_argument("--activation", default="relu")
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument("--optimizer", default="adam")
    train.add_argument("--learning-rate", type=float, default=0.001)
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--validation-split", type=float, default=0.0)
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--backend", default=None, choices=["native", "numpy"])
    train.add_argument("--config", default=None, help="JSON file of the same settings")
    train.add_argument("--output", default="model.nnc")
    train.set_defaults(run=_train)

    predict = sub.add_parser("predict", help="predict with a saved model",
                             description="Print (or write) the predicted class of each row "
                             "of a CSV/.npy file, or the class probabilities with --proba.")
    predict.add_argument("model")
    predict.add_argument("--input", required=True)
    predict.add_argument("--output", default="-")
    predict.add_argument("--proba", action="store_true")
    predict.add_argument("--scale", type=float, default=None,
                         help="divide inputs by this first (255 for MNIST pixels)")
    predict.add_argument("--batch-size", type=int, default=256)
    predict.set_defaults(run=_predict)

    bench = sub.add_parser("bench", help="from a checkout: run benchmarks/bench.py (nncore "
                           "against the GEMM-only bound and PyTorch)",
                           description="Run the checkout's benchmarks/bench.py: training "
                           "epochs, tiny-net steps, predict latency and memory, side by side "
                           "in one process. Its own --help lists every option.")
    bench.add_argument("--quick", action="store_true",
                       help="one batch size, fewer rows and repetitions (a smoke run)")
    bench.add_argument("--output-dir", default=None,
                       help="where latest.json and latest.md go (default: benchmarks/results)")
    bench.set_defaults(run=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"nncore {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
