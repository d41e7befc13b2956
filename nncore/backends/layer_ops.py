"""The public ops of layers: activations, the dense layer and batch normalization (a
part of the backend interface, :class:`~nncore.backends.base.Backend`).

Each checks and prepares its arrays, then calls the backend's kernel
(``_activation_forward``, ``_dense_forward``...).
"""
from __future__ import annotations

import numpy as np

from nncore._checks import check_float
from nncore.backends.arrays import (
    _check_no_overlap, _inplace, _matrix, _rows, as_float_array, as_output,
)
from nncore.backends.codes import (
    ACTIVATION_CODES, DEFAULT_ALPHA, activation_name,
)


def _resolve_activation(name: str | None, alpha: float | None) -> tuple[str, int, float]:
    key = activation_name(name)
    if alpha is None:
        alpha = DEFAULT_ALPHA.get(key, 0.0)
    alpha = check_float(alpha, "alpha")
    return key, ACTIVATION_CODES[key], alpha


class LayerOps:
    """Activations, dense layers and batch normalization of the backend interface.

    Example
    -------
    >>> import numpy as np, nncore as nn
    >>> nn.get_backend("numpy").activation("tanh", np.zeros((1, 2)))
    array([[0., 0.]])
    """

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

        Parameters
        ----------
        name : str or None
            The activation (None: linear).
        Z : float array of at least one dimension
        alpha : float, optional
            leaky_relu's slope or elu's alpha (Keras's defaults: 0.2, 1.0).
        out : float array of Z's shape and dtype, optional
            Where to write; may be ``Z``.
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

        Parameters
        ----------
        name : str or None
        dY : float array
            The gradient of the loss with respect to ``Y``.
        Z, Y : float arrays of dY's shape and dtype
            The forward pass's input and output.
        alpha : float, optional
        out : float array, optional
            Where to write ``dZ``; may be ``dY``.
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

        Parameters
        ----------
        X : float array (n, k)
        W : float array (k, m)
        b : float array (m,), optional
        activation : str or None
        alpha : float, optional
        out_Z, out_Y : float arrays (n, m), optional
            Where to write the pre-activation and the output (``out_Y`` may be ``out_Z``).
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

        Parameters
        ----------
        dY : float array (n, m)
            The gradient of the loss with respect to ``Y``.
        X, W, Z, Y : float arrays
            The forward pass's input (n, k), kernel (k, m), pre-activation and output.
        activation : str or None
        alpha : float, optional
        has_bias : bool
            Compute ``db``.
        need_dX : bool
            Compute ``dX`` (the first layer needs none).
        out_dW, out_db, out_dX : float arrays, optional
            Where to write the gradients.
        work_dZ : float array (n, m), optional
            Scratch for ``dZ``; may be ``dY``.
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

        Parameters
        ----------
        X : float array (n, d)
        gamma, beta : float arrays (d,)
        moving_mean, moving_variance : float arrays (d,)
            Updated in place when ``training``.
        training : bool
            Normalize by the batch's statistics (else by the moving ones).
        momentum : float
        epsilon : float
        out, out_xhat : float arrays (n, d), optional
        out_inv_std : float array (d,), optional
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

        Parameters
        ----------
        dY : float array (n, d)
        xhat : float array (n, d)
            The normalized input of the forward pass.
        gamma, inv_std : float arrays (d,)
        out_dX : float array (n, d), optional
            May be ``dY``.
        out_dgamma, out_dbeta : float arrays (d,), optional
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
