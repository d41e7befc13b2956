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
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import ClassVar

import numpy as np

from nncore._checks import check_float
from nncore.backends.codes import (  # noqa: F401 (the interface's names)
    _LOGIT_LOSSES, ACTIVATION_CODES, ACTIVATIONS, DEFAULT_ALPHA, LOSS_CODES, LOSSES,
    activation_name, loss_name,
)

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: Probabilities are clipped to [EPSILON, 1 - EPSILON] before a log, as keras.config.epsilon().
EPSILON = 1e-7

def _check_float_ndarray(x, name: str) -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray. Received: {name} of type "
                        f"{type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64. Received: "
                        f"{name}.dtype={x.dtype}")


def as_float_array(x, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    """Return ``x`` as a C-contiguous float32/float64 ndarray (copied only if needed).

    Raises TypeError if ``x`` is not an ndarray of float32/float64, or if ``dtype`` is given
    and differs: kernels never guess a dtype or convert one silently.
    """
    _check_float_ndarray(x, name)
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} like the other arrays of this call. "
                        f"Received: {name}.dtype={x.dtype}")
    # Not np.ascontiguousarray: it turns a 0-d array into a 1-d one. Misaligned data
    # (np.frombuffer at an odd offset) is copied too: C may not load floats from it.
    return x if x.flags.c_contiguous and x.flags.aligned else x.copy(order="C")


def as_output(out, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Return ``out`` checked for in-place writing, or a new empty array if it is None."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray or None. Received: {name} of type "
                        f"{type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}. Received: {name}.dtype={out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}. Received: "
                         f"{name}.shape={out.shape}")
    if not (out.flags.c_contiguous and out.flags.writeable and out.flags.aligned):
        raise ValueError(f"{name} must be C-contiguous, aligned and writeable.")
    return out


def _check_no_overlap(out: np.ndarray, out_name: str, **inputs) -> None:
    """Refuse an output that overlaps an input the kernel still reads (BLAS would misread)."""
    for name, arr in inputs.items():
        if arr is not None and np.may_share_memory(out, arr):
            raise ValueError(f"{out_name} must not share memory with {name}.")


def _check_disjoint(arrays: Sequence[np.ndarray], name: str) -> None:
    """Refuse two C-contiguous entries of ``arrays`` that share memory: an op applied to
    each in turn would count and scale the shared elements twice. Sorted by address, two
    of them overlap only if two neighbours do: linear after the sort, no pairwise test."""
    spans = sorted((a.__array_interface__["data"][0], a.nbytes, i)
                   for i, a in enumerate(arrays) if a.nbytes)
    for (start, size, i), (following, _, j) in zip(spans, spans[1:]):
        if following < start + size:
            raise ValueError(f"{name}[{max(i, j)}] must not share memory with "
                             f"{name}[{min(i, j)}].")


def _rows(x: np.ndarray) -> np.ndarray:
    """View an (..., d) array as 2-D (rows, d); 1-D arrays are one row."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


def _matrix(x, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    x = as_float_array(x, name, dtype)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, features). Received: {name}.shape={x.shape}")
    return x


def _resolve_activation(name: str | None, alpha: float | None) -> tuple[str, int, float]:
    key = activation_name(name)
    if alpha is None:
        alpha = DEFAULT_ALPHA.get(key, 0.0)
    alpha = check_float(alpha, "alpha")
    return key, ACTIVATION_CODES[key], alpha


# --------------------------------------------------------------------------- interface
class Backend(abc.ABC):
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
             delta: float = 1.0, sample_weight=None) -> float:
        """The loss value, as Keras 3 computes it (``sum_over_batch_size`` reduction).

        Per sample ``i`` (``d`` features, ``e = p - t``):
        mean_squared_error ``mean(e**2)``; mean_absolute_error ``mean(|e|)``; huber
        ``mean(e**2 / 2 if |e| <= delta else delta * (|e| - delta / 2))``;
        binary_crossentropy ``-mean(t log p + (1 - t) log(1 - p))`` with ``p`` clipped to
        [1e-7, 1 - 1e-7], or from logits ``mean(max(z, 0) - z t + log1p(exp(-|z|)))``;
        categorical_crossentropy ``-sum(t log p)`` with ``p`` first divided by its row sum
        then clipped, or from logits ``logsumexp(z) - sum(t z)`` (for one-hot t);
        sparse_categorical_crossentropy the same with integer labels (n,) or (n, 1).
        The batch loss is ``sum_i w_i loss_i / n``.
        """
        code, T, P, sw = self._loss_args(name, y_true, y_pred, from_logits, sample_weight)
        delta = check_float(delta, "delta", low=0.0, low_open=True)
        return self._loss(code, T, P, bool(from_logits), delta, sw, None)

    def loss_and_grad(self, name: str, y_true, y_pred: np.ndarray, *,
                      from_logits: bool = False, delta: float = 1.0, sample_weight=None,
                      out: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """The loss value and its gradient with respect to ``y_pred``, in one pass.

        From logits, cross-entropy's gradient is ``(softmax(z) - t) * w_i / n`` (and
        ``(sigmoid(z) - t) * w_i / (n d)`` for binary): the softmax Jacobian and the log's
        derivative cancel, so the fused path never divides by a probability. On
        probabilities the derivative is taken at the clipped value.
        """
        code, T, P, sw = self._loss_args(name, y_true, y_pred, from_logits, sample_weight)
        delta = check_float(delta, "delta", low=0.0, low_open=True)
        dP = as_output(out, "out", P.shape, P.dtype)
        _check_no_overlap(dP, "out", y_true=T, y_pred=P, sample_weight=sw)
        value = self._loss(code, T, P, bool(from_logits), delta, sw, dP)
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
            T = _sparse_labels(y_true, n, d)
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

    # ------------------------------------------------------------- optimizer updates
    def sgd_update(self, param: np.ndarray, grad: np.ndarray,
                   velocity: np.ndarray | None = None, *, learning_rate: float,
                   momentum: float = 0.0, nesterov: bool = False,
                   weight_decay: float = 0.0) -> None:
        """SGD in place, as keras.optimizers.SGD.

        Without momentum ``w -= lr * g``. With momentum (``velocity`` required)
        ``v = momentum * v - lr * g``, then ``w += v``, or with Nesterov
        ``w += momentum * v - lr * g``. Every update here first applies Keras 3's
        decoupled weight decay ``w -= lr * weight_decay * w``.
        """
        w, g, (v,) = self._update_args(param, grad, velocity=velocity)
        lr, wd = self._lr_wd(learning_rate, weight_decay)
        momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        if momentum > 0.0 and v is None:
            raise ValueError("velocity is required when momentum > 0.")
        self._sgd(w, g, v if momentum > 0.0 else None, lr, momentum, bool(nesterov), wd)

    def adagrad_update(self, param: np.ndarray, grad: np.ndarray, accumulator: np.ndarray,
                       *, learning_rate: float, epsilon: float = 1e-7,
                       weight_decay: float = 0.0) -> None:
        """Adagrad in place (Duchi et al., 2011), as keras.optimizers.Adagrad.

        ``acc += g**2``; ``w -= lr * g / sqrt(acc + epsilon)``. Keras starts ``acc`` at
        ``initial_accumulator_value`` (0.1); the caller owns that state.
        """
        w, g, (acc,) = self._update_args(param, grad, accumulator=accumulator)
        lr, wd = self._lr_wd(learning_rate, weight_decay)
        eps = check_float(epsilon, "epsilon", low=0.0)
        if acc is None:
            raise ValueError("accumulator is required.")
        self._adagrad(w, g, acc, lr, eps, wd)

    def rmsprop_update(self, param: np.ndarray, grad: np.ndarray, velocity: np.ndarray,
                       momentum_buffer: np.ndarray | None = None,
                       average_gradient: np.ndarray | None = None, *,
                       learning_rate: float, rho: float = 0.9, momentum: float = 0.0,
                       epsilon: float = 1e-7, centered: bool = False,
                       weight_decay: float = 0.0) -> None:
        """RMSprop in place (Hinton, lecture 6e), as keras.optimizers.RMSprop.

        ``v = rho * v + (1 - rho) * g**2``; centered also keeps
        ``a = rho * a + (1 - rho) * g`` and uses ``v - a**2``; the step is
        ``s = lr * g / sqrt(denominator + epsilon)``; with momentum
        ``mom = momentum * mom + s; w -= mom``, else ``w -= s``.
        """
        w, g, (v, mom, avg) = self._update_args(
            param, grad, velocity=velocity, momentum_buffer=momentum_buffer,
            average_gradient=average_gradient)
        lr, wd = self._lr_wd(learning_rate, weight_decay)
        rho = check_float(rho, "rho", low=0.0, high=1.0)
        momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        eps = check_float(epsilon, "epsilon", low=0.0)
        if v is None:
            raise ValueError("velocity is required.")
        if momentum > 0.0 and mom is None:
            raise ValueError("momentum_buffer is required when momentum > 0.")
        if centered and avg is None:
            raise ValueError("average_gradient is required when centered=True.")
        self._rmsprop(w, g, v, mom if momentum > 0.0 else None, avg if centered else None,
                      lr, rho, momentum, eps, wd)

    def adam_update(self, param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray,
                    vhat: np.ndarray | None = None, *, step: int, learning_rate: float,
                    beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                    amsgrad: bool = False, weight_decay: float = 0.0) -> None:
        """Adam in place (Kingma & Ba, 2015), as keras.optimizers.Adam; AdamW with decay.

        For step ``t >= 1`` (counted from 1): ``m += (1 - beta_1) * (g - m)``;
        ``v += (1 - beta_2) * (g**2 - v)``; with AMSGrad ``vhat = max(vhat, v)`` is used
        in place of ``v``; ``w -= alpha * m / (sqrt(v) + epsilon)`` with
        ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``. AdamW (Loshchilov &
        Hutter, 2019) is this with ``weight_decay`` > 0, applied first as
        ``w -= lr * weight_decay * w``.
        """
        w, g, (m, v, vhat) = self._update_args(param, grad, m=m, v=v, vhat=vhat)
        lr, wd = self._lr_wd(learning_rate, weight_decay)
        if m is None or v is None:
            raise ValueError("m and v are required.")
        if amsgrad and vhat is None:
            raise ValueError("vhat is required when amsgrad=True.")
        if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral) \
                or step < 1:
            raise ValueError(f"step must be an integer >= 1. Received: step={step!r}")
        b1 = check_float(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        b2 = check_float(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        eps = check_float(epsilon, "epsilon", low=0.0)
        self._adam(w, g, m, v, vhat if amsgrad else None, lr, b1, b2, eps, int(step), wd)

    def _lr_wd(self, learning_rate, weight_decay) -> tuple[float, float]:
        return (check_float(learning_rate, "learning_rate", low=0.0),
                check_float(weight_decay, "weight_decay", low=0.0))

    def _update_args(self, param, grad, **state):
        """Flat views of param, grad and state; state must match param exactly."""
        w = _inplace(param, "param", None, None)
        g = as_float_array(grad, "grad", w.dtype)
        if g.shape != w.shape:
            raise ValueError(f"grad must have the shape of param {w.shape}. "
                             f"Received: grad.shape={g.shape}")
        flat = []
        for name, arr in state.items():
            if arr is not None:
                arr = _inplace(arr, name, w.shape, w.dtype)
                _check_no_overlap(arr, name, param=w, grad=g,
                                  **{k: s for k, s in zip(state, flat) if s is not None})
                arr = arr.reshape(-1)
            flat.append(arr)
        _check_no_overlap(w, "param", grad=g)
        return w.reshape(-1), g.reshape(-1), flat

    # ------------------------------------------------------------- helpers
    def regularization_loss(self, W: np.ndarray, *, l1: float = 0.0, l2: float = 0.0) -> float:
        """``l1 * sum(|W|) + l2 * sum(W**2)``, as keras.regularizers.L1L2."""
        W = as_float_array(W, "W")
        l1, l2 = check_float(l1, "l1", low=0.0), check_float(l2, "l2", low=0.0)
        return self._regularization_loss(W.reshape(-1), l1, l2)

    def add_regularization_grad(self, W: np.ndarray, dW: np.ndarray, *, l1: float = 0.0,
                                l2: float = 0.0) -> np.ndarray:
        """``dW += l1 * sign(W) + 2 * l2 * W`` in place (the gradient of the penalty)."""
        W = as_float_array(W, "W")
        dW = _inplace(dW, "dW", W.shape, W.dtype)
        _check_no_overlap(dW, "dW", W=W)
        l1, l2 = check_float(l1, "l1", low=0.0), check_float(l2, "l2", low=0.0)
        self._regularization_grad(W.reshape(-1), dW.reshape(-1), l1, l2)
        return dW

    def dropout_mask(self, shape: Sequence[int], rate: float, rng: np.random.Generator, *,
                     dtype=np.float32, out: np.ndarray | None = None) -> np.ndarray:
        """Inverted-dropout mask: ``1 / (1 - rate)`` where ``u >= rate``, else 0.

        ``u`` are uniforms drawn from ``rng`` (a numpy Generator, so the same seed gives
        the same mask on every backend). Multiplying activations by the mask keeps their
        expected value, so inference needs no rescaling.
        """
        rate = check_float(rate, "rate", low=0.0, high=1.0, high_open=True)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator. Received: {type(rng).__name__}")
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
        if dt is None or dt not in FLOAT_DTYPES:  # (dtype("float64") == None is True)
            raise TypeError(f"dtype must be float32 or float64. Received: dtype={dtype!r}")
        dtype = dt
        # Integers only: int() would take "3" or 2.5 (truncated) and iterate over a string.
        dims = tuple(shape) if not isinstance(shape, (str, bytes)) and \
            isinstance(shape, Iterable) else None
        if dims is None or not all(isinstance(s, numbers.Integral) and
                                   not isinstance(s, (bool, np.bool_)) for s in dims):
            raise TypeError(f"shape must be a sequence of integers. Received: shape={shape!r}")
        shape = tuple(int(s) for s in dims)
        if any(s < 0 for s in shape):
            raise ValueError(f"shape must not be negative. Received: shape={shape}")
        mask = as_output(out, "out", shape, dtype)
        rng.random(out=mask.reshape(-1), dtype=dtype)
        self._dropout_mask(mask.reshape(-1), rate)
        return mask

    def clip_by_value(self, grad: np.ndarray, clipvalue: float) -> np.ndarray:
        """Clip every element of ``grad`` to [-clipvalue, clipvalue] in place."""
        g = _inplace(grad, "grad", None, None)
        c = check_float(clipvalue, "clipvalue", low=0.0)
        self._clip_by_value(g.reshape(-1), c)
        return g

    def clip_by_norm(self, grad: np.ndarray, clipnorm: float) -> float:
        """Rescale ``grad`` in place so its L2 norm is at most ``clipnorm``; return the norm
        before clipping (Keras ``clipnorm``: each tensor on its own)."""
        # Checked here so that a refusal names this op's argument, not "grads".
        return self.clip_by_global_norm([_inplace(grad, "grad", None, None)], clipnorm)

    def global_norm(self, grads: Sequence[np.ndarray]) -> float:
        """``sqrt(sum of squares of every element of every array)``."""
        return math.sqrt(sum(self._sum_squares(as_float_array(g, "grads").reshape(-1))
                             for g in grads))

    def clip_by_global_norm(self, grads: Sequence[np.ndarray], clipnorm: float) -> float:
        """Scale all ``grads`` in place by ``clipnorm / max(norm, clipnorm)`` where ``norm``
        is their global norm (Keras ``global_clipnorm``); return that norm."""
        c = check_float(clipnorm, "clipnorm", low=0.0, low_open=True)
        flat = [_inplace(g, "grads", None, None).reshape(-1) for g in grads]
        _check_disjoint(flat, "grads")
        norm = math.sqrt(sum(self._sum_squares(g) for g in flat))
        if norm > c:
            for g in flat:
                self._scale(g, c / norm)
        return norm

    # ------------------------------------------------------------- compiled steps
    def dense_plan(self, weights: list, grads: list, codes: list[int], alphas: list[float],
                   loss_code: int, from_logits: bool, delta: float, fused: bool):
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
    def _loss(self, code: int, T, P, from_logits: bool, delta: float, sw, dP) -> float: ...

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


# --------------------------------------------------------------------------- more checks
def _inplace(arr, name: str, shape, dtype) -> np.ndarray:
    """An array the op writes in place: never copied, so it must already be right."""
    _check_float_ndarray(arr, name)
    return as_output(arr, name, arr.shape if shape is None else shape,
                     arr.dtype if dtype is None else dtype)


def _real_array(x, name: str, dtype: np.dtype) -> np.ndarray:
    """Data such as labels or weights: any real numeric dtype, converted to ``dtype``."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers. Received: {name}.dtype={arr.dtype}")
    # Aligned too (a copy if not): the native kernels refuse misaligned data.
    return np.require(arr, dtype=dtype, requirements=("C", "A"))


def _sparse_labels(y_true, n: int, d: int) -> np.ndarray:
    """Integer class labels in [0, d) as int64 of shape (n,)."""
    arr = np.asarray(y_true)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape != (n,):
        raise ValueError(f"y_true must hold one integer label per row, shape ({n},) or "
                         f"({n}, 1). Received: y_true.shape={np.shape(y_true)}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError("y_true must hold whole-number class labels.")
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"y_true must hold integer class labels. Received: "
                        f"y_true.dtype={arr.dtype}")
    if n and (arr.min() < 0 or arr.max() >= d):
        raise ValueError(f"y_true labels must be in [0, {d}) for y_pred with {d} columns. "
                         f"Received labels in [{arr.min()}, {arr.max()}]")
    return np.require(arr, dtype=np.int64, requirements=("C", "A"))  # as _real_array
