"""MNIST handwritten digits from IDX files, with an opt-in, checksum-verified download.

The four files of LeCun, Cortes and Burges' MNIST database keep their original names and
the IDX format: a big-endian header (magic number, then one uint32 per dimension) followed
by the raw uint8 values. Images have magic 2051 (0x00000803: unsigned bytes, 3 dimensions),
labels 2049 (0x00000801: unsigned bytes, 1 dimension). Files may be gzip-compressed
(``.gz``, as distributed) or already decompressed.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import struct
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["MNIST_BASE_URL", "MNIST_FILES", "MNIST_SHA256", "load_mnist"]

MNIST_BASE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
"""The mirror TensorFlow and Keras download from (yann.lecun.com no longer serves the files)."""

MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""Base names (without ``.gz``) of the image and label files of each ``kind``."""

# SHA-256 of the gzip files as distributed. The two t10k values were computed from copies
# whose MD5 matches torchvision's published ones; all four equal tensorflow/datasets'
# url_checksums/mnist.txt (which also gives the sizes: 9,912,422 / 28,881 / 1,648,877 /
# 4,542 bytes).
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049
_ROWS = _COLS = 28
_NUM_CLASSES = 10
_DOWNLOAD_TIMEOUT = 60.0  # seconds without data before urllib gives up


def load_mnist(path: str | os.PathLike[str] | None = None, kind: str = "train", *,
               download: bool = False, base_url: str = MNIST_BASE_URL,
               ) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST training or test set from IDX files.

    The folder is ``path`` if given, else the environment variable ``NNCORE_DATA``, else
    ``~/.cache/nncore``. The files are looked for in that folder and in its ``mnist/``
    subfolder, raw (``t10k-images-idx3-ubyte``) or gzipped (``...-ubyte.gz``).

    Nothing is downloaded unless ``download=True``. Then each missing file is fetched as
    ``base_url + name + ".gz"`` into ``path`` (or ``<NNCORE_DATA or ~/.cache/nncore>/mnist/``),
    written to a temporary file, checked against :data:`MNIST_SHA256` and only then
    renamed into place; a file with the wrong checksum is deleted and refused.

    Parameters
    ----------
    path : str or PathLike, optional
        Folder holding the files.
    kind : {"train", "test"}, default "train"
        "train" reads the 60,000 ``train-*`` images, "test" the 10,000 ``t10k-*`` ones.
    download : bool, default False
        Fetch missing files (about 11 MB for "train", 1.6 MB for "test").
    base_url : str, default :data:`MNIST_BASE_URL`
        Where to fetch from (http, https or file URL of a folder).

    Returns
    -------
    images : ndarray of uint8, shape (N, 28, 28)
        Gray levels, 0 (background) to 255.
    labels : ndarray of uint8, shape (N,)
        Digits 0 to 9.

    Raises
    ------
    FileNotFoundError
        A file is missing and ``download`` is False; the message lists where it looked.
    ValueError
        A file is not a valid MNIST IDX file (magic number, dimensions, size, gzip stream,
        image/label counts), or a download failed its checksum.

    Example
    -------
    >>> images, labels = load_mnist(kind="test")  # doctest: +SKIP
    >>> images.shape, labels[:3].tolist()         # doctest: +SKIP
    ((10000, 28, 28), [7, 2, 1])
    """
    if not isinstance(kind, str):
        raise TypeError(f"kind must be 'train' or 'test'. Received: kind={kind!r}")
    if kind not in MNIST_FILES:
        raise ValueError(f"kind must be 'train' or 'test'. Received: kind={kind!r}")
    if not isinstance(download, (bool, np.bool_)):
        raise TypeError(f"download must be True or False. Received: download={download!r}")
    if not isinstance(base_url, str) or not base_url:
        raise TypeError(f"base_url must be a non-empty string. Received: base_url={base_url!r}")

    root, explicit = _data_folder(path)
    folders = [root, root / "mnist"]
    names = MNIST_FILES[kind]
    found = {name: _find(name, folders) for name in names}
    missing = [name for name in names if found[name] is None]
    if missing and download:
        # An explicit path names the MNIST folder itself; the cache holds several data
        # sets, so MNIST gets its own subfolder there.
        target = root if explicit else root / "mnist"
        for name in missing:
            url = base_url.rstrip("/") + "/" + name + ".gz"
            found[name] = _download(url, target / (name + ".gz"), MNIST_SHA256[name + ".gz"])
    elif missing:
        looked = ", ".join(str(folder) for folder in folders)
        raise FileNotFoundError(
            f"MNIST {kind} file {missing[0]}[.gz] not found. Looked in: {looked} (the folder "
            "comes from path=, else $NNCORE_DATA, else ~/.cache/nncore; files may also sit "
            "in its mnist/ subfolder). To get the files, call "
            f"load_mnist(kind={kind!r}, download=True), which fetches them from {base_url} "
            "and checks their SHA-256, or copy the IDX files there yourself.")

    images_path, labels_path = (found[name] for name in names)
    images = _read_idx(images_path, _IMAGES_MAGIC)
    labels = _read_idx(labels_path, _LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                         f"{len(labels)} labels; the two files do not belong together.")
    return images, labels


def _data_folder(path: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """The folder to read from, and whether the caller named it."""
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str, a PathLike or None. Received: path={path!r}")
        folder = Path(path).expanduser()
        if folder.is_file():
            raise ValueError("path must be the folder that holds the MNIST files, not a file. "
                             f"Received: path={str(path)!r}")
        return folder, True
    env = os.environ.get("NNCORE_DATA", "").strip()
    if env:
        return Path(env).expanduser(), False
    return Path.home() / ".cache" / "nncore", False


def _find(name: str, folders: list[Path]) -> Path | None:
    # The raw file first: when both exist it is the faster one to read.
    for folder in folders:
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                return candidate
    return None


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one MNIST IDX file (images if ``magic`` is 2051, labels if 2049), all checked."""
    what = "images" if magic == _IMAGES_MAGIC else "labels"
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"  # gzip's own magic, whatever the file is called
        raw.seek(0)
        stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        try:
            header = stream.read(4)
            if len(header) < 4:
                raise ValueError(f"{path}: not an MNIST {what} IDX file (only {len(header)} "
                                 "bytes, shorter than the 4-byte magic number).")
            (found_magic,) = struct.unpack(">I", header)
            if found_magic != magic:
                raise ValueError(f"{path}: not an MNIST {what} IDX file: magic number "
                                 f"{found_magic}, expected {magic}.")
            ndim = magic & 0xFF  # the last magic byte counts the dimensions: 3 or 1
            dims_bytes = stream.read(4 * ndim)
            if len(dims_bytes) < 4 * ndim:
                raise ValueError(f"{path}: truncated IDX header (expected {ndim} dimensions).")
            dims = struct.unpack(f">{ndim}I", dims_bytes)
            if magic == _IMAGES_MAGIC and dims[1:] != (_ROWS, _COLS):
                raise ValueError(f"{path}: MNIST images are {_ROWS}x{_COLS}, this file "
                                 f"declares {dims[1]}x{dims[2]}.")
            expected = int(np.prod(dims, dtype=np.int64))  # rows, cols = 28: no overflow
            # One byte more than declared tells trailing data from an exact fit.
            data = _read_at_most(stream, expected + 1)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: damaged gzip stream ({exc}).") from exc
        finally:
            if gzipped:
                stream.close()
    if len(data) != expected:
        size = "more" if len(data) > expected else f"only {len(data)}"
        raise ValueError(f"{path}: the header declares {dims[0]} {what} ({expected} bytes "
                         f"of data) but the file holds {size} bytes after the header.")
    values = np.frombuffer(data, dtype=np.uint8).reshape(dims).copy()  # writable
    if magic == _LABELS_MAGIC and values.size and values.max() >= _NUM_CLASSES:
        raise ValueError(f"{path}: labels must be digits 0-9, found {int(values.max())}.")
    return values


def _read_at_most(stream: BinaryIO, limit: int) -> bytes:
    """Up to ``limit`` bytes, in chunks: memory follows what the file really holds, not
    what its header claims (a tiny file may declare billions of images)."""
    chunks, remaining = [], limit
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _fetch(url: str, out: BinaryIO) -> None:
    """Copy the resource at ``url`` into the open file ``out`` (tests replace this)."""
    with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response:
        while chunk := response.read(1 << 20):
            out.write(chunk)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, dest: Path, sha256: str) -> Path:
    """Fetch ``url`` to ``dest`` through a temporary file, keeping it only if its hash matches."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    # The temporary file sits next to the destination so the final rename is atomic: an
    # interrupted or corrupted download never leaves a file under the real name.
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch(url, out)
        digest = _sha256(tmp)
        if digest != sha256:
            raise ValueError(f"checksum mismatch for {url}: SHA-256 {digest}, expected "
                             f"{sha256}. The download was deleted; retry, or check base_url.")
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return dest
