"""The training step of a stack of Dense layers, written out in NumPy.

This is the definition of the native backend's compiled step
(``nncore/backends/native/plan.pxi``), which runs the same kernels in the same order in
one call without the GIL; the two are tested against each other. Layer by layer::

    Y_0 = X
    Z_i = Y_{i-1} @ W_i + b_i,  Y_i = act_i(Z_i)                 forward, i = 1..L
    loss = L(T, Y_L), dY_L = dL/dY_L                             the loss and its gradient
    dZ_i = dY_i * act_i'(Z_i)                                    backward, i = L..1
    dW_i = Y_{i-1}.T @ dZ_i,  db_i = dZ_i summed over rows,  dY_{i-1} = dZ_i @ W_i.T

Fused: a softmax (or sigmoid) last layer meeting its cross-entropy takes the loss on the
logits ``Z_L``, whose gradient ``(P - T) / n`` is ``dZ_L`` directly: no division by a
probability that may be tiny, and no activation backward for that layer.

Example
-------
>>> import numpy as np
>>> from nncore.backends.base import ACTIVATION_CODES, LOSS_CODES
>>> W, dW = np.array([[1.0], [2.0]]), np.zeros((2, 1))
>>> plan = DensePlan([(W, None)], [(dW, None)], [ACTIVATION_CODES["linear"]], [0.0],
...                  LOSS_CODES["mean_squared_error"], False, 1.0, False)
>>> loss, Y = plan.train_step(np.array([[1.0, 1.0]]), np.array([[2.0]]), None)
>>> loss, Y, dW  # (3 - 2)**2; dL/dY = 2 (Y - T) = 2, so dW = X.T @ [[2]]
(1.0, array([[3.]]), array([[2.],
       [2.]]))
"""
from __future__ import annotations

import numpy as np

from nncore.backends.base import ACTIVATION_CODES
from nncore.backends.numpy_backend import dense, losses

_LINEAR = ACTIVATION_CODES["linear"]  # its backward is the identity


class DensePlan:
    """``train_step(X, T, sw)`` for Dense layers ``Y_i = act_i(Y_{i-1} @ W_i + b_i)``.

    Parameters
    ----------
    weights : list of (W, b or None); W (k_i, m_i) with k_{i+1} = m_i.
    grads : list of (dW, db or None), the same shapes: written by each step.
    codes, alphas : the activation code and alpha of each layer.
    loss_code, from_logits, param : as the loss kernel takes them (param: Huber's delta
        or a cross-entropy's label smoothing).
    fused : the loss is taken on the last layer's logits (see the module docstring).

    Example
    -------
    >>> from nncore.backends.base import ACTIVATION_CODES, LOSS_CODES
    >>> W, b = np.array([[1.0], [1.0]]), np.zeros(1)
    >>> dW, db = np.empty_like(W), np.empty_like(b)
    >>> plan = DensePlan([(W, b)], [(dW, db)], [ACTIVATION_CODES['linear']], [0.0],
    ...                 LOSS_CODES['mean_squared_error'], False, 1.0, False)
    >>> loss, Y = plan.train_step(np.array([[1.0, 2.0]]), np.array([[2.0]]), None)
    >>> loss, dW.ravel()
    (1.0, array([2., 4.]))
    """

    def __init__(self, weights, grads, codes, alphas, loss_code: int, from_logits: bool,
                 param: float, fused: bool):
        self.layers = [(W, b, dW, db, code, alpha) for (W, b), (dW, db), code, alpha
                       in zip(weights, grads, codes, alphas)]
        self.loss_code, self.from_logits = loss_code, from_logits
        self.param, self.fused = param, fused
        self._work: dict[int, tuple[list, np.ndarray]] = {}

    def _workspace(self, n: int) -> tuple[list, np.ndarray]:
        """Z, Y and dX of each layer and the loss gradient for batches of ``n`` rows, made
        once per batch size (fresh arrays of this size every step cost page faults)."""
        work = self._work.get(n)
        if work is None:
            if len(self._work) > 8:  # many batch sizes: keep memory bounded
                self._work.clear()
            arrays = []
            for i, (W, _, _, _, code, _) in enumerate(self.layers):
                Z = np.empty((n, W.shape[1]), W.dtype)
                Y = Z if code == _LINEAR else np.empty_like(Z)
                arrays.append((Z, Y, np.empty((n, W.shape[0]), W.dtype) if i else None))
            work = self._work[n] = (arrays, np.empty_like(arrays[-1][0]))
        return work

    def train_step(self, X: np.ndarray, T: np.ndarray, sw: np.ndarray | None):
        """Forward, loss and backward for the batch ``X``; writes every gradient and
        returns ``(loss, Y_L)`` (Y_L is overwritten by the next step of this size).

        Parameters
        ----------
        X : ndarray of shape (n, k_1)
            The batch, of the weights' dtype.
        T : ndarray
            Targets as the loss kernel takes them.
        sw : ndarray of shape (n,) or None
            Sample weights.
        """
        arrays, dA = self._workspace(len(X))
        A = X
        for (W, b, _, _, code, alpha), (Z, Y, _) in zip(self.layers, arrays):
            dense.forward(A, W, b, code, alpha, Z, Y)
            A = Y
        out = arrays[-1][0] if self.fused else arrays[-1][1]
        value = losses.loss(self.loss_code, T, out, self.from_logits or self.fused,
                            self.param, sw, dA)
        for i in range(len(self.layers) - 1, -1, -1):  # the chain rule, last layer first
            W, _, dW, db, code, alpha = self.layers[i]
            Z, Y, dX = arrays[i]
            A = X if i == 0 else arrays[i - 1][1]
            if self.fused and i == len(self.layers) - 1:
                code = _LINEAR  # dA is dL/dZ already
            dense.backward(dA, A, W, Z, Y, code, alpha, dA, dW, db, dX)
            dA = dX
        return value, arrays[-1][1]
