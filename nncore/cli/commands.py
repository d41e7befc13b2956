"""The subcommands ``demo``, ``train``, ``predict`` and ``evaluate``: each takes the parsed
arguments and returns the exit code (errors are raised and reported by ``main``).

Example
-------
>>> from nncore.cli.commands import r2_score
>>> float(r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]))
1.0
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from nncore.cli.preprocess import KEY, Preprocessing, class_count, infer_task
from nncore.cli.tables import check_writable, load_table, parse_delimiter

#: The types a --config value may have, by key (those of the flags; layers also a list).
CONFIG_TYPES = {"data": (str,), "data_path": (str,), "mnist_test": (bool,), "download": (bool,),
                "target_column": (int,), "label": (str,), "task": (str,),
                "standardize": (bool,), "delimiter": (str,), "layers": (str, list),
                "activation": (str,), "dropout": (int, float), "optimizer": (str,),
                "learning_rate": (int, float), "epochs": (int,), "batch_size": (int,),
                "validation_split": (int, float), "seed": (int,), "backend": (str,),
                "output": (str,)}


def demo(args) -> int:
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


def r2_score(y, p) -> float:
    """The coefficient of determination, 1 - SS_res / SS_tot (NaN for a constant y)."""
    y, p = np.asarray(y, dtype=np.float64).ravel(), np.asarray(p, dtype=np.float64).ravel()
    total = np.sum((y - y.mean()) ** 2)
    return 1.0 - np.sum((y - p) ** 2) / total if total > 0 else float("nan")


def _read_config(args) -> dict:
    if not args.config:
        return {}
    with open(args.config, encoding="utf-8") as fh:
        config = json.load(fh)
    if not isinstance(config, dict):
        raise ValueError(f"--config must hold a JSON object. Received: {type(config).__name__}")
    unknown = sorted(set(config) - set(vars(args)) - {"command", "run", "config"})
    if unknown:
        raise ValueError(f"--config has unknown keys {unknown}; expected flag names "
                         "such as 'layers', 'epochs', 'learning_rate'.")
    # JSON can hold any type where a flag holds one: a number for --data would otherwise
    # fail deep inside (an AttributeError) instead of being named here.
    for key, value in config.items():
        types = CONFIG_TYPES.get(key, ())
        if types and not (value is None and getattr(args, key) is None) and (
                not isinstance(value, types) or
                (isinstance(value, bool) and bool not in types)):
            names = " or ".join(t.__name__ for t in types)
            raise TypeError(f"--config key {key!r} must be a JSON {names}. "
                            f"Received: {key}={value!r}")
    return config


def _training_data(get, nn):
    """(x, y, scale, label name) of --data: MNIST, Iris or a file."""
    data = get("data")
    if data == "mnist":
        kind = "test" if get("mnist_test") else "train"
        try:
            x, y = nn.datasets.load_mnist(get("data_path"), kind=kind,
                                          download=bool(get("download")))
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"MNIST's {kind} files were not found. Add --download to fetch them "
                "(their SHA-256 is checked), or give the folder that holds them with "
                "--data-path FOLDER" + ("" if kind == "test" else
                                        ", or --mnist-test to train on the t10k files")
                + f". ({exc})") from None
        return x.reshape(len(x), -1).astype(np.float64), y, 255.0, None
    if data == "iris":
        x, y = nn.datasets.load_iris()
        return x, y, None, None
    table = load_table(data, parse_delimiter(get("delimiter")))
    column = table.column(get("label"), get("target_column"))
    x, y = table.split(column)
    return x, y, None, None if table.names is None else table.names[column]


def _split(nn, x, y, split: float, seed, stratify: bool):
    """(x_train, x_val, y_train, y_val): a shuffled held-out split, stratified by class
    when every class has two rows or more (a CSV sorted by class would otherwise hold out
    the last class only, as Keras's validation_split does)."""
    if not 0.0 <= split < 1.0:
        raise ValueError(f"--validation-split must be in [0, 1). Received: {split}")
    if split == 0.0:
        return x, x[:0], y, y[:0]
    counts = np.unique(y, return_counts=True)[1] if stratify else None
    return nn.datasets.train_test_split(
        x, y, test_size=split, random_state=seed,
        stratify=y if counts is not None and counts.min() >= 2 else None)


def _hidden(value) -> list[int]:
    try:
        return [int(u) for u in (value.split(",") if isinstance(value, str) else value) if u]
    except (TypeError, ValueError):
        raise ValueError(f"--layers must be comma-separated numbers of units such as 64,32. "
                         f"Received: {value!r}") from None


def train(args) -> int:
    import nncore as nn

    config = _read_config(args)
    get = lambda key: config.get(key, getattr(args, key))  # noqa: E731 - flag or config
    check_writable(get("output"), "--output")              # before any work
    seed = get("seed")
    if seed is not None and seed < 0:         # (it seeds the split before the model)
        raise ValueError(f"--seed must be >= 0. Received: {seed}")
    x, y, scale, label = _training_data(get, nn)
    task, reason = get("task"), "given by --task"
    if task == "auto":
        task, reason = infer_task(y)
        reason = (f"inferred: {reason}; --task "
                  f"{'regression' if task == 'classification' else 'classification'} "
                  "to change it")
    if task not in ("classification", "regression"):
        raise ValueError(f"--task must be 'auto', 'classification' or 'regression'. "
                         f"Received: {task!r}")
    classes = class_count(y, get("data")) if task == "classification" else None
    print(f"task: {task}" + (f", {classes} classes" if classes else "") + f" ({reason})")
    x_train, x_val, y_train, y_val = _split(nn, x, y, float(get("validation_split")),
                                            get("seed"), task == "classification")
    # MNIST keeps its /255: pixels share one scale, and standardizing would blow up the
    # always-black border pixels.
    prep = Preprocessing.fit(x_train, standardize=bool(get("standardize")) and scale is None,
                             scale=scale, task=task, y=y_train, label=label)
    prep.check(get("data"))
    hidden = _hidden(get("layers"))
    layer_list = [nn.layers.Dense(units, activation=get("activation"),
                                  input_dim=x.shape[1] if i == 0 else None)
                  for i, units in enumerate(hidden)]
    if get("dropout"):
        layer_list = [item for layer in layer_list
                      for item in (layer, nn.layers.Dropout(get("dropout")))]
    layer_list.append(nn.layers.Dense(classes or 1,
                                      activation="softmax" if classes else "linear",
                                      input_dim=None if hidden else x.shape[1]))
    model = nn.Sequential(layer_list, seed=get("seed"), backend=get("backend"))
    optimizer = nn.optimizers.get(get("optimizer"))
    optimizer.learning_rate = get("learning_rate")
    if classes:
        model.compile(optimizer, "sparse_categorical_crossentropy", ["accuracy"])
    else:
        model.compile(optimizer, "mean_squared_error", ["mae"])
    model.summary()
    print(f"preprocessing: {prep.describe()} (statistics of {len(x_train)} training rows)")
    inputs = lambda rows: _in_range(prep.apply(rows), get("data"))  # noqa: E731
    target = lambda y: _in_range(prep.target(y), get("data"), "the target")  # noqa: E731
    val = (inputs(x_val), target(y_val)) if len(x_val) else None
    model.fit(inputs(x_train), target(y_train), epochs=get("epochs"),
              batch_size=get("batch_size"), validation_data=val, verbose=1)
    if val is not None:
        print("held-out " + _scores(model, prep, x_val, y_val, get("batch_size"))
              + f" ({len(x_val)} rows, --validation-split {float(get('validation_split')):g})")
    model.metadata[KEY] = prep.to_metadata()
    model.save(get("output"))
    print(f"saved {get('output')} (with its preprocessing)")
    return 0


def _in_range(x: np.ndarray, source: str, what: str = "the features") -> np.ndarray:
    """``x``, refused when the network's float32 cannot hold it."""
    if x.size and not np.abs(x).max() < np.finfo(np.float32).max:
        raise ValueError(f"{source}: after preprocessing, values of {what} are beyond the "
                         "range of float32 (3.4e38); rescale them")
    return x


def _scores(model, prep: Preprocessing, x, y, batch_size: int) -> str:
    """Loss and accuracy (classification), or MSE, MAE and R^2 in the target's units."""
    P = model.predict(prep.apply(x), batch_size=batch_size)
    if prep.task == "regression":
        p = prep.untarget(P)[:, 0]
        return (f"mse {np.mean((y - p) ** 2):.4f} - mae {np.mean(np.abs(y - p)):.4f} - "
                f"r2 {r2_score(y, p):.4f}")
    import nncore as nn

    if not (np.all(y == np.round(y)) and 0 <= y.min() and y.max() < P.shape[1]):
        raise ValueError(f"the labels must be whole numbers 0..{P.shape[1] - 1} for this "
                         f"model's {P.shape[1]} classes. Received labels in "
                         f"[{y.min():g}, {y.max():g}]")
    loss = float(np.mean(nn.losses.sparse_categorical_crossentropy(y, P)))
    return f"loss {loss:.4f} - accuracy {np.mean(P.argmax(axis=1) == y):.4f}"


def _load(path: str):
    import nncore as nn

    model = nn.load_model(path, compile=False)
    return model, Preprocessing.from_metadata(model.metadata, model.input_dim, path)


def _features(table, label: str | None, model) -> np.ndarray:
    x = table.split(table.column(label, None))[0] if label is not None else table.data
    if x.shape[1] != model.input_dim:
        hint = (" (--label NAME drops the label column of a training file)"
                if x.shape[1] == model.input_dim + 1 and label is None else "")
        raise ValueError(f"{table.path} has {x.shape[1]} columns of features but the model "
                         f"expects {model.input_dim} features{hint}")
    return x


def predict(args) -> int:
    if args.output != "-":
        check_writable(args.output, "--output")
    model, prep = _load(args.model)
    x = _features(load_table(args.input, parse_delimiter(args.delimiter)), args.label, model)
    if args.scale is not None:
        if prep.scale is not None or prep.mean is not None:
            raise ValueError(f"--scale is for models saved without their preprocessing; "
                             f"{args.model} applies its own ({prep.describe()}). "
                             f"Received: --scale {args.scale:g}")
        if not args.scale > 0:
            raise ValueError(f"--scale must be > 0. Received: {args.scale}")
        x = x / args.scale
    P = model.predict(prep.apply(x), batch_size=args.batch_size)
    if prep.task == "regression":
        if args.proba:
            raise ValueError(f"--proba is for classifiers; {args.model} is a regression model")
        out, fmt = prep.untarget(P), "%.6g"
    else:
        out, fmt = (P, "%.6g") if args.proba else (P.argmax(axis=1)[:, None], "%d")
    if args.output == "-":
        np.savetxt(sys.stdout, out, delimiter=",", fmt=fmt)
        sys.stdout.flush()  # a closed pipe (| head) is reported here, inside main
    else:
        with open(args.output, "w", encoding="utf-8") as fh:
            np.savetxt(fh, out, delimiter=",", fmt=fmt)
    return 0


def evaluate(args) -> int:
    import nncore as nn

    model, prep = _load(args.model)
    if args.data == "iris":
        x, y = nn.datasets.load_iris()
    else:
        table = load_table(args.data, parse_delimiter(args.delimiter))
        label = args.label
        if label is None and args.target_column is None and table.names is not None \
                and prep.label in table.names:
            label = prep.label              # the column the model was trained on
        x, y = table.split(table.column(label, args.target_column))
        if x.shape[1] != model.input_dim:
            raise ValueError(f"{table.path} has {x.shape[1]} columns of features besides the "
                             f"label but the model expects {model.input_dim} features")
    print(_scores(model, prep, x, y, args.batch_size) + f" ({len(x)} rows)")
    return 0
