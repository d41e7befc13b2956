"""Data read as it is needed: a CSV file as a stream of batches for ``fit``.

A :class:`CSVDataset` holds no rows: each pass (each epoch of ``fit``) opens the file
and reads ``batch_size`` rows at a time, so memory stays that of one batch whatever the
file's size. (For arrays larger than memory, a NumPy memory map, ``np.load(path,
mmap_mode="r")``, goes to ``fit`` as it is.)

Example
-------
>>> import nncore as nn, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "xor.csv")
>>> with open(path, "w") as f:
...     _ = f.write("a,b,label\\n0,0,0\\n0,1,1\\n1,0,1\\n1,1,0\\n")
>>> data = nn.datasets.CSVDataset(path, label="label", batch_size=2)
>>> [x.shape for x, y in data]
[(2, 2), (2, 2)]
"""
from __future__ import annotations

import csv
import gzip
import io
import os

import numpy as np

from nncore._checks import as_dtype, check_int


class CSVDataset:
    """The rows of a CSV file (``.csv`` or ``.csv.gz``) as ``(x, y)`` batches, read anew
    on every pass: give it to ``fit`` (or as ``validation_data``, or to ``evaluate``)
    in place of arrays.

    Parameters
    ----------
    path : str or path
        The file; names ending in ``.gz`` are read through gzip.
    label : int or str
        The target's column: an index (negative counts from the end) or, with a header,
        its name. Every other column is a feature.
    batch_size : int
        Rows per batch (the last batch may be smaller).
    delimiter : str
        The field separator, one character.
    header : bool
        Whether the first line names the columns.
    dtype : {"float32", "float64"}
        The features' dtype (the targets are float64 and checked by the model).

    Example
    -------
    >>> import nncore as nn
    >>> nn.datasets.CSVDataset("data.csv", label=-1, batch_size=64).batch_size
    64
    """

    def __init__(self, path, label=-1, batch_size: int = 32, delimiter: str = ",",
                 header: bool = True, dtype="float32"):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or a path. Received: path={path!r}")
        if not isinstance(label, (int, str)) or isinstance(label, bool):
            raise TypeError(f"label must be a column index or name. Received: label={label!r}")
        if isinstance(label, str) and not header:
            raise ValueError(f"label={label!r} names a column: the file needs header=True.")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ValueError(f"delimiter must be one character. Received: "
                             f"delimiter={delimiter!r}")
        self.path, self.label, self.delimiter = os.fspath(path), label, delimiter
        self.batch_size = check_int(batch_size, "batch_size", low=1)
        self.header, self.dtype = bool(header), as_dtype(dtype)

    def _open(self) -> io.TextIOBase:
        if self.path.endswith(".gz"):
            return io.TextIOWrapper(gzip.open(self.path, "rb"), encoding="utf-8", newline="")
        return open(self.path, encoding="utf-8", newline="")

    def _label_column(self, names: list[str] | None, width: int) -> int:
        if isinstance(self.label, str):
            if self.label not in names:
                raise ValueError(f"{self.path}: no column named {self.label!r}; the header "
                                 f"has {', '.join(names)}.")
            return names.index(self.label)
        if not -width <= self.label < width:
            raise ValueError(f"label={self.label} is not a column of {self.path}, which has "
                             f"{width}.")
        return self.label % width

    def __iter__(self):
        with self._open() as f:
            reader = csv.reader(f, delimiter=self.delimiter)
            names = next(reader, None) if self.header else None
            column = None
            rows: list[list[str]] = []
            line = 1 if self.header else 0
            for row in reader:
                line += 1
                if not row:
                    continue
                if column is None:
                    width = len(row)
                    column = self._label_column(names, width)
                if len(row) != width:
                    raise ValueError(f"{self.path}, line {line}: {len(row)} fields where "
                                     f"the first row has {width}.")
                rows.append(row)
                if len(rows) == self.batch_size:
                    yield self._batch(rows, column, line)
                    rows = []
            if rows:
                yield self._batch(rows, column, line)

    def _batch(self, rows: list[list[str]], column: int, line: int):
        try:
            table = np.array(rows, dtype=np.float64)
        except ValueError:
            bad = next(i for i, row in enumerate(rows) if not _numeric(row))
            raise ValueError(f"{self.path}, line {line - len(rows) + bad + 1}: every field "
                             f"must be a number. Received: {rows[bad]!r:.120}") from None
        return (np.ascontiguousarray(np.delete(table, column, axis=1), dtype=self.dtype),
                table[:, column])

    def __repr__(self) -> str:
        return (f"CSVDataset({self.path!r}, label={self.label!r}, "
                f"batch_size={self.batch_size})")


def _numeric(row: list[str]) -> bool:
    try:
        [float(v) for v in row]
    except ValueError:
        return False
    return True
