"""Metrics, as keras.metrics functions: each returns one value per sample.

``fit`` and ``evaluate`` report their (sample-weighted) means over the epoch. A metric of
your own, ``fn(y_true, y_pred)``, returns one value per sample (shape (n,)) or the batch's
mean (a scalar); see :func:`batch_values`. ``"accuracy"`` picks
binary, categorical or sparse categorical accuracy from the loss, or from the shapes
when the loss is not a cross-entropy, as Keras does.

Example
-------
>>> import nncore as nn
>>> nn.metrics.sparse_categorical_accuracy([2, 0], [[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]])
array([1., 0.])
"""
from __future__ import annotations

import numpy as np


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_pred = np.asarray(y_pred)
    y_pred = y_pred.reshape(len(y_pred), -1)
    y_true = np.asarray(y_true).reshape(len(y_pred), -1)
    return y_true, y_pred


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> np.ndarray:
    """Fraction of outputs on the right side of ``threshold``."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ((y_pred > threshold) == (y_true > 0.5)).mean(axis=1)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """1 where the largest prediction is the one-hot label's class, else 0."""
    y_true, y_pred = _pair(y_true, y_pred)
    return (y_true.argmax(axis=1) == y_pred.argmax(axis=1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """1 where the largest prediction is the integer label, else 0."""
    y_pred = np.asarray(y_pred)
    labels = np.asarray(y_true).reshape(len(y_pred))
    return (labels == y_pred.argmax(axis=1)).astype(np.float64)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """Mean of the squared errors of each sample."""
    y_true, y_pred = _pair(y_true, y_pred)
    return np.square(y_pred - y_true).mean(axis=1, dtype=np.float64)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Mean of the absolute errors of each sample."""
    y_true, y_pred = _pair(y_true, y_pred)
    return np.abs(y_pred - y_true).mean(axis=1, dtype=np.float64)


def accuracy(y_true, y_pred) -> np.ndarray:
    """Accuracy of the kind the shapes call for, as Keras resolves ``"accuracy"`` when the
    loss does not decide it: binary for one output column, sparse categorical for one
    label per row, categorical for one-hot rows."""
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
    last batch counts as much as a full one.)"""
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


_BY_NAME = {
    "binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
}
_ACCURACY_FOR_LOSS = {
    "binary_crossentropy": "binary_accuracy",
    "categorical_crossentropy": "categorical_accuracy",
    "sparse_categorical_crossentropy": "sparse_categorical_accuracy",
}


def get(identifier, loss: str | None = None) -> tuple[str, callable]:
    """``(name shown in logs, function)``; ``"accuracy"``/``"acc"`` resolve by ``loss``."""
    if callable(identifier):
        return getattr(identifier, "__name__", "metric"), identifier
    if not isinstance(identifier, str):
        raise TypeError(f"metrics must be names or functions. Received: {identifier!r}")
    key = identifier.lower()
    if key in ("accuracy", "acc"):
        # A cross-entropy names its accuracy; other losses (mse on 0/1 targets...) leave
        # it to the shapes, or one output column would always count as "right".
        return key, (_BY_NAME[_ACCURACY_FOR_LOSS[loss]] if loss in _ACCURACY_FOR_LOSS
                     else accuracy)
    if key not in _BY_NAME:
        raise ValueError(f"Unknown metric {identifier!r}; expected 'accuracy' or one of "
                         f"{', '.join(_BY_NAME)}.")
    return key, _BY_NAME[key]
