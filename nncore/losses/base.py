"""The Loss base class, and what every loss shares: how it takes its arguments."""
from __future__ import annotations

import warnings

import numpy as np

from nncore.backends import get_backend
from nncore._checks import check_float, compute_dtype, to_array


class Loss:
    """A loss with its options; ``loss(y_true, y_pred, sample_weight=None) -> float``.

    Parameters
    ----------
    from_logits : bool
        The cross-entropies take logits rather than probabilities.

    Example
    -------
    >>> import nncore as nn
    >>> round(nn.losses.BinaryCrossentropy(from_logits=True)([[1.0]], [[0.0]]), 4)
    0.6931

    Parameters
    ----------
    from_logits : bool, default False: ``y_pred`` holds raw scores, not probabilities
    """

    name = ""
    #: Huber's threshold and the cross-entropies' label smoothing: the loss kernels'
    #: one parameter (``param``) is whichever of the two the loss has.
    delta = 1.0
    label_smoothing = 0.0

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    @property
    def options(self) -> dict:
        """Keyword arguments of the backend's loss ops."""
        return {"from_logits": self.from_logits}

    @property
    def param(self) -> float:
        """Huber's delta, a cross-entropy's label smoothing, else 0 (the kernels')."""
        return self.delta if self.name == "huber" else self.label_smoothing

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        y_true, y_pred = _pair(y_true, y_pred)
        if self.name == "categorical_crossentropy" and y_pred.shape[1] == 1:
            _warn_one_column(y_pred.shape, stacklevel=2)
        return get_backend().loss(self.name, y_true, y_pred,
                                  sample_weight=sample_weight, **self.options)

    def check_outputs(self, output_dim: int) -> None:
        """Called by the model with its number of outputs before it uses the loss; only
        categorical cross-entropy has something to say (a warning, once).

        Parameters
        ----------
        output_dim : int
        """

    def get_config(self) -> dict:
        """The constructor's arguments, as a dict."""
        return {"from_logits": self.from_logits}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """``y_pred`` as a 2-D float array (float64 kept, else floatx); with 1-D ``y_pred``
    (one output per sample), 1-D targets become the matching column."""
    y_pred = to_array(y_pred, "y_pred", compute_dtype(y_pred), ndim=(1, 2))
    try:
        y_true = np.asarray(y_true)
    except (TypeError, ValueError) as exc:  # ragged lists
        raise TypeError(f"y_true must be an array of numbers ({exc}).") from None
    if y_pred.ndim == 1:
        y_pred = y_pred.reshape(-1, 1)
    # One output per sample: 1-D targets are its column, as Keras's losses expand y_true
    # of shape (n,) against y_pred of shape (n, 1) (and as the model does).
    if y_pred.shape[1] == 1 and y_true.ndim == 1:
        y_true = y_true.reshape(-1, 1)
    return y_true, y_pred


def _warn_one_column(shape, stacklevel: int) -> None:
    # Keras warns too: softmax over one column is 1 and -t log p is then 0 for any t, so
    # the loss is about 0 and its gradient exactly 0; nothing trains.
    warnings.warn(f"categorical_crossentropy over one output column is always about 0 with "
                  f"a zero gradient, so the model cannot learn. For two classes use "
                  f"binary_crossentropy with a sigmoid output; otherwise give the model one "
                  f"softmax output per class. Received: y_pred.shape={shape}",
                  UserWarning, stacklevel=stacklevel + 1)


class _Plain(Loss):
    """A loss with no option (not even from_logits)."""

    def __init__(self):
        super().__init__(False)

    def get_config(self):
        return {}


class _Smoothed(Loss):
    """A cross-entropy with Keras's ``label_smoothing`` ``s``: targets ``t (1 - s) + s / k``
    over ``k`` classes (2 for binary), so that a model does not grow over-confident."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        super().__init__(from_logits)
        self.label_smoothing = check_float(label_smoothing, "label_smoothing", low=0.0,
                                           high=1.0)

    @property
    def options(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}
