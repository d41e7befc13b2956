"""The nncore model file: a small, documented container that never runs code.

``write_archive`` stores a JSON-serialisable ``config`` (architecture, compile settings,
optimizer hyperparameters, step counters) and named numeric arrays (weights, optimizer
slots); ``read_archive`` gives back exactly what was written, or raises ``ModelFileError``.
``model.save`` and ``nncore.load_model`` are built on these two functions.

Why a format of our own: ``pickle`` (and ``np.load(allow_pickle=True)``) executes whatever
the file says, and a zip (Keras ``.keras``) brings path traversal and decompression bombs.
Here the reader only ever decodes one JSON object and copies raw bytes of whitelisted
dtypes, after checking every length against the real size of the file.

File layout, format version 1 (all integers unsigned little-endian)::

    offset        size  field
    0             8     magic  b"\\x89NNC\\r\\n\\x1a\\n"  (89 4E 4E 43 0D 0A 1A 0A)
    8             4     format version, uint32 (= 1)
    12            8     file length L: total size of the file in bytes, uint64
    20            8     header length H, uint64
    28            H     header: UTF-8 JSON object (written as pure ASCII), see below
    28+H          D     data region, D = L - 28 - H - 32: the arrays' raw bytes
    L-32          32    SHA-256 digest of bytes [0, L-32)

The magic is PNG-style: the non-ASCII first byte catches 7-bit transfers, ``\\r\\n`` catches
newline conversion, ``\\x1a`` stops ``type`` on DOS. Magic, version, file length and the
trailing SHA-256 form the stable frame that every future version keeps, so any nncore can
say "damaged" or "too new" before it understands anything else.

The header (keys in this order when written; exactly these keys, no others)::

    {"format_version": 1,
     "config": {...},                          # the caller's dict, strict JSON
     "arrays": [{"name": "dense/W", "dtype": "<f4", "shape": [4, 8],
                 "offset": 0, "nbytes": 128}, ...]}

- ``dtype`` is one of ``"<f4" "<f8" "<i4" "<i8" "|u1" "|b1"`` (float32, float64, int32,
  int64, uint8, bool), always little-endian whatever the host.
- ``offset`` is relative to the start of the data region; array bytes are C order.
- The writer packs the arrays back to back in table order, without padding. The reader
  requires ``prod(shape) * itemsize == nbytes``, every range inside the data region,
  no two ranges overlapping, and no data byte left unaccounted for (nothing hidden).
- Strict JSON: no NaN or Infinity, no duplicate keys. JSON has no tuples, so tuples in
  ``config`` come back as lists.
- Names: unique, 1 to 255 characters among letters, digits and ``_ . - / : [ ]``, in
  ``/``-separated parts that are not empty and do not start with ``.`` (``dense_1/W``).
- Strings hold Unicode text only: lone surrogates (U+D800 to U+DFFF) are refused.
- Bounds (module constants): the file at most ``MAX_FILE_BYTES`` (64 GiB), the JSON header
  at most ``MAX_HEADER_BYTES`` (16 MiB), the config nested at most ``MAX_DEPTH`` levels,
  arrays at most ``MAX_NDIM`` dimensions; a model at most ``MAX_LAYERS`` (10,000) layers,
  which ``nncore.Sequential`` enforces when it is built and when it is loaded.

What the reader checks, in this order: the file's size against ``MAX_FILE_BYTES``, the
magic, the version (a newer one is refused with its number), the declared file length and
header length against the real size of the file and ``MAX_HEADER_BYTES``; only then does
it read further: the SHA-256 over the whole file, hashed in chunks of 1 MiB, then the JSON
and its structure, the dtypes, shapes, ranges and names, and last the arrays, each read
from the file straight into its own new array (hashed again on the way, so the checksum
covers exactly the bytes returned). A foreign or inconsistent file of any size is thus
refused after reading 28 bytes, and no file costs more memory than its header and arrays.
The checksum detects damage (truncated downloads, bit rot, edits); it is not a signature,
so a deliberately crafted file has a valid checksum, and the structural checks alone are
what keep such a file harmless.

Writing is atomic: a temporary file in the target's directory, flushed and fsync'ed, is
renamed onto the target with ``os.replace``; on any failure it is removed and a previous
file at the path is left as it was. What the path may name:

- nothing yet, or a regular file, which is replaced;
- a symbolic link, which is followed to the file it points to (through any chain of
  links); that file is written atomically in its own directory and the link stays a link,
  as ``open(path, "w")`` would leave it; a link pointing nowhere creates its target;
- a directory raises ``IsADirectoryError``; a FIFO, a device node (``/dev/null``) or a
  socket raises ``shutil.SpecialFileError`` (as ``shutil.copyfile`` does): renaming a
  regular file over them would silently destroy them, and writing into them is not
  saving a file; a loop of links raises ``OSError`` (``ELOOP``);
- a name longer than the file system allows raises ``OSError`` (``ENAMETOOLONG``) with a
  message giving the lengths, before anything is written.

Every such error has the path the caller gave as its ``filename``.

Example
-------
>>> import os, tempfile
>>> import numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "model.nnc")
>>> write_archive(path, {"layers": [4, 3]}, {"W": np.ones((4, 3), np.float32)})
>>> config, arrays = read_archive(path)
>>> config, arrays["W"].shape, arrays["W"].dtype
({'layers': [4, 3]}, (4, 3), dtype('float32'))
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import struct
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from nncore.exceptions import ModelFileError
# The bounds of the other modules are the format's too (nncore.saving exports them all).
from nncore.saving.files import (  # noqa: F401
    MAX_FILE_BYTES, _check_path, _open_regular_file, write_atomically,
)
from nncore.saving.header import (  # noqa: F401
    _DTYPES, MAX_DEPTH, MAX_NDIM, _check_array, _check_json_value, _check_ranges,
    _parse_header,
)

MAGIC = b"\x89NNC\r\n\x1a\n"
FORMAT_VERSION = 1
# magic, format version, file length, header length (the last one is version 1's own).
_PREFIX = struct.Struct("<8sIQQ")
_DIGEST_SIZE = 32
_MIN_FILE_BYTES = _PREFIX.size + _DIGEST_SIZE

# Bounds that keep a hostile file from making us allocate or recurse without limit (with
# MAX_FILE_BYTES in files, MAX_DEPTH and MAX_NDIM in header). An MLP trained on a CPU is
# far below them.
# A 10,000-layer model's JSON (config and array table) takes about 5 MB, some 500 bytes a
# Dense layer; 16 MiB leaves room for long names and regularizers while a hostile header
# stays a fraction of a second (and of memory) to parse.
MAX_HEADER_BYTES = 1 << 24      # 16 MiB of JSON
# Layers of a model, enforced by Sequential (add, from_config) so that every model that can
# be built can be saved and loaded. Far deeper than any useful MLP; loading is linear in
# the layers, and this bounds how long a file of tiny layer configs can keep a load busy.
MAX_LAYERS = 10_000
# The checksum is computed through one buffer of this size, so refusing a file of any size
# takes this much memory, not the file's size.
_CHUNK_BYTES = 1 << 20

# Other formats people hand us by mistake, named in the error so they know what they have.
_FOREIGN = ((b"PK\x03\x04", "a zip archive, such as a Keras .keras file"),
            (b"PK\x05\x06", "an empty zip archive"),
            (b"\x89HDF\r\n\x1a\n", "an HDF5 file, such as a Keras .h5 file"),
            (b"\x93NUMPY", "a NumPy .npy file"),
            (b"\x80", "a Python pickle, which nncore never loads"))


def write_archive(path: str | os.PathLike[str], config: dict,
                  arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``config`` and ``arrays`` to ``path`` atomically (see the module docstring).

    Everything is validated before the disk is touched, so a refused argument leaves any
    previous file at ``path`` as it was.

    Parameters
    ----------
    path : str or os.PathLike
        Target file. Its directory must exist; an existing file is replaced, a symlink is
        followed and its target replaced (the module docstring says what else is refused).
    config : dict
        Strict-JSON data: dicts with str keys, lists, tuples (read back as lists), str,
        int, finite float, bool and None, nested at most ``MAX_DEPTH`` levels.
    arrays : Mapping[str, numpy.ndarray]
        Named arrays of dtype float32, float64, int32, int64, uint8 or bool, any shape
        (0-d and empty included), any memory layout or byte order.

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong type or value; the message names it.
    OSError
        The file cannot be written (``PermissionError``, ``FileNotFoundError``,
        ``IsADirectoryError``, ``shutil.SpecialFileError`` for a FIFO or a device, a name
        too long...); its ``filename`` is ``path``.

    Example
    -------
    >>> import os, tempfile
    >>> import numpy as np
    >>> write_archive(os.path.join(tempfile.mkdtemp(), "m.nnc"), {}, {"b": np.zeros(3)})
    """
    path = _check_path(path)
    header, blocks = _encode(config, arrays)
    write_atomically(path, _with_digest(header, blocks))


def _encode(config: Any, arrays: Any) -> tuple[bytes, list[np.ndarray]]:
    """The prefix + JSON header bytes and the data blocks of a file, all validated."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict. Received: config of type "
                        f"{type(config).__name__}")
    _check_json_value(config, "config", 0, TypeError, ValueError)
    if not isinstance(arrays, Mapping):
        raise TypeError(f"arrays must be a mapping of names to numpy arrays. Received: "
                        f"arrays of type {type(arrays).__name__}")
    table, blocks, offset = [], [], 0
    for name, array in arrays.items():
        block = _check_array(name, array)
        table.append({"name": name, "dtype": block.dtype.str, "shape": list(array.shape),
                      "offset": offset, "nbytes": block.nbytes})
        blocks.append(block.reshape(-1).view(np.uint8))
        offset += block.nbytes
    header = {"format_version": FORMAT_VERSION, "config": config, "arrays": table}
    # ASCII-only JSON is valid UTF-8 and survives any text encoding on the way.
    text = json.dumps(header, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    body = text.encode("ascii")
    if len(body) > MAX_HEADER_BYTES:
        raise ValueError(f"config and the array table take {len(body)} bytes of JSON, more "
                         f"than MAX_HEADER_BYTES={MAX_HEADER_BYTES}; store large data as "
                         "arrays")
    length = _PREFIX.size + len(body) + offset + _DIGEST_SIZE
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, length, len(body))
    return prefix + body, blocks


def read_archive(path: str | os.PathLike[str]) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a file written by ``write_archive``: ``(config, arrays)`` exactly as written.

    Nothing in the file is ever executed or unpickled; see the module docstring for the
    checks and their order.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.

    Returns
    -------
    config : dict
        The config as written (tuples come back as lists).
    arrays : dict[str, numpy.ndarray]
        In the order written; bit-identical values, same shape, dtype in host byte order;
        each a fresh writeable C-contiguous array.

    Raises
    ------
    ModelFileError
        The file is not an nncore model file, is truncated, altered or damaged, or has a
        newer format version than this nncore reads.
    OSError
        The file cannot be opened (missing, a directory, no permission).

    Example
    -------
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "m.nnc")
    >>> write_archive(path, {"epochs": 3}, {"b": np.arange(3)})
    >>> read_archive(path)[1]["b"]
    array([0, 1, 2])
    """
    path = _check_path(path)
    f = _open_regular_file(path)
    with f:
        try:
            return _decode(f, os.fstat(f.fileno()).st_size)
        except ModelFileError as exc:
            raise ModelFileError(f"cannot load {path!r}: {exc}") from None


def _decode(f: BinaryIO, size: int) -> tuple[dict, dict[str, np.ndarray]]:
    """Check the file of ``size`` bytes in the documented order, then read the config and
    the arrays. Only the fixed-size prefix is read before every declared size has been
    checked against ``size``; the checksum is computed in chunks."""
    prefix = _read_prefix(f, size)
    _, version, length, header_length = _PREFIX.unpack(prefix)
    _check_version(version)
    _check_length(length, size)
    if header_length > size - _MIN_FILE_BYTES:
        raise ModelFileError(f"header length {header_length} does not fit in the file")
    if header_length > MAX_HEADER_BYTES:
        raise ModelFileError(f"the header declares {header_length} bytes of JSON, more than "
                             f"MAX_HEADER_BYTES={MAX_HEADER_BYTES}")
    digest = _read_at(f, size - _DIGEST_SIZE, _DIGEST_SIZE)
    if _hash_file(f, size - _DIGEST_SIZE) != digest:
        raise ModelFileError("checksum mismatch: the file was altered or damaged")
    raw_header = _read_at(f, _PREFIX.size, header_length)
    header = _parse_header(raw_header)
    if header["format_version"] != version:
        raise ModelFileError(f"the header says format version {header['format_version']!r} "
                             f"but the file starts with version {version}")
    table = header["arrays"]
    _check_ranges(table, size - _MIN_FILE_BYTES - header_length)
    # The arrays are hashed again as they are read: the checksum must cover the very bytes
    # returned, even if another process rewrites the file between the two passes.
    reread = hashlib.sha256(prefix + raw_header)
    arrays = {entry["name"]: _read_array(f, entry, _PREFIX.size + header_length, reread)
              for entry in sorted(table, key=lambda e: e["offset"])}
    if reread.digest() != digest:
        raise ModelFileError("the file changed while it was being read")
    return header["config"], {entry["name"]: arrays[entry["name"]] for entry in table}


def _read_prefix(f: BinaryIO, size: int) -> bytes:
    """The fixed-size prefix, after the checks that need nothing else: is this an nncore
    file at all, and long enough to be one?"""
    prefix = f.read(_PREFIX.size)
    if not prefix:
        raise ModelFileError("empty file (0 bytes): not an nncore model file")
    if prefix[:len(MAGIC)] != MAGIC[:len(prefix)]:
        raise ModelFileError("not an nncore model file" + _foreign_hint(prefix))
    if size < _MIN_FILE_BYTES or len(prefix) < _PREFIX.size:
        raise ModelFileError(f"truncated: {size} bytes, shorter than the smallest "
                             f"nncore model file ({_MIN_FILE_BYTES} bytes)")
    return prefix


def _check_length(declared: int, size: int) -> None:
    """The length in the frame against the real size, before trusting any other length."""
    if declared > size:
        raise ModelFileError(f"truncated: the file declares {declared} bytes but has {size} "
                             "(an interrupted download or copy?)")
    if declared < size:
        raise ModelFileError(f"the file declares {declared} bytes but has {size}: "
                             f"{size - declared} unexpected bytes after its declared end, "
                             "or it is damaged")


def _read_at(f: BinaryIO, offset: int, nbytes: int) -> bytes:
    f.seek(offset)
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise ModelFileError("the file changed while it was being read")
    return data


def _hash_file(f: BinaryIO, nbytes: int) -> bytes:
    """SHA-256 of the first ``nbytes`` bytes, read through one reused chunk buffer."""
    digest = hashlib.sha256()
    chunk = memoryview(bytearray(_CHUNK_BYTES))
    f.seek(0)
    while nbytes:
        count = f.readinto(chunk[:min(nbytes, _CHUNK_BYTES)])
        if not count:
            raise ModelFileError("the file changed while it was being read")
        digest.update(chunk[:count])
        nbytes -= count
    return digest.digest()


def _foreign_hint(blob: bytes) -> str:
    for signature, what in _FOREIGN:
        if blob.startswith(signature):
            return f" (it looks like {what})"
    return ""


def _check_version(version: int) -> None:
    if version > FORMAT_VERSION:
        raise ModelFileError(f"format version {version} is newer than this nncore supports "
                             f"({FORMAT_VERSION}); upgrade nncore to load it")
    if version < 1:
        raise ModelFileError(f"format version {version} does not exist")


def _read_array(f: BinaryIO, entry: dict, data_start: int, digest: Any) -> np.ndarray:
    """One array read straight from the file into a fresh host-order array; its bytes
    also go into ``digest``."""
    code, shape = entry["dtype"], tuple(entry["shape"])
    # A whitelisted plain dtype: bytes become numbers, never objects.
    stored = np.empty(shape, dtype=np.dtype(code))
    raw = memoryview(stored.reshape(-1).view(np.uint8))
    f.seek(data_start + entry["offset"])
    filled = 0
    while filled < len(raw):
        count = f.readinto(raw[filled:])
        if not count:
            raise ModelFileError("the file changed while it was being read")
        filled += count
    digest.update(raw)
    return stored.astype(_DTYPES[code], order="C", copy=False)


def archive_bytes(config: dict, arrays: Mapping[str, np.ndarray]) -> bytes:
    """The bytes :func:`write_archive` would write, in memory (how a model pickles).

    Parameters
    ----------
    config, arrays : dict
        As for :func:`write_archive`.

    Example
    -------
    >>> import numpy as np
    >>> blob = archive_bytes({"k": 1}, {"b": np.zeros(2)})
    >>> read_archive_bytes(blob)[0]
    {'k': 1}
    """
    return b"".join(_with_digest(*_encode(config, arrays)))


def read_archive_bytes(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """:func:`read_archive` on bytes in memory, with the same checks.

    Parameters
    ----------
    blob : bytes-like

    Example
    -------
    >>> import numpy as np
    >>> config, arrays = read_archive_bytes(archive_bytes({}, {"w": np.ones(2)}))
    >>> arrays["w"]
    array([1., 1.])
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise TypeError(f"blob must be bytes. Received: blob of type {type(blob).__name__}")
    blob = bytes(blob)
    return _decode(io.BytesIO(blob), len(blob))


def _with_digest(header: bytes, blocks: list[np.ndarray]):
    """The file's bytes: the header, the data blocks, then the SHA-256 of both."""
    digest = hashlib.sha256(header)
    yield header
    for block in blocks:
        digest.update(block)
        yield block
    yield digest.digest()
