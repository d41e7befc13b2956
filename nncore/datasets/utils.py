"""Label encoding and data splitting: ``to_categorical`` (Keras) and ``train_test_split``
(scikit-learn)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from nncore._checks import make_rng

__all__ = ["to_categorical", "train_test_split"]


def to_categorical(y: Any, num_classes: int | None = None,
                   dtype: str | np.dtype | type = "float32") -> np.ndarray:
    """One-hot encode integer class labels, as ``keras.utils.to_categorical``.

    Parameters
    ----------
    y : array_like of int
        Class indices in ``[0, num_classes)``. A trailing axis of length 1 is dropped
        (``(n, 1)`` labels encode like ``(n,)``), as Keras does.
    num_classes : int, optional
        Number of classes; defaults to ``max(y) + 1``.
    dtype : dtype, default "float32"

    Returns
    -------
    ndarray, shape y.shape + (num_classes,)
        1 at each label's index, 0 elsewhere.

    Example
    -------
    >>> to_categorical([0, 2, 1], num_classes=3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    try:
        Y = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"y must be an array of integer labels. Received: y={y!r}") from exc
    if Y.dtype.kind not in "biuf":
        raise TypeError(f"y must hold integer labels, got dtype {Y.dtype}. Received: y={y!r}")
    if Y.dtype.kind == "f" and not np.all(np.isfinite(Y) & (Y == np.round(Y))):
        # Keras would truncate 1.5 to 1 silently; a fractional label is a bug upstream.
        raise ValueError(f"y must hold whole numbers (class indices). Received: y={y!r}")
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be a NumPy dtype. Received: dtype={dtype!r}") from exc
    shape = Y.shape[:-1] if Y.ndim > 1 and Y.shape[-1] == 1 else Y.shape
    # Beyond int64 the cast below wraps around, and the error would report a negative label.
    if Y.size and Y.dtype.kind in "uf" and np.abs(Y).max() >= 2**63:
        raise ValueError(f"y must hold class indices below 2**63. Received: y={y!r}")
    labels = Y.reshape(-1).astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"y must hold labels >= 0. Received: y with minimum {labels.min()}")
    if num_classes is None:
        if labels.size == 0:
            raise ValueError("num_classes is required when y is empty. Received: y=[]")
        num_classes = int(labels.max()) + 1
    elif isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes,
                                                                       (int, np.integer)):
        raise TypeError("num_classes must be an int or None. "
                        f"Received: num_classes={num_classes!r}")
    elif num_classes < 1:
        raise ValueError(f"num_classes must be >= 1. Received: num_classes={num_classes!r}")
    elif labels.size and labels.max() >= num_classes:
        raise ValueError(f"y holds the label {labels.max()}, which needs num_classes > "
                         f"{labels.max()}. Received: num_classes={num_classes}")
    out = np.zeros((labels.size, int(num_classes)), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out.reshape(*shape, int(num_classes))


def _n_test(test_size: Any, n: int) -> int:
    """Number of test samples for ``test_size`` (a fraction or a count) out of ``n``."""
    if isinstance(test_size, (bool, np.bool_)):
        raise TypeError(f"test_size must be a float in (0, 1) or an int. "
                        f"Received: test_size={test_size!r}")
    if isinstance(test_size, (int, np.integer)):
        if not 1 <= test_size < n:
            raise ValueError(f"test_size as an int must be in [1, {n - 1}] for {n} samples. "
                             f"Received: test_size={test_size!r}")
        return int(test_size)
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError("test_size as a float must be strictly between 0 and 1. "
                             f"Received: test_size={test_size!r}")
        n_test = math.ceil(test_size * n)  # scikit-learn rounds the test set up
        if not 1 <= n_test < n:
            raise ValueError(f"test_size={test_size!r} of {n} samples leaves an empty train "
                             "or test set; use more samples or another test_size.")
        return n_test
    raise TypeError(f"test_size must be a float in (0, 1) or an int. "
                    f"Received: test_size={test_size!r}")


def _stratified_indices(labels: np.ndarray, n_test: int, rng: np.random.Generator,
                        ) -> tuple[np.ndarray, np.ndarray]:
    classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    n = labels.size
    if counts.min() < 2:
        raise ValueError("stratify needs at least 2 members in every class. Received: "
                         f"class {classes[np.argmin(counts)]!r} with {counts.min()} member")
    if n_test < classes.size or n - n_test < classes.size:
        raise ValueError(f"with stratify, the train and test sets must each hold at least one "
                         f"sample of each of the {classes.size} classes. Received: "
                         f"test_size giving {n_test} test and {n - n_test} train samples")
    # Each class gets its share of the test set rounded down; the samples this leaves over
    # go to the classes with the largest remainders, so the total is exactly n_test.
    exact = counts * n_test / n
    per_class = np.floor(exact).astype(np.int64)
    leftover = n_test - int(per_class.sum())
    per_class[np.argsort(-(exact - per_class), kind="stable")[:leftover]] += 1
    train, test = [], []
    for k, k_test in enumerate(per_class):
        members = rng.permutation(np.flatnonzero(codes == k))
        test.append(members[:k_test])
        train.append(members[k_test:])
    # Shuffle again so the classes interleave instead of coming in blocks.
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def train_test_split(*arrays: Any, test_size: float | int = 0.25, shuffle: bool = True,
                     random_state: int | np.random.Generator | None = None,
                     stratify: Any = None) -> list[np.ndarray]:
    """Split arrays into random train and test subsets, as scikit-learn's function.

    Parameters
    ----------
    *arrays : array_like
        Any number of arrays with the same first dimension (e.g. ``x, y``).
    test_size : float or int, default 0.25
        A float in (0, 1) is the fraction of samples in the test set (rounded up);
        an int is their number.
    shuffle : bool, default True
        Shuffle before splitting; with False the test set is the last ``n_test`` rows.
    random_state : int, Generator or None
        Seed of the shuffle; the same int gives the same split.
    stratify : array_like, shape (n_samples,), optional
        Class labels: each class then keeps (up to rounding) its proportion in both
        subsets. Requires ``shuffle=True``.

    Returns
    -------
    list of ndarray
        ``[a_train, a_test, b_train, b_test, ...]``, two per input array.

    Example
    -------
    >>> x_train, x_test, y_train, y_test = train_test_split(np.arange(8), np.arange(8) % 2,
    ...                                                     test_size=0.25, random_state=0)
    >>> len(x_train), len(x_test)
    (6, 2)
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array. Received: no arrays")
    data = []
    for i, a in enumerate(arrays):
        try:
            a = np.asarray(a)
        except (TypeError, ValueError) as exc:  # ragged nested lists
            raise ValueError(f"arrays[{i}] is not an array ({exc})") from None
        data.append(a)
        if a.ndim == 0:
            raise ValueError(f"arrays must have a first (sample) axis. "
                             f"Received: arrays[{i}] of shape {a.shape}")
    n = data[0].shape[0]
    lengths = [a.shape[0] for a in data]
    if any(length != n for length in lengths):
        raise ValueError(f"arrays must all have the same number of samples. "
                         f"Received: lengths {lengths}")
    n_test = _n_test(test_size, n)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be True or False. Received: shuffle={shuffle!r}")

    if stratify is not None:
        if not shuffle:
            raise ValueError("stratify requires shuffle=True (as in scikit-learn). "
                             "Received: shuffle=False")
        try:
            labels = np.asarray(stratify)
        except (TypeError, ValueError) as exc:  # ragged nested lists
            raise ValueError(f"stratify is not an array of labels ({exc})") from None
        if labels.shape[:1] != (n,) or labels.ndim > 2:
            raise ValueError(f"stratify must have one label per sample ({n}). "
                             f"Received: stratify.shape={labels.shape}")
        rng = make_rng(random_state, "random_state")
        try:
            if labels.ndim == 2:  # one-hot or multi-column labels: each distinct row a class
                labels = np.unique(labels, axis=0, return_inverse=True)[1].reshape(-1)
            train, test = _stratified_indices(labels, n_test, rng)
        except TypeError as exc:  # np.unique sorts: None next to "a" cannot be ordered
            raise TypeError(f"stratify must hold labels that can be compared with each "
                            f"other ({exc})") from None
    elif shuffle:
        order = make_rng(random_state, "random_state").permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        train, test = np.arange(n - n_test), np.arange(n - n_test, n)

    return [part for a in data for part in (a[train], a[test])]
