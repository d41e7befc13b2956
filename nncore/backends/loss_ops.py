"""The public loss ops (a part of the backend interface,
:class:`~nncore.backends.base.Backend`): each checks and prepares its arrays, then
calls the backend's ``_loss`` kernel.
"""
from __future__ import annotations

import numpy as np

from nncore._checks import check_float, class_labels
from nncore.backends.arrays import (
    _check_no_overlap, _matrix, _real_array, as_output,
)
from nncore.backends.codes import (
    _LOGIT_LOSSES, LOSS_CODES, LOSSES, SMOOTHED_LOSSES,
    loss_name,
)


class LossOps:
    """Losses and their gradients, as Keras 3 computes them.

    Example
    -------
    >>> import numpy as np, nncore as nn
    >>> nn.get_backend("numpy").loss("mse", np.zeros((1, 2)), np.ones((1, 2)))
    1.0
    """

    # ------------------------------------------------------------- losses
    def loss(self, name: str, y_true, y_pred: np.ndarray, *, from_logits: bool = False,
             delta: float = 1.0, label_smoothing: float = 0.0, sample_weight=None) -> float:
        """The loss value, as Keras 3 computes it (``sum_over_batch_size`` reduction).

        Per sample ``i`` (``d`` features, ``e = p - t``):
        mean_squared_error ``mean(e**2)``; mean_absolute_error ``mean(|e|)``; huber
        ``mean(e**2 / 2 if |e| <= delta else delta * (|e| - delta / 2))``;
        binary_crossentropy ``-mean(t log p + (1 - t) log(1 - p))`` with ``p`` clipped to
        [1e-7, 1 - 1e-7], or from logits ``mean(max(z, 0) - z t + log1p(exp(-|z|)))``;
        categorical_crossentropy ``-sum(t log p)`` with ``p`` first divided by its row sum
        then clipped, or from logits ``logsumexp(z) - sum(t z)`` (for one-hot t);
        sparse_categorical_crossentropy the same with integer labels (n,) or (n, 1);
        hinge ``mean(max(1 - t p, 0))`` (0/1 labels read as -1/+1); kl_divergence
        ``sum(t log(t / p))`` with both clipped to [1e-7, 1]; poisson
        ``mean(p - t log(p + 1e-7))``; log_cosh ``mean(log cosh(e))``.
        ``label_smoothing`` s replaces the binary and categorical cross-entropies' targets
        by ``t (1 - s) + s / 2`` and ``t (1 - s) + s / d``.
        The batch loss is ``sum_i w_i loss_i / n``.

        Parameters
        ----------
        name : str
            The loss (or an alias such as "mse").
        y_true : array-like
            (n,) class labels for sparse categorical cross-entropy, else ``y_pred``'s shape.
        y_pred : float array (n, d)
        from_logits : bool
            ``y_pred`` holds logits (the cross-entropies).
        delta : float
            Huber's threshold.
        label_smoothing : float
            The binary and categorical cross-entropies' label smoothing.
        sample_weight : array-like (n,), optional
        """
        code, T, P, sw = self._loss_args(name, y_true, y_pred, from_logits, sample_weight)
        param = loss_param(code, delta, label_smoothing)
        return self._loss(code, T, P, bool(from_logits), param, sw, None)

    def loss_and_grad(self, name: str, y_true, y_pred: np.ndarray, *,
                      from_logits: bool = False, delta: float = 1.0,
                      label_smoothing: float = 0.0, sample_weight=None,
                      out: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """The loss value and its gradient with respect to ``y_pred``, in one pass.

        From logits, cross-entropy's gradient is ``(softmax(z) - t) * w_i / n`` (and
        ``(sigmoid(z) - t) * w_i / (n d)`` for binary): the softmax Jacobian and the log's
        derivative cancel, so the fused path never divides by a probability. On
        probabilities the derivative is taken at the clipped value.

        Parameters
        ----------
        name, y_true, y_pred, from_logits, delta, label_smoothing, sample_weight
            As :meth:`loss`.
        out : float array of y_pred's shape, optional
            Where to write the gradient.
        """
        code, T, P, sw = self._loss_args(name, y_true, y_pred, from_logits, sample_weight)
        param = loss_param(code, delta, label_smoothing)
        dP = as_output(out, "out", P.shape, P.dtype)
        _check_no_overlap(dP, "out", y_true=T, y_pred=P, sample_weight=sw)
        value = self._loss(code, T, P, bool(from_logits), param, sw, dP)
        return value, dP

    def _loss_args(self, name, y_true, y_pred, from_logits, sample_weight):
        key = loss_name(name)
        if not isinstance(from_logits, (bool, np.bool_)):
            raise TypeError(f"from_logits must be a bool. Received: from_logits={from_logits!r}")
        if from_logits and key not in _LOGIT_LOSSES:
            raise ValueError(f"from_logits=True applies only to {', '.join(_LOGIT_LOSSES)}. "
                             f"Received: loss={name!r}")
        P = _matrix(y_pred, "y_pred")
        n, d = P.shape
        if n == 0 or d == 0:
            raise ValueError(f"y_pred must hold at least one row and one column. "
                             f"Received: y_pred.shape={P.shape}")
        if key == "sparse_categorical_crossentropy":
            T = class_labels(y_true, "y_true", d, f"y_pred with {d} columns")
            if len(T) != n:
                raise ValueError(f"y_true must hold one label per row of y_pred ({n}). "
                                 f"Received: {len(T)}")
        else:
            T = _real_array(y_true, "y_true", P.dtype)
            if T.shape != P.shape:
                raise ValueError(f"y_true must have the shape of y_pred {P.shape}. "
                                 f"Received: y_true.shape={T.shape}")
        sw = None
        if sample_weight is not None:
            sw = _real_array(sample_weight, "sample_weight", P.dtype)
            if sw.shape != (n,):
                raise ValueError(f"sample_weight must have shape ({n},). "
                                 f"Received: sample_weight.shape={sw.shape}")
        return LOSS_CODES[key], T, P, sw


def loss_param(code: int, delta, label_smoothing) -> float:
    """The loss kernels' one parameter for loss ``code``: Huber's ``delta`` (> 0), the
    cross-entropies' ``label_smoothing`` (in [0, 1]); 0 for the others.

    Parameters
    ----------
    code : int
        The loss's number in ``LOSS_CODES``.
    delta, label_smoothing : float

    Example
    -------
    >>> loss_param(LOSS_CODES['huber'], 2.0, 0.0)
    2.0
    """
    delta = check_float(delta, "delta", low=0.0, low_open=True)
    label_smoothing = check_float(label_smoothing, "label_smoothing", low=0.0, high=1.0)
    name = LOSSES[code]
    if label_smoothing and name not in SMOOTHED_LOSSES:
        raise ValueError(f"label_smoothing applies only to {' and '.join(SMOOTHED_LOSSES)}. "
                         f"Received: label_smoothing={label_smoothing} for {name}")
    return delta if name == "huber" else label_smoothing
