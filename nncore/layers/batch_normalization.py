"""Batch normalization: keep each feature's inputs centred and scaled while training."""
from __future__ import annotations

import numpy as np

from nncore import initializers
from nncore._checks import check_float
from nncore.layers.base import Layer


class BatchNormalization(Layer):
    """keras.layers.BatchNormalization over the feature axis (Ioffe & Szegedy, 2015).

    Training normalises with the batch's own mean and variance and updates the moving
    averages (``momentum`` 0.99); inference uses the moving averages. A frozen layer
    (``trainable=False``) runs in inference mode even inside ``fit``, as in Keras: it
    normalises with the moving averages and leaves them as they are (fine-tuning).
    ``gamma`` (scale) and ``beta`` (center) are learned; the moving statistics are non-trainable, so a
    layer over ``d`` features has ``2 d`` trainable and ``2 d`` non-trainable parameters.
    It eases vanishing and exploding gradients by keeping activations in a steady range.

    Parameters
    ----------
    momentum : float in [0, 1], default 0.99
        ``moving = momentum * moving + (1 - momentum) * batch``.
    epsilon : float, default 1e-3
        Added to the variance, > 0.
    center : bool, default True
        Learn ``beta``.
    scale : bool, default True
        Learn ``gamma``.
    beta_initializer, gamma_initializer : str or Initializer
        Defaults 'zeros' and 'ones'.
    moving_mean_initializer, moving_variance_initializer : str or Initializer
        Defaults 'zeros' and 'ones'.
    **kwargs
        ``input_dim``, ``input_shape``, ``name``, ``trainable``: see
        :class:`~nncore.layers.base.Layer`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.layers.BatchNormalization(momentum=0.9)
    BatchNormalization(momentum=0.9, epsilon=0.001, center=True, scale=True)
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 **kwargs):
        super().__init__(**kwargs)
        self.momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        self.epsilon = check_float(epsilon, "epsilon", low=0.0, low_open=True)
        self.center, self.scale = bool(center), bool(scale)
        self.initializers = {name: initializers.get_required(init, f"{name}_initializer")
                             for name, init in (
            ("gamma", gamma_initializer), ("beta", beta_initializer),
            ("moving_mean", moving_mean_initializer),
            ("moving_variance", moving_variance_initializer))}

    def build(self, input_dim, dtype, ops, rng):
        super().build(input_dim, dtype, ops, rng)
        make = {name: init((input_dim,), self.dtype, rng)
                for name, init in self.initializers.items()}
        # Without scale/center, gamma = 1 and beta = 0 stay constant and are not weights.
        self.gamma = make["gamma"] if self.scale else np.ones(input_dim, self.dtype)
        self.beta = make["beta"] if self.center else np.zeros(input_dim, self.dtype)
        self.moving_mean, self.moving_variance = make["moving_mean"], make["moving_variance"]
        self.weight_names = [n for n, keep in (("gamma", self.scale), ("beta", self.center))
                             if keep]
        self.params = [getattr(self, n) for n in self.weight_names]
        self.grads = [np.zeros_like(p) for p in self.params]
        self.state_names = ["moving_mean", "moving_variance"]
        self.state = [self.moving_mean, self.moving_variance]

    def weight_shapes(self, input_dim):
        return [(input_dim,)] * (int(self.scale) + int(self.center) + 2)

    def call(self, X, training):
        batch_statistics = training and self.trainable
        Y, xhat = self._buffer("Y", X.shape), self._buffer("xhat", X.shape)
        # A buffer of this thread's, like Y: inference writes inv_std too.
        inv_std = self._buffer("inv_std", (X.shape[1],))
        self.ops._batch_norm_forward(X, self.gamma, self.beta, self.moving_mean,
                                     self.moving_variance, batch_statistics, self.momentum,
                                     self.epsilon, Y, xhat, inv_std)
        if training:
            self._cache = (xhat, inv_std, batch_statistics)
        return Y

    def backward(self, dY, need_dX):
        xhat, inv_std, batch_statistics = self._training_pass()
        if not batch_statistics:
            # Frozen: the moving statistics are constants, so Y = gamma * (X - mean) *
            # inv_std + beta is affine in X and dX = dY * gamma * inv_std; gamma and beta
            # get no gradient (they do not train).
            return np.multiply(dY, self.gamma * inv_std, out=dY) if need_dX else None
        grads = dict(zip(self.weight_names, self.grads))
        d = self.input_dim
        self.ops._batch_norm_backward(dY, xhat, self.gamma, inv_std, dY,
                                      grads.get("gamma", self._buffer("dgamma", (d,))),
                                      grads.get("beta", self._buffer("dbeta", (d,))))
        return dY if need_dX else None

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}

    def __repr__(self) -> str:
        return (f"BatchNormalization(momentum={self.momentum}, epsilon={self.epsilon}, "
                f"center={self.center}, scale={self.scale})")
