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

What the reader checks, in this order, before trusting any length or parsing any JSON:
size bounds, magic, the SHA-256 over the whole file, the version (a newer one is refused
with its number), then the header length, the JSON and its structure, the dtypes, shapes,
ranges and names. The checksum detects damage (truncated downloads, bit rot, edits); it
is not a signature, so a deliberately crafted file has a valid checksum, and the
structural checks alone are what keep such a file harmless.

Writing is atomic: a temporary file in the target's directory, flushed and fsync'ed, is
renamed onto the target with ``os.replace``; on any failure it is removed and a previous
file at the path is left as it was.

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

import errno
import hashlib
import json
import math
import os
import re
import secrets
import stat
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["FORMAT_VERSION", "MAGIC", "ModelFileError", "read_archive", "write_archive"]

MAGIC = b"\x89NNC\r\n\x1a\n"
FORMAT_VERSION = 1
# magic, format version, file length, header length (the last one is version 1's own).
_PREFIX = struct.Struct("<8sIQQ")
_DIGEST_SIZE = 32
_MIN_FILE_BYTES = _PREFIX.size + _DIGEST_SIZE

# Bounds that keep a hostile file from making us allocate or recurse without limit. An MLP
# trained on a CPU is far below them; they are module constants so a user can raise them.
MAX_FILE_BYTES = 1 << 36        # 64 GiB
MAX_HEADER_BYTES = 1 << 26      # 64 MiB of JSON
MAX_DEPTH = 64                  # nesting of lists and dicts in the config
MAX_NDIM = 32                   # numpy 1.x's limit, the lower of the supported numpys

# Little-endian dtype strings allowed in a file, mapped to the host-order dtype we return.
_DTYPES = {code: np.dtype(code).newbyteorder("=")
           for code in ("<f4", "<f8", "<i4", "<i8", "|u1", "|b1")}
# Segments joined by "/", none empty or starting with ".": no "..", no absolute paths,
# should anyone ever turn names into file names.
_NAME = re.compile(r"[A-Za-z0-9_\-:\[\]][A-Za-z0-9_.\-:\[\]]*"
                   r"(/[A-Za-z0-9_\-:\[\]][A-Za-z0-9_.\-:\[\]]*)*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_HEADER_KEYS = ("format_version", "config", "arrays")
_ENTRY_KEYS = ("name", "dtype", "shape", "offset", "nbytes")

# Other formats people hand us by mistake, named in the error so they know what they have.
_FOREIGN = ((b"PK\x03\x04", "a zip archive, such as a Keras .keras file"),
            (b"PK\x05\x06", "an empty zip archive"),
            (b"\x89HDF\r\n\x1a\n", "an HDF5 file, such as a Keras .h5 file"),
            (b"\x93NUMPY", "a NumPy .npy file"),
            (b"\x80", "a Python pickle, which nncore never loads"))


class ModelFileError(ValueError):
    """A file that is not a valid nncore model file: foreign, truncated, altered or too new.

    Example
    -------
    >>> issubclass(ModelFileError, ValueError)
    True
    """


# ---------------------------------------------------------------------------- writing


def write_archive(path: str | os.PathLike[str], config: dict,
                  arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``config`` and ``arrays`` to ``path`` atomically (see the module docstring).

    Everything is validated before the disk is touched, so a refused argument leaves any
    previous file at ``path`` as it was.

    Parameters
    ----------
    path : str or os.PathLike
        Target file. Its directory must exist; an existing file is replaced.
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
        ``IsADirectoryError``...); its ``filename`` is ``path``.

    Example
    -------
    >>> import os, tempfile
    >>> import numpy as np
    >>> write_archive(os.path.join(tempfile.mkdtemp(), "m.nnc"), {}, {"b": np.zeros(3)})
    """
    path = _check_path(path)
    header, blocks = _encode(config, arrays)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "cannot write a model file over a directory",
                                path)
    _write_atomically(path, header, blocks)


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


def _check_array(name: Any, array: Any) -> np.ndarray:
    """``array`` as a little-endian C-contiguous block, or an error naming ``arrays[name]``."""
    if not isinstance(name, str):
        raise TypeError(f"array names must be str. Received: a key of type "
                        f"{type(name).__name__} ({name!r}) in arrays")
    if len(name) > 255 or not _NAME.fullmatch(name):
        raise ValueError(f"array names must be 1 to 255 characters among letters, digits "
                         f"and _ . - / : [ ], in '/'-separated parts that are not empty and "
                         f"do not start with '.'. Received: arrays key {name!r}")
    where = f"arrays[{name!r}]"
    # A masked array would silently lose its mask; a list would guess a dtype.
    if not isinstance(array, np.ndarray) or isinstance(array, np.ma.MaskedArray):
        raise TypeError(f"{where} must be a numpy.ndarray. Received: "
                        f"{type(array).__name__}")
    little = array.dtype.newbyteorder("<")  # '>f8' is float64 too; '|O', '|V8' stay out
    if little.str not in _DTYPES:
        raise TypeError(f"{where} must have dtype float32, float64, int32, int64, uint8 or "
                        f"bool. Received: dtype={array.dtype}")
    if array.ndim > MAX_NDIM:
        raise ValueError(f"{where} has {array.ndim} dimensions, more than {MAX_NDIM}")
    # Explicit '<' so a big-endian host still writes little-endian bytes.
    return np.asarray(array, dtype=little, order="C")


def _check_json_value(value: Any, where: str, depth: int,
                      type_error: type[Exception], value_error: type[Exception]) -> None:
    """Refuse what strict JSON cannot hold or would not give back unchanged."""
    if depth > MAX_DEPTH:
        raise value_error(f"{where} is nested more than MAX_DEPTH={MAX_DEPTH} levels deep "
                          "(or refers to itself)")
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, str):
        _check_text(value, where, value_error)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise value_error(f"{where} must be a finite number (strict JSON has no NaN or "
                              f"Infinity). Received: {value!r}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json_value(item, f"{where}[{i}]", depth + 1, type_error, value_error)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            # json.dumps would turn 1 into "1": the config would not come back unchanged.
            if not isinstance(key, str):
                raise type_error(f"{where} keys must be str. Received: key {key!r} of type "
                                 f"{type(key).__name__}")
            _check_text(key, f"{where} key {key!r}", value_error)
            _check_json_value(item, f"{where}[{key!r}]", depth + 1, type_error, value_error)
        return
    raise type_error(f"{where} is not JSON-serialisable. Received: {value!r} of type "
                     f"{type(value).__name__}")


def _check_text(text: str, where: str, value_error: type[Exception]) -> None:
    # A surrogate is not a character: UTF-8 cannot hold it, and JSON would merge a pair of
    # them into one character, so the config would not come back unchanged.
    if _SURROGATE.search(text):
        raise value_error(f"{where} contains a lone surrogate code point (U+D800 to U+DFFF), "
                          "which is not valid Unicode text")


def _write_atomically(path: str, header: bytes, blocks: list[np.ndarray]) -> None:
    """Write to a temporary sibling, fsync it, then rename it onto ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = _create_temporary(directory, os.path.basename(path))
    except OSError as exc:
        raise _with_path(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            digest = hashlib.sha256(header)
            f.write(header)
            for block in blocks:
                digest.update(block)
                f.write(block)
            f.write(digest.digest())
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException as exc:  # KeyboardInterrupt too: never leave the temporary file
        _remove_quietly(tmp)
        if isinstance(exc, OSError):
            raise _with_path(exc, path) from exc
        raise
    _sync_directory(directory)


def _create_temporary(directory: str, base: str) -> tuple[int, str]:
    """A new file beside the target; mode 0o666 minus the umask, as ``open`` would give."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)


def _remove_quietly(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable where the OS allows; the file is complete anyway."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _with_path(exc: OSError, path: str) -> OSError:
    """The same kind of OSError (PermissionError...), naming the file the user asked for."""
    if exc.errno is None or exc.filename == path:
        return exc
    return OSError(exc.errno, exc.strerror or str(exc), path)


def _check_path(path: Any) -> str:
    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike. Received: path of type "
                        f"{type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"path must name a str path. Received: os.fspath(path) of type "
                        f"{type(path).__name__}")
    if not path:
        raise FileNotFoundError(errno.ENOENT, "empty path", path)
    return path


# ---------------------------------------------------------------------------- reading


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
    blob = _read_file(path)
    try:
        return _decode(blob)
    except ModelFileError as exc:
        raise ModelFileError(f"cannot load {path!r}: {exc}") from None


def _read_file(path: str) -> bytes:
    """The whole file, refusing anything but a regular file of a sane size."""
    # O_NONBLOCK: opening a FIFO must not hang waiting for a writer; no effect on files.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "a directory is not a model file", path)
        if not stat.S_ISREG(info.st_mode):
            raise ModelFileError(f"cannot load {path!r}: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise ModelFileError(f"cannot load {path!r}: {info.st_size} bytes is more than "
                                 f"MAX_FILE_BYTES={MAX_FILE_BYTES}")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        # +1: a file that grew since fstat shows up as a length/checksum error, not a hang.
        return f.read(info.st_size + 1)


def _decode(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """Check ``blob`` in the documented order, then build the config and the arrays."""
    _check_frame(blob)
    _, version, length, header_length = _PREFIX.unpack_from(blob)
    _check_version(version)
    if length != len(blob):
        raise ModelFileError(f"the file declares {length} bytes but has {len(blob)}")
    data_start = _PREFIX.size + header_length
    if header_length > min(MAX_HEADER_BYTES, len(blob) - _MIN_FILE_BYTES):
        raise ModelFileError(f"header length {header_length} does not fit in the file")
    header = _parse_header(blob[_PREFIX.size:data_start])
    if header["format_version"] != version:
        raise ModelFileError(f"the header says format version {header['format_version']!r} "
                             f"but the file starts with version {version}")
    data = memoryview(blob)[data_start:len(blob) - _DIGEST_SIZE]
    table = header["arrays"]
    _check_ranges(table, len(data))
    arrays = {entry["name"]: _array(entry, data) for entry in table}
    return header["config"], arrays


def _check_frame(blob: bytes) -> None:
    """Size bounds, magic and checksum: is this an intact nncore file at all?"""
    if not blob:
        raise ModelFileError("empty file (0 bytes): not an nncore model file")
    if blob[:len(MAGIC)] != MAGIC[:len(blob)]:
        raise ModelFileError("not an nncore model file" + _foreign_hint(blob))
    if len(blob) < _MIN_FILE_BYTES:
        raise ModelFileError(f"truncated: {len(blob)} bytes, shorter than the smallest "
                             f"nncore model file ({_MIN_FILE_BYTES} bytes)")
    # A memoryview: hashing a model of gigabytes must not copy it first.
    body, digest = memoryview(blob)[:-_DIGEST_SIZE], blob[-_DIGEST_SIZE:]
    if hashlib.sha256(body).digest() != digest:
        # The declared length is not trusted; it only makes the message more useful.
        declared = _PREFIX.unpack_from(blob)[2]
        if declared > len(blob):
            raise ModelFileError(f"truncated: the file has {len(blob)} bytes but declares "
                                 f"{declared} (an interrupted download or copy?)")
        if declared < len(blob):
            raise ModelFileError(f"the file has {len(blob) - declared} unexpected bytes "
                                 f"after its declared end ({declared} bytes), or is damaged")
        raise ModelFileError("checksum mismatch: the file was altered or damaged")


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


def _parse_header(raw: bytes) -> dict:
    """Strict JSON of the expected shape, or ModelFileError saying what is wrong."""
    try:
        text = raw.decode("utf-8")
        header = json.loads(text, object_pairs_hook=_no_duplicate_keys,
                            parse_constant=_no_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, our hooks and too-long integer literals.
        raise ModelFileError(f"the header is not valid JSON: {exc}") from None
    _check_keys(header, _HEADER_KEYS, "the header")
    version, config, table = header["format_version"], header["config"], header["arrays"]
    if type(version) is not int:
        raise ModelFileError(f"the header's format_version must be an integer. Found: "
                             f"{version!r}")
    if not isinstance(config, dict):
        raise ModelFileError(f"the header's config must be an object. Found: "
                             f"{type(config).__name__}")
    _check_json_value(config, "config", 0, ModelFileError, ModelFileError)
    if not isinstance(table, list):
        raise ModelFileError(f"the header's arrays must be a list. Found: "
                             f"{type(table).__name__}")
    names = set()
    for i, entry in enumerate(table):
        _check_entry(entry, f"arrays[{i}]")
        if entry["name"] in names:
            raise ModelFileError(f"arrays[{i}]: the name {entry['name']!r} appears twice")
        names.add(entry["name"])
    return header


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    # Two parsers could keep different copies of a duplicated key: refuse the ambiguity.
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not strict JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _check_keys(obj: Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(obj, dict):
        raise ModelFileError(f"{where} must be a JSON object. Found: {type(obj).__name__}")
    if set(obj) != set(keys):
        missing, unknown = set(keys) - set(obj), set(obj) - set(keys)
        raise ModelFileError(f"{where} must have exactly the keys {', '.join(keys)}"
                             + (f"; missing: {sorted(missing)}" if missing else "")
                             + (f"; unknown: {sorted(unknown)}" if unknown else ""))


def _check_entry(entry: Any, where: str) -> None:
    """One row of the array table: name, whitelisted dtype, shape matching its length."""
    _check_keys(entry, _ENTRY_KEYS, where)
    name, code, shape = entry["name"], entry["dtype"], entry["shape"]
    if not isinstance(name, str) or len(name) > 255 or not _NAME.fullmatch(name):
        raise ModelFileError(f"{where}: invalid array name {name!r}")
    if not isinstance(code, str) or code not in _DTYPES:
        raise ModelFileError(f"{where} ({name!r}): dtype {code!r} is not one of "
                             f"{', '.join(_DTYPES)}")
    for key in ("offset", "nbytes"):
        if not _is_count(entry[key]):
            raise ModelFileError(f"{where} ({name!r}): {key} must be a non-negative "
                                 f"integer. Found: {entry[key]!r}")
    if (not isinstance(shape, list) or len(shape) > MAX_NDIM
            or not all(_is_count(n) for n in shape)):
        raise ModelFileError(f"{where} ({name!r}): shape must be a list of at most "
                             f"{MAX_NDIM} non-negative integers. Found: {shape!r}")
    itemsize = _DTYPES[code].itemsize
    # numpy needs the product of the non-zero dimensions to fit in its index type,
    # even for an empty array.
    if math.prod(max(n, 1) for n in shape) * itemsize >= 1 << 63:
        raise ModelFileError(f"{where} ({name!r}): shape {shape} is too large")
    if math.prod(shape) * itemsize != entry["nbytes"]:
        raise ModelFileError(f"{where} ({name!r}): shape {shape} of {code} needs "
                             f"{math.prod(shape) * itemsize} bytes but nbytes is "
                             f"{entry['nbytes']}")


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0  # bool is an int subclass; refuse it


def _check_ranges(table: list[dict], data_length: int) -> None:
    """Every range inside the data region, none overlapping, no byte unaccounted for."""
    covered = 0
    previous = None
    for entry in sorted(table, key=lambda e: (e["offset"], e["nbytes"])):
        start, end = entry["offset"], entry["offset"] + entry["nbytes"]
        if end > data_length:
            raise ModelFileError(f"array {entry['name']!r} spans bytes [{start}, {end}) of a "
                                 f"data region of {data_length} bytes")
        if previous is not None and start < previous[1] and entry["nbytes"] > 0:
            raise ModelFileError(f"arrays {previous[0]!r} and {entry['name']!r} overlap")
        if entry["nbytes"] > 0:
            previous = (entry["name"], end)
        covered += entry["nbytes"]
    if covered != data_length:
        raise ModelFileError(f"the data region has {data_length - covered} bytes that "
                             "belong to no array")


def _array(entry: dict, data: memoryview) -> np.ndarray:
    """A fresh host-order copy of one array; the file's bytes are never aliased."""
    code, shape = entry["dtype"], tuple(entry["shape"])
    raw = data[entry["offset"]:entry["offset"] + entry["nbytes"]]
    # frombuffer with a whitelisted plain dtype: bytes become numbers, never objects.
    stored = np.frombuffer(raw, dtype=np.dtype(code)).reshape(shape)
    return stored.astype(_DTYPES[code], order="C", copy=True)


def archive_bytes(config: dict, arrays: Mapping[str, np.ndarray]) -> bytes:
    """The bytes :func:`write_archive` would write, in memory (how a model pickles).

    Example
    -------
    >>> import numpy as np
    >>> blob = archive_bytes({"k": 1}, {"b": np.zeros(2)})
    >>> read_archive_bytes(blob)[0]
    {'k': 1}
    """
    header, blocks = _encode(config, arrays)
    digest = hashlib.sha256(header)
    parts = [header]
    for block in blocks:
        digest.update(block)
        parts.append(block.tobytes())
    parts.append(digest.digest())
    return b"".join(parts)


def read_archive_bytes(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """:func:`read_archive` on bytes in memory, with the same checks."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise TypeError(f"blob must be bytes. Received: blob of type {type(blob).__name__}")
    return _decode(bytes(blob))
