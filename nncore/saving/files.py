"""Where a model file is written and read: atomic replacement, symlinks, special files.

Saving follows a symlink (through any chain) to its target and replaces the target
atomically (a temporary file in the target's directory, fsync'ed, then renamed), so the
link stays a link. Directories, FIFOs, device nodes and sockets are refused before
anything is written; a name the file system cannot hold is refused with its length.
Reading opens regular files only, without blocking on a FIFO.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
from shutil import SpecialFileError
from typing import Any, BinaryIO


from nncore.exceptions import ModelFileError

# The largest file read_archive opens: far above any MLP trained on a CPU.
MAX_FILE_BYTES = 1 << 36        # 64 GiB


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


def write_atomically(path: str, chunks) -> None:
    """Write the bytes of ``chunks`` to ``path`` (checked by ``_check_path``) through a
    temporary sibling, fsynced, then renamed onto the target: a failed write leaves any
    previous file as it was. A symlink is followed to its target (which is replaced, the
    link kept); special files are refused; errors name ``path``. The model files and the
    ONNX export both write this way.

    Parameters
    ----------
    path : str
        The file to write, already checked by ``_check_path``.
    chunks : iterable of bytes-like
        The file's contents, written in order.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "f.bin")
    >>> write_atomically(path, [b"ab", b"c"]); open(path, "rb").read()
    b'abc'
    """
    target = _write_target(path)
    directory = os.path.dirname(target)
    try:
        fd, tmp = _create_temporary(directory, os.path.basename(target))
    except OSError as exc:
        raise _with_path(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
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
