"""Elementwise helpers in NumPy: regularization, dropout masks, gradient clipping.

All take flat arrays of one float dtype; those that change an array do it in place and
reductions are accumulated in double precision and returned as Python floats.

Example
-------
>>> import numpy as np
>>> g = np.array([3.0, -4.0])
>>> sum_squares(g)
25.0
>>> clip_by_value(g, 2.0); g
array([ 2., -2.])
"""
from __future__ import annotations

import numpy as np


def regularization_loss(w: np.ndarray, l1: float, l2: float) -> float:
    """``l1 * sum(|w|) + l2 * sum(w**2)``, as keras.regularizers.L1L2 (sums in double).

    Parameters
    ----------
    w : ndarray
        The weights, flat.
    l1 : float
        Weight of ``sum(|w|)``.
    l2 : float
        Weight of ``sum(w**2)``.

    Example
    -------
    >>> regularization_loss(np.array([1.0, -2.0]), 0.1, 0.01)
    0.35000000000000003
    """
    w = w.astype(np.float64, copy=False)
    return l1 * float(np.sum(np.abs(w))) + l2 * float(np.dot(w, w))


def regularization_grad(w: np.ndarray, g: np.ndarray, l1: float, l2: float) -> None:
    """``g += l1 * sign(w) + 2 * l2 * w``: the gradient of the penalty, added in place.

    At ``w == 0`` the L1 term contributes 0 (``sign(0) == 0``), a subgradient.

    Parameters
    ----------
    w : ndarray
        The weights, flat.
    g : ndarray
        Its gradient, same shape, added to in place.
    l1 : float
        Weight of ``sum(|w|)``.
    l2 : float
        Weight of ``sum(w**2)``.

    Example
    -------
    >>> g = np.zeros(2)
    >>> regularization_grad(np.array([1.0, -2.0]), g, 0.1, 0.01); g
    array([ 0.12, -0.14])
    """
    g += l1 * np.sign(w) + (2.0 * l2) * w


def dropout_mask(u: np.ndarray, rate: float) -> None:
    """Turn uniforms ``u`` in [0, 1) into an inverted-dropout mask, in place:
    ``1 / (1 - rate)`` where ``u >= rate`` (kept, with probability ``1 - rate``), else 0.

    Parameters
    ----------
    u : ndarray
        Uniform draws in [0, 1), overwritten by the mask.
    rate : float in [0, 1)
        Drop probability.

    Example
    -------
    >>> u = np.array([0.1, 0.7])
    >>> dropout_mask(u, 0.5); u
    array([0., 2.])
    """
    # Scaling the kept units by 1 / (1 - rate) keeps the expected activation, so
    # inference needs no rescaling (the compare is in u's dtype, as the C kernel does).
    u[...] = np.where(u >= rate, 1.0 / (1.0 - rate), 0.0)


def clip_by_value(g: np.ndarray, clipvalue: float) -> None:
    """Clip ``g`` to [-clipvalue, clipvalue] in place (NaN stays NaN).

    Parameters
    ----------
    g : ndarray
        Flat, changed in place.
    clipvalue : float
        > 0.

    Example
    -------
    >>> g = np.array([0.5, -3.0])
    >>> clip_by_value(g, 1.0); g
    array([ 0.5, -1. ])
    """
    np.clip(g, -clipvalue, clipvalue, out=g)


def sum_squares(g: np.ndarray) -> float:
    """``sum(g**2)`` accumulated in double precision.

    Parameters
    ----------
    g : ndarray
        Flat.

    Example
    -------
    >>> sum_squares(np.array([1.0, 2.0], np.float32))
    5.0
    """
    g = g.astype(np.float64, copy=False)
    return float(np.dot(g, g))


def scale(g: np.ndarray, factor: float) -> None:
    """``g *= factor`` in place.

    Parameters
    ----------
    g : ndarray
        Flat, changed in place.
    factor : float

    Example
    -------
    >>> g = np.array([1.0, 2.0])
    >>> scale(g, 0.5); g
    array([0.5, 1. ])
    """
    g *= factor
