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

import errno
import hashlib
import io
import json
import math
import os
import re
import secrets
import stat
import struct
from collections.abc import Mapping
from shutil import SpecialFileError
from typing import Any, BinaryIO

import numpy as np

from nncore.exceptions import ModelFileError

__all__ = ["FORMAT_VERSION", "MAGIC", "MAX_LAYERS", "ModelFileError", "read_archive",
           "write_archive"]

MAGIC = b"\x89NNC\r\n\x1a\n"
FORMAT_VERSION = 1
# magic, format version, file length, header length (the last one is version 1's own).
_PREFIX = struct.Struct("<8sIQQ")
_DIGEST_SIZE = 32
_MIN_FILE_BYTES = _PREFIX.size + _DIGEST_SIZE

# Bounds that keep a hostile file from making us allocate or recurse without limit. An MLP
# trained on a CPU is far below them; they are module constants so a user can raise them.
MAX_FILE_BYTES = 1 << 36        # 64 GiB
# A 10,000-layer model's JSON (config and array table) takes about 5 MB, some 500 bytes a
# Dense layer; 16 MiB leaves room for long names and regularizers while a hostile header
# stays a fraction of a second (and of memory) to parse.
MAX_HEADER_BYTES = 1 << 24      # 16 MiB of JSON
# Layers of a model, enforced by Sequential (add, from_config) so that every model that can
# be built can be saved and loaded. Far deeper than any useful MLP; loading is linear in
# the layers, and this bounds how long a file of tiny layer configs can keep a load busy.
MAX_LAYERS = 10_000
MAX_DEPTH = 64                  # nesting of lists and dicts in the config
MAX_NDIM = 32                   # numpy 1.x's limit, the lower of the supported numpys
# The checksum is computed through one buffer of this size, so refusing a file of any size
# takes this much memory, not the file's size.
_CHUNK_BYTES = 1 << 20

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


# ---------------------------------------------------------------------------- writing


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
    _write_atomically(_write_target(path), path, header, blocks)


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


def _write_target(path: str) -> str:
    """The file that saving to ``path`` replaces: ``path`` with every symlink resolved,
    once checked to be a regular file or nothing yet (see the module docstring)."""
    target = os.path.realpath(path)
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return target  # created; a missing directory is reported when creating it
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise _name_too_long(target, path) from None
        raise _with_path(exc, path) from exc
    if stat.S_ISREG(mode):
        return target
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "cannot write a model file over a directory",
                                path)
    if stat.S_ISLNK(mode):  # realpath stops where links loop
        raise OSError(errno.ELOOP, "the symbolic links loop, no file to write", path)
    raise SpecialFileError(errno.EINVAL, f"{_special_kind(mode)} is not a regular file; a "
                           "model is saved only to a regular file or a symlink to one", path)


def _special_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "this file type"


def _name_too_long(target: str, path: str) -> OSError:
    name = os.fsencode(os.path.basename(target))
    return OSError(errno.ENAMETOOLONG, f"file name too long for the file system: its last "
                   f"part has {len(name)} bytes and the whole path {len(os.fsencode(target))} "
                   "(most file systems allow 255 bytes a name)", path)


def _write_atomically(target: str, path: str, header: bytes, blocks: list[np.ndarray]) -> None:
    """Write to a temporary sibling of ``target``, fsync it, then rename it onto
    ``target``; errors name ``path``, the caller's name for it."""
    directory = os.path.dirname(target)
    try:
        fd, tmp = _create_temporary(directory, os.path.basename(target))
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
        os.replace(tmp, target)
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
        # base[:50]: at most 218 bytes in all, so any name the file system allows for the
        # target also leaves room for its temporary.
        tmp = os.path.join(directory, f".{base[:50]}.{secrets.token_hex(6)}.tmp")
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
    f = _open_regular_file(path)
    with f:
        try:
            return _decode(f, os.fstat(f.fileno()).st_size)
        except ModelFileError as exc:
            raise ModelFileError(f"cannot load {path!r}: {exc}") from None


def _open_regular_file(path: str) -> BinaryIO:
    """``path`` opened for reading, refusing anything but a regular file of a sane size."""
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
    # Unbuffered: the arrays are read straight into their own memory, and a second pass
    # must see the file as it is then, not a buffer kept from the first.
    return os.fdopen(fd, "rb", buffering=0)


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
    blob = bytes(blob)
    return _decode(io.BytesIO(blob), len(blob))
