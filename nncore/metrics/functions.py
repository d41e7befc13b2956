"""Metrics as keras.metrics functions: each returns one value per sample, and ``fit`` and
``evaluate`` report their (sample-weighted) means over the epoch.

Example
-------
>>> import nncore as nn
>>> nn.metrics.sparse_categorical_accuracy([2, 0], [[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]])
array([1., 0.])
"""
from __future__ import annotations

import numpy as np

from nncore._checks import check_int


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_pred = np.asarray(y_pred)
    y_pred = y_pred.reshape(len(y_pred), -1)
    y_true = np.asarray(y_true).reshape(len(y_pred), -1)
    return y_true, y_pred


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> np.ndarray:
    """Fraction of outputs on the right side of ``threshold``.

    Parameters
    ----------
    y_true : array-like, shape (n,) or (n, d)
        Targets.
    y_pred : array-like, shape (n,) or (n, d)
        Predictions.
    threshold : float, default 0.5
        A prediction above it counts as 1 (a target above 0.5 is 1).

    Example
    -------
    >>> binary_accuracy([[1], [0]], [[0.9], [0.6]])
    array([1., 0.])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return ((y_pred > threshold) == (y_true > 0.5)).mean(axis=1)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """1 where the largest prediction is the one-hot label's class, else 0.

    Parameters
    ----------
    y_true : array-like, shape (n, classes)
        One-hot labels.
    y_pred : array-like, shape (n, classes)
        Scores or probabilities.

    Example
    -------
    >>> categorical_accuracy([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]])
    array([1., 0.])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return (y_true.argmax(axis=1) == y_pred.argmax(axis=1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """1 where the largest prediction is the integer label, else 0.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        Class labels.
    y_pred : array-like, shape (n, classes)
        Scores or probabilities.

    Example
    -------
    >>> sparse_categorical_accuracy([1, 0], [[0.2, 0.8], [0.3, 0.7]])
    array([1., 0.])
    """
    y_pred = np.asarray(y_pred)
    labels = np.asarray(y_true).reshape(len(y_pred))
    return (labels == y_pred.argmax(axis=1)).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """1 where the one-hot label's class is among the ``k`` largest predictions, else 0.

    A class tied with the k-th largest counts as in the top k (TensorFlow's in_top_k):
    the label's rank is the number of predictions strictly above it.

    Parameters
    ----------
    y_true : array-like, shape (n, classes)
        One-hot labels.
    y_pred : array-like, shape (n, classes)
        Scores or probabilities.
    k : int, default 5
        How many of the largest predictions count.

    Example
    -------
    >>> top_k_categorical_accuracy([[0, 0, 1]], [[0.5, 0.3, 0.2]], k=2)
    array([0.])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return sparse_top_k_categorical_accuracy(y_true.argmax(axis=1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """1 where the integer label is among the ``k`` largest predictions, else 0.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        Class labels.
    y_pred : array-like, shape (n, classes)
        Scores or probabilities.
    k : int, default 5
        How many of the largest predictions count.

    Example
    -------
    >>> sparse_top_k_categorical_accuracy([1, 2], [[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]], k=2)
    array([1., 0.])
    """
    k = check_int(k, "k", low=1)
    y_pred = np.asarray(y_pred)
    labels = np.asarray(y_true).reshape(len(y_pred)).astype(np.int64)
    true_scores = y_pred[np.arange(len(y_pred)), labels]
    above = (y_pred > true_scores[:, None]).sum(axis=1)
    return (above < k).astype(np.float64)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """Mean of the squared errors of each sample.

    Parameters
    ----------
    y_true : array-like, shape (n,) or (n, d)
        Targets.
    y_pred : array-like, shape (n,) or (n, d)
        Predictions.

    Example
    -------
    >>> mean_squared_error([[0.0, 0.0]], [[1.0, 3.0]])
    array([5.])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return np.square(y_pred - y_true).mean(axis=1, dtype=np.float64)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Mean of the absolute errors of each sample.

    Parameters
    ----------
    y_true : array-like, shape (n,) or (n, d)
        Targets.
    y_pred : array-like, shape (n,) or (n, d)
        Predictions.

    Example
    -------
    >>> mean_absolute_error([[0.0, 0.0]], [[1.0, 3.0]])
    array([2.])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return np.abs(y_pred - y_true).mean(axis=1, dtype=np.float64)


def accuracy(y_true, y_pred) -> np.ndarray:
    """Accuracy of the kind the shapes call for, as Keras resolves ``"accuracy"`` when the
    loss does not decide it: binary for one output column, sparse categorical for one
    label per row, categorical for one-hot rows.

    Parameters
    ----------
    y_true : array-like, shape (n,) or (n, d)
        Targets.
    y_pred : array-like, shape (n,) or (n, d)
        Predictions.

    Example
    -------
    >>> accuracy([1, 0], [[0.2, 0.8], [0.3, 0.7]])
    array([1., 0.])
    """
    y_pred = np.asarray(y_pred)
    if y_pred.ndim < 2 or y_pred.shape[1] == 1:
        return binary_accuracy(y_true, y_pred)
    y_true = np.asarray(y_true)
    if y_true.ndim < 2 or y_true.shape[1] == 1:
        return sparse_categorical_accuracy(y_true, y_pred)
    return categorical_accuracy(y_true, y_pred)


def batch_values(name: str, values, n: int) -> np.ndarray:
    """A metric's result on a batch of ``n`` samples, checked: float64 of shape (n,) (a
    column (n, 1) is flattened), or 0-d for a batch mean. ``fit`` and ``evaluate`` average
    per-sample values with the sample weights, ``sum(w_i m_i) / sum(w_i)``, and batch
    means ``m_b`` with the batch sizes, ``sum(n_b m_b) / sum(n_b)``: both give the mean
    over the epoch's samples. (Keras gives every batch mean the same weight, so a short
    last batch counts as much as a full one.)

    Parameters
    ----------
    name : str
        The metric's name, for error messages.
    values : array-like
        What the metric returned.
    n : int
        The batch's number of samples.

    Example
    -------
    >>> batch_values('mine', [[1], [0]], 2)
    array([1., 0.])
    """
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):  # ragged sequences
        arr = None
    # Checked by kind, not by converting: float64 would turn "0.5" into 0.5 and None to NaN.
    if arr is None or arr.dtype.kind not in "biuf":
        raise TypeError(f"metric {name!r} must return numbers. Received: "
                        f"{type(values).__name__} {values!r:.80}")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 0 or arr.shape == (n,):
        return arr
    if arr.shape == (n, 1):
        return arr.reshape(n)
    raise ValueError(f"metric {name!r} must return one value per sample, shape ({n},), or "
                     f"the batch's mean, a scalar. Received: shape {arr.shape} for a batch "
                     f"of {n} samples")
