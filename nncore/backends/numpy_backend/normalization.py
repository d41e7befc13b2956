"""Batch normalization kernels (see Backend.batch_norm_forward for the formulas)."""
import numpy as np


def batch_norm_forward(X, gamma, beta, moving_mean, moving_variance, training, momentum,
                       eps, Y, xhat, inv_std):
    """``Y = gamma * xhat + beta`` with ``xhat = (X - mean) * inv_std``, ``inv_std = 1 / sqrt(var + eps)``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    gamma, beta : ndarray of shape (d,)
        Scale and shift.
    moving_mean, moving_variance : ndarray of shape (d,)
        Updated in place when ``training``, else used as mean and var.
    training : bool
        Normalize with the batch's own mean and (biased) variance.
    momentum : float
        Of the moving averages.
    eps : float
    Y, xhat : ndarray of shape (n, d)
        Outputs, in place.
    inv_std : ndarray of shape (d,)
        Output, in place.

    Example
    -------
    >>> X = np.array([[1.0], [3.0]])
    >>> Y, xhat, s = np.empty((2, 1)), np.empty((2, 1)), np.empty(1)
    >>> batch_norm_forward(X, np.ones(1), np.zeros(1), np.zeros(1), np.ones(1), True, 0.9,
    ...                    0.0, Y, xhat, s); Y.ravel()
    array([-1.,  1.])
    """
    if training:
        mean = X.mean(axis=0)
        var = np.square(X - mean).mean(axis=0)  # biased: the batch's own spread
        moving_mean *= momentum
        moving_mean += (1.0 - momentum) * mean
        moving_variance *= momentum
        moving_variance += (1.0 - momentum) * var
    else:
        mean, var = moving_mean, moving_variance
    np.divide(1.0, np.sqrt(var + eps), out=inv_std)
    np.multiply(X - mean, inv_std, out=xhat)
    np.multiply(xhat, gamma, out=Y)
    Y += beta


def batch_norm_backward(dY, xhat, gamma, inv_std, dX, dgamma, dbeta):
    """Gradients of a training pass of :func:`batch_norm_forward` given ``dY``.

    Parameters
    ----------
    dY : ndarray of shape (n, d)
        dL/dY.
    xhat, gamma, inv_std : ndarray
        As the forward pass left them.
    dX : ndarray of shape (n, d)
        Output, in place.
    dgamma, dbeta : ndarray of shape (d,)
        Outputs, in place.

    Example
    -------
    >>> xhat, dX, dg, db = np.array([[-1.0], [1.0]]), np.empty((2, 1)), np.empty(1), np.empty(1)
    >>> batch_norm_backward(np.ones((2, 1)), xhat, np.ones(1), np.ones(1), dX, dg, db)
    >>> dX.ravel(), db
    (array([0., 0.]), array([2.]))
    """
    n = dY.shape[0]
    np.sum(dY, axis=0, out=dbeta)
    np.sum(dY * xhat, axis=0, out=dgamma)
    # Every row moved the batch mean and variance, so each dX gets the two mean terms.
    np.multiply(gamma * inv_std / n, n * dY - dbeta - xhat * dgamma, out=dX)
