"""Layers that apply an activation on their own, ``Y = act(X)``: Activation, and the
activations with a parameter as Keras has them (LeakyReLU, ELU) plus Softmax."""
from __future__ import annotations

import warnings

import numpy as np

from nncore import activations
from nncore._checks import check_float
from nncore.backends.base import DEFAULT_ALPHA
from nncore.layers.base import Layer


class Activation(Layer):
    """keras.layers.Activation: no weights, ``Y = act(X)``.

    Parameters
    ----------
    activation : str, callable or pair
        A name, a function of :mod:`nncore.activations`, or an activation of your own.
    **kwargs
        ``input_dim``, ``input_shape``, ``name``, ``trainable``: see
        :class:`~nncore.layers.base.Layer`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.layers.Activation("tanh")
    Activation(activation='tanh')
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        if isinstance(activation, Layer):
            raise TypeError(f"activation must be a name or a function. Received: "
                            f"{type(activation).__name__} (a layer: use it as one)")
        # The kernels' parameter of leaky_relu (its slope) and elu (0 for the others), and
        # an activation of your own (run in NumPy) or None.
        self.activation, self._alpha, self._custom = resolve(activation)

    def call(self, X, training):
        Y = self._buffer("Y", X.shape)
        if self._custom:
            np.copyto(Y, self._custom.values(X), casting="same_kind")
        else:
            self.ops.activation(self.activation, X, out=Y, alpha=self._alpha)
        if training:
            self._cache = (X, Y)
        return Y

    def backward(self, dY, need_dX):
        if not need_dX:
            return None
        X, Y = self._training_pass()
        if self._custom:
            return np.multiply(dY, self._custom.derivatives(X), out=dY, casting="same_kind")
        return self.ops.activation_backward(self.activation, dY, X, Y, out=dY,
                                            alpha=self._alpha)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class LeakyReLU(Activation):
    """keras.layers.LeakyReLU: ``x`` where positive, ``negative_slope * x`` elsewhere.

    The layer's default slope is Keras's, 0.3 (``nn.activations.leaky_relu``'s is 0.2).
    ``alpha=`` is taken for ``negative_slope`` with a warning, as Keras 3 does. As the
    ``activation`` of a Dense layer it sets that layer's slope.

    Parameters
    ----------
    negative_slope : float, default 0.3
        Slope for ``x <= 0`` (Keras's layer default), >= 0.
    **kwargs
        ``input_dim``, ``input_shape``, ``name``, ``trainable``: see
        :class:`~nncore.layers.base.Layer`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.layers.LeakyReLU(negative_slope=0.001)
    LeakyReLU(negative_slope=0.001)
    >>> nn.layers.Dense(4, activation=nn.layers.LeakyReLU(0.001)).activation
    'leaky_relu'
    """

    def __init__(self, negative_slope: float = 0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          UserWarning, stacklevel=2)
        super().__init__("leaky_relu", **kwargs)
        self.negative_slope = self._alpha = check_float(negative_slope, "negative_slope",
                                                        low=0.0)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return {**config, "negative_slope": self.negative_slope}


class ELU(Activation):
    """keras.layers.ELU: ``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere.

    Parameters
    ----------
    alpha : float, default 1.0
        Scale of the negative part.
    **kwargs
        ``input_dim``, ``input_shape``, ``name``, ``trainable``: see
        :class:`~nncore.layers.base.Layer`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.layers.ELU(alpha=0.5)
    ELU(alpha=0.5)
    """

    def __init__(self, alpha: float = 1.0, **kwargs):
        super().__init__("elu", **kwargs)
        self.alpha = self._alpha = check_float(alpha, "alpha", low=0.0)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return {**config, "alpha": self.alpha}


class Softmax(Activation):
    """keras.layers.Softmax over the last axis (the only one a Dense stack has).

    Parameters
    ----------
    axis : int, default -1
        Only -1 (or 1, the same axis) is accepted.
    **kwargs
        ``input_dim``, ``input_shape``, ``name``, ``trainable``: see
        :class:`~nncore.layers.base.Layer`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.layers.Softmax()
    Softmax(axis=-1)
    """

    def __init__(self, axis: int = -1, **kwargs):
        if axis not in (-1, 1) or isinstance(axis, bool):
            raise ValueError(f"axis must be -1 (the features of each row). Received: "
                             f"axis={axis!r}")
        super().__init__("softmax", **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return {**config, "axis": -1}


#: The layers Dense takes as its ``activation`` to set a parameter, by class name.
PARAMETRIC = {cls.__name__: cls for cls in (LeakyReLU, ELU)}


def resolve(activation) -> tuple[str, float, activations.CustomActivation | None]:
    """The kernel name, parameter and custom activation (or None) of a layer's
    ``activation``: a name, None, a function of :mod:`nncore.activations`, a LeakyReLU or
    ELU layer (its slope or alpha), one serialized as a model file stores it
    (``{"class_name": ..., "config": {...}}``), or an activation of your own
    (:class:`~nncore.activations.CustomActivation` or a pair ``(fn, gradient)``), whose
    derivative is checked here (the kernels then run it as linear).

    Parameters
    ----------
    activation : str, callable, layer, dict, CustomActivation, pair or None

    Example
    -------
    >>> resolve('relu')[:2], resolve(LeakyReLU(0.1))[:2]
    (('relu', 0.0), ('leaky_relu', 0.1))
    """
    if isinstance(activation, tuple) and len(activation) == 2:
        activation = activations.CustomActivation(*activation)
    if isinstance(activation, activations.CustomActivation):
        activation.check()
        return activation.name, 0.0, activation
    if isinstance(activation, dict):
        name = activation.get("class_name")
        if name not in PARAMETRIC or set(activation) - {"class_name", "config"} \
                or not isinstance(activation.get("config", {}), dict):
            raise ValueError(f"activation must be a name or one of "
                             f"{', '.join(PARAMETRIC)} as {{'class_name': ..., 'config': "
                             f"{{...}}}}. Received: activation={activation!r}")
        activation = PARAMETRIC[name](**activation.get("config", {}))
    if isinstance(activation, Layer):
        if type(activation) not in PARAMETRIC.values():
            raise TypeError(f"activation may be a LeakyReLU or ELU layer, not "
                            f"{type(activation).__name__}.")
        return activation.activation, activation._alpha, None
    name = activations.get(activation)
    return name, DEFAULT_ALPHA.get(name, 0.0), None


def serialize(name: str, alpha: float):
    """The config form of :func:`resolve`'s result: the name, or the parametric layer's
    config when the parameter is not the activation's default.

    Parameters
    ----------
    name : str
        The kernel name.
    alpha : float
        Its parameter.

    Example
    -------
    >>> serialize('leaky_relu', 0.1)
    {'class_name': 'LeakyReLU', 'config': {'negative_slope': 0.1}}
    """
    if alpha == DEFAULT_ALPHA.get(name, 0.0):
        return name
    if name == "leaky_relu":
        return {"class_name": "LeakyReLU", "config": {"negative_slope": alpha}}
    return {"class_name": "ELU", "config": {"alpha": alpha}}
