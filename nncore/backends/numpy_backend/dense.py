"""The dense layer in NumPy: ``Y = act(X @ W + b)`` and its backward by the chain rule.

Shapes: X (n, k) a batch of n rows of k features, W (k, m), b (m,), Z and Y (n, m).

Example
-------
>>> import numpy as np
>>> from nncore.backends.base import ACTIVATION_CODES
>>> X, W, b = np.array([[1.0, 2.0]]), np.array([[1.0], [-1.0]]), np.array([0.5])
>>> Z, Y = np.empty((1, 1)), np.empty((1, 1))
>>> forward(X, W, b, ACTIVATION_CODES["relu"], 0.0, Z, Y); Z, Y
(array([[-0.5]]), array([[0.]]))
"""
from __future__ import annotations

import numpy as np

from nncore.backends.numpy_backend import activations


def forward(X: np.ndarray, W: np.ndarray, b: np.ndarray | None, code: int, alpha: float,
            Z: np.ndarray, Y: np.ndarray) -> None:
    """``Z = X @ W + b`` (no bias if b is None), then ``Y = act(Z)``; Y may be Z.

    Parameters
    ----------
    X, W, b : ndarray of shapes (n, k), (k, m), (m,) or None
    code : int
        The activation's code (``ACTIVATION_CODES``).
    alpha : float
        Its parameter (leaky_relu's slope, elu's alpha; else ignored).
    Z, Y : ndarray of shape (n, m)
        Outputs, written in place.

    Example
    -------
    >>> X, W, b = np.array([[1.0, 2.0]]), np.array([[1.0], [-1.0]]), np.array([0.5])
    >>> Z = np.empty((1, 1))
    >>> forward(X, W, b, 0, 0.0, Z, Z); Z  # code 0: linear, so Y is Z
    array([[-0.5]])
    """
    np.matmul(X, W, out=Z)
    if b is not None:
        Z += b  # b broadcast over the rows: every sample gets the same bias
    activations.forward(code, Z, Y, alpha)


def backward(dY: np.ndarray, X: np.ndarray, W: np.ndarray, Z: np.ndarray, Y: np.ndarray,
             code: int, alpha: float, dZ: np.ndarray, dW: np.ndarray,
             db: np.ndarray | None, dX: np.ndarray | None) -> None:
    """Gradients of a loss L given ``dY = dL/dY``, by the chain rule through
    ``Z = X @ W + b`` and ``Y = act(Z)``:

    - ``dZ = dY * act'(Z)`` (written into dZ, which may be dY itself);
    - ``dW = X.T @ dZ``: each weight sums its contribution over the batch;
    - ``db = dZ.sum(axis=0)`` (skipped if db is None);
    - ``dX = dZ @ W.T``, what the previous layer receives as its dY (skipped if None).

    Parameters
    ----------
    dY, X, W, Z, Y : ndarray
        ``dL/dY`` (n, m), and the forward pass's X (n, k), W (k, m), Z and Y (n, m).
    code, alpha
        The activation, as for :func:`forward`.
    dZ, dW, db, dX : ndarray
        Outputs of shapes (n, m), (k, m), (m,) and (n, k); db and dX may be None.

    Example
    -------
    >>> X, W = np.array([[1.0, 2.0]]), np.array([[1.0], [-1.0]])
    >>> Z = X @ W
    >>> dZ, dW, db, dX = np.empty((1, 1)), np.empty((2, 1)), np.empty(1), np.empty((1, 2))
    >>> backward(np.ones((1, 1)), X, W, Z, Z, 0, 0.0, dZ, dW, db, dX); dW.ravel(), dX
    (array([1., 2.]), array([[ 1., -1.]]))
    """
    activations.backward(code, dY, Z, Y, alpha, dZ)
    np.matmul(X.T, dZ, out=dW)
    if db is not None:
        np.sum(dZ, axis=0, out=db)
    if dX is not None:
        np.matmul(dZ, W.T, out=dX)
