"""Every argument check of nncore, at the API edge: user data becomes float arrays of the
model's dtype, numbers and seeds are checked against their ranges, or each is refused
with a message that names the argument and says what was expected. The kernels behind
the edge trust what passed here."""
from __future__ import annotations

import math
import re
import numbers

import numpy as np

FLOATX = np.dtype(np.float32)


def as_dtype(dtype) -> np.dtype:
    """float32 or float64 from a name or dtype, else ValueError; None is floatx (as Keras's
    dtype=None), where NumPy would make it float64."""
    if dtype is None:
        return FLOATX
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be 'float32' or 'float64'. Received: dtype={dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be 'float32' or 'float64'. Received: dtype={dtype!r}")
    return dt


def compute_dtype(x) -> np.dtype:
    """The dtype a function on arrays computes ``x`` in: float64 stays float64, anything
    else is floatx (float32), as Keras. Data NumPy cannot even convert (a ragged list) gets
    floatx here and is refused by :func:`to_array`, whose message names the argument."""
    try:
        return np.dtype(np.float64) if np.asarray(x).dtype == np.float64 else FLOATX
    except (TypeError, ValueError):
        return FLOATX


def to_array(x, name: str, dtype: np.dtype, *, ndim: int | tuple[int, ...] | None = None,
             allow_empty: bool = False) -> np.ndarray:
    """``x`` as a C-contiguous array of ``dtype``: real numbers only, finite, right rank.

    Lists, tuples and array-likes (anything np.asarray accepts) are welcome; complex,
    object and string data are refused rather than guessed at. float16 is upcast exactly.
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of real numbers. Received a string.")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers ({exc}).") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, int or float). "
                        f"Received: {name}.dtype={arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}. Received: {name}.shape={arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty. Received: {name}.shape={arr.shape}")
    if arr.dtype.kind in "iu" and arr.size and \
            max(abs(int(arr.min())), abs(int(arr.max()))) > np.finfo(dtype).max:
        raise ValueError(f"{name} holds integers too large for {dtype}.")
    # np.asarray keeps a 0-d array 0-d (np.ascontiguousarray would make it 1-D); values
    # beyond the range of a narrower dtype become inf here and are refused just below.
    if arr.dtype == dtype and arr.flags.c_contiguous and arr.flags.aligned:
        out = arr  # already right: the common case of a training loop, kept cheap
    else:
        with np.errstate(over="ignore"):
            out = np.asarray(arr, dtype=dtype, order="C")
        if not out.flags.aligned:  # np.frombuffer at an odd offset: C can't load from it
            out = out.copy()
    if out.dtype.kind == "f" and out.size and not all_finite(out):
        raise ValueError(f"{name} must be finite: it holds NaN or inf"
                         + (f" (or values beyond the range of {np.dtype(dtype)})"
                            if np.isfinite(arr).all() else "") + ".")
    return out


def all_finite(a: np.ndarray) -> bool:
    """True when every value of the non-empty float array ``a`` is finite.

    Its min and max propagate NaN and +-inf: two passes that allocate nothing, where
    np.isfinite would allocate a mask. Not a BLAS product, though one (``a @ 1``) is
    half the time on a training set: NumPy's BLAS is a second OpenBLAS beside the one
    nncore's GEMMs call, and its worker threads would spin on the cores the next GEMMs
    need (benchmarks/README.md, "Which BLAS": 50 ms more per ``fit`` here).
    """
    return math.isfinite(a.min()) and math.isfinite(a.max())


#: The largest layer width: BLAS takes dimensions as 32-bit ints.
MAX_WIDTH = 2**31 - 1


def check_int(value, name: str, *, low: int | None = None, high: int | None = None,
              allow_none: bool = False) -> int | None:
    """An integer in [low, high] (bools refused), or None when allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer. Received: {name}={value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}. Received: {name}={value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}. Received: {name}={value!r}")
    return int(value)


def check_choice(value, name: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}. "
                         f"Received: {name}={value!r}")
    return value


def make_rng(seed, name: str = "seed") -> np.random.Generator:
    """A Generator from an int seed >= 0, a Generator (used as it is) or None (fresh
    entropy), checked under the caller's ``name`` rather than NumPy's message."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    return np.random.default_rng(check_int(seed, name, low=0))


def check_float(value, name: str, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a finite float within [low, high], else raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number. Received: {name}={value!r}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float's range (10**400) is not finite either
        raise ValueError(f"{name} must be a finite number. Received: {name}={value!r}") from None
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        span = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
        raise ValueError(f"{name} must be a finite number in {span}. Received: {name}={value!r}")
    return value


def snake_case(name: str) -> str:
    """A class name as a default object name, as Keras makes it: ``BatchNormalization``
    -> ``batch_normalization``, ``LeakyReLU`` -> ``leaky_re_lu`` (a run of capitals stays
    one word, except that its last capital starts the next word if lower case follows)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def class_labels(y, name: str, classes: int, against: str) -> np.ndarray:
    """Integer class labels in [0, classes) as aligned, C-contiguous int64 of shape (n,),
    from a (n,) or (n, 1) array of integers or whole-number floats. ``against`` names what
    fixes ``classes``, for the error ("a model with 3 outputs"). The one check of sparse
    labels: the kernels after it index with them."""
    integral = isinstance(y, np.ndarray) and y.dtype.kind in "iub"
    arr = np.asarray(y) if integral else to_array(y, name, np.float64, ndim=(1, 2))
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must hold one integer class label per row, shape (n,) or "
                         f"(n, 1). Received: {name}.shape={np.shape(y)}")
    if not integral and np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must hold whole-number class labels.")
    if arr.min() < 0 or arr.max() >= classes:
        raise ValueError(f"{name} labels must be in [0, {classes}) for {against}. Received "
                         f"labels in [{arr.min():g}, {arr.max():g}]")
    if arr.dtype == np.int64 and arr.flags.c_contiguous and arr.flags.aligned:
        return arr  # the caller's own array, no copy: the common case of a training loop
    return np.require(arr, dtype=np.int64, requirements=("C", "A"))
