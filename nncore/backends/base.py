"""The backend interface: the ops every nncore layer, loss and optimizer is built from.

A backend is a set of *kernels* (the abstract ``_``-methods below) that compute on
validated arrays, plus the public methods of :class:`Backend`, written once here, that
check and prepare their arguments before any kernel runs:

- arrays are float32 or float64, one dtype per call (never mixed, never guessed);
- inputs that are not C-contiguous are copied; outputs (``out=``) and state updated in
  place must already have the exact shape and dtype, be C-contiguous and writeable;
- shapes are checked against each other, so a kernel (C or NumPy) never reads or writes
  out of bounds.

Two backends implement the kernels with identical semantics: ``numpy`` (readable, the
oracle the tests compare against) and ``native`` (C kernels behind Cython, BLAS GEMM).

Conventions shared by all kernels
---------------------------------
- 2-D arrays are ``(rows, features)``; activations act on the last axis.
- Activations and losses are passed to kernels as small integer codes
  (:data:`ACTIVATION_CODES`, :data:`LOSS_CODES`) so C can switch on them.
- Reductions are accumulated in double precision and returned as Python floats.
- Losses use Keras's "sum over batch size" reduction: the per-sample losses (mean over
  features, or sum over classes for cross-entropy) are weighted by ``sample_weight`` and
  summed, then divided by the number of samples ``n`` (not by the sum of the weights).
"""
from __future__ import annotations

import abc
from typing import ClassVar

from nncore.backends.arrays import (  # noqa: F401 (as_float_array, as_output: public helpers)
    FLOAT_DTYPES, as_float_array, as_output,
)
from nncore.backends.codes import (  # noqa: F401 (the interface's names)
    _LOGIT_LOSSES, ACTIVATION_CODES, ACTIVATIONS, DEFAULT_ALPHA, LOSS_CODES, LOSSES,
    SMOOTHED_LOSSES,
    activation_name, loss_name,
)
from nncore.backends.layer_ops import LayerOps
from nncore.backends.loss_ops import LossOps, loss_param  # noqa: F401 (the interface's)
from nncore.backends.updates import ParameterOps


#: Probabilities are clipped to [EPSILON, 1 - EPSILON] before a log, as keras.config.epsilon().
EPSILON = 1e-7

# --------------------------------------------------------------------------- interface
class Backend(LayerOps, LossOps, ParameterOps, abc.ABC):
    """The ops of nncore: dense layers, activations, losses, optimizer updates, helpers.

    Example
    -------
    >>> import numpy as np, nncore
    >>> ops = nncore.backends.get_backend("numpy")
    >>> ops.activation("relu", np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    """

    name: ClassVar[str]

    def __repr__(self) -> str:
        return f"<nncore backend {self.name!r}>"

    def __reduce__(self):
        # One instance per name: a copied or unpickled layer shares it.
        from nncore.backends import get_backend

        return get_backend, (self.name,)

    # ------------------------------------------------------------- compiled steps
    def dense_plan(self, weights: list, grads: list, codes: list[int], alphas: list[float],
                   loss_code: int, from_logits: bool, param: float, fused: bool):
        """The training step of a stack of Dense layers as one object, or None.

        Its ``train_step(X, T, sw)`` runs the forward pass, the loss and the backward pass
        of every layer and returns ``(loss, output)``, computing exactly what the
        layer-by-layer kernel calls compute. The numpy backend's is the readable definition
        (numpy_backend/plan.py); the native one runs it in one compiled call.

        Parameters
        ----------
        weights : list of (W, b or None)
            Each layer's kernel (k, m) and bias (m,).
        grads : list of (dW, db or None)
            Where each step writes the gradients.
        codes, alphas : lists
            Each layer's activation code and alpha.
        loss_code : int
        from_logits : bool
        param : float
            The loss's parameter (Huber's delta or the label smoothing).
        fused : bool
            The loss is taken on the last layer's logits.
        """
        return None

    # ------------------------------------------------------------- kernels
    # Arguments arrive validated: C-contiguous, one float dtype, consistent shapes; the
    # optimizer and helper kernels get flat 1-D views. Each writes only its outputs.
    @abc.abstractmethod
    def _activation_forward(self, code: int, Z, Y, alpha: float) -> None: ...

    @abc.abstractmethod
    def _activation_backward(self, code: int, dY, Z, Y, alpha: float, dZ) -> None: ...

    @abc.abstractmethod
    def _dense_forward(self, X, W, b, code: int, alpha: float, Z, Y) -> None: ...

    @abc.abstractmethod
    def _dense_backward(self, dY, X, W, Z, Y, code: int, alpha: float, dZ, dW, db, dX
                        ) -> None: ...

    @abc.abstractmethod
    def _loss(self, code: int, T, P, from_logits: bool, param: float, sw, dP) -> float: ...

    @abc.abstractmethod
    def _batch_norm_forward(self, X, gamma, beta, moving_mean, moving_variance,
                            training: bool, momentum: float, eps: float, Y, xhat, inv_std
                            ) -> None: ...

    @abc.abstractmethod
    def _batch_norm_backward(self, dY, xhat, gamma, inv_std, dX, dgamma, dbeta) -> None: ...

    @abc.abstractmethod
    def _sgd(self, w, g, v, lr: float, momentum: float, nesterov: bool, wd: float) -> None: ...

    @abc.abstractmethod
    def _adagrad(self, w, g, acc, lr: float, eps: float, wd: float) -> None: ...

    @abc.abstractmethod
    def _rmsprop(self, w, g, v, mom, avg, lr: float, rho: float, momentum: float,
                 eps: float, wd: float) -> None: ...

    @abc.abstractmethod
    def _adam(self, w, g, m, v, vhat, lr: float, beta_1: float, beta_2: float, eps: float,
              step: int, wd: float) -> None: ...

    @abc.abstractmethod
    def _regularization_loss(self, w, l1: float, l2: float) -> float: ...

    @abc.abstractmethod
    def _regularization_grad(self, w, g, l1: float, l2: float) -> None: ...

    @abc.abstractmethod
    def _dropout_mask(self, u, rate: float) -> None: ...

    @abc.abstractmethod
    def _clip_by_value(self, g, clipvalue: float) -> None: ...

    @abc.abstractmethod
    def _sum_squares(self, g) -> float: ...

    @abc.abstractmethod
    def _scale(self, g, factor: float) -> None: ...
