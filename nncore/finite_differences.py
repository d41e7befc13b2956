"""Finite-difference checks of gradients in float64, as ``torch.autograd.gradcheck``.

:func:`check_gradient` holds a function's analytic gradient to central differences; the
model compiles a loss of your own, and a layer takes an activation of your own, only
after it passes, so a wrong gradient is reported before any training.

Example
-------
>>> import numpy as np
>>> from nncore.finite_differences import check_gradient
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
    """The central-difference gradient of the scalar ``f`` at ``x`` (float64, restored).

    Parameters
    ----------
    f : callable
        ``x -> float``.
    x : float64 ndarray
        Where to differentiate (perturbed in place, restored).
    step : float, default 1e-6
        The half-width ``h`` of ``(f(x + h) - f(x - h)) / 2h``.

    Example
    -------
    >>> numerical_gradient(lambda x: float(np.sum(x ** 2)), np.array([1.0, -2.0])).round(6)
    array([ 2., -4.])
    """
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
    derivatives, absolute for small ones.

    Parameters
    ----------
    analytic : ndarray
        The gradient to check.
    numeric : ndarray
        Its finite-difference estimate, of the same shape.

    Example
    -------
    >>> relative_error(np.array([2.0, 0.5]), np.array([2.0, 0.5 + 1e-9])) < 1e-8
    True
    """
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

    Example
    -------
    >>> x = np.array([0.5, -1.0])
    >>> check_gradient('square', lambda x: float(np.sum(x ** 2)), lambda x: 2 * x, x) < 1e-8
    True
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


def gradcheck(model, x, y, sample_weight=None) -> dict[str, float]:
    """Check a compiled model's backpropagation against finite differences, in float64.

    The model is copied to float64 (its weights cast, its loss and regularizers kept);
    the gradient of the loss on ``x, y`` with respect to every weight, from backpropagation
    (the compiled step where it applies), is held to central differences of the loss.
    Dropout draws the same mask for every evaluation; batch normalization uses the batch's
    statistics, as in training. Each weight costs two forward passes: use a small batch.

    Parameters
    ----------
    model : Sequential
        Compiled; built, or built here from ``x``.
    x, y : array-like
        A batch and its targets, as ``fit`` takes them.
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    dict
        The worst relative error (:func:`relative_error`) of each layer with weights, by
        layer name: around 1e-9 when backpropagation is right.

    Example
    -------
    >>> import numpy as np, nncore as nn
    >>> x = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]]); y = np.array([[1.0], [0.0]])
    >>> model = nn.Sequential([nn.layers.Dense(3, input_dim=3, activation="elu"),
    ...                        nn.layers.Dense(1)], seed=0)
    >>> model.compile("sgd", "huber")
    >>> sorted(nn.gradcheck(model, x, y))
    ['dense', 'dense_1']
    """
    from nncore.models import Sequential  # the models import this module

    if not isinstance(model, Sequential) or not model.compiled:
        raise TypeError(f"model must be a compiled Sequential. Received: {model!r}")
    x, y, sw = model._prepare(x, y, sample_weight)
    model.build(x.shape[1])
    twin = Sequential.from_config({**model.get_config(), "dtype": "float64"},
                                  backend=model.ops.name)
    twin.set_weights(model.get_weights())
    twin.compile("sgd", model.loss)
    X, Y, W = twin._prepare(x, y, sw)
    # The same dropout masks for every evaluation: each forward pass starts from these.
    states = [(layer, layer.rng.bit_generator.state) for layer in twin._layers
              if hasattr(layer, "rng")]

    def loss() -> float:
        for layer, state in states:
            layer.rng.bit_generator.state = state
        return twin._loss(Y, twin._forward(X, training=True), W, grad=False)[0]

    for layer, state in states:
        layer.rng.bit_generator.state = state
    with twin._guard.training(twin.name):
        twin._gradients(X, Y, W)
    for layer, param, grad, reg in twin._penalties:
        twin.ops._regularization_grad(param.reshape(-1), grad.reshape(-1), reg.l1, reg.l2)
    return {layer.name: max(relative_error(g, numerical_gradient(lambda _: loss(), p))
                            for p, g in zip(layer.params, layer.grads))
            for layer in twin._layers if layer.params}
