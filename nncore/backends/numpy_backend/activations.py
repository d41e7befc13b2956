"""Activations and their derivatives in NumPy: the definition the native kernels follow.

``forward(code, Z, Y, alpha)`` writes ``Y = act(Z)`` and ``backward(code, dY, Z, Y,
alpha, dZ)`` writes ``dZ = dY * act'(Z)``, on 2-D arrays (rows, d); softmax acts on each
row. ``Y`` may be ``Z`` and ``dZ`` may be ``dY``: every function computes what it needs
from its inputs before it writes its output. Derivatives use ``Y`` where the math allows
(sigmoid ``Y (1 - Y)``, tanh ``1 - Y**2``, elu ``Y + alpha``, softmax), which saves
recomputing an exponential.

Conventions are Keras 3's (``keras.activations``): leaky_relu's ``alpha`` is its
``negative_slope`` (0.2), elu's ``alpha`` is 1.0, gelu is the exact one
(``approximate=False``), hard_sigmoid is ``relu6(z + 3) / 6``; swish is silu.

Example
-------
>>> import numpy as np
>>> Z = np.array([[-1.0, 0.0, 2.0]])
>>> Y = np.empty_like(Z)
>>> forward(ACTIVATION_CODES["relu"], Z, Y, 0.0); Y
array([[0., 0., 2.]])
"""
from __future__ import annotations

import math

import numpy as np

from nncore.backends.base import ACTIVATION_CODES


# --------------------------------------------------------------------------- forward
def _linear(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    np.copyto(Y, Z)


def _step(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    np.greater(Z, 0, out=Y)  # 1 where z > 0, else 0 (the perceptron's threshold)


def _sigmoid(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    # Two branches so no exp overflows: with E = exp(-|z|) <= 1,
    # z >= 0: 1 / (1 + exp(-z)) = 1 / (1 + E);  z < 0: exp(z) / (1 + exp(z)) = E / (1 + E).
    E = np.exp(-np.abs(Z))
    np.divide(np.where(Z >= 0, 1, E), 1 + E, out=Y)


def _tanh(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    np.tanh(Z, out=Y)


def _relu(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    np.maximum(Z, 0, out=Y)


def _leaky_relu(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    np.copyto(Y, np.where(Z > 0, Z, alpha * Z))


def _elu(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    # expm1 is exact near 0 where exp(z) - 1 cancels; min(z, 0) keeps it from overflowing
    # on the branch np.where throws away.
    np.copyto(Y, np.where(Z > 0, Z, alpha * np.expm1(np.minimum(Z, 0))))


def _ndtr(Z: np.ndarray) -> np.ndarray:
    """The standard normal CDF Phi, accurate in both tails (scipy's ndtr). Imported here:
    scipy.special takes longer to import than the rest of nncore together."""
    from scipy.special import ndtr

    return ndtr(Z)


def _gelu(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    # Exact GELU (Hendrycks & Gimpel, 2016): z * Phi(z), Phi(z) = (1 + erf(z / sqrt 2)) / 2.
    np.multiply(Z, _ndtr(Z), out=Y)


def _softplus(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    # log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)): exp never overflows.
    np.add(np.maximum(Z, 0), np.log1p(np.exp(-np.abs(Z))), out=Y)


#: SELU's constants (Klambauer et al., 2017), as PyTorch and TensorFlow write them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _selu(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    # scale * elu(z, alpha): self-normalizing with lecun_normal weights.
    np.copyto(Y, np.where(Z > 0, SELU_SCALE * Z,
                          (SELU_SCALE * SELU_ALPHA) * np.expm1(np.minimum(Z, 0))))


def _silu(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    S = np.empty_like(Z)
    _sigmoid(Z, S, alpha)
    np.multiply(Z, S, out=Y)  # swish: z sigmoid(z) (Ramachandran et al., 2017)


def _mish(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    T = np.empty_like(Z)
    _softplus(Z, T, alpha)
    np.multiply(Z, np.tanh(T), out=Y)  # z tanh(softplus(z)) (Misra, 2019)


def _relu6(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    np.minimum(np.maximum(Z, 0), 6, out=Y)


def _hard_sigmoid(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    # relu6(z + 3) / 6, Keras 3's and PyTorch's (Keras 2's was clip(0.2 z + 0.5, 0, 1)).
    np.divide(np.minimum(np.maximum(Z + 3, 0), 6), 6, out=Y)


def _softmax(Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    if Z.size == 0:  # np.max of an empty row has no value
        return
    # softmax(z) = softmax(z - c) for any c; c = max z makes every exponent <= 0.
    np.subtract(Z, Z.max(axis=1, keepdims=True), out=Y)
    np.exp(Y, out=Y)
    Y /= Y.sum(axis=1, keepdims=True)


_FORWARD = {
    "linear": _linear, "step": _step, "sigmoid": _sigmoid, "tanh": _tanh, "relu": _relu,
    "leaky_relu": _leaky_relu, "elu": _elu, "gelu": _gelu, "softplus": _softplus,
    "softmax": _softmax, "selu": _selu, "silu": _silu, "mish": _mish, "relu6": _relu6,
    "hard_sigmoid": _hard_sigmoid,
}
_FORWARD_BY_CODE = {ACTIVATION_CODES[name]: fn for name, fn in _FORWARD.items()}


def forward(code: int, Z: np.ndarray, Y: np.ndarray, alpha: float) -> None:
    """``Y = act(Z)`` for the activation numbered ``code``; Z, Y (rows, d), Y may be Z.

    Parameters
    ----------
    code : int
        The activation's number in ``ACTIVATION_CODES``.
    Z, Y : ndarray of shape (rows, d)
        Input, and output written in place.
    alpha : float
        leaky_relu's slope or elu's alpha (ignored by the others).

    Example
    -------
    >>> Z = np.array([[-1.0, 2.0]])
    >>> forward(ACTIVATION_CODES['relu'], Z, Z, 0.0); Z
    array([[0., 2.]])
    """
    _FORWARD_BY_CODE[code](Z, Y, alpha)


# --------------------------------------------------------------------------- backward
# Each returns act'(Z), elementwise; backward() multiplies it into dY.
def _d_linear(Z, Y, alpha):
    return 1


def _d_step(Z, Y, alpha):
    return 0  # flat on both sides of its jump: no gradient flows back


def _d_sigmoid(Z, Y, alpha):
    return Y * (1 - Y)


def _d_tanh(Z, Y, alpha):
    return 1 - Y * Y


def _d_relu(Z, Y, alpha):
    return Z > 0


def _d_leaky_relu(Z, Y, alpha):
    return np.where(Z > 0, 1, alpha).astype(Z.dtype)


def _d_elu(Z, Y, alpha):
    return np.where(Z > 0, 1, Y + alpha)  # z <= 0: alpha * exp(z) = y + alpha


def _d_gelu(Z, Y, alpha):
    # d/dz z Phi(z) = Phi(z) + z phi(z), phi the standard normal density.
    return _ndtr(Z) + Z * np.exp(-0.5 * Z * Z) / math.sqrt(2 * math.pi)


def _d_softplus(Z, Y, alpha):
    S = np.empty_like(Z)
    _sigmoid(Z, S, alpha)  # d/dz log(1 + exp(z)) = sigmoid(z)
    return S


def _d_selu(Z, Y, alpha):
    # z <= 0: scale alpha exp(z) = y + scale alpha
    return np.where(Z > 0, SELU_SCALE, Y + SELU_SCALE * SELU_ALPHA)


def _d_silu(Z, Y, alpha):
    S = _d_softplus(Z, Y, alpha)  # sigmoid(z)
    return S * (1 + Z * (1 - S))


def _d_mish(Z, Y, alpha):
    T = np.empty_like(Z)
    _softplus(Z, T, alpha)
    np.tanh(T, out=T)
    return T + Z * (1 - T * T) * _d_softplus(Z, Y, alpha)


def _d_relu6(Z, Y, alpha):
    return (Z > 0) & (Z < 6)


def _d_hard_sigmoid(Z, Y, alpha):
    return ((Z > -3) & (Z < 3)) / Z.dtype.type(6)


_DERIVATIVE = {
    "linear": _d_linear, "step": _d_step, "sigmoid": _d_sigmoid, "tanh": _d_tanh,
    "relu": _d_relu, "leaky_relu": _d_leaky_relu, "elu": _d_elu, "gelu": _d_gelu,
    "softplus": _d_softplus, "selu": _d_selu, "silu": _d_silu, "mish": _d_mish,
    "relu6": _d_relu6, "hard_sigmoid": _d_hard_sigmoid,
}
_DERIVATIVE_BY_CODE = {ACTIVATION_CODES[name]: fn for name, fn in _DERIVATIVE.items()}
_SOFTMAX = ACTIVATION_CODES["softmax"]


def backward(code: int, dY: np.ndarray, Z: np.ndarray, Y: np.ndarray, alpha: float,
             dZ: np.ndarray) -> None:
    """``dZ = dY * act'(Z)`` given the forward's ``Z`` and ``Y``; dZ may be dY.

    Softmax mixes a row: its Jacobian ``J = diag(y) - y y^T`` is symmetric, so the
    gradient is ``J dy = y * (dy - sum(dy * y))``, without forming J.

    Parameters
    ----------
    code : int
        The activation's number in ``ACTIVATION_CODES``.
    dY : ndarray of shape (rows, d)
        dL/dY.
    Z, Y : ndarray of shape (rows, d)
        The forward pass's input and output.
    alpha : float
        leaky_relu's slope or elu's alpha (ignored by the others).
    dZ : ndarray of shape (rows, d)
        dL/dZ, written in place.

    Example
    -------
    >>> Z = np.array([[-1.0, 2.0]]); dZ = np.empty_like(Z)
    >>> backward(ACTIVATION_CODES['relu'], np.ones_like(Z), Z, np.maximum(Z, 0), 0.0, dZ)
    >>> dZ
    array([[0., 1.]])
    """
    if code == _SOFTMAX:
        s = np.sum(dY * Y, axis=1, keepdims=True)
        np.subtract(dY, s, out=dZ)
        np.multiply(dZ, Y, out=dZ)
    else:
        np.multiply(dY, _DERIVATIVE_BY_CODE[code](Z, Y, alpha), out=dZ)
