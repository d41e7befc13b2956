"""The arrays of the public ops, checked: dtype, shape, contiguity, alignment, aliasing.

Every public method of :class:`~nncore.backends.base.Backend` passes its arrays through
these before any kernel runs, so a kernel (C or NumPy) never reads or writes out of
bounds, never guesses a dtype, and never writes into memory it also reads.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _check_float_ndarray(x, name: str) -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray. Received: {name} of type "
                        f"{type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64. Received: "
                        f"{name}.dtype={x.dtype}")


def as_float_array(x, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    """Return ``x`` as a C-contiguous float32/float64 ndarray (copied only if needed).

    Raises TypeError if ``x`` is not an ndarray of float32/float64, or if ``dtype`` is given
    and differs: kernels never guess a dtype or convert one silently.

    Parameters
    ----------
    x : ndarray
        float32 or float64.
    name : str
        The argument's name, for errors.
    dtype : numpy dtype, optional
        The dtype ``x`` must have.

    Example
    -------
    >>> import numpy as np
    >>> as_float_array(np.ones((2, 2), np.float32).T, 'x').flags.c_contiguous
    True
    """
    _check_float_ndarray(x, name)
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} like the other arrays of this call. "
                        f"Received: {name}.dtype={x.dtype}")
    # Not np.ascontiguousarray: it turns a 0-d array into a 1-d one. Misaligned data
    # (np.frombuffer at an odd offset) is copied too: C may not load floats from it.
    return x if x.flags.c_contiguous and x.flags.aligned else x.copy(order="C")


def as_output(out, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Return ``out`` checked for in-place writing, or a new empty array if it is None.

    Parameters
    ----------
    out : ndarray or None
    name : str
        The argument's name, for errors.
    shape : tuple of int
    dtype : numpy dtype

    Example
    -------
    >>> import numpy as np
    >>> as_output(None, 'out', (2,), np.float32).dtype
    dtype('float32')
    """
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray or None. Received: {name} of type "
                        f"{type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}. Received: {name}.dtype={out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}. Received: "
                         f"{name}.shape={out.shape}")
    if not (out.flags.c_contiguous and out.flags.writeable and out.flags.aligned):
        raise ValueError(f"{name} must be C-contiguous, aligned and writeable.")
    return out


def _check_no_overlap(out: np.ndarray, out_name: str, **inputs) -> None:
    """Refuse an output that overlaps an input the kernel still reads (BLAS would misread)."""
    for name, arr in inputs.items():
        if arr is not None and np.may_share_memory(out, arr):
            raise ValueError(f"{out_name} must not share memory with {name}.")


def _check_disjoint(arrays: Sequence[np.ndarray], name: str) -> None:
    """Refuse two C-contiguous entries of ``arrays`` that share memory: an op applied to
    each in turn would count and scale the shared elements twice. Sorted by address, two
    of them overlap only if two neighbours do: linear after the sort, no pairwise test."""
    spans = sorted((a.__array_interface__["data"][0], a.nbytes, i)
                   for i, a in enumerate(arrays) if a.nbytes)
    for (start, size, i), (following, _, j) in zip(spans, spans[1:]):
        if following < start + size:
            raise ValueError(f"{name}[{max(i, j)}] must not share memory with "
                             f"{name}[{min(i, j)}].")


def _rows(x: np.ndarray) -> np.ndarray:
    """View an (..., d) array as 2-D (rows, d); 1-D arrays are one row."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


def _matrix(x, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    x = as_float_array(x, name, dtype)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, features). Received: {name}.shape={x.shape}")
    return x


def _inplace(arr, name: str, shape, dtype) -> np.ndarray:
    """An array the op writes in place: never copied, so it must already be right."""
    _check_float_ndarray(arr, name)
    return as_output(arr, name, arr.shape if shape is None else shape,
                     arr.dtype if dtype is None else dtype)


def _real_array(x, name: str, dtype: np.dtype) -> np.ndarray:
    """Data such as labels or weights: any real numeric dtype, converted to ``dtype``."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers. Received: {name}.dtype={arr.dtype}")
    # Aligned too (a copy if not): the native kernels refuse misaligned data.
    return np.require(arr, dtype=dtype, requirements=("C", "A"))
