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
    """``l1 * sum(|w|) + l2 * sum(w**2)``, as keras.regularizers.L1L2 (sums in double)."""
    w = w.astype(np.float64, copy=False)
    return l1 * float(np.sum(np.abs(w))) + l2 * float(np.dot(w, w))


def regularization_grad(w: np.ndarray, g: np.ndarray, l1: float, l2: float) -> None:
    """``g += l1 * sign(w) + 2 * l2 * w``: the gradient of the penalty, added in place.

    At ``w == 0`` the L1 term contributes 0 (``sign(0) == 0``), a subgradient.
    """
    g += l1 * np.sign(w) + (2.0 * l2) * w


def dropout_mask(u: np.ndarray, rate: float) -> None:
    """Turn uniforms ``u`` in [0, 1) into an inverted-dropout mask, in place:
    ``1 / (1 - rate)`` where ``u >= rate`` (kept, with probability ``1 - rate``), else 0."""
    # Scaling the kept units by 1 / (1 - rate) keeps the expected activation, so
    # inference needs no rescaling (the compare is in u's dtype, as the C kernel does).
    u[...] = np.where(u >= rate, 1.0 / (1.0 - rate), 0.0)


def clip_by_value(g: np.ndarray, clipvalue: float) -> None:
    """Clip ``g`` to [-clipvalue, clipvalue] in place (NaN stays NaN)."""
    np.clip(g, -clipvalue, clipvalue, out=g)


def sum_squares(g: np.ndarray) -> float:
    """``sum(g**2)`` accumulated in double precision."""
    g = g.astype(np.float64, copy=False)
    return float(np.dot(g, g))


def scale(g: np.ndarray, factor: float) -> None:
    """``g *= factor`` in place."""
    g *= factor
