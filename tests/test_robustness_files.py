"""Fuzzing what reads files or makes data: nncore.load_model, the dataset loaders and
generators, and the command line (``python -m nncore``).

- load_model, on a valid file damaged byte by byte (bit flips, truncation, insertions,
  overwritten ranges): every one is refused with ModelFileError. On a file rewritten with
  a valid checksum but a nonsensical model inside (any value at any place of the config,
  arrays of another shape, dtype or with NaN, missing or extra arrays): ModelFileError,
  or a model that predicts and trains. Never another exception, never a hang, and never
  more than a few megabytes allocated for a file of a few kilobytes.
- MNIST IDX files with every header field and length wrong, gzipped or not; the Iris
  loader; to_categorical, train_test_split, make_spirals, make_gates with bad arguments.
  Sizes a caller asks for explicitly (num_classes, n_samples) are drawn up to 10**5: an
  explicit request for terabytes is NumPy's MemoryError, as in NumPy and Keras. What is
  tested is that no *data* value (a label, a header field) becomes an allocation.
- The CLI in process, with bad flags, configs, CSV and .npy tables and model files: exit
  code 0 with a model that loads, or 2 with one line naming the problem; never a
  traceback. A few of the nastiest inputs run in a real ``python -m nncore`` child.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

pytest.register_assert_rewrite("robustness_profile")

import nncore as nn  # noqa: E402
from nncore import saving  # noqa: E402
from nncore.__main__ import main  # noqa: E402
from nncore.saving import ModelFileError  # noqa: E402
from conftest import BACKENDS  # noqa: E402
from robustness_profile import (  # noqa: E402
    STATS, FrameLike, attempt, budget, hang_guard,
)

pytest_plugins = ("robustness_profile",)

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="nncore-robustness-"))


@pytest.fixture(scope="module", autouse=True)
def _remove_work_folder():
    yield
    shutil.rmtree(WORK, ignore_errors=True)

# --------------------------------------------------------------------------- model files


def _saved(name: str) -> tuple[Path, bytes]:
    """A small model file of each kind (trained with optimizer state, uncompiled, float64),
    made on the NumPy backend so its bytes do not depend on the default backend."""
    path = WORK / f"{name}.nnc"
    if not path.exists():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(12, 4))
        if name == "trained":
            model = nn.Sequential([nn.layers.Dense(5, input_dim=4, activation="relu"),
                                   nn.layers.BatchNormalization(), nn.layers.Dropout(0.2),
                                   nn.layers.Dense(3, activation="softmax")], seed=0,
                                  backend="numpy")
            model.compile(nn.optimizers.Adam(0.01, amsgrad=True),
                          "sparse_categorical_crossentropy", ["accuracy"])
            model.fit(x, rng.integers(0, 3, 12), epochs=1, batch_size=4, verbose=0)
        elif name == "plain":
            model = nn.Sequential([nn.layers.Dense(3, input_dim=4, activation="tanh"),
                                   nn.layers.Dense(2)], seed=1, backend="numpy")
        else:
            model = nn.Sequential([nn.layers.Dense(2, input_dim=4, activation="sigmoid")],
                                  seed=2, dtype="float64", backend="numpy")
            model.compile(nn.optimizers.RMSprop(0.01, centered=True, momentum=0.5), "mse")
            model.fit(x, rng.normal(size=(12, 2)), epochs=1, verbose=0)
        model.save(path)
    return path, path.read_bytes()


FILES = ("trained", "plain", "float64")


def _load(path: Path, compile: bool, backend: str):
    """load_model in a hang guard, its allocations traced: (outcome, model or error, peak)."""
    tracemalloc.start()
    try:
        with hang_guard(60, f"load_model({path.name})"):
            outcome, value = attempt("load_model", lambda: nn.load_model(
                path, compile=compile, backend=backend))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if outcome == "refused":
        assert isinstance(value, ModelFileError), f"{type(value).__name__}: {value}"
        assert path.name in str(value), f"the refusal does not name the file: {value}"
    return outcome, value, peak


def _exercise(model) -> None:
    """A loaded model predicts, and trains a step when compiled (no crash either way)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, model.input_dim))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome, out = attempt("loaded model: predict", lambda: model.predict(x))
        assert outcome == "ok", out
        assert out.shape == (5, model.output_dim)
        if model.compiled:
            sparse = model.loss.name == "sparse_categorical_crossentropy"
            y = rng.integers(0, model.output_dim, 5) if sparse else \
                np.eye(model.output_dim)[rng.integers(0, model.output_dim, 5)]
            attempt("loaded model: train_on_batch", lambda: model.train_on_batch(x, y))


@st.composite
def byte_damage(draw):
    name = draw(st.sampled_from(FILES))
    _, blob = _saved(name)
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "overwrite",
                                 "append", "empty", "swap"]))
    pos = draw(st.integers(0, len(blob) - 1))
    if kind == "flip":
        damaged = bytearray(blob)
        damaged[pos] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        damaged = blob[:pos]
    elif kind == "insert":
        damaged = blob[:pos] + draw(st.binary(min_size=1, max_size=16)) + blob[pos:]
    elif kind == "delete":
        damaged = blob[:pos] + blob[pos + draw(st.integers(1, 64)):]
    elif kind == "overwrite":
        chunk = draw(st.binary(min_size=1, max_size=32))
        damaged = blob[:pos] + chunk + blob[pos + len(chunk):]
    elif kind == "append":
        damaged = blob + draw(st.binary(min_size=1, max_size=64))
    elif kind == "swap":
        other = draw(st.integers(0, len(blob) - 1))
        damaged = bytearray(blob)
        damaged[pos], damaged[other] = damaged[other], damaged[pos]
    else:
        damaged = b""
    return name, kind, bytes(damaged)


@budget(500)
@given(byte_damage(), st.booleans(), st.sampled_from(BACKENDS))
def test_damaged_model_files_are_refused(damage, compile, backend):
    name, kind, damaged = damage
    assume(damaged != _saved(name)[1])
    path = WORK / f"damaged-{name}.nnc"
    path.write_bytes(damaged)
    STATS.files_tried += 1
    outcome, value, peak = _load(path, compile, backend)
    assert outcome == "refused", f"{kind}: a damaged file loaded"
    STATS.files_refused += 1
    # Refused before anything big: the reader checks lengths against the real file size.
    assert peak < 8 * len(damaged) + (4 << 20), f"{kind}: {peak} bytes traced"


JSON_LEAVES = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
               | st.sampled_from([0, 1, -1, 2, 3, 2**31, 2**63, 10**9, 10**30])
               | st.floats(allow_nan=False, allow_infinity=False)
               | st.sampled_from(["", "relu", "softmax", "float16", "float64", "int8", "Dense",
                                  "Dropout", "PCG64", "MT19937", "adam", "Adam", "SGD",
                                  "mse", "he_normal", "zeros", "x" * 300, "weights/0"])
               | st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6))


def _json_containers(children):
    return st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children,
                                                            max_size=3)


JSON_VALUES = st.recursive(JSON_LEAVES, _json_containers, max_leaves=6)


def _paths(value, prefix=()):
    """Every place in a JSON tree: (path, value)."""
    yield prefix, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, prefix + (i,))


def _at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


@st.composite
def config_damage(draw):
    """A valid archive holding a nonsensical model: one edit of its config or arrays."""
    name = draw(st.sampled_from(FILES))
    path, _ = _saved(name)
    config, arrays = saving.read_archive(path)
    places = [p for p, _ in _paths(config) if p]
    edit = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "layers",
                                 "array-shape", "array-dtype", "array-values", "array-drop",
                                 "array-extra"]))
    if edit in ("replace", "delete", "add"):
        place = draw(st.sampled_from(places))
        parent, key = _at(config, place[:-1]), place[-1]
        if edit == "replace":
            parent[key] = draw(JSON_VALUES)
        elif edit == "delete" and isinstance(parent, dict):
            del parent[key]
        elif edit == "delete":
            parent.pop(key)
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=6))] = draw(JSON_VALUES)
        else:
            parent.insert(key, draw(JSON_VALUES))
        what = f"{edit} {place}"
    elif edit == "layers":
        layers = config["model"]["layers"]
        how = draw(st.sampled_from(["drop", "duplicate", "swap", "reverse"]))
        i = draw(st.integers(0, len(layers) - 1))
        if how == "drop":
            layers.pop(i)
        elif how == "duplicate":
            layers.insert(i, json.loads(json.dumps(layers[i])))
        elif how == "swap":
            j = draw(st.integers(0, len(layers) - 1))
            layers[i], layers[j] = layers[j], layers[i]
        else:
            layers.reverse()
        what = f"layers {how} {i}"
    else:
        key = draw(st.sampled_from(sorted(arrays)))
        arr = arrays[key]
        if edit == "array-shape":
            arrays[key] = draw(st.sampled_from([arr.reshape(-1), arr[None], arr.T.copy(),
                                                arr[:0], np.resize(arr, arr.size + 1)]))
        elif edit == "array-dtype":
            arrays[key] = arr.astype(draw(st.sampled_from(
                [np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_])))
        elif edit == "array-values":
            bad = arr.astype(arr.dtype).copy()
            if bad.size and bad.dtype.kind == "f":
                with np.errstate(over="ignore"):  # 1e300 is inf in float32
                    bad.reshape(-1)[draw(st.integers(0, bad.size - 1))] = draw(
                        st.sampled_from([np.nan, np.inf, -np.inf, 1e38, -0.0, 1e300]))
            arrays[key] = bad
        elif edit == "array-drop":
            del arrays[key]
        else:
            arrays[draw(st.sampled_from(["weights/99", "optimizer/9/m", "extra"]))] = arr
        what = f"{edit} {key}"
    return name, what, config, arrays


@budget(800)
@given(config_damage(), st.booleans(), st.sampled_from(BACKENDS))
def test_nonsensical_models_in_valid_files_are_refused_or_work(damage, compile, backend):
    name, what, config, arrays = damage
    path = WORK / f"edited-{name}.nnc"
    try:
        with np.errstate(all="ignore"):
            saving.write_archive(path, config, arrays)
    except (TypeError, ValueError):
        assume(False)  # not even a valid archive (the writer refuses it): nothing to load
    STATS.edits_tried += 1
    outcome, value, peak = _load(path, compile, backend)
    size = path.stat().st_size
    assert peak < 16 * size + (8 << 20), f"{what}: {peak} bytes traced for {size} bytes"
    if outcome == "refused":
        STATS.edits_refused += 1
        return
    STATS.edits_loaded += 1
    _exercise(value)


# --------------------------------------------------------------------------- datasets
def _idx(magic: int, dims: tuple, data: bytes, gz: bool) -> bytes:
    raw = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + data
    return gzip.compress(raw) if gz else raw


@st.composite
def mnist_folder(draw):
    """A folder with t10k image and label files, each possibly wrong in one way."""
    n = draw(st.integers(0, 4))
    folder = Path(tempfile.mkdtemp(dir=WORK))
    files = {}
    for which, magic in (("images", 2051), ("labels", 2049)):
        dims = (n, 28, 28) if which == "images" else (n,)
        size = int(np.prod(dims))
        data = bytes(draw(st.integers(0, 9 if which == "labels" else 255))
                     for _ in range(min(size, 8))) * (size // 8 + 1)
        data = data[:size]
        spoil = draw(st.sampled_from(["none"] * 8 + ["magic", "dims", "huge", "short",
                                      "long", "header", "gzip-bad", "empty", "label-range",
                                      "missing"]))
        gz = draw(st.booleans())
        if spoil == "magic":
            magic = draw(st.sampled_from([0, 2049 if magic == 2051 else 2051, 0x0803 + 1,
                                          2**32 - 1]))
        elif spoil == "dims":
            dims = tuple(draw(st.integers(0, 40)) for _ in dims)
        elif spoil == "huge":
            dims = (2**32 - 1,) + dims[1:]
        elif spoil == "short":
            data = data[:max(0, len(data) - draw(st.integers(1, 10)))]
        elif spoil == "long":
            data = data + b"\0" * draw(st.integers(1, 10))
        elif spoil == "label-range" and which == "labels" and n:
            data = bytes([draw(st.integers(10, 255))]) + data[1:]
        content = _idx(magic, dims, data, gz)
        if spoil == "header":
            content = content[:draw(st.integers(0, 11))]
        elif spoil == "gzip-bad":
            content = gzip.compress(content)[:-draw(st.integers(1, 8))]
        elif spoil == "empty":
            content = b""
        if spoil != "missing":
            name = "t10k-images-idx3-ubyte" if which == "images" else "t10k-labels-idx1-ubyte"
            (folder / (name + (".gz" if gz or spoil == "gzip-bad" else ""))).write_bytes(content)
        files[which] = spoil
    return folder, files


@budget(400)
@given(mnist_folder())
def test_mnist_files_load_or_are_refused(folder_files):
    folder, files = folder_files
    with hang_guard(60, "load_mnist"):
        try:
            outcome, value = attempt("datasets.load_mnist",
                                     lambda: nn.datasets.load_mnist(folder, kind="test"))
        except Exception as exc:
            # A missing file is FileNotFoundError, as documented; anything else is a crash.
            if not (isinstance(exc.__cause__, FileNotFoundError) and "missing" in files.values()):
                raise
            STATS.crashes -= 1  # counted by attempt; it is the documented outcome
            STATS.refused["datasets.load_mnist"] += 1
            return
    if outcome == "ok":
        images, labels = value
        assert images.dtype == np.uint8 and images.ndim == 3 and images.shape[1:] == (28, 28)
        assert labels.dtype == np.uint8 and labels.shape == (len(images),)
        assert labels.size == 0 or labels.max() < 10
        assert images.flags.writeable and labels.flags.writeable
    else:
        assert any(v != "none" for v in files.values()), value


@budget(60)
@given(st.sampled_from(["train", "test", "TRAIN", "", None, 3, b"test", ["test"]]),
       st.sampled_from(["dir", "file", "missing", 3, None, b"/tmp", ""]))
def test_load_mnist_arguments(kind, path):
    target = {"dir": WORK, "file": _saved("plain")[0], "missing": WORK / "no" / "such"}.get(
        path, path)
    old = os.environ.get("NNCORE_DATA")
    os.environ["NNCORE_DATA"] = str(WORK / "empty-cache")  # never the user's real cache
    try:
        try:
            outcome, value = attempt("datasets.load_mnist",
                                     lambda: nn.datasets.load_mnist(target, kind=kind),
                                     ("kind", "path"))
        except Exception as exc:
            if not isinstance(exc.__cause__, FileNotFoundError):
                raise
            STATS.crashes -= 1  # the documented outcome when the files are not there
            STATS.refused["datasets.load_mnist"] += 1
    finally:
        if old is None:
            os.environ.pop("NNCORE_DATA", None)
        else:
            os.environ["NNCORE_DATA"] = old


def test_load_iris_returns_fresh_arrays():
    x, y = nn.datasets.load_iris()
    x[:] = 0
    y[:] = 7
    x2, y2 = nn.datasets.load_iris()
    assert x2.shape == (150, 4) and x2.dtype == np.float32 and x2.any()
    assert y2.dtype == np.int64 and set(np.unique(y2).tolist()) == {0, 1, 2}
    STATS.tried["datasets.load_iris"] += 2


LABELS = st.one_of(
    st.lists(st.integers(-2, 6), min_size=0, max_size=8),
    # Whole numbers up to 10**5 (the largest label is the width when num_classes is None:
    # an explicit request for more memory than exists is NumPy's MemoryError), fractions,
    # and labels beyond any index.
    st.lists(st.floats(-3, 1e5, width=32) | st.sampled_from(
        [np.nan, np.inf, -np.inf, 1e30, -1e30, 2.0**63, 2.5, -0.0]), max_size=6),
    st.sampled_from([[0, 1, 2], [[0], [2]], [[0, 1], [1, 0]], "012", [0, "1"], None, 3,
                     [True, False], [2**63], [2**64 - 1], [[0, 1], [2]],
                     np.arange(6).reshape(2, 3, 1),
                     np.array([1 + 2j]), np.array(["a", "b"]), np.array([0, 1], object)]),
    st.builds(lambda v: FrameLike(np.asarray(v)), st.lists(st.integers(0, 3), min_size=1,
                                                            max_size=5)),
)
SIZES = st.sampled_from([None, 0, 1, 3, 7, -1, 2.0, True, "3", 10**5, np.int64(4)])


@budget(300)
@given(LABELS, SIZES, st.sampled_from(["float32", "int8", "bool", "nope", None, float,
                                       "complex64", "U3"]))
def test_to_categorical(y, num_classes, dtype):
    outcome, value = attempt("datasets.to_categorical",
                             lambda: nn.datasets.to_categorical(y, num_classes, dtype),
                             ("y", "num_classes", "dtype"))
    if outcome == "ok":
        labels = np.asarray(y if not isinstance(y, FrameLike) else y.values)
        width = value.shape[-1]
        assert value.reshape(-1, width).shape[0] == labels.size
        if labels.size and value.dtype.kind in "biuf":
            assert np.all(value.reshape(-1, width).sum(axis=1) == 1)


ARRAYS = st.sampled_from(["x", "y", "short", "0-d", "list", "frame", "3-d", "empty", "str",
                          "ragged"])


def _array(kind: str, n: int):
    rng = np.random.default_rng(n)
    return {"x": rng.normal(size=(n, 3)), "y": rng.integers(0, 3, n),
            "short": np.arange(max(n - 1, 0)), "0-d": np.float64(1.0),
            "list": list(range(n)), "frame": FrameLike(rng.normal(size=(n, 2))),
            "3-d": rng.normal(size=(n, 2, 2)), "empty": np.empty((0, 3)),
            "str": np.array(["a"] * n), "ragged": [[1.0, 2.0], [3.0]] * n}[kind]


def one_spoiled(valid: dict, bad: dict):
    """Keyword arguments all valid but (usually) one, drawn from its bad values."""
    @st.composite
    def draw_kwargs(draw):
        kwargs = {key: draw(st.sampled_from(values)) for key, values in valid.items()}
        target = draw(st.sampled_from([None] + list(bad)))
        if target is not None:
            kwargs[target] = draw(st.sampled_from(bad[target]))
        return kwargs
    return draw_kwargs()


SPLIT_VALID = {"arrays": [("x",), ("x", "y"), ("y",), ("list", "y")], "n": [4, 7, 12],
               "test_size": [0.25, 0.5, 1, 2], "shuffle": [True, False],
               "random_state": [None, 0, 7, np.random.default_rng(3)], "stratify": [None]}
SPLIT_BAD = {"arrays": [(), ("x", "short"), ("0-d",), ("frame", "y"), ("3-d",), ("empty",),
                        ("str", "y"), ("ragged",)],
             "n": [1, 2],
             "test_size": [0, 1.0, 1.5, -1, 10**9, np.nan, "0.2", None, True,
                           np.float32(0.3)],
             "shuffle": [0, "yes", None],
             "random_state": [-1, 2**70, "x", 1.5, True],
             "stratify": ["y", "short", "nan", "2-d", "single", "str", "ragged", "mixed"]}


@budget(300)
@given(one_spoiled(SPLIT_VALID, SPLIT_BAD))
def test_train_test_split(kw):
    n = kw["n"]
    arrays = [_array(k, n) for k in kw["arrays"]]
    strat = {"y": np.arange(n) % 2, "short": np.arange(n + 1) % 2,
             "nan": np.where(np.arange(n) == 0, np.nan, np.arange(n) % 2),
             "2-d": np.eye(2)[np.arange(n) % 2], "single": np.arange(n),
             "str": np.array(["a", "b"] * n)[:n], None: None,
             "ragged": [[0, 1], [1]] * n, "mixed": ([None, "a"] * n)[:n]}[kw["stratify"]]
    outcome, value = attempt(
        "datasets.train_test_split",
        lambda: nn.datasets.train_test_split(*arrays, test_size=kw["test_size"],
                                             shuffle=kw["shuffle"],
                                             random_state=kw["random_state"], stratify=strat),
        ("arrays", "test_size", "shuffle", "random_state", "stratify"))
    if outcome == "ok":
        assert len(value) == 2 * len(arrays)
        for a, (train, test) in zip(arrays, zip(value[::2], value[1::2])):
            assert len(train) + len(test) == len(np.asarray(a)) and len(train) and len(test)


SPIRAL_VALID = {"n_samples": [1, 3, 10, np.int32(6), 300], "n_classes": [1, 2, 3],
                "noise": [0.0, 0.2, 1e300], "random_state": [None, 0, 5],
                "shuffle": [True, False]}
SPIRAL_BAD = {"n_samples": [0, -5, 2.0, True, None, "9"],
              "n_classes": [0, -1, 2.5, 400, None], "noise": [-1, np.nan, np.inf, "0.1",
                                                               None, True],
              "random_state": [-1, 2**70, "x", 1.5], "shuffle": [None, "no"]}


@budget(200)
@given(one_spoiled(SPIRAL_VALID, SPIRAL_BAD))
def test_make_spirals(kw):
    outcome, value = attempt(
        "datasets.make_spirals",
        lambda: nn.datasets.make_spirals(kw["n_samples"], kw["n_classes"], kw["noise"],
                                         kw["random_state"], shuffle=kw["shuffle"]),
        tuple(kw))
    if outcome == "ok":
        x, y = value
        assert x.shape == (kw["n_samples"], 2) and y.shape == (kw["n_samples"],)
        assert x.dtype == np.float32 and np.isfinite(x).all() or kw["noise"] == 1e300


@budget(30)
@given(st.sampled_from(["and", "OR", "nand", "xor", "", "nor", None, 3, b"and", ["and"]]))
def test_make_gates(name):
    attempt("datasets.make_gates", lambda: nn.datasets.make_gates(name), ("name",))


# --------------------------------------------------------------------------- CLI
def _table(kind: str, seed: int) -> Path:
    """A CSV or .npy table, valid or broken in one way."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(12, 3)).round(3)
    y = rng.integers(0, 3, size=12).astype(float)
    table = np.column_stack([x, y])
    path = WORK / f"table-{kind}-{seed}.csv"
    text = None
    if kind == "ok":
        pass
    elif kind == "header":
        text = "a,b,c,label\n" + "\n".join(",".join(map(str, r)) for r in table)
    elif kind == "nan-label":
        table[3, -1] = np.nan
    elif kind == "nan-feature":
        table[2, 0] = np.nan
    elif kind == "inf-feature":
        table[2, 1] = np.inf
    elif kind == "huge-label":
        table[0, -1] = 1e9
    elif kind == "negative-label":
        table[0, -1] = -1
    elif kind == "fraction-label":
        table[0, -1] = 0.5
    elif kind == "one-column":
        table = table[:, -1:]
    elif kind == "empty":
        text = ""
    elif kind == "text":
        text = "1,2,3,0\n4,x,6,1\n"
    elif kind == "ragged":
        text = "1,2,3,0\n4,5,1\n"
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 4)
        return path
    elif kind == "huge-feature":
        table[1, 0] = 1e300
    elif kind in ("npy", "npy-1d", "npy-3d", "npy-object", "npy-truncated", "npy-complex"):
        path = path.with_suffix(".npy")
        arr = {"npy": table, "npy-1d": table[:, 0], "npy-3d": table[:, :, None],
               "npy-object": table.astype(object), "npy-truncated": table,
               "npy-complex": table.astype(complex)}[kind]
        if kind == "npy-object":
            with open(path, "wb") as fh:
                np.save(fh, arr, allow_pickle=True)
        else:
            np.save(path, arr)
        if kind == "npy-truncated":
            path.write_bytes(path.read_bytes()[:150])
        return path
    if text is None:
        text = "\n".join(",".join(repr(float(v)) for v in row) for row in table)
    path.write_text(text)
    return path


TABLES = ("ok", "ok", "header", "nan-label", "nan-feature", "inf-feature", "huge-label",
          "negative-label", "fraction-label", "one-column", "empty", "text", "ragged",
          "binary", "huge-feature", "npy", "npy-1d", "npy-3d", "npy-object", "npy-truncated",
          "npy-complex")
TRAIN_FLAGS = {
    "--layers": ["4", "4,3", "", "0", "a", "-3", "4,,4", "2.5", "3,b"],
    "--activation": ["relu", "tanh", "nope", "", "RELU"],
    "--dropout": ["0", "0.5", "1", "-1", "nan", "x"],
    "--optimizer": ["adam", "sgd", "nope", ""],
    "--learning-rate": ["0.01", "-1", "nan", "inf", "0", "1e3"],
    "--epochs": ["0", "1", "2", "-1", "x"],
    "--batch-size": ["1", "4", "0", "-2"],
    "--validation-split": ["0", "0.25", "1", "-0.5", "nan"],
    "--seed": ["0", "-1", "x"],
    "--target-column": ["-1", "0", "3", "4", "-5"],
    "--backend": ["native", "numpy", "gpu"],
}
# The parameter a message may name instead of the flag.
ALSO = {"--dropout": ("rate",), "--layers": ("units",), "--learning-rate": ("learning_rate",),
        "--batch-size": ("batch_size",), "--validation-split": ("validation_split",),
        "--target-column": ("target-column", "target_column"), "--epochs": ("epochs",),
        "--seed": ("seed",), "--activation": ("activation",), "--optimizer": ("optimizer",)}


def _names(message: str, words) -> bool:
    """True if ``message`` names one of ``words`` as a word ("x", not the x of "index")."""
    return any(re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", message) for w in words)


def _cli(argv: list[str]):
    """main(argv) in process: (exit code, stdout, stderr); a traceback is a crash."""
    out, err = io.StringIO(), io.StringIO()
    STATS.tried["CLI"] += 1
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code
        except Exception as exc:
            STATS.crashes += 1
            raise AssertionError(f"{argv}: {type(exc).__name__} escaped main: {exc}") from exc
    if code:
        STATS.refused["CLI"] += 1
    return code, out.getvalue(), err.getvalue()


@budget(300)
@given(st.sampled_from(("ok",) * 6 + TABLES), st.integers(0, 3),
       st.dictionaries(st.sampled_from(sorted(TRAIN_FLAGS)), st.integers(0, 20), max_size=2))
def test_cli_train(table, seed, flags):
    data = _table(table, seed)
    output = WORK / f"cli-{table}-{seed}.nnc"
    output.unlink(missing_ok=True)
    argv = ["train", "--data", data, "--epochs", "1", "--layers", "4", "--output", output]
    chosen = {}
    for flag, i in flags.items():
        chosen[flag] = TRAIN_FLAGS[flag][i % len(TRAIN_FLAGS[flag])]
        argv += [flag, chosen[flag]]
    with hang_guard(60, f"nncore {' '.join(map(str, argv))}"):
        code, out, err = _cli(argv)
    assert "Traceback" not in err, err
    if code == 0:
        model = nn.load_model(output)
        assert model.input_dim >= 1 and model.output_dim >= 1
        return
    assert code == 2, (argv, code, err)
    assert not output.exists() or table == "ok", "a refused run left a model file"
    assert err.startswith(("nncore train: error:", "usage:")), err
    if err.startswith("nncore train: error:"):
        # The line names the file or a flag (or the parameter the flag sets), or the data.
        words = [data.name, "x", "y"] + [w for f in chosen for w in (f, f[2:]) + ALSO.get(f, ())]
        assert _names(err, words), f"{argv}: {err}"


PREDICT_INPUTS = ("ok", "wrong-width", "nan", "text", "empty", "npy", "npy-3d", "binary",
                  "missing")


@budget(200)
@given(st.sampled_from(["good", "truncated", "flipped", "foreign", "missing", "directory"]),
       st.sampled_from(PREDICT_INPUTS),
       st.sampled_from([[], ["--proba"], ["--scale", "255"], ["--scale", "0"],
                        ["--scale", "nan"], ["--batch-size", "0"], ["--batch-size", "1"],
                        ["--output", "DIR"]]))
def test_cli_predict(model_kind, inputs, extra):
    good = WORK / "cli-model.nnc"
    if not good.exists():
        code, _, err = _cli(["train", "--data", "iris", "--epochs", "1", "--layers", "4",
                             "--seed", "0", "--output", good])
        assert code == 0, err
    blob = good.read_bytes()
    model = {"good": good, "missing": WORK / "absent.nnc", "directory": WORK}.get(model_kind)
    if model is None:
        model = WORK / f"cli-{model_kind}.nnc"
        model.write_bytes({"truncated": blob[:len(blob) // 2],
                           "flipped": blob[:40] + bytes([blob[40] ^ 4]) + blob[41:],
                           "foreign": b"PK\x03\x04" + blob[4:]}[model_kind])
    rows = np.random.default_rng(1).normal(size=(3, 4)).round(3)
    source = WORK / f"predict-{inputs}.csv"
    if inputs == "ok":
        np.savetxt(source, rows, delimiter=",")
    elif inputs == "wrong-width":
        np.savetxt(source, rows[:, :3], delimiter=",")
    elif inputs == "nan":
        rows[1, 1] = np.nan
        np.savetxt(source, rows, delimiter=",")
    elif inputs == "text":
        source.write_text("1,2,x,4\n")
    elif inputs == "empty":
        source.write_text("")
    elif inputs in ("npy", "npy-3d"):
        source = source.with_suffix(".npy")
        np.save(source, rows if inputs == "npy" else rows[:, :, None])
    elif inputs == "binary":
        source.write_bytes(bytes(range(256)))
    else:
        source = WORK / "absent.csv"
    extra = [str(WORK) if a == "DIR" else a for a in extra]
    code, out, err = _cli(["predict", model, "--input", source] + extra)
    assert "Traceback" not in err, err
    if code == 0:
        assert out.strip() or "--output" in extra
        return
    assert code == 2, err
    assert err.startswith(("nncore predict: error:", "usage:")), err
    if err.startswith("nncore predict: error:"):
        words = [Path(model).name, source.name, "scale", "batch_size", "x", str(WORK),
                 "directory"]
        assert _names(err, words), err


@budget(20)
@given(st.sampled_from(["{", "[]", '{"epochs": "ten"}', '{"layers": 5}', '{"layers": [0]}',
                        '{"bogus": 1}', '{"learning_rate": null}', '{"dropout": 2}',
                        '{"data": 3}', '{"seed": -1}', '{"batch_size": 1.5}',
                        '{"validation_split": "x"}', '{"epochs": 1e400}', "\udcff",
                        '{"layers": "4", "epochs": 1}']))
def test_cli_train_config(content):
    config = WORK / "config.json"
    config.write_text(content, errors="surrogateescape")
    code, out, err = _cli(["train", "--data", "iris", "--epochs", "1", "--layers", "4",
                           "--config", config, "--output", WORK / "config-model.nnc"])
    assert "Traceback" not in err
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith("nncore train: error:"), err


CHILD_CASES = [
    ["train", "--data", "HUGE", "--epochs", "1"],
    ["train", "--data", "NPY1D", "--epochs", "1"],
    ["predict", "TRUNCATED", "--input", "ROWS"],
    ["train", "--data", "iris", "--epochs", "1", "--learning-rate", "1e3", "--output", "OUT"],
]


def test_cli_in_a_child_process_never_crashes():
    """The real ``python -m nncore`` on the nastiest inputs: an exit code of 0 or 2 and a
    one-line message, never a traceback, a signal or a hang."""
    good = WORK / "child-model.nnc"
    code, _, err = _cli(["train", "--data", "iris", "--epochs", "1", "--layers", "4",
                         "--output", good])
    assert code == 0, err
    truncated = WORK / "child-truncated.nnc"
    truncated.write_bytes(good.read_bytes()[:100])
    rows = WORK / "child-rows.csv"
    np.savetxt(rows, np.ones((2, 4)), delimiter=",")
    names = {"HUGE": _table("huge-label", 0), "NPY1D": _table("npy-1d", 0),
             "TRUNCATED": truncated, "ROWS": rows, "OUT": WORK / "child-out.nnc"}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for argv in CHILD_CASES:
        argv = [str(names.get(a, a)) for a in argv]
        STATS.tried["CLI (child process)"] += 1
        result = subprocess.run([sys.executable, "-m", "nncore", *argv], capture_output=True,
                                text=True, timeout=120, env=env, cwd=WORK)
        if result.returncode not in (0, 2) or "Traceback" in result.stderr:
            STATS.crashes += 1
        assert result.returncode in (0, 2), (argv, result.returncode, result.stderr[-2000:])
        assert "Traceback" not in result.stderr, result.stderr[-2000:]
        if result.returncode == 2:
            STATS.refused["CLI (child process)"] += 1
