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

import warnings

import numpy as np

from nncore.backends import get_backend
from nncore._checks import check_float, compute_dtype, to_array
from nncore.backends.base import LOSS_CODES, loss_name, loss_param
from nncore.finite_differences import check_gradient
from nncore.backends.numpy_backend import losses as _reference


class Loss:
    """A loss with its options; ``loss(y_true, y_pred, sample_weight=None) -> float``.

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


class MeanSquaredError(_Plain):
    """``mean((y_pred - y_true)**2)`` over features, averaged over samples."""

    name = "mean_squared_error"


class MeanAbsoluteError(MeanSquaredError):
    """``mean(|y_pred - y_true|)`` over features, averaged over samples."""

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
    """

    name = "sparse_categorical_crossentropy"


class Hinge(_Plain):
    """The SVM's margin loss ``mean(max(1 - t p, 0))`` for a linear or tanh output and
    targets -1/+1 (a batch of 0/1 targets is read as -1/+1, as Keras does)."""

    name = "hinge"


class KLDivergence(_Plain):
    """``sum(t log(t / p))`` over the last axis with ``t, p`` clipped to [1e-7, 1]: how
    far the predicted distribution is from the target one."""

    name = "kl_divergence"


class Poisson(_Plain):
    """``mean(p - t log(p + 1e-7))``: counts predicted as a Poisson rate (use a
    non-negative output such as softplus)."""

    name = "poisson"


class LogCosh(_Plain):
    """``mean(log(cosh(p - t)))``: squared error near 0, absolute error far from it."""

    name = "log_cosh"


class CustomLoss(Loss):
    """A loss of your own, on NumPy arrays, with its gradient.

    Either subclass it and define ``call(y_true, y_pred)``, the loss of each sample
    (shape (n,)), and ``gradient(y_true, y_pred)``, the derivative of each sample's loss
    with respect to its predictions (shape (n, d)); or give both functions:
    ``CustomLoss(fn, gradient)`` (``compile(loss=(fn, gradient))`` makes one). The batch
    loss is Keras's ``sum_i w_i loss_i / n``. ``compile`` checks the gradient against
    finite differences in float64 (:mod:`nncore.finite_differences`), refusing a wrong
    one. It trains layer by layer (no compiled step); a model compiled with one is saved
    without its compile state (files hold no code).

    Example
    -------
    >>> import numpy as np, nncore as nn
    >>> quartic = nn.losses.CustomLoss(lambda t, p: np.mean((p - t) ** 4, axis=1),
    ...                                lambda t, p: 4 * (p - t) ** 3 / p.shape[1])
    >>> quartic([[0.0], [0.0]], [[1.0], [2.0]])
    8.5
    """

    def __init__(self, fn=None, gradient=None, name: str | None = None):
        super().__init__(False)
        for arg, value in (("fn", fn), ("gradient", gradient)):
            if value is not None and not callable(value):
                raise TypeError(f"{arg} must be callable. Received: {arg}={value!r}")
        self._fn, self._gradient = fn, gradient
        self.name = name or getattr(fn, "__name__", None) or type(self).__name__
        if self.name in LOSS_CODES:
            raise ValueError(f"name {self.name!r} is a built-in loss's; give another name.")

    def call(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """The loss of each sample, shape (n,): ``fn(y_true, y_pred)`` by default."""
        if self._fn is None:
            raise NotImplementedError("Give CustomLoss a function, or define call().")
        return self._fn(y_true, y_pred)

    def gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """d loss_i / d y_pred, of y_pred's shape: ``gradient(y_true, y_pred)`` by default."""
        if self._gradient is None:
            raise NotImplementedError("Give CustomLoss its gradient, or define gradient().")
        return self._gradient(y_true, y_pred)

    def check_outputs(self, output_dim: int) -> None:
        """Check the gradient by finite differences at random points in (0.1, 0.9)."""
        checked = self.__dict__.setdefault("_checked", set())
        if output_dim in checked:
            return
        rng = np.random.default_rng(0)
        T = rng.uniform(0.1, 0.9, (4, output_dim))
        P = rng.uniform(0.1, 0.9, (4, output_dim))
        check_gradient(f"loss {self.name!r}", lambda P: float(np.sum(self.losses(T, P))),
                       lambda P: self.gradients(T, P), P)
        checked.add(output_dim)

    def losses(self, T: np.ndarray, P: np.ndarray) -> np.ndarray:
        """``call``'s result, checked: float64, one value per sample."""
        values = np.asarray(self.call(T, P), dtype=np.float64)
        if values.shape != (len(P),):
            raise ValueError(f"loss {self.name!r} must return one value per sample, shape "
                             f"({len(P)},). Received: shape {values.shape}")
        return values

    def gradients(self, T: np.ndarray, P: np.ndarray) -> np.ndarray:
        """``gradient``'s result, checked: the shape of the predictions."""
        G = np.asarray(self.gradient(T, P))
        if G.shape != P.shape:
            raise ValueError(f"the gradient of loss {self.name!r} must have shape "
                             f"{P.shape}, as y_pred. Received: shape {G.shape}")
        return G

    def batch(self, T: np.ndarray, P: np.ndarray, sw, dP: np.ndarray | None) -> float:
        """The batch loss ``sum_i w_i loss_i / n``; its gradient into ``dP`` if given."""
        n = len(P)
        w = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
        if dP is not None:
            np.multiply(self.gradients(T, P), (w / n)[:, None], out=dP, casting="unsafe")
        return float(w @ self.losses(T, P) / n)

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        T, P = _pair(y_true, y_pred)
        sw = None if sample_weight is None else \
            to_array(sample_weight, "sample_weight", np.float64, ndim=1)
        return self.batch(np.asarray(T, dtype=P.dtype), P, sw, None)

    def get_config(self) -> dict:
        return {"name": self.name}


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
    """Per-sample ``mean((y_pred - y_true)**2)`` over the last axis, shape (n,)."""
    return _per_sample("mean_squared_error", y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean(|y_pred - y_true|)``, shape (n,)."""
    return _per_sample("mean_absolute_error", y_true, y_pred)


def huber(y_true, y_pred, delta: float = 1.0) -> np.ndarray:
    """Per-sample Huber loss, shape (n,)."""
    return _per_sample("huber", y_true, y_pred, delta=delta)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample binary cross-entropy (mean over the last axis), shape (n,)."""
    return _per_sample("binary_crossentropy", y_true, y_pred, from_logits,
                       label_smoothing=label_smoothing)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False,
                             label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample ``-sum(t log p)`` for one-hot rows ``t``, shape (n,).

    Example
    -------
    >>> import nncore as nn
    >>> nn.losses.categorical_crossentropy([[0, 1, 0]], [[0.05, 0.95, 0.0]]).round(4)
    array([0.0513])
    """
    return _per_sample("categorical_crossentropy", y_true, y_pred, from_logits,
                       label_smoothing=label_smoothing)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False) -> np.ndarray:
    """Per-sample cross-entropy for integer labels, shape (n,)."""
    return _per_sample("sparse_categorical_crossentropy", y_true, y_pred, from_logits)


def hinge(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean(max(1 - t p, 0))`` (0/1 targets read as -1/+1), shape (n,)."""
    return _per_sample("hinge", y_true, y_pred)


def kl_divergence(y_true, y_pred) -> np.ndarray:
    """Per-sample ``sum(t log(t / p))``, both clipped to [1e-7, 1], shape (n,)."""
    return _per_sample("kl_divergence", y_true, y_pred)


def poisson(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean(p - t log(p + 1e-7))``, shape (n,)."""
    return _per_sample("poisson", y_true, y_pred)


def log_cosh(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean(log(cosh(p - t)))``, shape (n,)."""
    return _per_sample("log_cosh", y_true, y_pred)


mse, mae, kld, logcosh = mean_squared_error, mean_absolute_error, kl_divergence, log_cosh


_CLASSES = {cls.name: cls for cls in (MeanSquaredError, MeanAbsoluteError, Huber,
                                       BinaryCrossentropy, CategoricalCrossentropy,
                                       SparseCategoricalCrossentropy, Hinge, KLDivergence,
                                       Poisson, LogCosh)}


def get(identifier) -> Loss:
    """A Loss from a name (``"mse"``, ``"categorical_crossentropy"``...), an instance, or
    a pair ``(fn, gradient)`` of functions (a :class:`CustomLoss`)."""
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
    """``{"name", "config"}`` of a built-in loss, as :func:`get` reads it back."""
    if isinstance(loss, CustomLoss):
        raise TypeError(f"loss {loss.name!r} is a CustomLoss: a model file holds no code.")
    return {"name": loss.name, "config": loss.get_config()}


__all__ = ["CustomLoss", "Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Hinge",
           "KLDivergence", "Poisson", "LogCosh", "binary_crossentropy",
           "categorical_crossentropy", "get", "hinge", "huber", "kl_divergence", "kld",
           "log_cosh", "logcosh", "mae", "mean_absolute_error", "mean_squared_error", "mse",
           "poisson", "serialize", "sparse_categorical_crossentropy"]
