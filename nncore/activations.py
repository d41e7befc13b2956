"""Activation functions on arrays, as keras.activations, computed by the current backend.

Each takes an array-like ``x`` (any shape; softmax acts on the last axis) and returns a
new float array; integer input is computed in float32 (Keras's floatx), float64 stays
float64.

Example
-------
>>> import nncore as nn
>>> nn.activations.softmax([[1.0, 2.0, 0.0]]).round(4)
array([[0.2447, 0.6652, 0.09  ]])
"""
from __future__ import annotations

import numpy as np

from nncore.backends import get_backend
from nncore.backends.base import ACTIVATIONS, DEFAULT_ALPHA, activation_name
from nncore._checks import compute_dtype, to_array
from nncore.finite_differences import check_gradient


def _apply(name: str, x, alpha: float | None = None) -> np.ndarray:
    arr = to_array(x, "x", compute_dtype(x), ndim=tuple(range(1, 33)), allow_empty=True)
    return get_backend().activation(name, arr, alpha=alpha)


def linear(x) -> np.ndarray:
    """``x`` unchanged (as a float array).

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> linear([-1, 2])
    array([-1.,  2.], dtype=float32)
    """
    return _apply("linear", x)


def step(x) -> np.ndarray:
    """The perceptron's step: 1 where ``x > 0`` else 0 (its gradient is zero).

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> step([-1.0, 0.0, 2.0])
    array([0., 0., 1.])
    """
    return _apply("step", x)


def sigmoid(x) -> np.ndarray:
    """``1 / (1 + exp(-x))``, without overflow for large ``|x|``.

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> sigmoid([0.0, 2.0]).round(4)
    array([0.5   , 0.8808])
    """
    return _apply("sigmoid", x)


def tanh(x) -> np.ndarray:
    """Hyperbolic tangent.

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> tanh([0.0, 1.0]).round(4)
    array([0.    , 0.7616])
    """
    return _apply("tanh", x)


def relu(x) -> np.ndarray:
    """``max(x, 0)``.

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> relu([-1.0, 2.0])
    array([0., 2.])
    """
    return _apply("relu", x)


def leaky_relu(x, negative_slope: float = DEFAULT_ALPHA["leaky_relu"]) -> np.ndarray:
    """``x`` where positive, ``negative_slope * x`` elsewhere (keeps a gradient alive).

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.
    negative_slope : float, default 0.2
        Slope where ``x <= 0`` (Keras's default).

    Example
    -------
    >>> leaky_relu([-1.0, 2.0], negative_slope=0.1)
    array([-0.1,  2. ])
    """
    return _apply("leaky_relu", x, negative_slope)


def elu(x, alpha: float = DEFAULT_ALPHA["elu"]) -> np.ndarray:
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere.

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.
    alpha : float, default 1.0
        Value ``elu`` tends to, negated, as ``x -> -inf``.

    Example
    -------
    >>> elu([-1.0, 2.0]).round(4)
    array([-0.6321,  2.    ])
    """
    return _apply("elu", x, alpha)


def gelu(x) -> np.ndarray:
    """``x * Phi(x)`` with the exact normal CDF (Keras's default, approximate=False).

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> gelu([-1.0, 1.0]).round(4)
    array([-0.1587,  0.8413])
    """
    return _apply("gelu", x)


def softplus(x) -> np.ndarray:
    """``log(1 + exp(x))``, computed stably.

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> softplus([0.0, 1.0]).round(4)
    array([0.6931, 1.3133])
    """
    return _apply("softplus", x)


def softmax(x) -> np.ndarray:
    """``exp(x - max) / sum(exp(x - max))`` along the last axis: rows sum to 1.

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> softmax([[1.0, 2.0, 0.0]]).sum()
    np.float64(0.9999999999999999)
    """
    return _apply("softmax", x)


def selu(x) -> np.ndarray:
    """``scale * x`` where positive, ``scale * alpha * (exp(x) - 1)`` elsewhere, with
    alpha = 1.6733 and scale = 1.0507 (self-normalizing with lecun_normal weights).

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> selu([-1.0, 1.0]).round(4)
    array([-1.1113,  1.0507])
    """
    return _apply("selu", x)


def silu(x) -> np.ndarray:
    """``x * sigmoid(x)`` (also called swish).

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> silu([-1.0, 1.0]).round(4)
    array([-0.2689,  0.7311])
    """
    return _apply("silu", x)


def swish(x) -> np.ndarray:
    """silu under its other name: ``x * sigmoid(x)``.

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> swish([1.0]) == silu([1.0])
    array([ True])
    """
    return _apply("silu", x)


def mish(x) -> np.ndarray:
    """``x * tanh(softplus(x))``.

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> mish([-1.0, 1.0]).round(4)
    array([-0.3034,  0.8651])
    """
    return _apply("mish", x)


def relu6(x) -> np.ndarray:
    """``min(max(x, 0), 6)``.

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> relu6([-1.0, 3.0, 9.0])
    array([0., 3., 6.])
    """
    return _apply("relu6", x)


def hard_sigmoid(x) -> np.ndarray:
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between (Keras 3's).

    Parameters
    ----------
    x : array-like
        Input of any shape; integers are computed in float32.

    Example
    -------
    >>> hard_sigmoid([-4.0, 0.0, 4.0])
    array([0. , 0.5, 1. ])
    """
    return _apply("hard_sigmoid", x)


class CustomActivation:
    """An activation of your own, on NumPy arrays, with its derivative.

    Either subclass it and define ``call(x)`` and ``gradient(x)`` (the elementwise
    derivative ``dy/dx``, of ``x``'s shape), or give both functions:
    ``CustomActivation(fn, gradient)`` (``Dense(activation=(fn, gradient))`` makes one).
    A layer given one checks the derivative against finite differences in float64
    (:mod:`nncore.finite_differences`) at points of [-3, 3] and refuses a wrong one; it then runs
    layer by layer (no compiled step) on either backend. A model file holds no code:
    ``save`` refuses a model with one.

    Parameters
    ----------
    fn : callable, optional
        ``fn(x) -> y``, elementwise on a NumPy array; else define ``call``.
    gradient : callable, optional
        ``gradient(x) -> dy/dx`` of ``x``'s shape; else define ``gradient``.
    name : str, optional
        Defaults to ``fn.__name__``, else the class name; not a built-in's.

    Example
    -------
    >>> import numpy as np, nncore as nn
    >>> cube = nn.activations.CustomActivation(lambda x: x ** 3, lambda x: 3 * x ** 2)
    >>> nn.layers.Dense(2, activation=cube).activation
    '<lambda>'
    """

    def __init__(self, fn=None, gradient=None, name: str | None = None):
        for arg, value in (("fn", fn), ("gradient", gradient)):
            if value is not None and not callable(value):
                raise TypeError(f"{arg} must be callable. Received: {arg}={value!r}")
        self._fn, self._gradient = fn, gradient
        self.name = name or getattr(fn, "__name__", None) or type(self).__name__
        if self.name.lower() in ACTIVATIONS or self.name.lower() in ("swish", "identity"):
            raise ValueError(f"name {self.name!r} is a built-in activation's; give another "
                             f"name.")

    def call(self, x: np.ndarray) -> np.ndarray:
        """The activation of ``x`` (a NumPy array), of its shape: ``fn(x)`` by default.

        Parameters
        ----------
        x : ndarray
        """
        if self._fn is None:
            raise NotImplementedError("Give CustomActivation a function, or define call().")
        return self._fn(x)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """The elementwise derivative ``dy/dx`` at ``x``: ``gradient(x)`` by default.

        Parameters
        ----------
        x : ndarray
        """
        if self._gradient is None:
            raise NotImplementedError("Give CustomActivation its derivative, or define "
                                      "gradient().")
        return self._gradient(x)

    def check(self) -> None:
        """The finite-difference check of ``gradient`` at points of [-3, 3] (away from 0,
        where activations tend to have their kinks)."""
        if getattr(self, "_checked", False):
            return
        x = np.random.default_rng(0).uniform(0.1, 3.0, (3, 4)) * [1, -1, 1, -1]
        check_gradient(f"activation {self.name!r}", lambda x: float(np.sum(self.values(x))),
                       self.derivatives, x)
        self._checked = True

    def values(self, x: np.ndarray) -> np.ndarray:
        """``call``'s result, checked: x's shape.

        Parameters
        ----------
        x : ndarray
        """
        return self._checked_shape(self.call(x), x, "return")

    def derivatives(self, x: np.ndarray) -> np.ndarray:
        """``gradient``'s result, checked: x's shape.

        Parameters
        ----------
        x : ndarray
        """
        return self._checked_shape(self.gradient(x), x, "gradient")

    def _checked_shape(self, result, x, what: str) -> np.ndarray:
        result = np.asarray(result)
        if result.shape != x.shape:
            raise ValueError(f"activation {self.name!r} must {what} an array of its input's "
                             f"shape {x.shape}. Received: shape {result.shape}")
        return result

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def get(identifier) -> str:
    """The canonical activation name for a name, None (linear) or one of these functions.

    Parameters
    ----------
    identifier : str, None or function
        An activation's name (case-insensitive), None for linear, or a function of this
        module.

    Example
    -------
    >>> get(None), get(relu)
    ('linear', 'relu')
    """
    if callable(identifier) and getattr(identifier, "__module__", None) == __name__:
        identifier = identifier.__name__
    return activation_name(identifier)


__all__ = list(ACTIVATIONS) + ["CustomActivation", "swish", "get"]
