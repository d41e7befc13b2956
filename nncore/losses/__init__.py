"""Losses, as keras.losses: classes for ``compile`` and plain functions on arrays.

The classes return the batch loss (Keras's "sum over batch size"), on the current
backend; the functions one loss per sample, on the NumPy reference kernels. Both are
numerically safe (clipped probabilities, log-sum-exp for logits).

Example
-------
>>> import nncore as nn
>>> nn.losses.MeanSquaredError()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
0.5
"""
from __future__ import annotations

from nncore.backends.base import loss_name
from nncore.losses.base import Loss
from nncore.losses.builtin import (
    BinaryCrossentropy, CategoricalCrossentropy, Hinge, Huber, KLDivergence, LogCosh,
    MeanAbsoluteError, MeanSquaredError, Poisson, SparseCategoricalCrossentropy,
)
from nncore.losses.custom import CustomLoss
from nncore.losses.functions import (
    binary_crossentropy, categorical_crossentropy, hinge, huber, kl_divergence, log_cosh,
    mean_absolute_error, mean_squared_error, poisson, sparse_categorical_crossentropy,
)

mse, mae, kld, logcosh = mean_squared_error, mean_absolute_error, kl_divergence, log_cosh


_CLASSES = {cls.name: cls for cls in (MeanSquaredError, MeanAbsoluteError, Huber,
                                       BinaryCrossentropy, CategoricalCrossentropy,
                                       SparseCategoricalCrossentropy, Hinge, KLDivergence,
                                       Poisson, LogCosh)}


def get(identifier) -> Loss:
    """A Loss from a name (``"mse"``, ``"categorical_crossentropy"``...), an instance, or
    a pair ``(fn, gradient)`` of functions (a :class:`CustomLoss`).

    Parameters
    ----------
    identifier : str, Loss, dict or (fn, gradient)
        A name or class name, an instance (returned as it is), a serialized loss, or the
        functions of a :class:`CustomLoss`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.get("mse")
    MeanSquaredError()
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, tuple) and len(identifier) == 2:
        return CustomLoss(*identifier)
    if callable(identifier):
        raise TypeError(f"A loss function needs its gradient: pass (fn, gradient) or a "
                        f"CustomLoss subclass with call() and gradient(). Received: "
                        f"{identifier!r}")
    if isinstance(identifier, dict):
        return _CLASSES[loss_name(identifier.get("name", ""))](**identifier.get("config", {}))
    by_class = {cls.__name__: cls for cls in _CLASSES.values()}
    if isinstance(identifier, str) and identifier in by_class:  # "MeanSquaredError"
        return by_class[identifier]()
    return _CLASSES[loss_name(identifier)]()


def serialize(loss: Loss) -> dict:
    """``{"name", "config"}`` of a built-in loss, as :func:`get` reads it back.

    Parameters
    ----------
    loss : Loss
        A built-in loss (a :class:`CustomLoss` holds code: refused).

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.serialize(nn.losses.Huber(2.0))
    {'name': 'huber', 'config': {'delta': 2.0}}
    """
    if isinstance(loss, CustomLoss):
        raise TypeError(f"loss {loss.name!r} is a CustomLoss: a model file holds no code.")
    return {"name": loss.name, "config": loss.get_config()}


__all__ = ["CustomLoss", "Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Hinge",
           "KLDivergence", "Poisson", "LogCosh", "binary_crossentropy",
           "categorical_crossentropy", "get", "hinge", "huber", "kl_divergence", "kld",
           "log_cosh", "logcosh", "mae", "mean_absolute_error", "mean_squared_error", "mse",
           "poisson", "serialize", "sparse_categorical_crossentropy"]
