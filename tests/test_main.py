"""The command line, ``python -m nncore {demo,train,predict,evaluate}``.

Most runs call ``nncore.__main__.main([...])`` in-process (fast, output through capsys);
a few run the real ``python -m nncore`` in a subprocess to check exit codes and streams.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nncore as nn
from nncore import saving
from nncore.__main__ import build_parser, main
from conftest import BACKENDS, SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "nncore", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=timeout)


def run_cli_concurrently(*argvs, timeout=120) -> list[tuple[int, str, str]]:
    """Start several ``python -m nncore`` at once (each spends most of its time importing),
    then collect (returncode, stdout, stderr) in order."""
    procs = [subprocess.Popen([sys.executable, "-m", "nncore", *map(str, argv)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT, env=_env()) for argv in argvs]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        results.append((proc.returncode, out, err))
    return results


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return list(action.choices)


def blobs_csv(path: Path, n_per_class=30, seed=0, label_column="last", header=True):
    """Three well separated 2-D blobs; returns (x, y) as written."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = np.repeat(np.arange(3), n_per_class)
    x = centres[y] + 0.5 * rng.normal(size=(len(y), 2))
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    table = np.column_stack([y, x] if label_column == "first" else [x, y])
    names = "label,a,b" if label_column == "first" else "a,b,label"
    np.savetxt(path, table, delimiter=",", header=names if header else "", comments="",
               fmt="%.6f")
    return x, y


def printed_classes(text: str) -> np.ndarray:
    return np.array([int(line) for line in text.split()])


def printed_rows(text: str) -> np.ndarray:
    return np.array([[float(v) for v in line.split(",")] for line in text.strip().splitlines()])


# --------------------------------------------------------------------------- help
def test_help_and_each_subcommands_help_in_subprocesses():
    commands = ["demo", "train", "predict", "evaluate", "bench"]
    results = run_cli_concurrently(["--help"], *[[command, "--help"] for command in commands])
    code, out, err = results[0]
    assert code == 0, err
    assert out.startswith("usage: nncore")
    for name in commands:     # each on a line of its own with what it does, plainly
        assert re.search(rf"^    {name} +\w", out, re.MULTILINE), name
    assert "{" not in out
    assert set(subcommands()) >= set(commands)
    for command, (code, out, err) in zip(commands, results[1:]):
        assert code == 0, err
        assert out.startswith(f"usage: nncore {command}")
        assert err == ""


def test_every_subcommand_has_help_in_process(capsys):
    for command in subcommands():
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: nncore {command}")


def test_every_flag_has_help_with_its_default():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    for command, sub in action.choices.items():
        for flag in sub._actions:
            if flag.dest == "help":
                continue
            assert flag.help, (command, flag.dest)
            text = sub.formatter_class(command)._expand_help(flag)
            if flag.option_strings and not flag.required:
                assert f"(default: {flag.default})" in text, (command, flag.dest, text)


# --------------------------------------------------------------------------- demo
def test_demo_in_process(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 139 (556.00 B)" in out
    for name, count in (("dense", 40), ("dense_1", 72), ("dense_2", 27)):
        assert re.search(rf"^ {name} \(Dense\) .* {count}$", out, re.MULTILINE)
    accuracy = float(re.search(r"test accuracy (\d\.\d+)", out).group(1))
    assert accuracy >= 0.9
    assert "45 held-out flowers" in out      # 30 % of 150, stratified


def test_demo_in_a_subprocess():
    result = run_cli("demo", "--epochs", "40", "--seed", "0")
    assert result.returncode == 0, result.stderr
    assert "Total params: 139" in result.stdout
    assert float(re.search(r"test accuracy (\d\.\d+)", result.stdout).group(1)) >= 0.9
    assert "Epoch 40/40" in result.stderr     # the progress bars go to stderr


# --------------------------------------------------------------------------- train / predict
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_train_on_iris_then_predict(tmp_path, capsys, backend_name):
    model_path = tmp_path / "iris.nnc"
    code = main(["train", "--data", "iris", "--layers", "8,8", "--epochs", "60",
                 "--learning-rate", "0.01", "--batch-size", "16", "--seed", "0",
                 "--backend", backend_name, "--output", str(model_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert f"saved {model_path}" in out and "Total params: 139" in out

    assert "task: classification, 3 classes (inferred: whole-number labels 0..2" in out
    accuracy = float(re.search(r"^held-out loss [\d.]+ - accuracy ([\d.]+) \(30 rows, "
                               r"--validation-split 0.2\)$", out, re.MULTILINE).group(1))
    assert accuracy >= 0.9
    model = nn.load_model(model_path, backend=backend_name)
    assert [w.shape for w in model.get_weights()] == [(4, 8), (8,), (8, 8), (8,), (8, 3), (3,)]
    assert model.loss.name == "sparse_categorical_crossentropy"
    assert model.optimizer.iterations == 60 * 8           # ceil(120 / 16): 30 rows held out

    x, y = nn.datasets.load_iris()
    stored = model.metadata["nncore.cli"]
    assert stored["task"] == "classification" and stored["scale"] is None
    mean, std = np.array(stored["mean"]), np.array(stored["std"])
    assert mean.shape == std.shape == (4,) and np.all(std > 0)
    rows = tmp_path / "rows.csv"
    np.savetxt(rows, x, delimiter=",", header="sl,sw,pl,pw", comments="")
    assert main(["predict", str(model_path), "--input", str(rows)]) == 0
    classes = printed_classes(capsys.readouterr().out)
    # predict standardized the raw rows with the stored statistics, unasked.
    np.testing.assert_array_equal(classes, model.predict((x - mean) / std).argmax(axis=1))
    assert np.mean(classes == y) >= 0.9

    assert main(["predict", str(model_path), "--input", str(rows), "--proba"]) == 0
    proba = printed_rows(capsys.readouterr().out)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)   # printed to 6 digits
    np.testing.assert_allclose(proba, model.predict((x - mean) / std), rtol=1e-5, atol=1e-6)

    assert main(["evaluate", str(model_path), "--data", "iris"]) == 0
    out = capsys.readouterr().out
    loss, acc = model.evaluate((x - mean) / std, y)
    assert re.fullmatch(r"loss ([\d.]+) - accuracy ([\d.]+) \(150 rows\)\n", out)
    assert out == f"loss {loss:.4f} - accuracy {acc:.4f} (150 rows)\n"


def test_train_on_a_csv_file(tmp_path, capsys):
    data = tmp_path / "blobs.csv"
    x, y = blobs_csv(data, label_column="first")
    model_path = tmp_path / "blobs.nnc"
    assert main(["train", "--data", str(data), "--target-column", "0", "--layers", "6",
                 "--activation", "tanh", "--optimizer", "sgd", "--learning-rate", "0.1",
                 "--epochs", "20", "--batch-size", "8", "--validation-split", "0.2",
                 "--no-standardize", "--seed", "1", "--backend", "numpy",
                 "--output", str(model_path)]) == 0
    assert "preprocessing: none" in capsys.readouterr().out
    model = nn.load_model(model_path, backend="numpy")
    assert [w.shape for w in model.get_weights()] == [(2, 6), (6,), (6, 3), (3,)]
    assert model.layers[0].activation == "tanh"
    assert isinstance(model.optimizer, nn.optimizers.SGD)
    assert model.optimizer.learning_rate == 0.1
    assert model.optimizer.iterations == 20 * 9         # 72 training rows, batches of 8

    rows = tmp_path / "features.csv"
    np.savetxt(rows, x, delimiter=",")                   # no header this time
    out_file = tmp_path / "classes.txt"
    assert main(["predict", str(model_path), "--input", str(rows),
                 "--output", str(out_file)]) == 0
    assert capsys.readouterr().out == ""
    classes = printed_classes(out_file.read_text())
    np.testing.assert_array_equal(classes, model.predict(x).argmax(axis=1))
    assert np.mean(classes == y) >= 0.95

    # --scale divides the inputs first (for a model that stores no preprocessing).
    np.savetxt(rows, 255 * x, delimiter=",")
    assert main(["predict", str(model_path), "--input", str(rows), "--scale", "255"]) == 0
    np.testing.assert_array_equal(printed_classes(capsys.readouterr().out), classes)


def test_train_and_predict_with_npy_files(tmp_path, capsys):
    x, y = blobs_csv(tmp_path / "blobs.csv")
    np.save(tmp_path / "train.npy", np.column_stack([x, y]))
    np.save(tmp_path / "features.npy", x[:7])
    model_path = tmp_path / "npy.nnc"
    assert main(["train", "--data", str(tmp_path / "train.npy"), "--layers", "4",
                 "--epochs", "2", "--seed", "0", "--backend", "numpy",
                 "--output", str(model_path)]) == 0
    capsys.readouterr()
    model = nn.load_model(model_path, backend="numpy")
    stored = model.metadata["nncore.cli"]
    assert main(["predict", str(model_path), "--input", str(tmp_path / "features.npy")]) == 0
    np.testing.assert_array_equal(
        printed_classes(capsys.readouterr().out),
        model.predict((x[:7] - stored["mean"]) / np.array(stored["std"])).argmax(axis=1))
    # An .npy of Python objects would need pickle: refused, never unpickled.
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert main(["predict", str(model_path), "--input", str(tmp_path / "objects.npy")]) == 2
    assert "pickle" in capsys.readouterr().err


def test_train_from_a_json_config(tmp_path, capsys):
    data = tmp_path / "blobs.csv"
    x, y = blobs_csv(data)
    model_path = tmp_path / "from_config.nnc"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "data": str(data), "layers": [5, 4], "activation": "relu", "epochs": 15,
        "learning_rate": 0.02, "batch_size": 10, "seed": 3, "backend": "numpy",
        "dropout": 0.1, "output": str(model_path)}))
    # The config wins over the flags' defaults (--epochs 10, --layers 64).
    assert main(["train", "--config", str(config)]) == 0
    assert f"saved {model_path}" in capsys.readouterr().out
    model = nn.load_model(model_path, backend="numpy")
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert [w.shape for w in model.get_weights()] == [(2, 5), (5,), (5, 4), (4,), (4, 3), (3,)]
    assert model.layers[1].rate == 0.1
    # 72 training rows in batches of 10: 18 of the 90 are held out by default.
    assert model.optimizer.learning_rate == 0.02 and model.optimizer.iterations == 15 * 8
    assert main(["predict", str(model_path), "--input", str(data), "--proba"]) == 2
    assert "features" in capsys.readouterr().err         # the label column is still there

    # The same seed writes the same file, byte for byte.
    first = model_path.read_bytes()
    assert main(["train", "--config", str(config)]) == 0
    assert model_path.read_bytes() == first


def test_unknown_config_keys_are_refused(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"epochs": 2, "hidden_units": [8], "output":
                                  str(tmp_path / "never.nnc")}))
    assert main(["train", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "hidden_units" in err and "error" in err
    assert not (tmp_path / "never.nnc").exists()


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "JSON object"),
    ("{not json", "line 1"),
    ('{"epochs": "ten"}', "epochs"),
    ('{"learning_rate": -1}', "learning_rate"),
    ('{"data": "iris", "optimizer": "adamax"}', "adamax"),
])
def test_bad_config_values(tmp_path, capsys, content, message):
    config = tmp_path / "config.json"
    config.write_text(content)
    out = tmp_path / "model.nnc"
    assert main(["train", "--config", str(config), "--epochs", "1", "--output", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------- errors
@pytest.fixture
def iris_model(tmp_path, capsys):
    path = tmp_path / "iris.nnc"
    assert main(["train", "--data", "iris", "--epochs", "1", "--seed", "0",
                 "--backend", "numpy", "--output", str(path)]) == 0
    capsys.readouterr()
    return path


def test_runtime_errors_exit_2_with_a_message(tmp_path, capsys, iris_model):
    missing = tmp_path / "missing.csv"
    nan_csv = tmp_path / "nan.csv"
    nan_csv.write_text("1,2,0\n3,nan,1\n")
    nan_rows = tmp_path / "nan_rows.csv"
    nan_rows.write_text("1,2,3,4\n3,nan,1,2\n")
    text_csv = tmp_path / "text.csv"
    text_csv.write_text("a,b,label\n1,2,0\n3,x,1\n")
    fraction_csv = tmp_path / "fraction.csv"
    fraction_csv.write_text("1,2,0.5\n3,4,1\n")
    three = tmp_path / "three.csv"
    three.write_text("1,2,3\n")
    not_a_model = tmp_path / "model.nnc"
    not_a_model.write_text("hello")
    cases = [
        (["train", "--data", str(missing)], "missing.csv"),
        (["train", "--data", str(nan_csv), "--epochs", "1"], "finite"),
        (["train", "--data", str(text_csv), "--epochs", "1"], "convert"),
        (["train", "--data", str(fraction_csv), "--epochs", "1", "--task", "classification"],
         "whole-number"),
        (["train", "--data", str(fraction_csv), "--target-column", "3"], "target-column"),
        (["train", "--data", str(fraction_csv), "--target-column", "-4"], "target-column"),
        (["train", "--data", "iris", "--epochs", "1", "--batch-size", "0"], "batch_size"),
        (["train", "--data", "iris", "--epochs", "1", "--dropout", "1.5"], "rate"),
        (["train", "--data", "iris", "--epochs", "1", "--activation", "swish9"], "swish9"),
        (["train", "--data", "iris", "--epochs", "1", "--config", str(missing)], "missing"),
        (["train", "--data", "mnist", "--data-path", str(tmp_path)], "MNIST"),
        (["predict", str(tmp_path / "none.nnc"), "--input", str(three)], "none.nnc"),
        (["predict", str(not_a_model), "--input", str(three)], "model.nnc"),
        (["predict", str(iris_model), "--input", str(three)], "features"),
        (["predict", str(iris_model), "--input", str(missing)], "missing.csv"),
        (["predict", str(iris_model), "--input", str(nan_rows)], "finite"),
        (["predict", str(iris_model), "--input", str(nan_csv), "--label", "x"], "header"),
        (["evaluate", str(iris_model), "--data", str(three)], "features"),
        (["evaluate", str(iris_model), "--data", str(fraction_csv)], "features"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.err.startswith(f"nncore {argv[0]}: error:"), argv
        assert message in captured.err, (argv, captured.err)
        assert "Traceback" not in captured.err


@pytest.mark.parametrize("argv, message", [
    ([], "required"),
    (["fly"], "invalid choice"),
    (["train", "--epochs", "ten"], "invalid int value"),
    (["train", "--backend", "cuda"], "invalid choice"),
    (["train", "--no-such-flag"], "unrecognized arguments"),
    (["predict", "model.nnc"], "--input"),
    (["demo", "--seed", "x"], "invalid int value"),
])
def test_bad_flags_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_errors_in_a_subprocess(tmp_path):
    (code, out, err), (code2, out2, err2) = run_cli_concurrently(
        ["train", "--data", tmp_path / "absent.csv"], ["predict", "--proba"])
    assert code == 2
    assert err.startswith("nncore train: error:") and "absent.csv" in err
    assert "Traceback" not in err and out == ""
    assert code2 == 2 and "usage: nncore predict" in err2 and out2 == ""


# --------------------------------------------------------------------------- real data sets
def sklearn_csv(tmp_path: Path, name: str) -> Path:
    """scikit-learn's copy of a UCI data set (the oracle extra) as a CSV with a header,
    its label column last and named "target"."""
    datasets = pytest.importorskip("sklearn.datasets")
    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def held_out(out: str) -> dict[str, float]:
    line = next(line for line in out.splitlines() if line.startswith("held-out "))
    return {k: float(v) for k, v in re.findall(r"(\w+) (-?[\d.]+|nan)(?: -|\s\()", line)}


def test_wine_is_standardized_by_default(tmp_path, capsys):
    """The issue's case: 13 features on scales from 0.1 to 1,000. Standardized (the
    default) the held-out accuracy is high; --no-standardize is the old behaviour."""
    data = sklearn_csv(tmp_path, "wine")
    scores = {}
    for flag in ("--standardize", "--no-standardize"):
        assert main(["train", "--data", str(data), "--label", "target", "--epochs", "50",
                     "--seed", "0", flag, "--output", str(tmp_path / "wine.nnc")]) == 0
        out = capsys.readouterr().out
        assert re.search(r"^held-out loss [\d.]+ - accuracy [\d.]+ \(36 rows, "
                         r"--validation-split 0.2\)$", out, re.MULTILINE)
        scores[flag] = held_out(out)["accuracy"]
    assert scores["--standardize"] >= 0.94
    assert scores["--no-standardize"] < scores["--standardize"]
    # The same file goes to predict and evaluate as it is: --label drops the label column
    # by name, and evaluate finds it by the name stored at training.
    assert main(["train", "--data", str(data), "--label", "target", "--epochs", "50",
                 "--seed", "0", "--output", str(tmp_path / "wine.nnc")]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "wine.nnc"), "--input", str(data),
                 "--label", "target"]) == 0
    classes = printed_classes(capsys.readouterr().out)
    labels = np.loadtxt(data, delimiter=",", skiprows=1)[:, -1]
    assert len(classes) == 178 and np.mean(classes == labels) >= 0.94
    assert main(["evaluate", str(tmp_path / "wine.nnc"), "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert out.endswith(f" - accuracy {np.mean(classes == labels):.4f} (178 rows)\n")


def test_diabetes_is_regression(tmp_path, capsys):
    """A whole-number target of 347 different values is a quantity, not 347 classes: the
    task is inferred (and said), the output is one linear unit trained on MSE, and the
    held-out MSE, MAE and R^2 are in the target's units."""
    data = sklearn_csv(tmp_path, "diabetes")
    model_path = tmp_path / "diabetes.nnc"
    assert main(["train", "--data", str(data), "--label", "target", "--seed", "0",
                 "--epochs", "30", "--output", str(model_path)]) == 0
    out = capsys.readouterr().out
    assert "task: regression (inferred: the whole-number target spans 347 values" in out
    assert "--task classification to change it" in out
    scores = held_out(out)
    assert set(scores) == {"mse", "mae", "r2"} and scores["r2"] >= 0.35
    assert scores["mae"] < 60 and abs(scores["mse"] - scores["mae"] ** 2) < 3 * scores["mse"]
    model = nn.load_model(model_path)
    assert model.layers[-1].units == 1 and model.layers[-1].activation == "linear"
    assert model.loss.name == "mean_squared_error"
    stored = model.metadata["nncore.cli"]
    assert stored["task"] == "regression" and 100 < stored["target_mean"] < 200

    assert main(["predict", str(model_path), "--input", str(data), "--label", "target"]) == 0
    predicted = printed_rows(capsys.readouterr().out)[:, 0]
    target = np.loadtxt(data, delimiter=",", skiprows=1)[:, -1]
    assert 25 <= predicted.mean() <= 346         # in the target's units, not standardized
    assert main(["evaluate", str(model_path), "--data", str(data)]) == 0
    line = capsys.readouterr().out
    residual = target - predicted
    r2 = 1 - np.sum(residual ** 2) / np.sum((target - target.mean()) ** 2)
    # (the printed predictions have 6 digits, evaluate computes from full precision)
    values = re.fullmatch(r"mse ([\d.]+) - mae ([\d.]+) - r2 ([\d.]+) \(442 rows\)\n", line)
    assert [float(v) for v in values.groups()] == pytest.approx(
        [np.mean(residual ** 2), np.mean(np.abs(residual)), r2], rel=1e-4)
    assert main(["predict", str(model_path), "--input", str(data), "--label", "target",
                 "--proba"]) == 2
    assert "--proba is for classifiers" in capsys.readouterr().err


def test_a_non_integer_target_is_never_a_softmax(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    table = np.column_stack([x, x @ [1.0, -2.0, 0.5] + 0.25])
    np.savetxt(tmp_path / "linear.csv", table, delimiter=",", header="a,b,c,y", comments="")
    argv = ["train", "--data", str(tmp_path / "linear.csv"), "--layers", "", "--epochs", "200",
            "--learning-rate", "0.05", "--seed", "0", "--output", str(tmp_path / "m.nnc")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "task: regression (inferred: the target has non-integer values" in out
    assert held_out(out)["r2"] > 0.99                        # a linear model, linear data
    assert main(argv + ["--task", "classification"]) == 2
    assert "whole-number class labels" in capsys.readouterr().err


@pytest.mark.skipif(not (SHARED_DATA / "iris" / "iris.csv").exists(),
                    reason=f"{SHARED_DATA / 'iris' / 'iris.csv'} is absent")
def test_the_shared_iris_csv(tmp_path, capsys):
    """The UCI file as distributed: its first line is a title (150,4,setosa,...), not
    column names, so the label is found by --target-column."""
    path = SHARED_DATA / "iris" / "iris.csv"
    model_path = tmp_path / "iris.nnc"
    assert main(["train", "--data", str(path), "--target-column", "-1", "--epochs", "60",
                 "--layers", "8,8", "--learning-rate", "0.01", "--seed", "0",
                 "--output", str(model_path)]) == 0
    assert held_out(capsys.readouterr().out)["accuracy"] >= 0.9
    assert main(["evaluate", str(model_path), "--data", str(path)]) == 0
    assert float(re.search(r"accuracy ([\d.]+)", capsys.readouterr().out).group(1)) >= 0.9


# --------------------------------------------------------------------------- files
def test_gzip_and_other_delimiters(tmp_path, capsys):
    x, y = blobs_csv(tmp_path / "blobs.csv")
    text = (tmp_path / "blobs.csv").read_text()
    with gzip.open(tmp_path / "blobs.csv.gz", "wt") as fh:     # gzip, semicolons
        fh.write(text.replace(",", ";"))
    model_path = tmp_path / "m.nnc"
    assert main(["train", "--data", str(tmp_path / "blobs.csv.gz"), "--label", "label",
                 "--epochs", "20", "--seed", "0", "--output", str(model_path)]) == 0
    assert held_out(capsys.readouterr().out)["accuracy"] >= 0.9
    expected = None
    for name, content, flags in [("tab.tsv", text.replace(",", "\t"), []),
                                 ("tab2.txt", text.replace(",", "\t"), ["--delimiter", "tab"]),
                                 ("pipe.csv", text.replace(",", "|"), []),
                                 ("spaces.txt", text.replace(",", "   "), []),
                                 ("comma.csv", text, ["--delimiter", ","])]:
        (tmp_path / name).write_text(content)
        assert main(["predict", str(model_path), "--input", str(tmp_path / name),
                     "--label", "label", *flags]) == 0, name
        classes = printed_classes(capsys.readouterr().out)
        expected = classes if expected is None else expected
        np.testing.assert_array_equal(classes, expected)
    assert np.mean(expected == y) >= 0.9
    assert main(["predict", str(model_path), "--input", str(tmp_path / "comma.csv"),
                 "--delimiter", "ab"]) == 2
    assert "--delimiter" in capsys.readouterr().err


def test_output_paths_are_checked_before_any_work(tmp_path, capsys):
    missing_folder = tmp_path / "no" / "such" / "m.nnc"
    assert main(["train", "--data", "iris", "--epochs", "500", "--output",
                 str(missing_folder)]) == 2
    captured = capsys.readouterr()
    assert "--output" in captured.err and str(missing_folder.parent) in captured.err
    assert "Epoch" not in captured.err and captured.out == ""     # nothing was trained
    assert main(["train", "--data", "iris", "--output", str(tmp_path)]) == 2
    assert "not a folder" in capsys.readouterr().err
    # predict checks its --output before even reading the model.
    assert main(["predict", str(tmp_path / "absent.nnc"), "--input", "x.csv",
                 "--output", str(missing_folder)]) == 2
    assert "--output" in capsys.readouterr().err
    if os.geteuid() != 0:                    # root writes into read-only folders
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            assert main(["train", "--data", "iris", "--output", str(locked / "m.nnc")]) == 2
            assert "not writable" in capsys.readouterr().err
        finally:
            locked.chmod(0o700)


def test_a_closed_pipe_ends_predict_quietly(tmp_path, iris_model):
    rows = tmp_path / "rows.csv"
    np.savetxt(rows, np.tile(nn.datasets.load_iris()[0], (200, 1)), delimiter=",")
    proc = subprocess.Popen([sys.executable, "-m", "nncore", "predict", str(iris_model),
                             "--input", str(rows), "--proba"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT, env=_env())
    proc.stdout.readline()        # `| head -1`: read a line, then go away
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


def test_a_model_file_from_the_python_api_has_no_preprocessing(tmp_path, capsys):
    x, y = blobs_csv(tmp_path / "blobs.csv")
    model = nn.Sequential([nn.layers.Dense(3, input_dim=2, activation="softmax")], seed=0)
    model.save(tmp_path / "plain.nnc")
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    assert main(["predict", str(tmp_path / "plain.nnc"), "--input", str(tmp_path / "x.csv"),
                 "--proba"]) == 0
    np.testing.assert_allclose(printed_rows(capsys.readouterr().out), model.predict(x),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("field, value, message", [
    ("mean", [0.0], "mean must be a list of 4 finite numbers"),
    ("std", [1.0, 1.0, 0.0, 1.0], "std must be a list of 4 finite numbers > 0"),
    ("std", "big", "std must be a list"),
    ("scale", -255, "scale=-255"),
    ("scale", True, "scale=True"),
    ("task", "clustering", "task='clustering'"),
    ("target_mean", 1.0, "target_mean and target_std"),
    ("label", 3, "label=3"),
    (None, [1, 2], "expected an object"),
    ("extra", 1, "expected an object with the keys"),
])
def test_hostile_preprocessing_records_are_refused(tmp_path, capsys, iris_model, field,
                                                   value, message):
    """The record is read from a file: every field is checked before it is used."""
    config, arrays = saving.read_archive(iris_model)
    record = config["metadata"]["nncore.cli"]
    if field is None:
        config["metadata"]["nncore.cli"] = value
    else:
        record[field] = value
    bad = tmp_path / "bad.nnc"
    saving.write_archive(bad, config, arrays)
    x = nn.datasets.load_iris()[0]
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    assert main(["predict", str(bad), "--input", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "bad.nnc: the stored preprocessing" in err and message in err, err


def test_the_missing_mnist_message_names_the_flags(tmp_path, capsys, monkeypatch):
    assert main(["train", "--data", "mnist", "--data-path", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--download" in err and "--data-path" in err and "--mnist-test" in err
    seen = {}

    def fake_load_mnist(path, kind, download):
        seen.update(path=path, kind=kind, download=download)
        raise FileNotFoundError("offline")

    monkeypatch.setattr(nn.datasets, "load_mnist", fake_load_mnist)
    assert main(["train", "--data", "mnist", "--data-path", "d", "--download",
                 "--mnist-test"]) == 2
    assert seen == {"path": "d", "kind": "test", "download": True}


def test_mnist_pixels_are_divided_by_255_at_training_and_at_predict(tmp_path, capsys,
                                                                    monkeypatch):
    """MNIST keeps its /255 (no standardization: the border pixels are always 0); the
    model file says so, and predict divides raw pixel rows by 255 unasked."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8)
    labels = np.arange(60) % 10
    monkeypatch.setattr(nn.datasets, "load_mnist", lambda path, kind, download: (images,
                                                                                 labels))
    model_path = tmp_path / "mnist.nnc"
    assert main(["train", "--data", "mnist", "--layers", "8", "--epochs", "1",
                 "--task", "classification", "--seed", "0",
                 "--output", str(model_path)]) == 0
    assert "preprocessing: divided by 255 (" in capsys.readouterr().out
    model = nn.load_model(model_path)
    stored = model.metadata["nncore.cli"]
    assert stored["scale"] == 255 and stored["mean"] is None and stored["std"] is None
    pixels = images.reshape(60, -1)[:5]
    np.savetxt(tmp_path / "pixels.csv", pixels, delimiter=",", fmt="%d")
    assert main(["predict", str(model_path), "--input", str(tmp_path / "pixels.csv"),
                 "--proba"]) == 0
    np.testing.assert_allclose(printed_rows(capsys.readouterr().out),
                               model.predict(pixels / 255.0), rtol=1e-5, atol=1e-6)
    # --scale on top of a stored preprocessing would divide twice: refused.
    assert main(["predict", str(model_path), "--input", str(tmp_path / "pixels.csv"),
                 "--scale", "255"]) == 2
    assert "--scale" in capsys.readouterr().err


def test_huge_targets_are_named_whichever_split_holds_them(tmp_path, capsys):
    """A target of 1e300 (regression, standardized or not) cannot be trained on in
    float32: the message names the file, wherever the shuffled split put the row."""
    rows = np.column_stack([np.arange(20.0), np.arange(20.0) + 0.5])
    rows[7, 1] = 1e300
    np.savetxt(tmp_path / "huge.csv", rows, delimiter=",")
    messages = set()
    for seed in range(4):
        for flag in ("--standardize", "--no-standardize"):
            assert main(["train", "--data", str(tmp_path / "huge.csv"), "--epochs", "1",
                         "--seed", str(seed), flag,
                         "--output", str(tmp_path / "m.nnc")]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"nncore train: error: {tmp_path / 'huge.csv'}: "), err
            message = err.split("huge.csv: ")[1]
            assert message in (
                "the target is too large to standardize (its variance overflows); "
                "rescale it or give --no-standardize\n",
                "after preprocessing, values of the target are beyond the range of float32 "
                "(3.4e38); rescale them\n"), err
            messages.add(message)
    assert len(messages) == 2          # the row was in the training split, then held out
    assert not (tmp_path / "m.nnc").exists()
