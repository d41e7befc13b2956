"""A loss of your own, in NumPy, with its gradient checked by finite differences."""
from __future__ import annotations

import numpy as np

from nncore._checks import to_array
from nncore.backends.base import LOSS_CODES
from nncore.finite_differences import check_gradient
from nncore.losses.base import Loss, _pair


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

    Parameters
    ----------
    fn : callable, optional
        ``fn(y_true, y_pred) -> (n,)`` (else define ``call``).
    gradient : callable, optional
        ``gradient(y_true, y_pred) -> (n, d)`` (else define ``gradient``).
    name : str, optional
        Its name in logs (default: ``fn``'s name); no built-in loss's.

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
        """The loss of each sample, shape (n,): ``fn(y_true, y_pred)`` by default.

        Parameters
        ----------
        y_true : float array (n, d)
        y_pred : float array (n, d)
        """
        if self._fn is None:
            raise NotImplementedError("Give CustomLoss a function, or define call().")
        return self._fn(y_true, y_pred)

    def gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """d loss_i / d y_pred, of y_pred's shape: ``gradient(y_true, y_pred)`` by default.

        Parameters
        ----------
        y_true : float array (n, d)
        y_pred : float array (n, d)
        """
        if self._gradient is None:
            raise NotImplementedError("Give CustomLoss its gradient, or define gradient().")
        return self._gradient(y_true, y_pred)

    def check_outputs(self, output_dim: int) -> None:
        """Check the gradient by finite differences at random points in (0.1, 0.9).

        Parameters
        ----------
        output_dim : int
            The number of outputs ``d`` of the model.
        """
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
        """``call``'s result, checked: float64, one value per sample.

        Parameters
        ----------
        T, P : float arrays (n, d)
            Targets and predictions.
        """
        values = np.asarray(self.call(T, P), dtype=np.float64)
        if values.shape != (len(P),):
            raise ValueError(f"loss {self.name!r} must return one value per sample, shape "
                             f"({len(P)},). Received: shape {values.shape}")
        return values

    def gradients(self, T: np.ndarray, P: np.ndarray) -> np.ndarray:
        """``gradient``'s result, checked: the shape of the predictions.

        Parameters
        ----------
        T, P : float arrays (n, d)
            Targets and predictions.
        """
        G = np.asarray(self.gradient(T, P))
        if G.shape != P.shape:
            raise ValueError(f"the gradient of loss {self.name!r} must have shape "
                             f"{P.shape}, as y_pred. Received: shape {G.shape}")
        return G

    def batch(self, T: np.ndarray, P: np.ndarray, sw, dP: np.ndarray | None) -> float:
        """The batch loss ``sum_i w_i loss_i / n``; its gradient into ``dP`` if given.

        Parameters
        ----------
        T, P : float arrays (n, d)
            Targets and predictions.
        sw : array (n,) or None
            Sample weights.
        dP : float array (n, d), optional
            Where to write the gradient.
        """
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
