"""Model files: the documented format (:mod:`nncore.saving.format`), its header checks
(:mod:`nncore.saving.header`) and where files are written and read
(:mod:`nncore.saving.files`).

``write_archive`` and ``read_archive`` store and load a JSON config with named arrays;
``Sequential.save`` and ``nncore.load_model`` are built on them, and a pickled model holds
the same bytes (``archive_bytes``). Loading never unpickles or executes anything.

Example
-------
>>> import numpy as np
>>> from nncore import saving
>>> saving.read_archive_bytes(saving.archive_bytes({"k": 1}, {"b": np.zeros(2)}))[0]
{'k': 1}
"""
from nncore.exceptions import ModelFileError
from nncore.saving.format import (
    FORMAT_VERSION, MAGIC, MAX_DEPTH, MAX_FILE_BYTES, MAX_HEADER_BYTES, MAX_LAYERS, MAX_NDIM,
    archive_bytes, read_archive, read_archive_bytes, write_archive,
)

__all__ = ["FORMAT_VERSION", "MAGIC", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_HEADER_BYTES",
           "MAX_LAYERS", "MAX_NDIM", "ModelFileError", "archive_bytes", "read_archive",
           "read_archive_bytes", "write_archive"]
