"""The losses the kernels compute, as keras.losses classes."""
from __future__ import annotations

from nncore._checks import check_float
from nncore.losses.base import Loss, _Plain, _Smoothed, _warn_one_column


class MeanSquaredError(_Plain):
    """``mean((y_pred - y_true)**2)`` over features, averaged over samples.

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]])
    0.5
    """

    name = "mean_squared_error"


class MeanAbsoluteError(MeanSquaredError):
    """``mean(|y_pred - y_true|)`` over features, averaged over samples.

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.MeanAbsoluteError()([[0.0, 1.0]], [[1.0, 1.0]])
    0.5
    """

    name = "mean_absolute_error"


class Huber(Loss):
    """Squared error for ``|e| <= delta``, linear beyond: robust to outliers.

    Parameters
    ----------
    delta : float, default 1.0: where quadratic turns linear, > 0

    Example
    -------
    >>> Huber(delta=1.0)([[0.0], [0.0]], [[0.5], [3.0]])
    1.3125
    """

    name = "huber"

    def __init__(self, delta: float = 1.0):
        super().__init__(False)
        self.delta = check_float(delta, "delta", low=0.0, low_open=True)

    @property
    def options(self):
        return {"delta": self.delta}

    def get_config(self):
        return {"delta": self.delta}


class BinaryCrossentropy(_Smoothed):
    """``-mean(t log p + (1 - t) log(1 - p))``; ``from_logits`` for raw scores.

    Parameters
    ----------
    from_logits : bool, default False
    label_smoothing : float in [0, 1], default 0.0

    Example
    -------
    >>> round(BinaryCrossentropy()([[1.0], [0.0]], [[0.9], [0.2]]), 4)
    0.1643

    Example
    -------
    >>> import nncore as nn
    >>> round(nn.losses.BinaryCrossentropy(label_smoothing=0.1)([[1.0]], [[0.9]]), 4)
    0.2152
    """

    name = "binary_crossentropy"


class CategoricalCrossentropy(_Smoothed):
    """``-sum(t log p)`` over classes for one-hot ``t``; ``from_logits`` for raw scores.

    Over one output column it is about 0 with a zero gradient: a model with one output
    warns once per loss object, at its first data, and a direct call each time (Keras).

    Parameters
    ----------
    from_logits : bool, default False
    label_smoothing : float in [0, 1], default 0.0

    Example
    -------
    >>> import nncore as nn
    >>> round(nn.losses.CategoricalCrossentropy()([[0, 1]], [[0.5, 0.5]]), 4)
    0.6931
    """

    name = "categorical_crossentropy"
    _warned_one_column = False

    def check_outputs(self, output_dim: int) -> None:
        if output_dim == 1 and not self._warned_one_column:
            self._warned_one_column = True
            # the caller's caller: model.fit or evaluate, through the model's data checks
            _warn_one_column((None, 1), stacklevel=5)


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class labels instead of one-hot rows.

    Parameters
    ----------
    from_logits : bool, default False

    Example
    -------
    >>> import nncore as nn
    >>> round(nn.losses.SparseCategoricalCrossentropy()([1], [[0.5, 0.5]]), 4)
    0.6931
    """

    name = "sparse_categorical_crossentropy"


class Hinge(_Plain):
    """The SVM's margin loss ``mean(max(1 - t p, 0))`` for a linear or tanh output and
    targets -1/+1 (a batch of 0/1 targets is read as -1/+1, as Keras does).

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.Hinge()([[1.0]], [[0.25]])
    0.75
    """

    name = "hinge"


class KLDivergence(_Plain):
    """``sum(t log(t / p))`` over the last axis with ``t, p`` clipped to [1e-7, 1]: how
    far the predicted distribution is from the target one.

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.KLDivergence()([[0.5, 0.5]], [[0.5, 0.5]])
    0.0
    """

    name = "kl_divergence"


class Poisson(_Plain):
    """``mean(p - t log(p + 1e-7))``: counts predicted as a Poisson rate (use a
    non-negative output such as softplus).

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.Poisson()([[0.0]], [[2.0]])
    2.0
    """

    name = "poisson"


class LogCosh(_Plain):
    """``mean(log(cosh(p - t)))``: squared error near 0, absolute error far from it.

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.LogCosh()([[0.0]], [[0.0]])
    0.0
    """

    name = "log_cosh"
