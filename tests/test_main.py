"""The command line, ``python -m nncore {demo,train,predict}``.

Most runs call ``nncore.__main__.main([...])`` in-process (fast, output through capsys);
a few run the real ``python -m nncore`` in a subprocess to check exit codes and streams.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nncore as nn
from nncore.__main__ import build_parser, main
from conftest import BACKENDS

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
    commands = ["demo", "train", "predict"]
    results = run_cli_concurrently(["--help"], *[[command, "--help"] for command in commands])
    code, out, err = results[0]
    assert code == 0, err
    assert out.startswith("usage: nncore")
    for name in commands:
        assert name in out
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

    model = nn.load_model(model_path, backend=backend_name)
    assert [w.shape for w in model.get_weights()] == [(4, 8), (8,), (8, 8), (8,), (8, 3), (3,)]
    assert model.loss.name == "sparse_categorical_crossentropy"
    assert model.optimizer.iterations == 60 * 10          # ceil(150 / 16) steps per epoch

    x, y = nn.datasets.load_iris()
    rows = tmp_path / "rows.csv"
    np.savetxt(rows, x, delimiter=",", header="sl,sw,pl,pw", comments="")
    assert main(["predict", str(model_path), "--input", str(rows)]) == 0
    classes = printed_classes(capsys.readouterr().out)
    np.testing.assert_array_equal(classes, model.predict(x).argmax(axis=1))
    assert np.mean(classes == y) >= 0.9

    assert main(["predict", str(model_path), "--input", str(rows), "--proba"]) == 0
    proba = printed_rows(capsys.readouterr().out)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)   # printed to 6 digits
    np.testing.assert_allclose(proba, model.predict(x), rtol=1e-5, atol=1e-6)


def test_train_on_a_csv_file(tmp_path, capsys):
    data = tmp_path / "blobs.csv"
    x, y = blobs_csv(data, label_column="first")
    model_path = tmp_path / "blobs.nnc"
    assert main(["train", "--data", str(data), "--target-column", "0", "--layers", "6",
                 "--activation", "tanh", "--optimizer", "sgd", "--learning-rate", "0.1",
                 "--epochs", "20", "--batch-size", "8", "--validation-split", "0.2",
                 "--seed", "1", "--backend", "numpy", "--output", str(model_path)]) == 0
    capsys.readouterr()
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

    # --scale divides the inputs first.
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
    assert main(["predict", str(model_path), "--input", str(tmp_path / "features.npy")]) == 0
    np.testing.assert_array_equal(printed_classes(capsys.readouterr().out),
                                  model.predict(x[:7]).argmax(axis=1))
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
    assert model.optimizer.learning_rate == 0.02 and model.optimizer.iterations == 15 * 9
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
        (["train", "--data", str(fraction_csv), "--epochs", "1"], "whole-number"),
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
        (["predict", str(iris_model), "--input", str(nan_csv)], "finite"),
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
