"""Optimizer updates in NumPy: the readable definition of each step, as Keras 3 takes it.

Every function updates ``w`` and its state in place. All arrays are flat, of one length and
one dtype; scalars are Python floats, so NumPy applies them in the arrays' dtype (NEP 50)
and float32 stays float32. Each step starts with Keras 3's decoupled weight decay
``w -= lr * wd * w`` (``BaseOptimizer._apply_weight_decay`` runs before the update).

Example
-------
>>> import numpy as np
>>> w, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
>>> sgd(w, g, None, lr=0.1, momentum=0.0, nesterov=False, wd=0.0)
>>> w
array([0.95, 2.1 ])
"""
from __future__ import annotations

import math

import numpy as np


def _decay(w: np.ndarray, lr: float, wd: float) -> None:
    """Decoupled weight decay (Loshchilov & Hutter, 2019): ``w -= lr * wd * w``."""
    if wd > 0.0:
        w -= (lr * wd) * w


def sgd(w: np.ndarray, g: np.ndarray, v: np.ndarray | None, lr: float, momentum: float,
        nesterov: bool, wd: float) -> None:
    """``w -= lr * g``; with momentum ``v = momentum * v - lr * g`` then ``w += v``, or
    with Nesterov ``w += momentum * v - lr * g`` (the new ``v``), as keras.optimizers.SGD.

    ``v`` is None when ``momentum`` is 0.

    Parameters
    ----------
    w, g : ndarray
        The weights (updated in place) and their gradient.
    v : ndarray or None
        The velocity, updated in place.
    lr : float
        The learning rate.
    momentum : float
    nesterov : bool
    wd : float
        Decoupled weight decay; 0 for none.

    Example
    -------
    >>> w, g, v = np.array([1.0]), np.array([0.5]), np.zeros(1)
    >>> sgd(w, g, v, lr=0.1, momentum=0.9, nesterov=False, wd=0.0); w, v
    (array([0.95]), array([-0.05]))
    """
    _decay(w, lr, wd)
    if v is None:
        w -= lr * g
        return
    v[...] = momentum * v - lr * g
    if nesterov:
        w += momentum * v - lr * g
    else:
        w += v


def adagrad(w: np.ndarray, g: np.ndarray, acc: np.ndarray, lr: float, eps: float,
            wd: float) -> None:
    """``acc += g**2``; ``w -= lr * g / sqrt(acc + eps)`` (Duchi et al., 2011).

    Parameters
    ----------
    w, g : ndarray
        The weights (updated in place) and their gradient.
    acc : ndarray
        The sum of squared gradients, updated in place.
    lr : float
        The learning rate.
    eps : float
        Added to the denominator.
    wd : float
        Decoupled weight decay; 0 for none.

    Example
    -------
    >>> w, g, acc = np.array([1.0]), np.array([0.5]), np.zeros(1)
    >>> adagrad(w, g, acc, lr=0.1, eps=0.0, wd=0.0); w, acc
    (array([0.9]), array([0.25]))
    """
    _decay(w, lr, wd)
    acc += np.square(g)
    w -= lr * g / np.sqrt(acc + eps)


def rmsprop(w: np.ndarray, g: np.ndarray, v: np.ndarray, mom: np.ndarray | None,
            avg: np.ndarray | None, lr: float, rho: float, momentum: float, eps: float,
            wd: float) -> None:
    """RMSprop as keras.optimizers.RMSprop.

    ``v = rho * v + (1 - rho) * g**2``; centered (``avg`` given) keeps
    ``avg = rho * avg + (1 - rho) * g`` and divides by ``sqrt(v - avg**2 + eps)`` instead
    of ``sqrt(v + eps)``: ``s = lr * g / sqrt(...)``. With momentum (``mom`` given)
    ``mom = momentum * mom + s; w -= mom``, else ``w -= s``.

    Parameters
    ----------
    w, g : ndarray
        The weights (updated in place) and their gradient.
    v : ndarray
        Running mean of ``g**2``, in place.
    mom : ndarray or None
        Momentum buffer (None: no momentum).
    avg : ndarray or None
        Running mean of ``g`` (None: not centered).
    lr : float
        The learning rate.
    rho : float
    momentum : float
    eps : float
        Added to the denominator.
    wd : float
        Decoupled weight decay; 0 for none.

    Example
    -------
    >>> w, g, v = np.array([1.0]), np.array([0.5]), np.zeros(1)
    >>> rmsprop(w, g, v, None, None, lr=0.1, rho=0.75, momentum=0.0, eps=0.0, wd=0.0); w, v
    (array([0.8]), array([0.0625]))
    """
    _decay(w, lr, wd)
    v[...] = rho * v + (1.0 - rho) * np.square(g)
    if avg is None:
        denominator = v + eps
    else:
        avg[...] = rho * avg + (1.0 - rho) * g
        # v estimates E[g^2] and avg E[g]: their difference is the variance of g.
        denominator = v - np.square(avg) + eps
    step = lr * g / np.sqrt(denominator)
    if mom is None:
        w -= step
    else:
        mom[...] = momentum * mom + step
        w -= mom


def adam(w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray,
         vhat: np.ndarray | None, lr: float, beta_1: float, beta_2: float, eps: float,
         step: int, wd: float) -> None:
    """Adam (Kingma & Ba, 2015) at step ``t = step`` (from 1), as keras.optimizers.Adam.

    ``m += (1 - beta_1) * (g - m)``; ``v += (1 - beta_2) * (g**2 - v)``; AMSGrad
    (``vhat`` given) uses ``vhat = max(vhat, v)`` in place of ``v``;
    ``w -= alpha * m / (sqrt(v) + eps)`` with
    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``. With ``wd`` > 0 this is AdamW.

    Parameters
    ----------
    w, g : ndarray
        The weights (updated in place) and their gradient.
    m, v : ndarray
        First and second moments, in place.
    vhat : ndarray or None
        AMSGrad's maximum of ``v`` (None: plain Adam).
    lr : float
        The learning rate.
    beta_1, beta_2 : float
    eps : float
        Added to the denominator.
    step : int
        The step number ``t``, from 1.
    wd : float
        Decoupled weight decay; 0 for none.

    Example
    -------
    >>> w, g, m, v = np.array([1.0]), np.array([0.5]), np.zeros(1), np.zeros(1)
    >>> adam(w, g, m, v, None, lr=0.1, beta_1=0.9, beta_2=0.999, eps=0.0, step=1, wd=0.0); w
    array([0.9])
    """
    _decay(w, lr, wd)
    # Both bias corrections folded into one scalar, computed once in double.
    alpha = lr * math.sqrt(1.0 - beta_2**step) / (1.0 - beta_1**step)
    m += (1.0 - beta_1) * (g - m)
    v += (1.0 - beta_2) * (np.square(g) - v)
    if vhat is not None:
        np.maximum(vhat, v, out=vhat)
        v = vhat
    w -= alpha * m / (np.sqrt(v) + eps)
