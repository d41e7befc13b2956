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

import numpy as np

from nncore._checks import check_float, class_labels
from nncore.backends.arrays import (  # noqa: F401 (as_float_array, as_output: public helpers)
    FLOAT_DTYPES, _check_no_overlap, _inplace, _matrix, _real_array, _rows,
    as_float_array, as_output,
)
from nncore.backends.codes import (  # noqa: F401 (the interface's names)
    _LOGIT_LOSSES, ACTIVATION_CODES, ACTIVATIONS, DEFAULT_ALPHA, LOSS_CODES, LOSSES,
    SMOOTHED_LOSSES,
    activation_name, loss_name,
)
from nncore.backends.updates import ParameterOps


#: Probabilities are clipped to [EPSILON, 1 - EPSILON] before a log, as keras.config.epsilon().
EPSILON = 1e-7

def _resolve_activation(name: str | None, alpha: float | None) -> tuple[str, int, float]:
    key = activation_name(name)
    if alpha is None:
        alpha = DEFAULT_ALPHA.get(key, 0.0)
    alpha = check_float(alpha, "alpha")
    return key, ACTIVATION_CODES[key], alpha


# --------------------------------------------------------------------------- interface
class Backend(ParameterOps, abc.ABC):
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

    # ------------------------------------------------------------- activations
    def activation(self, name: str | None, Z: np.ndarray, *, alpha: float | None = None,
                   out: np.ndarray | None = None) -> np.ndarray:
        """``Y = act(Z)`` elementwise (softmax: along the last axis).

        ``out`` may be ``Z`` itself (in place). Formulas, with Keras 3 names:
        linear ``z``; step ``1 if z > 0 else 0``; sigmoid ``1 / (1 + exp(-z))`` (two
        branches, so no exp overflows); tanh; relu ``max(z, 0)``; leaky_relu
        ``z if z > 0 else alpha * z`` (alpha 0.2); elu ``z if z > 0 else alpha *
        (exp(z) - 1)`` (alpha 1.0); gelu (exact) ``z * (1 + erf(z / sqrt(2))) / 2``;
        softplus ``max(z, 0) + log1p(exp(-|z|))``; softmax ``exp(z - max z) / sum``.
        """
        _, code, alpha = _resolve_activation(name, alpha)
        Z = as_float_array(Z, "Z")
        if Z.ndim == 0:
            raise ValueError("Z must have at least one dimension. Received a 0-d array.")
        Y = as_output(out, "out", Z.shape, Z.dtype)
        if Y is not Z:
            _check_no_overlap(Y, "out", Z=Z)
        self._activation_forward(code, _rows(Z), _rows(Y), alpha)
        return Y

    def activation_backward(self, name: str | None, dY: np.ndarray, Z: np.ndarray,
                            Y: np.ndarray, *, alpha: float | None = None,
                            out: np.ndarray | None = None) -> np.ndarray:
        """``dZ = dY * act'(Z)`` given the forward's input ``Z`` and output ``Y``.

        Derivatives use ``Y`` where the math allows (sigmoid ``Y (1 - Y)``, tanh
        ``1 - Y**2``); step's gradient is zero; softmax's is the Jacobian-vector product
        ``Y * (dY - sum(dY * Y, axis=-1))`` row by row. ``out`` may be ``dY`` (in place).
        """
        _, code, alpha = _resolve_activation(name, alpha)
        dY = as_float_array(dY, "dY")
        Z = as_float_array(Z, "Z", dY.dtype)
        Y = as_float_array(Y, "Y", dY.dtype)
        if dY.ndim == 0 or Z.shape != dY.shape or Y.shape != dY.shape:
            raise ValueError(f"dY, Z and Y must have one shape of at least one dimension. "
                             f"Received: dY.shape={dY.shape}, Z.shape={Z.shape}, "
                             f"Y.shape={Y.shape}")
        dZ = as_output(out, "out", dY.shape, dY.dtype)
        if dZ is not dY:
            _check_no_overlap(dZ, "out", dY=dY)
        _check_no_overlap(dZ, "out", Z=Z, Y=Y)
        self._activation_backward(code, _rows(dY), _rows(Z), _rows(Y), alpha, _rows(dZ))
        return dZ

    # ------------------------------------------------------------- dense layer
    def dense_forward(self, X: np.ndarray, W: np.ndarray, b: np.ndarray | None = None,
                      activation: str | None = None, *, alpha: float | None = None,
                      out_Z: np.ndarray | None = None, out_Y: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """``Z = X @ W + b`` then ``Y = act(Z)``; returns ``(Z, Y)``.

        X is (n, k), W is (k, m), b is (m,) or None. One GEMM, then bias and activation in
        one pass. With a linear activation ``Y`` is ``Z`` (unless ``out_Y`` is given).
        """
        key, code, alpha = _resolve_activation(activation, alpha)
        X = _matrix(X, "X")
        W = _matrix(W, "W", X.dtype)
        if W.shape[0] != X.shape[1]:
            raise ValueError(f"W must have shape ({X.shape[1]}, units) to multiply X of shape "
                             f"{X.shape}. Received: W.shape={W.shape}")
        shape = (X.shape[0], W.shape[1])
        if b is not None:
            b = as_float_array(b, "b", X.dtype)
            if b.shape != (shape[1],):
                raise ValueError(f"b must have shape ({shape[1]},). Received: b.shape={b.shape}")
        Z = as_output(out_Z, "out_Z", shape, X.dtype)
        _check_no_overlap(Z, "out_Z", X=X, W=W, b=b)
        if out_Y is None and key == "linear":
            Y = Z
        else:
            Y = as_output(out_Y, "out_Y", shape, X.dtype)
            _check_no_overlap(Y, "out_Y", X=X, W=W, b=b, out_Z=Z)
        self._dense_forward(X, W, b, code, alpha, Z, Y)
        return Z, Y

    def dense_backward(self, dY: np.ndarray, X: np.ndarray, W: np.ndarray, Z: np.ndarray,
                       Y: np.ndarray, activation: str | None = None, *,
                       alpha: float | None = None, has_bias: bool = True,
                       need_dX: bool = True, out_dW: np.ndarray | None = None,
                       out_db: np.ndarray | None = None, out_dX: np.ndarray | None = None,
                       work_dZ: np.ndarray | None = None
                       ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
        """Backward of :meth:`dense_forward`; returns ``(dX, dW, db)``.

        By the chain rule: ``dZ = dY * act'(Z)``, ``dW = X.T @ dZ``, ``db = dZ.sum(0)``,
        ``dX = dZ @ W.T``. ``dX`` is None unless ``need_dX`` (the first layer needs none),
        ``db`` is None unless ``has_bias``. ``work_dZ`` (n, m) is scratch space and may be
        ``dY`` itself, which is then overwritten.
        """
        _, code, alpha = _resolve_activation(activation, alpha)
        dY = _matrix(dY, "dY")
        X = _matrix(X, "X", dY.dtype)
        W = _matrix(W, "W", dY.dtype)
        Z = _matrix(Z, "Z", dY.dtype)
        Y = _matrix(Y, "Y", dY.dtype)
        n, m = dY.shape
        if X.shape[0] != n or W.shape != (X.shape[1], m) or Z.shape != (n, m) \
                or Y.shape != (n, m):
            raise ValueError(f"dense_backward shapes disagree: dY {dY.shape}, X {X.shape}, "
                             f"W {W.shape}, Z {Z.shape}, Y {Y.shape}; expected X (n, k), "
                             f"W (k, m) and dY, Z, Y (n, m).")
        dW = as_output(out_dW, "out_dW", W.shape, dY.dtype)
        db = as_output(out_db, "out_db", (m,), dY.dtype) if has_bias else None
        dX = as_output(out_dX, "out_dX", X.shape, dY.dtype) if need_dX else None
        dZ = as_output(work_dZ, "work_dZ", (n, m), dY.dtype)
        if dZ is not dY:
            _check_no_overlap(dZ, "work_dZ", dY=dY)
        _check_no_overlap(dZ, "work_dZ", X=X, W=W, Z=Z, Y=Y)
        for out, out_name in ((dW, "out_dW"), (db, "out_db"), (dX, "out_dX")):
            if out is not None:
                _check_no_overlap(out, out_name, dY=dY, X=X, W=W, Z=Z, Y=Y, work_dZ=dZ)
        if dX is not None:
            _check_no_overlap(dX, "out_dX", out_dW=dW, out_db=db)
        if db is not None:
            _check_no_overlap(db, "out_db", out_dW=dW)
        self._dense_backward(dY, X, W, Z, Y, code, alpha, dZ, dW, db, dX)
        return dX, dW, db

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

    # ------------------------------------------------------------- batch normalization
    def batch_norm_forward(self, X: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                           moving_mean: np.ndarray, moving_variance: np.ndarray, *,
                           training: bool, momentum: float = 0.99, epsilon: float = 1e-3,
                           out: np.ndarray | None = None, out_xhat: np.ndarray | None = None,
                           out_inv_std: np.ndarray | None = None
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Batch normalization (Ioffe & Szegedy, 2015) over the rows of X (n, d).

        Training: ``mean``, ``var`` (biased) of the batch, ``inv_std = 1 / sqrt(var +
        epsilon)``, ``xhat = (X - mean) * inv_std``, ``Y = gamma * xhat + beta``, and in
        place ``moving = momentum * moving + (1 - momentum) * batch`` for mean and
        variance, as keras.layers.BatchNormalization. Inference uses the moving
        statistics instead and leaves them unchanged. Returns ``(Y, xhat, inv_std)``.
        """
        X = _matrix(X, "X")
        n, d = X.shape
        if training and n == 0:
            raise ValueError("X must hold at least one row to compute batch statistics.")
        vectors = {}
        for name, arr in (("gamma", gamma), ("beta", beta)):
            vectors[name] = as_float_array(arr, name, X.dtype)
        for name, arr in (("moving_mean", moving_mean), ("moving_variance", moving_variance)):
            vectors[name] = _inplace(arr, name, (d,), X.dtype)
        for name, arr in vectors.items():
            if arr.shape != (d,):
                raise ValueError(f"{name} must have shape ({d},). Received: {name}.shape={arr.shape}")
        momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        eps = check_float(epsilon, "epsilon", low=0.0, low_open=True)
        Y = as_output(out, "out", (n, d), X.dtype)
        xhat = as_output(out_xhat, "out_xhat", (n, d), X.dtype)
        inv_std = as_output(out_inv_std, "out_inv_std", (d,), X.dtype)
        # The moving statistics are written in place: they must not alias anything read.
        _check_no_overlap(vectors["moving_mean"], "moving_mean", X=X, gamma=vectors["gamma"],
                          beta=vectors["beta"], moving_variance=vectors["moving_variance"])
        _check_no_overlap(vectors["moving_variance"], "moving_variance", X=X,
                          gamma=vectors["gamma"], beta=vectors["beta"])
        for arr, name in ((Y, "out"), (xhat, "out_xhat"), (inv_std, "out_inv_std")):
            _check_no_overlap(arr, name, X=X, **vectors)
        _check_no_overlap(Y, "out", out_xhat=xhat, out_inv_std=inv_std)
        _check_no_overlap(xhat, "out_xhat", out_inv_std=inv_std)
        self._batch_norm_forward(X, vectors["gamma"], vectors["beta"], vectors["moving_mean"],
                                 vectors["moving_variance"], bool(training), momentum, eps,
                                 Y, xhat, inv_std)
        return Y, xhat, inv_std

    def batch_norm_backward(self, dY: np.ndarray, xhat: np.ndarray, gamma: np.ndarray,
                            inv_std: np.ndarray, *, out_dX: np.ndarray | None = None,
                            out_dgamma: np.ndarray | None = None,
                            out_dbeta: np.ndarray | None = None
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Backward of training-mode :meth:`batch_norm_forward`; returns (dX, dgamma, dbeta).

        ``dbeta = sum(dY)``, ``dgamma = sum(dY * xhat)`` over rows, and, because the
        batch mean and variance depend on every row,
        ``dX = gamma * inv_std / n * (n * dY - dbeta - xhat * dgamma)``.
        ``out_dX`` may be ``dY`` itself.
        """
        dY = _matrix(dY, "dY")
        n, d = dY.shape
        if n == 0:
            raise ValueError("dY must hold at least one row (batch statistics of no rows "
                             "have no gradient).")
        xhat = _matrix(xhat, "xhat", dY.dtype)
        gamma = as_float_array(gamma, "gamma", dY.dtype)
        inv_std = as_float_array(inv_std, "inv_std", dY.dtype)
        if xhat.shape != (n, d) or gamma.shape != (d,) or inv_std.shape != (d,):
            raise ValueError(f"batch_norm_backward shapes disagree: dY {dY.shape}, xhat "
                             f"{xhat.shape}, gamma {gamma.shape}, inv_std {inv_std.shape}.")
        dX = as_output(out_dX, "out_dX", (n, d), dY.dtype)
        dgamma = as_output(out_dgamma, "out_dgamma", (d,), dY.dtype)
        dbeta = as_output(out_dbeta, "out_dbeta", (d,), dY.dtype)
        if dX is not dY:
            _check_no_overlap(dX, "out_dX", dY=dY)
        _check_no_overlap(dX, "out_dX", xhat=xhat, gamma=gamma, inv_std=inv_std,
                          out_dgamma=dgamma, out_dbeta=dbeta)
        for arr, name in ((dgamma, "out_dgamma"), (dbeta, "out_dbeta")):
            _check_no_overlap(arr, name, dY=dY, xhat=xhat, gamma=gamma, inv_std=inv_std)
        _check_no_overlap(dgamma, "out_dgamma", out_dbeta=dbeta)
        self._batch_norm_backward(dY, xhat, gamma, inv_std, dX, dgamma, dbeta)
        return dX, dgamma, dbeta

    # ------------------------------------------------------------- compiled steps
    def dense_plan(self, weights: list, grads: list, codes: list[int], alphas: list[float],
                   loss_code: int, from_logits: bool, param: float, fused: bool):
        """The training step of a stack of Dense layers as one object, or None.

        Its ``train_step(X, T, sw)`` runs the forward pass, the loss and the backward pass
        of every layer and returns ``(loss, output)``, computing exactly what the
        layer-by-layer kernel calls compute. The numpy backend's is the readable definition
        (numpy_backend/plan.py); the native one runs it in one compiled call.
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
