"""Tables for the command line: CSV (plain or ``.gz``, any delimiter) and ``.npy`` files in,
rows of numbers out, and output paths checked before any work starts.

Example
-------
>>> import io
>>> from nncore.cli.tables import sniff_delimiter
>>> sniff_delimiter("a;b;c\\n1.5;2;0\\n3;4.25;1\\n")
';'
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import warnings

import numpy as np

#: What ``--delimiter`` accepts besides a single character.
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "space": " ", "comma": ",", "semicolon": ";"}
_SNIFFED = ",;\t| "


class Table:
    """The numbers of a file, its column names (None without a header row) and its path."""

    def __init__(self, data: np.ndarray, names: list[str] | None, path: str):
        self.data, self.names, self.path = data, names, path

    def column(self, label: str | None, index: int | None, flag: str = "--target-column"
               ) -> int:
        """The index of the column named ``label`` (``--label``), else of ``index``
        (Python's rule: -1 is the last column, never wrapping around)."""
        width = self.data.shape[1]
        if label is not None:
            if self.names is None:
                raise ValueError(f"--label {label!r} needs a header row of column names, and "
                                 f"{self.path} has none; give --target-column instead")
            if label not in self.names:
                raise ValueError(f"--label {label!r} is not a column of {self.path}; its "
                                 f"columns are {', '.join(map(repr, self.names))}")
            return self.names.index(label)
        index = -1 if index is None else index
        if not -width <= index < width:
            raise ValueError(f"{flag} must be in [{-width}, {width}) for {self.path} with "
                             f"{width} columns. Received: {index}")
        return index % width

    def split(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """(features, the values of ``column``)."""
        if self.data.shape[1] < 2:
            raise ValueError(f"{self.path} must hold features besides the label column. "
                             f"Received a table of shape {self.data.shape}")
        return np.delete(self.data, column, axis=1), self.data[:, column]


def parse_delimiter(text: str | None) -> str | None:
    """The character of ``--delimiter`` (a character or a name such as ``tab``), or None."""
    if text is None:
        return None
    text = DELIMITER_NAMES.get(text.lower(), text)
    if len(text) != 1 or text in "\"'\r\n" or text.isalnum() or text in ".-+":
        raise ValueError(f"--delimiter must be one character that cannot be part of a "
                         f"number (such as , ; | or tab). Received: {text!r}")
    return text


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample by :class:`csv.Sniffer`; a comma when it cannot tell
    (a single column)."""
    lines = [line for line in sample.splitlines() if line.strip()][:20]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_SNIFFED).delimiter
    except csv.Error:
        return ","


def _open_text(path: str):
    """A text stream of ``path``, gunzipped when the file starts with gzip's magic."""
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def load_table(path: str, delimiter: str | None = None) -> Table:
    """A 2-D table of numbers from a CSV (optional header row, ``.gz`` or not; the
    delimiter sniffed unless given) or an ``.npy`` file (never unpickled)."""
    names = None
    try:
        if path.endswith(".npy"):
            data = np.load(path, allow_pickle=False)
        else:
            with _open_text(path) as fh:
                sample = fh.read(1 << 16)
            if delimiter is None:
                delimiter = sniff_delimiter(sample)
            first = next(csv.reader(io.StringIO(sample), delimiter=delimiter,
                                    skipinitialspace=True), [])
            fields = [f.strip() for f in first if f.strip() != ""] \
                if delimiter == " " else [f.strip() for f in first]
            skip = 0 if _numbers(fields) else 1
            names = None if skip == 0 else fields
            with _open_text(path) as fh, warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # an empty file: reported below
                # Spaces as the delimiter: any run of whitespace separates (loadtxt's None).
                data = np.loadtxt(fh, delimiter=None if delimiter == " " else delimiter,
                                  skiprows=skip, ndmin=2)
    # A damaged .npy or .gz ends early (EOFError); text that is no number, or bytes that
    # are no UTF-8, is a ValueError; a file that is no gzip raises BadGzipFile (an
    # OSError, reported by main with its own message).
    except (ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a table of numbers ({exc})") from None
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"{path} must hold a table of rows and columns. Received an array "
                         f"of shape {data.shape}")
    bad = np.argwhere(~np.isfinite(data)) if data.dtype.kind in "fc" else ()
    if len(bad):
        row, column = bad[0]
        raise ValueError(f"{path}: every value must be a finite number; row {row + 1} "
                         f"(not counting a header), column {column + 1} holds "
                         f"{data[row, column]}")
    if names is not None and len(names) != data.shape[1]:
        names = None  # a title line rather than column names (Iris's "150,4,setosa,...")
    return Table(np.asarray(data, dtype=np.float64), names, path)


def _numbers(fields: list[str]) -> bool:
    try:
        [float(v) for v in fields]
    except ValueError:
        return False
    return bool(fields)


def check_writable(path: str, flag: str) -> None:
    """Refuse, before any work, an output path that cannot be written: a folder, a
    missing or read-only folder, a read-only file."""
    if os.path.isdir(path):
        raise ValueError(f"{flag} must name a file, not a folder. Received: {path}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{flag}: the folder {folder} does not exist. Received: {path}")
    if not os.access(folder, os.W_OK | os.X_OK) or \
            (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ValueError(f"{flag}: {path} is not writable (permission denied)")
