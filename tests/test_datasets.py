"""nncore.datasets: the embedded Iris, MNIST IDX reading (real files when present, corrupt
ones made here), the folder lookup, checksum-verified download without network, toy sets,
to_categorical and train_test_split."""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from nncore.datasets import (GATES, IRIS_CLASS_NAMES, IRIS_FEATURE_NAMES, MNIST_SHA256,
                             load_iris, load_mnist, make_gates, make_spirals, make_xor,
                             to_categorical, train_test_split)
from nncore.datasets import mnist as mnist_module

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
SHARED_IRIS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "iris" / "iris.csv"
PACKAGE_DATA = Path(mnist_module.__file__).resolve().parent / "data"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------- Iris

def test_iris_shapes_dtypes_and_classes():
    x, y = load_iris()
    assert x.shape == (150, 4) and x.dtype == np.float32
    assert y.shape == (150,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50, 50, 50]
    assert IRIS_CLASS_NAMES == ("setosa", "versicolor", "virginica")
    assert len(IRIS_FEATURE_NAMES) == 4
    np.testing.assert_array_equal(x[0], np.float32([5.1, 3.5, 1.4, 0.2]))   # first setosa
    np.testing.assert_array_equal(x[-1], np.float32([5.9, 3.0, 5.1, 1.8]))  # last virginica
    # Fisher's data: petal length separates setosa (< 2 cm) from the other two species.
    assert x[y == 0, 2].max() < 2.0 < x[y != 0, 2].min()


def test_iris_file_is_unmodified_and_attributed():
    packaged = PACKAGE_DATA / "iris.csv"
    assert hashlib.md5(packaged.read_bytes()).hexdigest() == "d69a16ea6136ccb02a7c37c66375ebba"
    if SHARED_IRIS.is_file():
        assert packaged.read_bytes() == SHARED_IRIS.read_bytes()
    notice = (PACKAGE_DATA / "IRIS-LICENSE.txt").read_text()
    assert "Fisher" in notice and "UCI Machine Learning Repository" in notice
    assert "CC BY 4.0" in notice
    assert "CC BY 4.0" in load_iris.__doc__


# ------------------------------------------------------------------- MNIST: real files

needs_shared_mnist = pytest.mark.skipif(
    not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"MNIST test files not found in {SHARED_MNIST} (the project's shared data folder; "
           "a fresh clone does not have it)")


@needs_shared_mnist
def test_mnist_test_set_from_shared_folder():
    images, labels = load_mnist(SHARED_MNIST, kind="test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    # Class counts of the MNIST test set, as published.
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                            974, 1009]
    assert images.min() == 0 and images.max() == 255
    assert images.flags.writeable


@needs_shared_mnist
def test_mnist_checksum_constants_match_the_real_files():
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert MNIST_SHA256[name] == sha256_of(SHARED_MNIST / name)


@needs_shared_mnist
def test_mnist_missing_train_files_say_where_and_how():
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(SHARED_MNIST, kind="train")
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and str(SHARED_MNIST) in message
    assert "download=True" in message


# ------------------------------------------------------------ MNIST: small files made here

IMAGES = np.arange(3 * 28 * 28, dtype=np.uint64).reshape(3, 28, 28).astype(np.uint8)
LABELS = np.array([7, 0, 9], dtype=np.uint8)


def idx_bytes(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(f">I{len(dims)}I", magic, *dims) + payload


def write(path: Path, data: bytes, gz: bool) -> Path:
    path = path.with_name(path.name + ".gz") if gz else path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def write_mnist(folder: Path, kind: str = "t10k", gz: bool = True, images=IMAGES,
                labels=LABELS) -> None:
    write(folder / f"{kind}-images-idx3-ubyte",
          idx_bytes(2051, images.shape, images.tobytes()), gz)
    write(folder / f"{kind}-labels-idx1-ubyte",
          idx_bytes(2049, labels.shape, labels.tobytes()), gz)


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_mnist_reads_gz_and_raw(tmp_path, gz):
    write_mnist(tmp_path, gz=gz)
    images, labels = load_mnist(tmp_path, kind="test")
    np.testing.assert_array_equal(images, IMAGES)
    np.testing.assert_array_equal(labels, LABELS)
    assert images.dtype == labels.dtype == np.uint8


def test_mnist_train_kind_and_mnist_subfolder(tmp_path):
    write_mnist(tmp_path / "mnist", kind="train")
    images, labels = load_mnist(str(tmp_path), kind="train")
    assert images.shape == (3, 28, 28) and labels.tolist() == [7, 0, 9]


def test_mnist_folder_from_nncore_data(tmp_path, monkeypatch):
    write_mnist(tmp_path / "mnist")
    monkeypatch.setenv("NNCORE_DATA", str(tmp_path))
    images, labels = load_mnist(kind="test")
    assert labels.tolist() == [7, 0, 9]
    # An explicit path wins over the environment variable.
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        load_mnist(tmp_path / "elsewhere", kind="test")


def test_mnist_default_folder_is_home_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NNCORE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    write_mnist(tmp_path / ".cache" / "nncore")
    assert load_mnist(kind="test")[1].tolist() == [7, 0, 9]


def test_mnist_never_downloads_unless_asked(tmp_path, monkeypatch):
    def no_network(url, out):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setattr(mnist_module, "_fetch", no_network)
    with pytest.raises(FileNotFoundError, match="download=True") as info:
        load_mnist(tmp_path, kind="test")
    assert str(tmp_path) in str(info.value) and str(tmp_path / "mnist") in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("case, images_bytes, labels_bytes, match", [
    ("bad magic",
     idx_bytes(2049, (3, 28, 28), IMAGES.tobytes()),
     idx_bytes(2049, (3,), LABELS.tobytes()), "magic number 2049, expected 2051"),
    ("labels in the images slot",
     idx_bytes(2049, (3,), LABELS.tobytes()),
     idx_bytes(2049, (3,), LABELS.tobytes()), "magic number 2049, expected 2051"),
    ("bad label magic",
     idx_bytes(2051, (3, 28, 28), IMAGES.tobytes()),
     idx_bytes(2051, (3,), LABELS.tobytes()), "magic number 2051, expected 2049"),
    ("truncated images",
     idx_bytes(2051, (3, 28, 28), IMAGES.tobytes())[:-100],
     idx_bytes(2049, (3,), LABELS.tobytes()), "declares 3 images"),
    ("header lying about the count",
     idx_bytes(2051, (10**9, 28, 28), IMAGES.tobytes()),
     idx_bytes(2049, (3,), LABELS.tobytes()), "declares 1000000000 images"),
    ("trailing bytes",
     idx_bytes(2051, (3, 28, 28), IMAGES.tobytes()) + b"\0",
     idx_bytes(2049, (3,), LABELS.tobytes()), "holds more bytes"),
    ("truncated header",
     idx_bytes(2051, (3, 28, 28), b"")[:10],
     idx_bytes(2049, (3,), LABELS.tobytes()), "truncated IDX header"),
    ("empty file", b"", idx_bytes(2049, (3,), LABELS.tobytes()), "only 0 bytes"),
    ("wrong image size",
     idx_bytes(2051, (3, 27, 28), IMAGES.tobytes()[: 3 * 27 * 28]),
     idx_bytes(2049, (3,), LABELS.tobytes()), "declares 27x28"),
    ("count mismatch",
     idx_bytes(2051, (3, 28, 28), IMAGES.tobytes()),
     idx_bytes(2049, (2,), LABELS[:2].tobytes()), "3 images but .* 2 labels"),
    ("label out of range",
     idx_bytes(2051, (3, 28, 28), IMAGES.tobytes()),
     idx_bytes(2049, (3,), bytes([1, 2, 10])), "digits 0-9, found 10"),
])
def test_mnist_refuses_corrupt_files(tmp_path, gz, case, images_bytes, labels_bytes, match):
    images_path = write(tmp_path / "t10k-images-idx3-ubyte", images_bytes, gz)
    labels_path = write(tmp_path / "t10k-labels-idx1-ubyte", labels_bytes, gz)
    with pytest.raises(ValueError, match=match) as info:
        load_mnist(tmp_path, kind="test")
    # The message names the offending file.
    assert str(images_path) in str(info.value) or str(labels_path) in str(info.value)


@pytest.mark.parametrize("damage", ["cut", "garbage"])
def test_mnist_refuses_a_damaged_gzip_stream(tmp_path, damage):
    write_mnist(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    data = path.read_bytes()
    if damage == "cut":
        data = data[: len(data) // 2]
    else:  # keep gzip's magic so the file is taken for gzip, then break the stream
        data = data[:10] + bytes(255 - b for b in data[10:])
    path.write_bytes(data)
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(tmp_path, kind="test")


def test_mnist_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="kind='validation'"):
        load_mnist(tmp_path, kind="validation")
    with pytest.raises(TypeError, match="download='yes'"):
        load_mnist(tmp_path, kind="test", download="yes")
    with pytest.raises(TypeError, match="path=3"):
        load_mnist(3)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="not a file"):
        load_mnist(a_file)


# ------------------------------------------------------- MNIST: download, without network

@pytest.fixture
def server(tmp_path, monkeypatch):
    """A folder standing in for the mirror, served through file:// URLs; the checksum
    constants are pointed at its (fake, small) files."""
    folder = tmp_path / "server"
    write_mnist(folder, kind="t10k", gz=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        monkeypatch.setitem(MNIST_SHA256, name, sha256_of(folder / name))
    return folder


def test_download_with_good_checksum_is_kept(tmp_path, server):
    dest = tmp_path / "dest"
    images, labels = load_mnist(dest, kind="test", download=True, base_url=server.as_uri())
    np.testing.assert_array_equal(images, IMAGES)
    assert labels.tolist() == [7, 0, 9]
    assert sorted(p.name for p in dest.iterdir()) == ["t10k-images-idx3-ubyte.gz",
                                                      "t10k-labels-idx1-ubyte.gz"]
    # Second call: the files are there, nothing is fetched.
    assert load_mnist(dest, kind="test", download=True, base_url="file:///nonexistent")[1].size


@needs_shared_mnist
def test_download_of_the_real_files_passes_the_real_checksums(tmp_path):
    # The shared folder plays the mirror: the constants themselves are checked, unpatched.
    dest = tmp_path / "dest"
    images, labels = load_mnist(dest, kind="test", download=True,
                                base_url=SHARED_MNIST.as_uri())
    assert images.shape == (10000, 28, 28) and labels[:3].tolist() == [7, 2, 1]
    assert sha256_of(dest / "t10k-images-idx3-ubyte.gz") == MNIST_SHA256[
        "t10k-images-idx3-ubyte.gz"]


def test_download_into_the_cache_goes_to_a_mnist_subfolder(tmp_path, server, monkeypatch):
    monkeypatch.setenv("NNCORE_DATA", str(tmp_path / "cache"))
    load_mnist(kind="test", download=True, base_url=server.as_uri() + "/")
    assert (tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_download_with_bad_checksum_is_refused_and_deleted(tmp_path, server, monkeypatch):
    monkeypatch.setitem(MNIST_SHA256, "t10k-images-idx3-ubyte.gz", "0" * 64)
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="checksum mismatch") as info:
        load_mnist(dest, kind="test", download=True, base_url=server.as_uri())
    assert "0" * 64 in str(info.value)
    assert list(dest.iterdir()) == []  # no file under the real name, no temporary left


def test_interrupted_download_leaves_nothing(tmp_path, monkeypatch):
    def broken_fetch(url, out):
        out.write(b"\x1f\x8b partial")
        raise ConnectionResetError("connection lost")

    monkeypatch.setattr(mnist_module, "_fetch", broken_fetch)
    with pytest.raises(ConnectionResetError):
        load_mnist(tmp_path, kind="test", download=True)
    assert list(tmp_path.iterdir()) == []


def test_download_urls_are_base_url_plus_file_name(tmp_path, monkeypatch):
    fetched = []

    def fake_fetch(url, out):
        fetched.append(url)
        out.write(b"not the real file")

    monkeypatch.setattr(mnist_module, "_fetch", fake_fetch)
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_mnist(tmp_path, kind="train", download=True, base_url="https://example.org/m")
    assert fetched == ["https://example.org/m/train-images-idx3-ubyte.gz"]
    assert not any(name.endswith(".part") for name in os.listdir(tmp_path))


# ------------------------------------------------------------------------ toy data sets

@pytest.mark.parametrize("name, expected", [
    ("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1]), ("nand", [1, 1, 1, 0]), ("xor", [0, 1, 1, 0]),
])
def test_gate_truth_tables(name, expected):
    x, y = make_gates(name)
    assert x.dtype == np.float32 and x.shape == (4, 2)
    assert y.dtype == np.int64 and y.tolist() == expected
    assert x.tolist() == [[0, 0], [1, 0], [0, 1], [1, 1]]
    assert make_gates(name.upper())[1].tolist() == expected
    assert list(GATES[name]) == expected


def test_make_xor_and_gate_errors():
    x, y = make_xor()
    assert y.tolist() == [0, 1, 1, 0] and x.shape == (4, 2)
    with pytest.raises(ValueError, match="name='nor'"):
        make_gates("nor")


def test_spirals_shapes_balance_and_determinism():
    x, y = make_spirals(random_state=0)
    assert x.shape == (300, 2) and x.dtype == np.float32
    assert y.shape == (300,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100, 100, 100]
    x2, y2 = make_spirals(random_state=0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, make_spirals(random_state=1)[0])
    assert np.bincount(make_spirals(301, 3, random_state=0)[1]).tolist() == [101, 100, 100]
    assert np.abs(x).max() <= 1.0  # every point lies within the unit disc


def test_spirals_without_noise_follow_the_arms():
    x, y = make_spirals(n_samples=40, n_classes=2, noise=0.0, shuffle=False)
    r = np.linspace(0.0, 1.0, 20)
    for k in range(2):
        arm = x[y == k].astype(np.float64)
        theta = 4.0 * (k + r)
        np.testing.assert_allclose(np.hypot(arm[:, 0], arm[:, 1]), r, atol=1e-6)
        np.testing.assert_allclose(arm, np.column_stack([r * np.sin(theta), r * np.cos(theta)]),
                                   atol=1e-6)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_samples": 0}, ValueError, "n_samples=0"),
    ({"n_samples": 2, "n_classes": 3}, ValueError, "n_classes=3"),
    ({"n_classes": 2.0}, TypeError, "n_classes=2.0"),
    ({"noise": -0.1}, ValueError, "noise=-0.1"),
    ({"noise": float("nan")}, ValueError, "noise=nan"),
])
def test_spirals_refuse_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_spirals(**kwargs)


# -------------------------------------------------------------------------- to_categorical

def test_to_categorical_as_keras():
    out = to_categorical([0, 2, 1, 2])
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]])
    assert to_categorical([1], num_classes=4).tolist() == [[0, 1, 0, 0]]
    assert to_categorical(np.array([[1], [0]])).shape == (2, 2)     # (n, 1) -> (n, C)
    assert to_categorical(np.zeros((2, 3), int), 5).shape == (2, 3, 5)
    assert to_categorical(3, num_classes=4).tolist() == [0, 0, 0, 1]
    assert to_categorical([0, 1], dtype="int64").dtype == np.int64
    assert to_categorical(np.array([1.0, 0.0])).tolist() == [[0, 1], [1, 0]]
    _, y = load_iris()
    np.testing.assert_array_equal(to_categorical(y).argmax(axis=1), y)


@pytest.mark.parametrize("y, kwargs, error, match", [
    ([0, -1], {}, ValueError, "minimum -1"),
    ([0, 3], {"num_classes": 3}, ValueError, "num_classes=3"),
    ([0, 1], {"num_classes": 0}, ValueError, "num_classes=0"),
    ([0.5, 1.0], {}, ValueError, "whole numbers"),
    (["a", "b"], {}, TypeError, "dtype <U1"),
    ([], {}, ValueError, "num_classes is required"),
])
def test_to_categorical_refuses_bad_labels(y, kwargs, error, match):
    with pytest.raises(error, match=match):
        to_categorical(y, **kwargs)


# ------------------------------------------------------------------------ train_test_split

def test_split_sizes_alignment_and_partition():
    x = np.arange(20).reshape(10, 2)
    y = np.arange(10) * 10
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=0)
    assert len(x_test) == 3 and len(x_train) == 7  # ceil(0.25 * 10) = 3, as scikit-learn
    np.testing.assert_array_equal(x_train[:, 0] * 5, y_train)  # rows stay paired
    np.testing.assert_array_equal(x_test[:, 0] * 5, y_test)
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == y.tolist()
    assert len(train_test_split(x, test_size=4)[1]) == 4
    assert len(train_test_split(x, test_size=0.5)[1]) == 5


def test_split_is_reproducible_and_seed_dependent():
    x = np.arange(100)
    a = train_test_split(x, random_state=42)
    b = train_test_split(x, random_state=42)
    c = train_test_split(x, random_state=7)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert not np.array_equal(a[0], np.sort(a[0]))  # actually shuffled


def test_split_without_shuffle_takes_the_last_rows():
    x_train, x_test = train_test_split(np.arange(8), test_size=0.25, shuffle=False)
    assert x_train.tolist() == [0, 1, 2, 3, 4, 5] and x_test.tolist() == [6, 7]


def test_stratified_split_keeps_class_proportions():
    x, y = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y,
                                                        random_state=0)
    assert np.bincount(y_test).tolist() == [10, 10, 10]
    assert np.bincount(y_train).tolist() == [40, 40, 40]
    assert len(np.unique(y_test[:5])) > 1  # classes interleaved, not in blocks
    labels = np.array([0] * 80 + [1] * 20)
    _, test = train_test_split(labels, test_size=0.25, stratify=labels, random_state=1)
    assert np.bincount(test).tolist() == [20, 5]
    again = train_test_split(labels, test_size=0.25, stratify=labels, random_state=1)[1]
    np.testing.assert_array_equal(test, again)


@pytest.mark.parametrize("arrays, kwargs, error, match", [
    ((np.arange(5), np.arange(4)), {}, ValueError, r"lengths \[5, 4\]"),
    ((np.arange(5),), {"test_size": 0.0}, ValueError, "test_size=0.0"),
    ((np.arange(5),), {"test_size": 1.5}, ValueError, "test_size=1.5"),
    ((np.arange(5),), {"test_size": 5}, ValueError, "test_size=5"),
    ((np.arange(5),), {"test_size": True}, TypeError, "test_size=True"),
    ((np.arange(4),), {"stratify": [0, 0, 1, 1], "shuffle": False}, ValueError, "shuffle"),
    ((np.arange(4),), {"stratify": [0, 0, 0, 1]}, ValueError, "at least 2 members"),
    ((np.arange(4),), {"stratify": [0, 1]}, ValueError, r"stratify.shape=\(2,\)"),
    ((), {}, ValueError, "at least one array"),
])
def test_split_refuses_bad_arguments(arrays, kwargs, error, match):
    with pytest.raises(error, match=match):
        train_test_split(*arrays, **kwargs)


def test_gates_from_datasets_agree_with_the_perceptron_gates():
    from nncore.perceptron import AND, NAND, OR, XOR
    for name, gate in {"and": AND, "or": OR, "nand": NAND, "xor": XOR}.items():
        x, y = make_gates(name)
        np.testing.assert_array_equal(gate(x), y)
