"""Hostile or unusual files and paths, and models of many layers (issue 14, items 9, 10
and 12).

Large files are sparse (``truncate``): they take no disk space, and the tests assert on the
memory used and the bytes read, never on wall-clock time.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import nncore as nn
from nncore import saving
from nncore.saving import MAGIC, ModelFileError, read_archive, write_archive

GIB = 1 << 30


def _bytes_read() -> int | None:
    """Bytes this process has read through system calls so far (Linux), else None."""
    try:
        with open("/proc/self/io") as f:
            fields = dict(line.split(":") for line in f)
    except OSError:
        return None
    return int(fields["rchar"])


def refuse_cheaply(path: Path, match: str, *, max_read: int = 1 << 20) -> None:
    """``read_archive(path)`` raises ModelFileError matching ``match``, having allocated
    at most a few MB and read at most ``max_read`` bytes (where the OS tells)."""
    before = _bytes_read()
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=match):
            read_archive(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    after = _bytes_read()
    assert peak < 4 << 20, f"refusing {path.name} allocated {peak} bytes at peak"
    if before is not None:
        assert after - before <= max_read, f"refusing {path.name} read {after - before} bytes"


def sparse_file(path: Path, size: int, start: bytes = b"") -> Path:
    with open(path, "wb") as f:
        f.write(start)
        f.truncate(size)
    return path


def prefix(length: int, header_length: int, version: int = 1) -> bytes:
    return struct.pack("<8sIQQ", MAGIC, version, length, header_length)


# ------------------------------------------------------------ item 9: check before reading


def test_a_huge_foreign_file_is_refused_from_its_first_bytes(tmp_path):
    path = sparse_file(tmp_path / "zeros.nnc", 4 * GIB)
    refuse_cheaply(path, "not an nncore model file")


def test_a_header_declaring_more_than_the_file_holds_is_refused_before_reading(tmp_path):
    path = sparse_file(tmp_path / "liar.nnc", 4 * GIB, prefix(1 << 40, 1 << 39))
    refuse_cheaply(path, "truncated: the file declares 1099511627776 bytes but has 4294967296")


def test_a_header_length_over_the_cap_is_refused_before_reading(tmp_path):
    path = sparse_file(tmp_path / "big-header.nnc", 4 * GIB, prefix(4 * GIB, 2 * GIB))
    refuse_cheaply(path, "declares 2147483648 bytes of JSON, more than MAX_HEADER_BYTES")


def test_the_checksum_of_a_large_file_is_streamed(tmp_path):
    """A frame that agrees with the file's size must be hashed, but in bounded memory."""
    size = GIB // 4
    path = sparse_file(tmp_path / "garbage.nnc", size, prefix(size, 2))
    refuse_cheaply(path, "checksum mismatch", max_read=size + (1 << 20))


def test_loading_costs_the_arrays_not_a_copy_of_the_file(tmp_path):
    big = np.arange(8 << 20, dtype=np.float32)  # 32 MiB
    path = tmp_path / "big.nnc"
    write_archive(path, {}, {"big": big})
    tracemalloc.start()
    try:
        _, arrays = read_archive(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.array_equal(arrays["big"], big)
    assert peak < big.nbytes + (4 << 20), f"peak {peak} for {big.nbytes} bytes of arrays"


def test_a_file_rewritten_while_it_is_read_is_refused(tmp_path, monkeypatch):
    """The checksum covers the bytes returned, not only those on disk at the first pass."""
    path = tmp_path / "m.nnc"
    write_archive(path, {}, {"W": np.zeros(4, np.float32)})
    content = path.read_bytes()
    real_hash = saving.format._hash_file

    def hash_then_alter(f, nbytes):
        digest = real_hash(f, nbytes)
        altered = bytearray(content)
        altered[-40] ^= 1  # a data byte
        path.write_bytes(bytes(altered))
        return digest

    monkeypatch.setattr(saving.format, "_hash_file", hash_then_alter)
    with pytest.raises(ModelFileError, match="changed while it was being read"):
        read_archive(path)


# ------------------------------------------------------------ item 12: what a save path names


def _saves_nothing(monkeypatch) -> None:
    """Any rename during the call fails the test, before it can replace a device node."""
    def refuse(src, dst):
        raise AssertionError(f"os.replace({src!r}, {dst!r}) was called")
    monkeypatch.setattr(os, "replace", refuse)


@pytest.mark.parametrize("relative", [True, False], ids=["relative-link", "absolute-link"])
def test_saving_over_a_symlink_writes_its_target_and_keeps_the_link(tmp_path, relative):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "real.nnc"
    write_archive(target, {"v": "old"}, {})
    link = tmp_path / "latest.nnc"
    link.symlink_to(Path("models/real.nnc") if relative else target)
    chain = tmp_path / "chain.nnc"
    chain.symlink_to(link)
    write_archive(link, {"v": "new"}, {"W": np.ones(2, np.float32)})
    write_archive(chain, {"v": "newer"}, {})
    assert link.is_symlink() and chain.is_symlink()
    assert os.path.realpath(chain) == os.path.realpath(target)
    assert read_archive(target)[0] == {"v": "newer"}
    assert sorted(os.listdir(tmp_path / "models")) == ["real.nnc"], "no temporary left"


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "m.nnc"
    link.symlink_to(tmp_path / "target.nnc")
    write_archive(link, {"v": 1}, {})
    assert link.is_symlink() and read_archive(tmp_path / "target.nnc")[0] == {"v": 1}


def test_a_symlink_loop_is_refused(tmp_path, monkeypatch):
    a, b = tmp_path / "a.nnc", tmp_path / "b.nnc"
    a.symlink_to(b)
    b.symlink_to(a)
    _saves_nothing(monkeypatch)
    with pytest.raises(OSError, match="symbolic links loop") as info:
        write_archive(a, {}, {})
    assert info.value.filename == str(a)
    assert a.is_symlink() and b.is_symlink()


def test_a_fifo_is_refused_without_blocking(tmp_path, monkeypatch):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "pipe.nnc"
    os.mkfifo(fifo)
    _saves_nothing(monkeypatch)
    with pytest.raises(OSError, match="a FIFO .* is not a regular file") as info:
        write_archive(fifo, {}, {})  # opening it to write would block: it must not be opened
    assert isinstance(info.value, shutil.SpecialFileError)
    assert info.value.filename == str(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe.nnc"]


def test_a_device_node_is_refused(monkeypatch):
    if not os.path.exists(os.devnull) or os.name != "posix":
        pytest.skip("no /dev/null here")
    _saves_nothing(monkeypatch)  # as root, a regression would replace /dev/null itself
    with pytest.raises(shutil.SpecialFileError, match="a character device") as info:
        write_archive(os.devnull, {}, {})
    assert info.value.filename == os.devnull
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_symlink_to_a_device_is_refused(tmp_path, monkeypatch):
    link = tmp_path / "m.nnc"
    link.symlink_to(os.devnull)
    _saves_nothing(monkeypatch)
    with pytest.raises(shutil.SpecialFileError) as info:
        write_archive(link, {}, {})
    assert info.value.filename == str(link) and link.is_symlink()


def test_a_name_too_long_is_refused_clearly_and_writes_nothing(tmp_path):
    path = tmp_path / ("m" * 300 + ".nnc")
    with pytest.raises(OSError, match="file name too long for the file system: its last "
                                      "part has 304 bytes") as info:
        write_archive(path, {}, {})
    assert info.value.errno == errno.ENAMETOOLONG and info.value.filename == str(path)
    assert os.listdir(tmp_path) == []


def test_the_longest_name_the_file_system_allows_can_be_saved(tmp_path):
    """The temporary's name must fit wherever the target's name fits."""
    limit = os.pathconf(tmp_path, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    path = tmp_path / ("m" * (limit - 4) + ".nnc")
    write_archive(path, {"v": 1}, {})
    assert read_archive(path)[0] == {"v": 1}
    assert os.listdir(tmp_path) == [path.name]


# ------------------------------------------------------------ item 10: many layers


def _deep_model(n: int) -> nn.Sequential:
    return nn.Sequential([nn.layers.Dense(2, input_dim=2)]
                         + [nn.layers.Dense(2) for _ in range(n - 1)], seed=0)


def _count_work(monkeypatch, action) -> tuple[int, int]:
    """(calls of Sequential._pack, calls of any layer's output_dim) while ``action`` runs:
    each is a pass over layers or weights, so their totals measure the work done."""
    counts = {"pack": 0, "output_dim": 0}
    pack, output_dim = nn.Sequential._pack, nn.layers.Dense.output_dim

    def counted_pack(model):
        counts["pack"] += 1
        pack(model)

    def counted_output_dim(layer, input_dim):
        counts["output_dim"] += 1
        return output_dim(layer, input_dim)

    with monkeypatch.context() as patch:
        patch.setattr(nn.Sequential, "_pack", counted_pack)
        patch.setattr(nn.layers.Dense, "output_dim", counted_output_dim)
        action()
    return counts["pack"], counts["output_dim"]


@pytest.mark.parametrize("n", [200, 400])
def test_building_and_loading_n_layers_packs_the_weights_once(tmp_path, monkeypatch, n):
    assert _count_work(monkeypatch, lambda: _deep_model(n))[0] == 1
    path = tmp_path / "deep.nnc"
    model = _deep_model(n)
    model.compile("adam", "mse")
    model.save(path)
    assert _count_work(monkeypatch, lambda: nn.load_model(path))[0] == 1


def test_building_and_loading_work_grows_linearly_with_the_layers(tmp_path, monkeypatch):
    def load_work(n):
        path = tmp_path / f"deep{n}.nnc"
        _deep_model(n).save(path)
        return _count_work(monkeypatch, lambda: nn.load_model(path))[1]

    def build_work(n):
        return _count_work(monkeypatch, lambda: _deep_model(n))[1]

    for work in (build_work, load_work):
        small, large = work(200), work(400)
        assert large <= 2 * small + 10, f"{work.__name__}: {small} for 200, {large} for 400"


def test_more_layers_than_the_cap_are_refused_clearly(tmp_path):
    too_many = saving.MAX_LAYERS + 1
    with pytest.raises(ValueError, match=f"at most MAX_LAYERS={saving.MAX_LAYERS} layers.*"
                                         f"Received: {too_many} layers"):
        nn.Sequential([nn.layers.Dropout(0.1) for _ in range(too_many)])
    model = nn.Sequential([nn.layers.Dropout(0.1) for _ in range(saving.MAX_LAYERS)])
    with pytest.raises(ValueError, match="at most MAX_LAYERS"):
        model.add(nn.layers.Dropout(0.1))
    assert len(model.layers) == saving.MAX_LAYERS

    path = tmp_path / "m.nnc"
    nn.Sequential([nn.layers.Dense(2, input_dim=2), nn.layers.Dropout(0.1)], seed=0).save(path)
    config, arrays = read_archive(path)
    dense, dropout = config["model"]["layers"]
    config["model"]["layers"] = [dense] + [dropout] * too_many  # the weights still match
    write_archive(path, config, arrays)
    with pytest.raises(ModelFileError, match="at most MAX_LAYERS"):
        nn.load_model(path)


def test_a_json_header_over_the_cap_is_refused_on_writing_and_reading(tmp_path):
    config = {"pad": "x" * saving.MAX_HEADER_BYTES}
    with pytest.raises(ValueError, match="more than MAX_HEADER_BYTES"):
        write_archive(tmp_path / "w.nnc", config, {})
    assert os.listdir(tmp_path) == []
    body = json.dumps({"format_version": 1, "config": config, "arrays": []}).encode()
    content = prefix(28 + len(body) + 32, len(body)) + body
    path = tmp_path / "r.nnc"
    path.write_bytes(content + hashlib.sha256(content).digest())
    with pytest.raises(ModelFileError, match=f"declares {len(body)} bytes of JSON, more than "
                                             "MAX_HEADER_BYTES"):
        read_archive(path)


def test_a_refused_stack_leaves_its_layers_unused():
    """Every layer is checked before any is named or built, so the good layers of a
    refused ``Sequential([...])`` can go into another model."""
    first, second = nn.layers.Dense(3, input_dim=2), nn.layers.Dense(4)
    with pytest.raises(ValueError, match="expects input_dim=5"):
        nn.Sequential([first, second, nn.layers.Dense(2, input_dim=5)])
    assert not first.built and first.name is None and second.name is None
    assert nn.Sequential([first, second]).count_params() == 9 + 16
