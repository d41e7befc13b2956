"""The model file format: exact round trips, and every damaged or hostile file refused.

Hostile files are built with a *valid* checksum (``assemble``) so that the check under
test, not the checksum, is what refuses them.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nncore import saving
from nncore.saving import FORMAT_VERSION, MAGIC, ModelFileError, read_archive, write_archive

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_]
SHAPES = [(), (0,), (3, 0, 2), (1,), (5,), (2, 3), (2, 1, 3, 2)]


def sample(dtype, shape, seed: int = 0) -> np.ndarray:
    """Values that exercise every bit: NaN payloads, -0.0, inf, subnormals, extremes."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
    if dtype == np.bool_:
        raw = raw % 2
    return raw.view(dtype).reshape(shape).copy()


def assert_identical(actual: np.ndarray, expected: np.ndarray, name: str) -> None:
    assert isinstance(actual, np.ndarray), name
    assert actual.dtype == expected.dtype, f"{name}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    assert actual.tobytes() == np.ascontiguousarray(expected).tobytes(), f"{name}: bits differ"
    assert actual.flags.c_contiguous and actual.flags.writeable, f"{name}: flags {actual.flags}"
    assert actual.dtype.isnative, name


def assemble(header, data: bytes = b"", *, version: int = FORMAT_VERSION,
             length: int | None = None, header_length: int | None = None) -> bytes:
    """A file with any header (dict or raw bytes) and a correct trailing SHA-256."""
    body = header if isinstance(header, bytes) else json.dumps(header).encode()
    if length is None:
        length = 28 + len(body) + len(data) + 32
    if header_length is None:
        header_length = len(body)
    content = struct.pack("<8sIQQ", MAGIC, version, length, header_length) + body + data
    return content + hashlib.sha256(content).digest()


def valid_header(**changes) -> dict:
    """The header of one float32 array of shape (2, 3) with 24 bytes of data, then changes."""
    entry = {"name": "W", "dtype": "<f4", "shape": [2, 3], "offset": 0, "nbytes": 24}
    entry.update(changes)
    return {"format_version": FORMAT_VERSION, "config": {"units": 3}, "arrays": [entry]}


def refused(tmp_path: Path, content: bytes, match: str = "", name: str = "bad.nnc"):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=match) as info:
        read_archive(path)
    return info.value


@pytest.fixture
def small_file(tmp_path) -> bytes:
    path = tmp_path / "small.nnc"
    write_archive(path, {"name": "tiny", "layers": [{"units": 2}]},
                  {"W": np.arange(4, dtype=np.float32).reshape(2, 2),
                   "b": np.array([1, 2], dtype=np.int64), "flag": np.array(True)})
    return path.read_bytes()


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip_is_bit_identical_for_every_dtype_and_shape(tmp_path, dtype):
    arrays = {f"a{i}": sample(dtype, shape, seed=i) for i, shape in enumerate(SHAPES)}
    path = tmp_path / "m.nnc"
    write_archive(path, {}, arrays)
    config, loaded = read_archive(path)
    assert config == {}
    assert list(loaded) == list(arrays), "arrays come back in the order written"
    for name, expected in arrays.items():
        assert_identical(loaded[name], expected, f"{name} {expected.shape}")
        assert loaded[name].flags.owndata, f"{name} must not alias the file's buffer"


def test_special_float_values_keep_their_bits(tmp_path):
    nan_payload = np.array([0x7FC00001, 0xFFC12345], dtype=np.uint32).view(np.float32)
    values = np.concatenate([nan_payload, np.array(
        [-0.0, np.inf, -np.inf, 1e-45, np.finfo(np.float32).max], dtype=np.float32)])
    write_archive(tmp_path / "m.nnc", {}, {"x": values})
    assert_identical(read_archive(tmp_path / "m.nnc")[1]["x"], values, "x")


def test_any_layout_or_byte_order_is_written_little_endian_c_order(tmp_path):
    base = sample(np.float64, (4, 6), seed=3)
    arrays = {"fortran": np.asfortranarray(base), "transposed": base.T,
              "strided": base[::2, ::3], "big_endian": base.astype(">f8"),
              "big_int": np.arange(5, dtype=">i4")}
    write_archive(tmp_path / "m.nnc", {}, arrays)
    _, loaded = read_archive(tmp_path / "m.nnc")
    for name, array in arrays.items():
        expected = array.astype(array.dtype.newbyteorder("="))
        assert_identical(loaded[name], expected, name)
    raw = (tmp_path / "m.nnc").read_bytes()
    assert np.arange(5, dtype="<i4").tobytes() in raw, "data must be little-endian on disk"


def test_nested_config_round_trips(tmp_path):
    config = {"name": "mlp \u00e9\u4e2d\U0001f600", "\u00fcber key": "\n\t\"\\",
              "layers": [{"class_name": "Dense", "config": {"units": 8, "activation": "relu",
                                                            "use_bias": True}},
                         {"class_name": "Dropout", "config": {"rate": 0.1}}],
              "optimizer": {"learning_rate": 1e-3, "beta_1": 0.9, "epsilon": 1e-7,
                            "iterations": 2**70, "clipnorm": None, "negative_zero": -0.0},
              "empty": {}, "nothing": [], "deep": [[[[{"k": [1, [2, [3]]]}]]]],
              "z_first_then_a": {"z": 1, "a": 2}}
    write_archive(tmp_path / "m.nnc", config, {})
    loaded, arrays = read_archive(tmp_path / "m.nnc")
    assert loaded == config and arrays == {}
    assert list(loaded["z_first_then_a"]) == ["z", "a"], "key order is kept"
    assert str(loaded["optimizer"]["negative_zero"]) == "-0.0"


def test_structured_names_are_allowed(tmp_path):
    names = ["dense_1/kernel", "optimizer/adam/m[0]", "layers.0:W", "b", "x" * 255, "_"]
    write_archive(tmp_path / "m.nnc", {}, {name: np.zeros(1) for name in names})
    assert list(read_archive(tmp_path / "m.nnc")[1]) == names


def test_tuples_come_back_as_lists(tmp_path):
    write_archive(tmp_path / "m.nnc", {"input_shape": (None, 4)}, {})
    assert read_archive(tmp_path / "m.nnc")[0] == {"input_shape": [None, 4]}


def test_same_inputs_give_the_same_bytes(tmp_path):
    arrays = {"W": sample(np.float32, (3, 2))}
    write_archive(tmp_path / "a.nnc", {"seed": 0}, arrays)
    write_archive(tmp_path / "b.nnc", {"seed": 0}, arrays)
    assert (tmp_path / "a.nnc").read_bytes() == (tmp_path / "b.nnc").read_bytes()


def test_layout_matches_the_documented_format(tmp_path):
    W = np.arange(6, dtype=np.float32).reshape(2, 3)
    write_archive(tmp_path / "m.nnc", {"units": 3}, {"W": W, "step": np.array(7)})
    raw = (tmp_path / "m.nnc").read_bytes()
    assert raw[:8] == b"\x89NNC\r\n\x1a\n"
    version, length, header_length = struct.unpack_from("<IQQ", raw, 8)
    assert (version, length) == (1, len(raw))
    header = json.loads(raw[28:28 + header_length].decode("utf-8"))
    assert list(header) == ["format_version", "config", "arrays"]
    assert header["config"] == {"units": 3}
    assert header["arrays"] == [
        {"name": "W", "dtype": "<f4", "shape": [2, 3], "offset": 0, "nbytes": 24},
        {"name": "step", "dtype": "<i8", "shape": [], "offset": 24, "nbytes": 8}]
    data = raw[28 + header_length:-32]
    assert data == W.astype("<f4").tobytes() + np.array(7, "<i8").tobytes()
    assert raw[-32:] == hashlib.sha256(raw[:-32]).digest()


def test_path_may_be_str_or_pathlike_and_a_file_is_replaced(tmp_path):
    write_archive(str(tmp_path / "m.nnc"), {"v": 1}, {})
    write_archive(tmp_path / "m.nnc", {"v": 2}, {})
    assert read_archive(str(tmp_path / "m.nnc"))[0] == {"v": 2}
    assert sorted(os.listdir(tmp_path)) == ["m.nnc"]


# ---------------------------------------------------------------- refused arguments


@pytest.mark.parametrize("config, error, match", [
    ([1, 2], TypeError, "config must be a dict"),
    ({"a": {1, 2}}, TypeError, r"config\['a'\] is not JSON"),
    ({"a": np.int64(3)}, TypeError, r"config\['a'\] is not JSON"),
    ({"a": b"bytes"}, TypeError, "not JSON"),
    ({1: "int key"}, TypeError, "keys must be str"),
    ({"a": [0.5, float("nan")]}, ValueError, r"config\['a'\]\[1\] must be a finite"),
    ({"a": float("inf")}, ValueError, "finite"),
    ({"a": ["\ud83d\ude00"]}, ValueError, r"config\['a'\]\[0\] contains a lone surrogate"),
    ({"\udc80": 1}, ValueError, "key .* contains a lone surrogate"),
], ids=["list", "set", "numpy-int", "bytes", "int-key", "nan", "inf", "surrogates",
        "surrogate-key"])
def test_bad_config_is_refused(tmp_path, config, error, match):
    with pytest.raises(error, match=match):
        write_archive(tmp_path / "m.nnc", config, {})
    assert os.listdir(tmp_path) == []


def test_self_referencing_or_too_deep_config_is_refused(tmp_path):
    loop: dict = {}
    loop["self"] = loop
    deep: list = []
    for _ in range(saving.MAX_DEPTH + 1):
        deep = [deep]
    for config in ({"loop": loop}, {"deep": deep}):
        with pytest.raises(ValueError, match="nested more than"):
            write_archive(tmp_path / "m.nnc", config, {})


@pytest.mark.parametrize("arrays, error, match", [
    ([np.zeros(2)], TypeError, "arrays must be a mapping"),
    ({"x": [1.0, 2.0]}, TypeError, r"arrays\['x'\] must be a numpy.ndarray"),
    ({"x": np.ma.array([1.0], mask=[True])}, TypeError, "numpy.ndarray"),
    ({"x": np.array([object()])}, TypeError, "dtype=object"),
    ({"x": np.zeros(2, np.float16)}, TypeError, "dtype=float16"),
    ({"x": np.zeros(2, np.complex128)}, TypeError, "dtype=complex128"),
    ({"x": np.array(["ab"])}, TypeError, "dtype=<U2"),
    ({"x": np.zeros(2, [("a", "<f8")])}, TypeError, "dtype"),
    ({"x": np.zeros(2, "datetime64[s]")}, TypeError, "dtype"),
    ({1: np.zeros(2)}, TypeError, "names must be str"),
    ({"": np.zeros(2)}, ValueError, "names must be 1 to 255"),
    ({"a b": np.zeros(2)}, ValueError, "names must be"),
    ({"a\n": np.zeros(2)}, ValueError, "names must be"),
    ({"x" * 256: np.zeros(2)}, ValueError, "names must be"),
    ({"../W": np.zeros(2)}, ValueError, "names must be"),
    ({"/W": np.zeros(2)}, ValueError, "names must be"),
    ({"a//W": np.zeros(2)}, ValueError, "names must be"),
], ids=["list", "list-value", "masked", "object", "float16", "complex", "str", "structured",
        "datetime", "int-name", "empty-name", "space", "newline", "long-name", "dotdot",
        "absolute", "empty-part"])
def test_bad_arrays_are_refused(tmp_path, arrays, error, match):
    with pytest.raises(error, match=match):
        write_archive(tmp_path / "m.nnc", {}, arrays)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("path", [b"m.nnc", 3, None], ids=["bytes", "int", "none"])
def test_bad_path_types_are_refused(path):
    with pytest.raises(TypeError, match="path must be"):
        write_archive(path, {}, {})
    with pytest.raises(TypeError, match="path must be"):
        read_archive(path)


def test_empty_and_directory_paths_are_refused(tmp_path):
    for call in (lambda p: write_archive(p, {}, {}), read_archive):
        with pytest.raises(FileNotFoundError):
            call("")
        with pytest.raises(IsADirectoryError) as info:
            call(tmp_path)
        assert info.value.filename == str(tmp_path)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- atomic writing


def test_missing_directory_raises_file_not_found_naming_the_path(tmp_path):
    target = tmp_path / "no" / "such" / "m.nnc"
    with pytest.raises(FileNotFoundError) as info:
        write_archive(target, {}, {})
    assert info.value.filename == str(target)


def _is_writable_despite_mode(directory: Path) -> bool:
    """Root (and some filesystems) ignore directory permission bits."""
    probe = directory / "probe"
    try:
        probe.write_bytes(b"")
    except PermissionError:
        return False
    probe.unlink()
    return True


def test_read_only_directory_raises_permission_error_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "m.nnc"
    write_archive(target, {"v": "old"}, {})
    before = target.read_bytes()
    tmp_path.chmod(0o555)
    try:
        if _is_writable_despite_mode(tmp_path):
            pytest.skip("permission bits do not apply here (root); the monkeypatched "
                        "failure tests below cover this path")
        with pytest.raises(PermissionError) as info:
            write_archive(target, {"v": "new"}, {})
        assert info.value.filename == str(target)
    finally:
        tmp_path.chmod(0o755)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.nnc"]


@pytest.mark.parametrize("where", ["open", "fsync", "replace"])
@pytest.mark.parametrize("error", [PermissionError(errno.EACCES, "Permission denied"),
                                   OSError(errno.ENOSPC, "No space left on device")],
                         ids=["EACCES", "ENOSPC"])
def test_a_failing_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch,
                                                                     where, error):
    target = tmp_path / "m.nnc"
    write_archive(target, {"v": "old"}, {"W": np.ones(3)})
    before = target.read_bytes()

    def fail(*args, **kwargs):
        raise error

    if where == "open":  # the directory refuses new files, as a read-only one does as root
        real_open = os.open
        monkeypatch.setattr(os, "open", lambda p, *a, **k: fail() if str(p).endswith(".tmp")
                            else real_open(p, *a, **k))
    else:
        monkeypatch.setattr(os, where, fail)
    with pytest.raises(type(error)) as info:
        write_archive(target, {"v": "new"}, {"W": np.zeros(3)})
    monkeypatch.undo()
    assert info.value.errno == error.errno
    assert info.value.filename == str(target), "the error names the path the user gave"
    assert target.read_bytes() == before, "the previous file must be left intact"
    assert os.listdir(tmp_path) == ["m.nnc"], "no temporary file may remain"


def test_an_interrupted_write_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_archive(tmp_path / "m.nnc", {}, {"W": np.ones(3)})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- damaged files


def test_every_truncation_is_refused(tmp_path, small_file):
    path = tmp_path / "cut.nnc"
    for n in range(len(small_file)):
        path.write_bytes(small_file[:n])
        with pytest.raises(ModelFileError, match="truncated|empty file") as info:
            read_archive(path)
        assert str(path) in str(info.value), f"prefix of {n} bytes: message lacks the path"


def test_every_flipped_byte_is_refused(tmp_path, small_file):
    path = tmp_path / "flipped.nnc"
    for i in range(len(small_file)):
        for mask in (0x01, 0xFF):
            damaged = bytearray(small_file)
            damaged[i] ^= mask
            path.write_bytes(bytes(damaged))
            try:
                read_archive(path)
            except ModelFileError:
                continue
            pytest.fail(f"byte {i} xor {mask:#04x} was not detected")


def test_a_flipped_data_byte_says_checksum_mismatch(tmp_path, small_file):
    damaged = bytearray(small_file)
    damaged[-40] ^= 0x10
    refused(tmp_path, bytes(damaged), "checksum mismatch: the file was altered or damaged")


def test_appended_bytes_are_refused(tmp_path, small_file):
    refused(tmp_path, small_file + b"\x00", "unexpected bytes after its declared end")


def test_empty_file_is_refused(tmp_path):
    refused(tmp_path, b"", "empty file")


@pytest.mark.parametrize("content, hint", [
    (b"hello world, this is text and not a model at all" * 3, ""),
    (b"\x93NUMPY\x01\x00" + b" " * 100, "NumPy"),
    (b"\x89HDF\r\n\x1a\n" + b"\x00" * 100, "HDF5"),
    (b"NNC", ""),
], ids=["text", "npy", "hdf5", "short"])
def test_foreign_files_are_not_nncore_files(tmp_path, content, hint):
    error = refused(tmp_path, content, "not an nncore model file")
    assert hint in str(error)


def _make_zip(path: Path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


def _declare_huge_size(path: Path) -> None:
    """Rewrite the uncompressed size of every entry to 4 GiB, as a zip bomb declares."""
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.find(signature)
        while at != -1:
            struct.pack_into("<I", raw, at + offset, 0xFFFFFFFF)
            at = raw.find(signature, at + 4)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("kind", ["plain", "bomb", "traversal"])
def test_zip_files_are_refused_without_extracting_anything(tmp_path, kind):
    work = tmp_path / "work"
    work.mkdir()
    path = work / "model.nnc"
    entries = {"config.json": b"{}", "model.weights.h5": b"\x00" * 10_000}
    if kind == "traversal":
        entries = {"../evil": b"pwned", "../../evil2": b"pwned"}
    _make_zip(path, entries)
    if kind == "bomb":
        _declare_huge_size(path)
    with pytest.raises(ModelFileError, match="not an nncore model file.*zip"):
        read_archive(path)
    assert os.listdir(work) == ["model.nnc"]
    assert sorted(os.listdir(tmp_path)) == ["work"], "nothing may be extracted"


class _CreatesMarker:
    """Unpickling this object opens (creates) ``marker``: the attack we must not run."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_renamed_to_nnc_is_refused_and_never_unpickled(tmp_path):
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_CreatesMarker(control))).close()
    assert control.exists(), "the payload must be live, or this test proves nothing"

    marker = tmp_path / "marker"
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        payload = pickle.dumps(_CreatesMarker(marker), protocol=protocol)
        refused(tmp_path, payload, "not an nncore model file", name="model.nnc")
        assert not marker.exists(), f"protocol {protocol}: the pickle was executed"


def test_a_non_regular_file_is_refused(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "pipe.nnc"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        read_archive(fifo)  # must not block waiting for a writer


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_archive(tmp_path / "missing.nnc")


# ---------------------------------------------------------------- versions


def test_a_future_version_is_refused_by_number(tmp_path):
    header = valid_header()
    header["format_version"] = 7
    content = assemble(header, bytes(24), version=7)
    refused(tmp_path, content, r"format version 7 is newer than this nncore supports \(1\)")


def test_a_future_version_is_refused_even_with_a_header_we_cannot_parse(tmp_path):
    content = assemble(b"\x00 a version 9 header in a format we do not know", version=9)
    refused(tmp_path, content, "format version 9 is newer")


def test_version_zero_and_mismatched_versions_are_refused(tmp_path):
    refused(tmp_path, assemble(valid_header(), bytes(24), version=0), "version 0")
    header = valid_header()
    header["format_version"] = 2
    refused(tmp_path, assemble(header, bytes(24)), "header says format version 2")


# ---------------------------------------------------------------- hostile headers


def test_the_valid_reference_file_loads(tmp_path):
    path = tmp_path / "ok.nnc"
    path.write_bytes(assemble(valid_header(), np.arange(6, dtype="<f4").tobytes()))
    config, arrays = read_archive(path)
    assert config == {"units": 3}
    assert_identical(arrays["W"], np.arange(6, dtype=np.float32).reshape(2, 3), "W")


@pytest.mark.parametrize("code", ["O", "|O", "<U4", ">f8", ">f4", "<f2", "<c16", "|V24",
                                  "<M8[s]", "float32", "f4", "<u8", 4, None])
def test_dtypes_outside_the_whitelist_are_refused(tmp_path, code):
    refused(tmp_path, assemble(valid_header(dtype=code), bytes(24)),
            "dtype .* is not one of")


def entry(name, dtype="<f4", shape=(2,), offset=0, nbytes=8) -> dict:
    return {"name": name, "dtype": dtype, "shape": list(shape), "offset": offset,
            "nbytes": nbytes}


def table_header(*entries) -> dict:
    return {"format_version": 1, "config": {}, "arrays": list(entries)}


@pytest.mark.parametrize("header, data_length, match", [
    (table_header(entry("a"), entry("b", offset=4)), 12, "overlap"),
    (table_header(entry("a", shape=(4,), nbytes=16), entry("b", offset=8)), 16, "overlap"),
    (table_header(entry("a"), entry("b", offset=0)), 8, "overlap"),
    (table_header(entry("a", offset=4)), 8, r"spans bytes \[4, 12\)"),
    (table_header(entry("a", shape=(2**40,), nbytes=2**42)), 8, "spans bytes"),
    (table_header(entry("a", nbytes=12)), 12, "needs 8 bytes but nbytes is 12"),
    (table_header(entry("a", shape=(3,))), 8, "needs 12 bytes"),
    (table_header(entry("a", shape=(0, 2**62), nbytes=0)), 0, "too large"),
    (table_header(entry("a", shape=(-2,), nbytes=-8)), 8, "non-negative"),
    (table_header(entry("a", shape=(2.0,))), 8, "shape must be"),
    (table_header(entry("a", shape=(True, 2), nbytes=8)), 8, "shape must be"),
    (table_header(entry("a", shape=[1] * 33, nbytes=4)), 4, "at most 32"),
    (table_header(entry("a", offset=-1)), 8, "offset must be"),
    (table_header(entry("a", offset="0")), 8, "offset must be"),
    (table_header(entry("a")), 9, "1 bytes that belong to no array"),
    (table_header(entry("a"), entry("a", offset=8)), 16, "appears twice"),
    (table_header(entry("../../etc/passwd")), 8, "invalid array name"),
    (table_header(entry("")), 8, "invalid array name"),
    (table_header(entry(7)), 8, "invalid array name"),
    (table_header({**entry("a"), "pickle": True}), 8, "unknown: \\['pickle'\\]"),
    (table_header({k: v for k, v in entry("a").items() if k != "dtype"}), 8, "missing"),
    (table_header(["a", "<f4", [2], 0, 8]), 8, "must be a JSON object"),
    ({**table_header(entry("a")), "loader": "pickle"}, 8, "unknown: \\['loader'\\]"),
    ({"format_version": 1, "arrays": []}, 0, "missing: \\['config'\\]"),
    ({"format_version": 1, "config": [], "arrays": []}, 0, "config must be an object"),
    ({"format_version": 1, "config": {}, "arrays": {}}, 0, "arrays must be a list"),
    ({"format_version": "1", "config": {}, "arrays": []}, 0, "must be an integer"),
    ([1, {}, []], 0, "must be a JSON object"),
], ids=["overlap", "overlap-inside", "same-start", "past-end", "huge-past-end",
        "nbytes-mismatch", "shape-mismatch", "huge-empty", "negative", "float-dim",
        "bool-dim", "too-many-dims", "negative-offset", "string-offset", "hidden-bytes",
        "duplicate-name", "path-name", "empty-name", "int-name", "unknown-entry-key",
        "missing-entry-key", "entry-list", "unknown-header-key", "missing-config",
        "config-list", "arrays-dict", "version-string", "header-list"])
def test_structurally_invalid_headers_are_refused(tmp_path, header, data_length, match):
    refused(tmp_path, assemble(header, bytes(data_length)), match)


@pytest.mark.parametrize("body, match", [
    (b'{"format_version": 1, "config": {}, "arrays": [}', "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    (b'{"format_version": 1, "config": {"a": NaN}, "arrays": []}', "NaN is not strict"),
    (b'{"format_version": 1, "config": {"a": 1e999}, "arrays": []}', "out of range"),
    (b'{"format_version": 1, "config": {"a": ' + b"9" * 5000 + b'}, "arrays": []}',
     "not valid JSON"),
    (b'{"format_version": 1, "config": {}, "config": {"x": 1}, "arrays": []}',
     "duplicate key 'config'"),
    (b'{"format_version": 1, "config": {"d": ' + b"[" * 100_000 + b"]" * 100_000
     + b'}, "arrays": []}', "not valid JSON|nested more than"),
    (b'{"format_version": 1, "config": {"d": ' + b"[" * 70 + b"]" * 70
     + b'}, "arrays": []}', "nested more than"),
    (b'{"format_version": 1, "config": {}, "arrays": []} trailing', "not valid JSON"),
    (b"", "not valid JSON"),
    (b'{"format_version": 1, "config": {"a": "\\ud800"}, "arrays": []}', "lone surrogate"),
], ids=["syntax", "not-utf8", "nan", "overflow", "huge-int", "duplicate-key", "very-deep",
        "deep", "trailing", "empty", "surrogate"])
def test_malformed_json_is_refused(tmp_path, body, match):
    refused(tmp_path, assemble(body), match)


@pytest.mark.parametrize("header_length", [10**6, 2**64 - 1, 2**63])
def test_a_header_length_past_the_file_is_refused(tmp_path, header_length):
    content = assemble(table_header(), header_length=header_length)
    refused(tmp_path, content, f"header length {header_length} does not fit")


def test_a_wrong_declared_length_with_a_valid_checksum_is_refused(tmp_path):
    content = assemble(table_header(), length=10**9)
    refused(tmp_path, content, "declares 1000000000 bytes but has")
