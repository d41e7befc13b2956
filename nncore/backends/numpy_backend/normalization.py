"""Batch normalization kernels (see Backend.batch_norm_forward for the formulas)."""
import numpy as np


def batch_norm_forward(X, gamma, beta, moving_mean, moving_variance, training, momentum,
                       eps, Y, xhat, inv_std):
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
    n = dY.shape[0]
    np.sum(dY, axis=0, out=dbeta)
    np.sum(dY * xhat, axis=0, out=dgamma)
    # Every row moved the batch mean and variance, so each dX gets the two mean terms.
    np.multiply(gamma * inv_std / n, n * dY - dbeta - xhat * dgamma, out=dX)
