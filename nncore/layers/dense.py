"""The fully connected layer: ``Y = activation(X @ W + b)``."""
from __future__ import annotations

import numpy as np

from nncore import initializers, regularizers
from nncore.backends.base import ACTIVATION_CODES
from nncore.layers import activation as activation_layers
from nncore.layers.base import Layer
from nncore._checks import MAX_WIDTH, check_int


class Dense(Layer):
    """A dense (fully connected) layer, as keras.layers.Dense.

    Every output unit sees every input: ``Y = act(X @ W + b)`` with ``W`` of shape
    (inputs, units) and ``b`` of shape (units,), so it has ``inputs * units + units``
    parameters (Dense(8, input_dim=4) has 40). ``activation`` is a name, None (linear), a
    function of :mod:`nncore.activations`, or a LeakyReLU or ELU layer to set the slope
    (the course's leaky ReLU takes 0.001: ``activation=nn.layers.LeakyReLU(0.001)``).

    Parameters
    ----------
    units : int
        Number of outputs, >= 1.
    activation : str, callable, layer, pair or None, default None
        See above; a pair ``(fn, gradient)`` is a
        :class:`~nncore.activations.CustomActivation`.
    use_bias : bool, default True
        Add ``b``.
    kernel_initializer : str or Initializer, default 'glorot_uniform'
    bias_initializer : str or Initializer, default 'zeros'
    kernel_regularizer : str, L1L2 or None
        Penalty on ``W`` added to the loss.
    bias_regularizer : str, L1L2 or None
        Penalty on ``b``.
    **kwargs
        ``input_dim``, ``input_shape``, ``name``, ``trainable``: see
        :class:`~nncore.layers.base.Layer`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.layers.Dense(8, input_dim=4, activation="relu")
    Dense(units=8, activation='relu', use_bias=True, input_dim=4)
    """

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_int(units, "units", low=1, high=MAX_WIDTH)
        # The name, and the kernels' parameter (leaky_relu's slope, elu's alpha; else 0).
        # _custom: an activation of your own, run in NumPy after the kernels' linear pass.
        self.activation, self._alpha, self._custom = activation_layers.resolve(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get_required(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get_required(bias_initializer, "bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_dim, dtype, ops, rng):
        super().build(input_dim, dtype, ops, rng)
        self.kernel = self.kernel_initializer((input_dim, self.units), self.dtype, rng)
        self.params, self.weight_names = [self.kernel], ["kernel"]
        if self.use_bias:
            self.bias = self.bias_initializer((self.units,), self.dtype, rng)
            self.params.append(self.bias)
            self.weight_names.append("bias")
        else:
            self.bias = None
        self.grads = [p.copy() for p in self.params]
        # Resolved once: forward and backward call the backend's kernels directly, on
        # arrays this layer allocated and the model checked at its edge.
        self._code = ACTIVATION_CODES["linear" if self._custom else self.activation]

    def output_dim(self, input_dim):
        return self.units

    def weight_shapes(self, input_dim):
        return [(input_dim, self.units)] + ([(self.units,)] if self.use_bias else [])

    def call(self, X, training):
        n = X.shape[0]
        Z = self._buffer("Z", (n, self.units))
        # A linear layer's output is Z itself (the kernels allow Y to be Z).
        Y = Z if self.activation == "linear" else self._buffer("Y", Z.shape)
        self.ops._dense_forward(X, self.kernel, self.bias, self._code, self._alpha, Z,
                                Z if self._custom else Y)
        if self._custom:
            np.copyto(Y, self._custom.values(Z), casting="same_kind")
        if training:
            self._cache = (X, Z, Y)
        return Y

    def _logits(self, n: int):
        """The pre-activation ``Z`` of this thread's last pass over ``n`` rows."""
        return self._buffer("Z", (n, self.units))

    def backward(self, dY, need_dX, from_logits=False):
        """``from_logits``: ``dY`` is already dL/dZ (a loss fused with this layer's softmax
        or sigmoid computed it), so the activation's backward is skipped."""
        X, Z, Y = self._training_pass()
        dX = self._buffer("dX", X.shape) if need_dX else None
        code = ACTIVATION_CODES["linear"] if from_logits else self._code
        if self._custom and not from_logits:  # dZ = dY * act'(Z), in place
            np.multiply(dY, self._custom.derivatives(Z), out=dY, casting="same_kind")
        self.ops._dense_backward(dY, X, self.kernel, Z, Y, code, self._alpha, dY,
                                 self.grads[0], self.grads[1] if self.use_bias else None, dX)
        return dX

    def regularized(self):
        pairs = [(self.kernel, self.grads[0], self.kernel_regularizer)]
        if self.use_bias:
            pairs.append((self.bias, self.grads[1], self.bias_regularizer))
        return [(p, g, r) for p, g, r in pairs if r is not None]

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activation_layers.serialize(self.activation, self._alpha),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "input_dim": self.input_dim}

    def __repr__(self) -> str:
        extra = f", input_dim={self.input_dim}" if self.input_dim else ""
        activation = activation_layers.serialize(self.activation, self._alpha)
        if isinstance(activation, dict):
            (key, value), = activation["config"].items()
            activation = f"{activation['class_name']}({key}={value!r})"
        else:
            activation = repr(activation)
        return (f"Dense(units={self.units}, activation={activation}, "
                f"use_bias={self.use_bias}{extra})")
