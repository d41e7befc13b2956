"""Losses, as keras.losses: classes for ``compile`` and plain functions on arrays.

The classes return the batch loss (Keras's "sum over batch size" reduction); the
functions return one loss per sample. Both compute through the backend's numerically
safe kernels (clipped probabilities, log-sum-exp for logits).

Example
-------
>>> import nncore as nn
>>> nn.losses.MeanSquaredError()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
0.5
"""
from __future__ import annotations

import numpy as np

from nncore.backends import get_backend
from nncore.backends.base import check_float, loss_name
from nncore._validation import FLOATX, to_array


class Loss:
    """A loss with its options; ``loss(y_true, y_pred, sample_weight=None) -> float``."""

    name = ""

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    @property
    def options(self) -> dict:
        """Keyword arguments of the backend's loss ops."""
        return {"from_logits": self.from_logits}

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        dtype = np.float64 if np.asarray(y_pred).dtype == np.float64 else FLOATX
        y_pred = to_array(y_pred, "y_pred", dtype, ndim=(1, 2))
        if y_pred.ndim == 1:
            y_pred = y_pred.reshape(-1, 1)
        return get_backend().loss(self.name, np.asarray(y_true), y_pred,
                                  sample_weight=sample_weight, **self.options)

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true)**2)`` over features, averaged over samples."""

    name = "mean_squared_error"

    def __init__(self):
        super().__init__(False)

    def get_config(self):
        return {}


class MeanAbsoluteError(MeanSquaredError):
    """``mean(|y_pred - y_true|)`` over features, averaged over samples."""

    name = "mean_absolute_error"


class Huber(Loss):
    """Squared error for ``|e| <= delta``, linear beyond: robust to outliers."""

    name = "huber"

    def __init__(self, delta: float = 1.0):
        super().__init__(False)
        self.delta = check_float(delta, "delta", low=0.0, low_open=True)

    @property
    def options(self):
        return {"delta": self.delta}

    def get_config(self):
        return {"delta": self.delta}


class BinaryCrossentropy(Loss):
    """``-mean(t log p + (1 - t) log(1 - p))``; ``from_logits`` for raw scores."""

    name = "binary_crossentropy"


class CategoricalCrossentropy(Loss):
    """``-sum(t log p)`` over classes for one-hot ``t``; ``from_logits`` for raw scores."""

    name = "categorical_crossentropy"


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class labels instead of one-hot rows."""

    name = "sparse_categorical_crossentropy"


_CLASSES = {cls.name: cls for cls in (MeanSquaredError, MeanAbsoluteError, Huber,
                                       BinaryCrossentropy, CategoricalCrossentropy,
                                       SparseCategoricalCrossentropy)}


def get(identifier) -> Loss:
    """A Loss from a name (``"mse"``, ``"categorical_crossentropy"``...) or an instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return _CLASSES[loss_name(identifier.get("name", ""))](**identifier.get("config", {}))
    return _CLASSES[loss_name(identifier)]()


def serialize(loss: Loss) -> dict:
    return {"name": loss.name, "config": loss.get_config()}


__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "get", "serialize"]
