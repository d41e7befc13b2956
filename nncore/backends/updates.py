"""The public ops on parameters: optimizer updates, regularization, dropout masks and
gradient clipping (a part of the backend interface, :class:`~nncore.backends.base.Backend`).

Each checks its arguments, then calls the backend's kernel: ``_sgd``, ``_adam``... on
flat arrays updated in place.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

import numpy as np

from nncore._checks import check_float
from nncore.backends.arrays import (
    FLOAT_DTYPES, _check_disjoint, _check_no_overlap, _inplace, as_float_array,
    as_output,
)


class ParameterOps:
    """Optimizer updates and parameter helpers of the backend interface.

    Example
    -------
    >>> import numpy as np, nncore as nn
    >>> ops = nn.get_backend('numpy')
    >>> w, g = np.ones(2), np.array([0.5, -1.0])
    >>> ops.sgd_update(w, g, learning_rate=0.1); w
    array([0.95, 1.1 ])
    """

    # ------------------------------------------------------------- optimizer updates
    def sgd_update(self, param: np.ndarray, grad: np.ndarray,
                   velocity: np.ndarray | None = None, *, learning_rate: float,
                   momentum: float = 0.0, nesterov: bool = False,
                   weight_decay: float = 0.0) -> None:
        """SGD in place, as keras.optimizers.SGD.

        Without momentum ``w -= lr * g``. With momentum (``velocity`` required)
        ``v = momentum * v - lr * g``, then ``w += v``, or with Nesterov
        ``w += momentum * v - lr * g``. Every update here first applies Keras 3's
        decoupled weight decay ``w -= lr * weight_decay * w``.

        Parameters
        ----------
        param : ndarray
            Writeable float32/float64 weights, updated in place.
        grad : ndarray
            Their gradient: same shape and dtype.
        velocity : ndarray or None
            State of param's shape, updated in place; required when momentum > 0.
        learning_rate : float
            >= 0.
        momentum : float in [0, 1], default 0.0
        nesterov : bool, default False
        weight_decay : float, default 0.0
            Decoupled decay, applied first.
        """
        w, g, (v,) = self._update_args(param, grad, velocity=velocity)
        lr, wd = self._lr_wd(learning_rate, weight_decay)
        momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        if momentum > 0.0 and v is None:
            raise ValueError("velocity is required when momentum > 0.")
        self._sgd(w, g, v if momentum > 0.0 else None, lr, momentum, bool(nesterov), wd)

    def adagrad_update(self, param: np.ndarray, grad: np.ndarray, accumulator: np.ndarray,
                       *, learning_rate: float, epsilon: float = 1e-7,
                       weight_decay: float = 0.0) -> None:
        """Adagrad in place (Duchi et al., 2011), as keras.optimizers.Adagrad.

        ``acc += g**2``; ``w -= lr * g / sqrt(acc + epsilon)``. Keras starts ``acc`` at
        ``initial_accumulator_value`` (0.1); the caller owns that state.

        Parameters
        ----------
        param : ndarray
            Writeable float32/float64 weights, updated in place.
        grad : ndarray
            Their gradient: same shape and dtype.
        accumulator : ndarray
            State of param's shape and dtype, updated in place.
        learning_rate : float
            >= 0.
        epsilon : float, default 1e-7
            Added to the denominator.
        weight_decay : float, default 0.0
            Decoupled decay, applied first.
        """
        w, g, (acc,) = self._update_args(param, grad, accumulator=accumulator)
        lr, wd = self._lr_wd(learning_rate, weight_decay)
        eps = check_float(epsilon, "epsilon", low=0.0)
        if acc is None:
            raise ValueError("accumulator is required.")
        self._adagrad(w, g, acc, lr, eps, wd)

    def rmsprop_update(self, param: np.ndarray, grad: np.ndarray, velocity: np.ndarray,
                       momentum_buffer: np.ndarray | None = None,
                       average_gradient: np.ndarray | None = None, *,
                       learning_rate: float, rho: float = 0.9, momentum: float = 0.0,
                       epsilon: float = 1e-7, centered: bool = False,
                       weight_decay: float = 0.0) -> None:
        """RMSprop in place (Hinton, lecture 6e), as keras.optimizers.RMSprop.

        ``v = rho * v + (1 - rho) * g**2``; centered also keeps
        ``a = rho * a + (1 - rho) * g`` and uses ``v - a**2``; the step is
        ``s = lr * g / sqrt(denominator + epsilon)``; with momentum
        ``mom = momentum * mom + s; w -= mom``, else ``w -= s``.

        Parameters
        ----------
        param : ndarray
            Writeable float32/float64 weights, updated in place.
        grad : ndarray
            Their gradient: same shape and dtype.
        velocity : ndarray
            State of param's shape and dtype, updated in place.
        momentum_buffer : ndarray or None
            Required when momentum > 0.
        average_gradient : ndarray or None
            Required when centered.
        learning_rate : float
            >= 0.
        rho : float in [0, 1], default 0.9
        momentum : float in [0, 1], default 0.0
        epsilon : float, default 1e-7
            Added to the denominator.
        centered : bool, default False
        weight_decay : float, default 0.0
            Decoupled decay, applied first.
        """
        w, g, (v, mom, avg) = self._update_args(
            param, grad, velocity=velocity, momentum_buffer=momentum_buffer,
            average_gradient=average_gradient)
        lr, wd = self._lr_wd(learning_rate, weight_decay)
        rho = check_float(rho, "rho", low=0.0, high=1.0)
        momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        eps = check_float(epsilon, "epsilon", low=0.0)
        if v is None:
            raise ValueError("velocity is required.")
        if momentum > 0.0 and mom is None:
            raise ValueError("momentum_buffer is required when momentum > 0.")
        if centered and avg is None:
            raise ValueError("average_gradient is required when centered=True.")
        self._rmsprop(w, g, v, mom if momentum > 0.0 else None, avg if centered else None,
                      lr, rho, momentum, eps, wd)

    def adam_update(self, param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray,
                    vhat: np.ndarray | None = None, *, step: int, learning_rate: float,
                    beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                    amsgrad: bool = False, weight_decay: float = 0.0) -> None:
        """Adam in place (Kingma & Ba, 2015), as keras.optimizers.Adam; AdamW with decay.

        For step ``t >= 1`` (counted from 1): ``m += (1 - beta_1) * (g - m)``;
        ``v += (1 - beta_2) * (g**2 - v)``; with AMSGrad ``vhat = max(vhat, v)`` is used
        in place of ``v``; ``w -= alpha * m / (sqrt(v) + epsilon)`` with
        ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``. AdamW (Loshchilov &
        Hutter, 2019) is this with ``weight_decay`` > 0, applied first as
        ``w -= lr * weight_decay * w``.

        Parameters
        ----------
        param : ndarray
            Writeable float32/float64 weights, updated in place.
        grad : ndarray
            Their gradient: same shape and dtype.
        m, v : ndarray
            First and second moments, of param's shape, updated in place.
        vhat : ndarray or None
            Required when amsgrad.
        step : int
            The step ``t``, from 1.
        learning_rate : float
            >= 0.
        beta_1, beta_2 : float in [0, 1), defaults 0.9 and 0.999
        epsilon : float, default 1e-7
            Added to the denominator.
        amsgrad : bool, default False
        weight_decay : float, default 0.0
            Decoupled decay, applied first.
        """
        w, g, (m, v, vhat) = self._update_args(param, grad, m=m, v=v, vhat=vhat)
        lr, wd = self._lr_wd(learning_rate, weight_decay)
        if m is None or v is None:
            raise ValueError("m and v are required.")
        if amsgrad and vhat is None:
            raise ValueError("vhat is required when amsgrad=True.")
        if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral) \
                or step < 1:
            raise ValueError(f"step must be an integer >= 1. Received: step={step!r}")
        b1 = check_float(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        b2 = check_float(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        eps = check_float(epsilon, "epsilon", low=0.0)
        self._adam(w, g, m, v, vhat if amsgrad else None, lr, b1, b2, eps, int(step), wd)

    def _lr_wd(self, learning_rate, weight_decay) -> tuple[float, float]:
        return (check_float(learning_rate, "learning_rate", low=0.0),
                check_float(weight_decay, "weight_decay", low=0.0))

    def _update_args(self, param, grad, **state):
        """Flat views of param, grad and state; state must match param exactly."""
        w = _inplace(param, "param", None, None)
        g = as_float_array(grad, "grad", w.dtype)
        if g.shape != w.shape:
            raise ValueError(f"grad must have the shape of param {w.shape}. "
                             f"Received: grad.shape={g.shape}")
        flat = []
        for name, arr in state.items():
            if arr is not None:
                arr = _inplace(arr, name, w.shape, w.dtype)
                _check_no_overlap(arr, name, param=w, grad=g,
                                  **{k: s for k, s in zip(state, flat) if s is not None})
                arr = arr.reshape(-1)
            flat.append(arr)
        _check_no_overlap(w, "param", grad=g)
        return w.reshape(-1), g.reshape(-1), flat

    # ------------------------------------------------------------- helpers
    def regularization_loss(self, W: np.ndarray, *, l1: float = 0.0, l2: float = 0.0) -> float:
        """``l1 * sum(|W|) + l2 * sum(W**2)``, as keras.regularizers.L1L2.

        Parameters
        ----------
        W : ndarray
            float32/float64 weights.
        l1, l2 : float >= 0, default 0.0
        """
        W = as_float_array(W, "W")
        l1, l2 = check_float(l1, "l1", low=0.0), check_float(l2, "l2", low=0.0)
        return self._regularization_loss(W.reshape(-1), l1, l2)

    def add_regularization_grad(self, W: np.ndarray, dW: np.ndarray, *, l1: float = 0.0,
                                l2: float = 0.0) -> np.ndarray:
        """``dW += l1 * sign(W) + 2 * l2 * W`` in place (the gradient of the penalty).

        Parameters
        ----------
        W : ndarray
            float32/float64 weights.
        dW : ndarray
            Their gradient, added to in place; returned.
        l1, l2 : float >= 0, default 0.0
        """
        W = as_float_array(W, "W")
        dW = _inplace(dW, "dW", W.shape, W.dtype)
        _check_no_overlap(dW, "dW", W=W)
        l1, l2 = check_float(l1, "l1", low=0.0), check_float(l2, "l2", low=0.0)
        self._regularization_grad(W.reshape(-1), dW.reshape(-1), l1, l2)
        return dW

    def dropout_mask(self, shape: Sequence[int], rate: float, rng: np.random.Generator, *,
                     dtype=np.float32, out: np.ndarray | None = None) -> np.ndarray:
        """Inverted-dropout mask: ``1 / (1 - rate)`` where ``u >= rate``, else 0.

        ``u`` are uniforms drawn from ``rng`` (a numpy Generator, so the same seed gives
        the same mask on every backend). Multiplying activations by the mask keeps their
        expected value, so inference needs no rescaling.

        Parameters
        ----------
        shape : sequence of int
        rate : float in [0, 1)
            Drop probability.
        rng : numpy.random.Generator
        dtype : float32 or float64, default float32
        out : ndarray or None
            Written in place and returned if given.
        """
        rate = check_float(rate, "rate", low=0.0, high=1.0, high_open=True)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator. Received: {type(rng).__name__}")
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
        if dt is None or dt not in FLOAT_DTYPES:  # (dtype("float64") == None is True)
            raise TypeError(f"dtype must be float32 or float64. Received: dtype={dtype!r}")
        dtype = dt
        # Integers only: int() would take "3" or 2.5 (truncated) and iterate over a string.
        dims = tuple(shape) if not isinstance(shape, (str, bytes)) and \
            isinstance(shape, Iterable) else None
        if dims is None or not all(isinstance(s, numbers.Integral) and
                                   not isinstance(s, (bool, np.bool_)) for s in dims):
            raise TypeError(f"shape must be a sequence of integers. Received: shape={shape!r}")
        shape = tuple(int(s) for s in dims)
        if any(s < 0 for s in shape):
            raise ValueError(f"shape must not be negative. Received: shape={shape}")
        mask = as_output(out, "out", shape, dtype)
        rng.random(out=mask.reshape(-1), dtype=dtype)
        self._dropout_mask(mask.reshape(-1), rate)
        return mask

    def clip_by_value(self, grad: np.ndarray, clipvalue: float) -> np.ndarray:
        """Clip every element of ``grad`` to [-clipvalue, clipvalue] in place.

        Parameters
        ----------
        grad : ndarray
            Clipped in place and returned.
        clipvalue : float
            >= 0.
        """
        g = _inplace(grad, "grad", None, None)
        c = check_float(clipvalue, "clipvalue", low=0.0)
        self._clip_by_value(g.reshape(-1), c)
        return g

    def clip_by_norm(self, grad: np.ndarray, clipnorm: float) -> float:
        """Rescale ``grad`` in place so its L2 norm is at most ``clipnorm``; return the norm
        before clipping (Keras ``clipnorm``: each tensor on its own).

        Parameters
        ----------
        grad : ndarray
            Rescaled in place.
        clipnorm : float
            > 0.
        """
        # Checked here so that a refusal names this op's argument, not "grads".
        return self.clip_by_global_norm([_inplace(grad, "grad", None, None)], clipnorm)

    def global_norm(self, grads: Sequence[np.ndarray]) -> float:
        """``sqrt(sum of squares of every element of every array)``.

        Parameters
        ----------
        grads : sequence of ndarray
        """
        return math.sqrt(sum(self._sum_squares(as_float_array(g, "grads").reshape(-1))
                             for g in grads))

    def clip_by_global_norm(self, grads: Sequence[np.ndarray], clipnorm: float) -> float:
        """Scale all ``grads`` in place by ``clipnorm / max(norm, clipnorm)`` where ``norm``
        is their global norm (Keras ``global_clipnorm``); return that norm.

        Parameters
        ----------
        grads : sequence of ndarray
            Disjoint arrays, rescaled in place.
        clipnorm : float
            > 0.
        """
        c = check_float(clipnorm, "clipnorm", low=0.0, low_open=True)
        flat = [_inplace(g, "grads", None, None).reshape(-1) for g in grads]
        _check_disjoint(flat, "grads")
        norm = math.sqrt(sum(self._sum_squares(g) for g in flat))
        if norm > c:
            for g in flat:
                self._scale(g, c / norm)
        return norm
