"""The header of a model file: strict JSON, the array table and the names, all checked.

Every value is checked against the format's rules (see :mod:`nncore.saving.format`) before
anything trusts it: types, depth, text, names, dtypes, shapes and byte ranges.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from nncore.exceptions import ModelFileError

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
