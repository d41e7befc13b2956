"""A layer that applies an activation on its own: ``Y = act(X)``."""
from __future__ import annotations

from nncore import activations
from nncore.layers.base import Layer


class Activation(Layer):
    """keras.layers.Activation: no weights, ``Y = act(X)``.

    Example
    -------
    >>> import nncore as nn
    >>> nn.layers.Activation("tanh")
    Activation(activation='tanh')
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, X, training):
        Y = self._buffer("Y", X.shape)
        self.ops.activation(self.activation, X, out=Y)
        if training:
            self._cache = (X, Y)
        return Y

    def backward(self, dY, need_dX):
        if not need_dX:
            return None
        X, Y = self._training_pass()
        return self.ops.activation_backward(self.activation, dY, X, Y, out=dY)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}
