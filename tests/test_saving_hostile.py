"""Hostile or unusual files and paths (issue 14, items 9, 10 and 12).

Large files are sparse (``truncate``): they take no disk space, and the tests assert on the
memory used and the bytes read, never on wall-clock time.
"""
from __future__ import annotations

import os
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

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
    path = sparse_file(tmp_path / "garbage.nnc", GIB, prefix(GIB, 2))
    refuse_cheaply(path, "checksum mismatch", max_read=GIB + (1 << 20))


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
    real_hash = saving._hash_file

    def hash_then_alter(f, nbytes):
        digest = real_hash(f, nbytes)
        altered = bytearray(content)
        altered[-40] ^= 1  # a data byte
        path.write_bytes(bytes(altered))
        return digest

    monkeypatch.setattr(saving, "_hash_file", hash_then_alter)
    with pytest.raises(ModelFileError, match="changed while it was being read"):
        read_archive(path)
