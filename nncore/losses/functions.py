"""Losses as keras.losses functions: one value per sample, from the NumPy reference
kernels (the same clipping and log-sum-exp as the classes)."""
from __future__ import annotations

import numpy as np

from nncore.backends import get_backend
from nncore.backends.base import loss_param
from nncore.backends.numpy_backend import losses as _reference
from nncore.losses.base import _pair, _warn_one_column


def _per_sample(name: str, y_true, y_pred, from_logits: bool = False,
                delta: float = 1.0, label_smoothing: float = 0.0) -> np.ndarray:
    """One loss per row, from the reference kernels (the same clipping and log-sum-exp)."""
    y_true, y_pred = _pair(y_true, y_pred)
    if name == "categorical_crossentropy" and y_pred.shape[1] == 1:
        _warn_one_column(y_pred.shape, stacklevel=3)  # the caller of the public function
    ops = get_backend("numpy")
    code, T, P, _ = ops._loss_args(name, y_true, y_pred, from_logits, None)
    return _reference.sample_losses(code, T, P, from_logits,
                                    loss_param(code, delta, label_smoothing))


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean((y_pred - y_true)**2)`` over the last axis, shape (n,).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        Targets.
    y_pred : array-like of shape (n,) or (n, d)
        Predictions (a 1-D vector is one output per sample).

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.mean_squared_error([[0.0, 1.0]], [[1.0, 1.0]])
    array([0.5])
    """
    return _per_sample("mean_squared_error", y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean(|y_pred - y_true|)``, shape (n,).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        Targets.
    y_pred : array-like of shape (n,) or (n, d)
        Predictions (a 1-D vector is one output per sample).

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.mean_absolute_error([[0.0, 1.0]], [[1.0, 1.0]])
    array([0.5])
    """
    return _per_sample("mean_absolute_error", y_true, y_pred)


def huber(y_true, y_pred, delta: float = 1.0) -> np.ndarray:
    """Per-sample Huber loss, shape (n,): squared inside ``delta``, linear beyond.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        Targets.
    y_pred : array-like of shape (n,) or (n, d)
        Predictions (a 1-D vector is one output per sample).
    delta : float
        Where the loss turns from squared to linear (> 0).

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.huber([[0.0]], [[3.0]])
    array([2.5])
    """
    return _per_sample("huber", y_true, y_pred, delta=delta)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample binary cross-entropy (mean over the last axis), shape (n,).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        Targets.
    y_pred : array-like of shape (n,) or (n, d)
        Predictions (a 1-D vector is one output per sample).
    from_logits : bool
        ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float
        Pulls the targets towards uniform: ``t (1 - s) + s / 2`` (binary) or ``/ d``.

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.binary_crossentropy([[1.0]], [[0.5]]).round(4)
    array([0.6931])
    """
    return _per_sample("binary_crossentropy", y_true, y_pred, from_logits,
                       label_smoothing=label_smoothing)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False,
                             label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample ``-sum(t log p)`` for one-hot rows ``t``, shape (n,).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        Targets.
    y_pred : array-like of shape (n,) or (n, d)
        Predictions (a 1-D vector is one output per sample).
    from_logits : bool
        ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float
        Pulls the targets towards uniform: ``t (1 - s) + s / 2`` (binary) or ``/ d``.

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.categorical_crossentropy([[0, 1, 0]], [[0.05, 0.95, 0.0]]).round(4)
    array([0.0513])
    """
    return _per_sample("categorical_crossentropy", y_true, y_pred, from_logits,
                       label_smoothing=label_smoothing)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False) -> np.ndarray:
    """Per-sample cross-entropy for integer labels ``y_true`` (n,), shape (n,).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        Targets.
    y_pred : array-like of shape (n,) or (n, d)
        Predictions (a 1-D vector is one output per sample).
    from_logits : bool
        ``y_pred`` holds logits rather than probabilities.

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.sparse_categorical_crossentropy([1], [[0.05, 0.95, 0.0]]).round(4)
    array([0.0513])
    """
    return _per_sample("sparse_categorical_crossentropy", y_true, y_pred, from_logits)


def hinge(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean(max(1 - t p, 0))`` (0/1 targets read as -1/+1), shape (n,).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        Targets.
    y_pred : array-like of shape (n,) or (n, d)
        Predictions (a 1-D vector is one output per sample).

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.hinge([[1.0], [-1.0]], [[0.25], [0.5]])
    array([0.75, 1.5 ])
    """
    return _per_sample("hinge", y_true, y_pred)


def kl_divergence(y_true, y_pred) -> np.ndarray:
    """Per-sample ``sum(t log(t / p))``, both clipped to [1e-7, 1], shape (n,).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        Targets.
    y_pred : array-like of shape (n,) or (n, d)
        Predictions (a 1-D vector is one output per sample).

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.kl_divergence([[0.5, 0.5]], [[0.5, 0.5]])
    array([0.])
    """
    return _per_sample("kl_divergence", y_true, y_pred)


def poisson(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean(p - t log(p + 1e-7))``, shape (n,).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        Targets.
    y_pred : array-like of shape (n,) or (n, d)
        Predictions (a 1-D vector is one output per sample).

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.poisson([[0.0]], [[2.0]])
    array([2.])
    """
    return _per_sample("poisson", y_true, y_pred)


def log_cosh(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean(log(cosh(p - t)))``, shape (n,).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        Targets.
    y_pred : array-like of shape (n,) or (n, d)
        Predictions (a 1-D vector is one output per sample).

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.log_cosh([[0.0]], [[0.0]])
    array([0.])
    """
    return _per_sample("log_cosh", y_true, y_pred)
