"""Metrics, as keras.metrics: per-sample functions and epoch-level Metric classes.

``compile(metrics=[...])`` takes names (``"accuracy"``, ``"mae"``, ``"precision"``,
``"auc"``...), these functions and classes, and functions of your own. A function
``fn(y_true, y_pred)`` returns one value per sample (shape (n,)) or the batch's mean (a
scalar), and ``fit``/``evaluate`` report the (sample-weighted) mean over the epoch (see
:func:`batch_values`); a :class:`Metric` accumulates sums over the epoch instead
(precision, recall, F1, AUC, RMSE, R²). ``"accuracy"`` picks binary, categorical or
sparse categorical accuracy from the loss, or from the shapes when the loss is not a
cross-entropy, as Keras does.

Example
-------
>>> import nncore as nn
>>> nn.metrics.sparse_categorical_accuracy([2, 0], [[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]])
array([1., 0.])
"""
from __future__ import annotations

from nncore.metrics.functions import (
    accuracy, batch_values, binary_accuracy, categorical_accuracy, mean_absolute_error,
    mean_squared_error, sparse_categorical_accuracy, sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from nncore.metrics.stateful import (
    AUC, F1Score, Metric, Precision, R2Score, Recall, RootMeanSquaredError,
)

_BY_NAME = {
    "binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
}
#: Names of the epoch-level metrics (Keras's lower-case names, and a few short ones).
_CLASSES = {"precision": Precision, "recall": Recall, "f1_score": F1Score, "auc": AUC,
            "root_mean_squared_error": RootMeanSquaredError, "rmse": RootMeanSquaredError,
            "r2_score": R2Score, "r2": R2Score}
_ACCURACY_FOR_LOSS = {
    "binary_crossentropy": "binary_accuracy",
    "categorical_crossentropy": "categorical_accuracy",
    "sparse_categorical_crossentropy": "sparse_categorical_accuracy",
}


_BY_CLASS_NAME = {cls.__name__: cls for cls in _CLASSES.values()}


def get(identifier, loss: str | None = None) -> tuple[str, object]:
    """``(name shown in logs, metric)``, the metric a function or a fresh :class:`Metric`.

    ``identifier`` is a name (``"accuracy"``/``"acc"`` resolve by ``loss``), a function, a
    Metric instance or class, or a Metric as :func:`serialize` writes it.

    Parameters
    ----------
    identifier : str, callable, Metric, Metric subclass or dict
        As above.
    loss : str, optional
        The compiled loss's name, which decides what ``'accuracy'`` is.

    Example
    -------
    >>> get('acc', loss='binary_crossentropy')[1].__name__
    'binary_accuracy'
    >>> get('auc')
    ('auc', AUC(name='auc'))
    """
    if isinstance(identifier, Metric):
        return identifier.name, identifier.fresh()
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        metric = identifier()
        return metric.name, metric
    if isinstance(identifier, dict):
        cls = _BY_CLASS_NAME.get(identifier.get("class_name"))
        config = identifier.get("config", {})
        if cls is None or not isinstance(config, dict) or \
                set(identifier) - {"class_name", "config"}:
            raise ValueError(f"A serialized metric must be {{'class_name': one of "
                             f"{', '.join(_BY_CLASS_NAME)}, 'config': {{...}}}}. "
                             f"Received: {identifier!r:.200}")
        metric = cls(**config)
        return metric.name, metric
    if callable(identifier):
        return getattr(identifier, "__name__", "metric"), identifier
    if not isinstance(identifier, str):
        raise TypeError(f"metrics must be names, functions or Metric instances. "
                        f"Received: {identifier!r}")
    key = identifier.lower()
    if key in ("accuracy", "acc"):
        # A cross-entropy names its accuracy; other losses (mse on 0/1 targets...) leave
        # it to the shapes, or one output column would always count as "right".
        return key, (_BY_NAME[_ACCURACY_FOR_LOSS[loss]] if loss in _ACCURACY_FOR_LOSS
                     else accuracy)
    if key in _CLASSES:
        return key, _CLASSES[key](name=key)
    if key not in _BY_NAME:
        raise ValueError(f"Unknown metric {identifier!r}; expected 'accuracy' or one of "
                         f"{', '.join([*_BY_NAME, *_CLASSES])}.")
    return key, _BY_NAME[key]


def serialize(spec):
    """What a model file stores of a ``compile`` metric: its name, or a Metric's class
    and config; None for a function of your own (files hold no code).

    Parameters
    ----------
    spec : str, Metric, Metric subclass or callable
        A metric as given to ``compile``.

    Example
    -------
    >>> serialize('mae'), serialize(Precision(threshold=0.7)), serialize(len)
    ('mae', {'class_name': 'Precision', 'config': {'threshold': 0.7, 'name': 'precision'}}, None)
    """
    if isinstance(spec, str):
        return spec
    if isinstance(spec, Metric):
        return {"class_name": type(spec).__name__, "config": spec.get_config()}
    if isinstance(spec, type) and issubclass(spec, Metric):
        return {"class_name": spec.__name__, "config": {}}
    return None


__all__ = ["AUC", "F1Score", "Metric", "Precision", "R2Score", "Recall",
           "RootMeanSquaredError", "accuracy", "batch_values", "binary_accuracy",
           "categorical_accuracy", "get", "mean_absolute_error", "mean_squared_error",
           "serialize", "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy",
           "top_k_categorical_accuracy"]
