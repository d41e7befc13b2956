"""Finite-difference checks of gradients in float64, as ``torch.autograd.gradcheck``.

:func:`check_gradient` holds a function's analytic gradient to central differences; the
model compiles a loss of your own, and a layer takes an activation of your own, only
after it passes, so a wrong gradient is reported before any training.

Example
-------
>>> import numpy as np
>>> from nncore.gradcheck import check_gradient
>>> x = np.array([[0.5, -1.0]])
>>> check_gradient("square", lambda x: float(np.sum(x ** 2)), lambda x: 2 * x, x) < 1e-8
True
"""
from __future__ import annotations

from typing import Callable

import numpy as np

#: Central differences with this step have an error of about step**2 * f''' (truncation)
#: plus eps * |f| / step (rounding): near 1e-10 for functions of unit scale in float64.
STEP = 1e-6
#: The largest relative error (|analytic - numeric| / max(|numeric|, 1)) accepted: far
#: above that rounding, far below any mistake in a formula.
TOLERANCE = 1e-5


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       step: float = STEP) -> np.ndarray:
    """The central-difference gradient of the scalar ``f`` at ``x`` (float64, restored)."""
    grad = np.empty_like(x, dtype=np.float64)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + step
        up = f(x)
        flat[i] = keep - step
        down = f(x)
        flat[i] = keep
        out[i] = (up - down) / (2 * step)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """The worst ``|analytic - numeric| / max(|numeric|, 1)``: relative for large
    derivatives, absolute for small ones."""
    if analytic.size == 0:
        return 0.0
    return float(np.max(np.abs(analytic - numeric) / np.maximum(np.abs(numeric), 1.0)))


def check_gradient(name: str, f: Callable[[np.ndarray], float],
                   gradient: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                   tolerance: float = TOLERANCE) -> float:
    """Hold ``gradient(x)`` (the gradient of the scalar ``f`` at ``x``) to central
    differences; return the worst relative error, or raise ValueError naming ``name``.

    Parameters
    ----------
    name : str
        What is checked, for the message ("loss 'my_loss'").
    f : callable
        ``x -> float``.
    gradient : callable
        ``x -> array`` of ``x``'s shape.
    x : float64 array
        Where to check (perturbed in place, restored).
    tolerance : float
        The largest relative error accepted.
    """
    x = np.array(x, dtype=np.float64)
    analytic = np.asarray(gradient(x.copy()), dtype=np.float64)
    if analytic.shape != x.shape:
        raise ValueError(f"The gradient of {name} must have the shape of its input, "
                         f"{x.shape}. Received: shape {analytic.shape}")
    error = relative_error(analytic, numerical_gradient(f, x))
    if not error <= tolerance:  # NaN fails too
        raise ValueError(f"The gradient of {name} does not match finite differences: "
                         f"relative error {error:.3g} (at most {tolerance:g} expected) in "
                         f"float64. Check the gradient function.")
    return error
