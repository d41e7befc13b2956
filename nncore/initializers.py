"""Weight initializers, as keras.initializers: callables ``init(shape, dtype, rng)``.

Glorot/Xavier keep the variance of activations and gradients about equal across layers
for tanh/sigmoid (Glorot & Bengio, 2010); He scales for ReLU, which zeroes half its
inputs (He et al., 2015); LeCun for SELU-like units. ``fan_in``/``fan_out`` of a Dense
kernel of shape (in, out) are ``in`` and ``out``.

Example
-------
>>> import numpy as np
>>> from nncore import initializers
>>> init = initializers.get("he_normal")
>>> init((4, 8), np.float32, np.random.default_rng(0)).shape
(4, 8)
"""
from __future__ import annotations

import math

import numpy as np

from nncore._checks import check_float

# The stddev of a unit normal truncated to [-2, 2]; Keras divides by it so the truncated
# draw still has the intended variance.
_TRUNCATED_STD = 0.87962566103423978


class Initializer:
    """Base class: ``__call__(shape, dtype, rng)`` returns a new array.

    Example
    -------
    >>> Zeros()((2,), np.float32, np.random.default_rng(0))
    array([0., 0.], dtype=float32)
    """

    def __call__(self, shape, dtype, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor's arguments, as a dict (Keras's ``get_config``)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros (the default bias initializer).

    Example
    -------
    >>> Zeros()((2,), np.float64, np.random.default_rng(0))
    array([0., 0.])
    """
    def __call__(self, shape, dtype, rng):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    """All ones.

    Example
    -------
    >>> Ones()((2,), np.float64, np.random.default_rng(0))
    array([1., 1.])
    """
    def __call__(self, shape, dtype, rng):
        return np.ones(shape, dtype=dtype)


class Constant(Initializer):
    """Every entry ``value``.

    Parameters
    ----------
    value : float, default 0.0
        The fill value.

    Example
    -------
    >>> Constant(0.5)((2,), np.float64, np.random.default_rng(0))
    array([0.5, 0.5])
    """
    def __init__(self, value: float = 0.0):
        self.value = check_float(value, "value")

    def __call__(self, shape, dtype, rng):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """Draws from ``N(mean, stddev**2)``.

    Parameters
    ----------
    mean : float, default 0.0
    stddev : float, default 0.05
        Standard deviation, >= 0.

    Example
    -------
    >>> RandomNormal(stddev=0.0)((2,), np.float64, np.random.default_rng(0))
    array([0., 0.])
    """
    def __init__(self, mean: float = 0.0, stddev: float = 0.05):
        self.mean = check_float(mean, "mean")
        self.stddev = check_float(stddev, "stddev", low=0.0)

    def __call__(self, shape, dtype, rng):
        return rng.normal(self.mean, self.stddev, size=shape).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev}


class RandomUniform(Initializer):
    """Draws from ``U(minval, maxval)``.

    Parameters
    ----------
    minval : float, default -0.05
    maxval : float, default 0.05
        At least ``minval``.

    Example
    -------
    >>> w = RandomUniform(-1.0, 1.0)((100,), np.float64, np.random.default_rng(0))
    >>> bool(w.min() >= -1.0 and w.max() < 1.0)
    True
    """
    def __init__(self, minval: float = -0.05, maxval: float = 0.05):
        self.minval = check_float(minval, "minval")
        self.maxval = check_float(maxval, "maxval")
        if self.maxval < self.minval:
            raise ValueError(f"maxval must be >= minval. Received: minval={minval}, "
                             f"maxval={maxval}")

    def __call__(self, shape, dtype, rng):
        return rng.uniform(self.minval, self.maxval, size=shape).astype(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval}


class VarianceScaling(Initializer):
    """Draws with variance ``scale / n`` where ``n`` is fan_in, fan_out or their mean.

    Parameters
    ----------
    scale : float, default 1.0
        Numerator of the variance, > 0.
    mode : {'fan_in', 'fan_out', 'fan_avg'}, default 'fan_in'
        Which fan is ``n``: a kernel of shape (in, out) has fan_in ``in``, fan_out
        ``out``.
    distribution : {'truncated_normal', 'untruncated_normal', 'uniform'}
        Default 'truncated_normal' (redrawn outside 2 stddev, rescaled to keep the
        variance).

    Example
    -------
    >>> init = VarianceScaling(2.0, distribution='uniform')
    >>> w = init((50, 10), np.float64, np.random.default_rng(0))
    >>> bool(abs(w).max() <= (3 * 2.0 / 50) ** 0.5)
    True
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal"):
        self.scale = check_float(scale, "scale", low=0.0, low_open=True)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg'. Received: {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("distribution must be 'truncated_normal', 'untruncated_normal' "
                             f"or 'uniform'. Received: {distribution!r}")
        self.mode, self.distribution = mode, distribution

    def __call__(self, shape, dtype, rng):
        fan_in, fan_out = (shape[0], shape[-1]) if len(shape) >= 2 else (shape[0], shape[0])
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)  # U(-a, a) has variance a**2 / 3
            values = rng.uniform(-limit, limit, size=shape)
        elif self.distribution == "untruncated_normal":
            values = rng.normal(0.0, math.sqrt(variance), size=shape)
        else:
            values = _truncated_normal(rng, shape) * (math.sqrt(variance) / _TRUNCATED_STD)
        return values.astype(dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution}


def _truncated_normal(rng: np.random.Generator, shape) -> np.ndarray:
    """Unit normals redrawn until inside [-2, 2], like Keras's truncated normal."""
    values = rng.standard_normal(size=shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(size=int(outside.sum()))
        outside = np.abs(values) > 2.0
    return values


class GlorotUniform(VarianceScaling):
    """``VarianceScaling(1.0, 'fan_avg', 'uniform')``: U(-a, a) with a = sqrt(6 / (in + out)).

    Example
    -------
    >>> GlorotUniform()((4, 8), np.float32, np.random.default_rng(0)).dtype
    dtype('float32')
    """
    def __init__(self):
        super().__init__(1.0, "fan_avg", "uniform")

    def get_config(self):
        return {}


class GlorotNormal(VarianceScaling):
    """``VarianceScaling(1.0, 'fan_avg', 'truncated_normal')``.

    Example
    -------
    >>> GlorotNormal()((4, 8), np.float32, np.random.default_rng(0)).dtype
    dtype('float32')
    """
    def __init__(self):
        super().__init__(1.0, "fan_avg", "truncated_normal")

    def get_config(self):
        return {}


class HeUniform(VarianceScaling):
    """``VarianceScaling(2.0, 'fan_in', 'uniform')``: U(-a, a) with a = sqrt(6 / in), for ReLU.

    Example
    -------
    >>> HeUniform()((4, 8), np.float32, np.random.default_rng(0)).dtype
    dtype('float32')
    """
    def __init__(self):
        super().__init__(2.0, "fan_in", "uniform")

    def get_config(self):
        return {}


class HeNormal(VarianceScaling):
    """``VarianceScaling(2.0, 'fan_in', 'truncated_normal')``, for ReLU.

    Example
    -------
    >>> HeNormal()((4, 8), np.float32, np.random.default_rng(0)).dtype
    dtype('float32')
    """
    def __init__(self):
        super().__init__(2.0, "fan_in", "truncated_normal")

    def get_config(self):
        return {}


class LecunUniform(VarianceScaling):
    """``VarianceScaling(1.0, 'fan_in', 'uniform')``.

    Example
    -------
    >>> LecunUniform()((4, 8), np.float32, np.random.default_rng(0)).dtype
    dtype('float32')
    """
    def __init__(self):
        super().__init__(1.0, "fan_in", "uniform")

    def get_config(self):
        return {}


class LecunNormal(VarianceScaling):
    """``VarianceScaling(1.0, 'fan_in', 'truncated_normal')``, for SELU.

    Example
    -------
    >>> LecunNormal()((4, 8), np.float32, np.random.default_rng(0)).dtype
    dtype('float32')
    """
    def __init__(self):
        super().__init__(1.0, "fan_in", "truncated_normal")

    def get_config(self):
        return {}


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "xavier_uniform": GlorotUniform, "xavier_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
}
_NAME_OF = {cls: name for name, cls in reversed(_BY_NAME.items())}
_CLASS_NAMES = {cls.__name__: name for cls, name in _NAME_OF.items()}


def get(identifier) -> Initializer | None:
    """An initializer from a name (``"he_normal"``), an instance, or a config dict; None
    for None (as keras.initializers.get; the layers refuse it).

    Parameters
    ----------
    identifier : str, dict, Initializer or None
        A name or class name, a ``{'class_name', 'config'}`` dict, or an instance
        (returned as is).

    Example
    -------
    >>> get('he_normal'), get({'class_name': 'constant', 'config': {'value': 1.0}})
    (HeNormal(), Constant(value=1.0))
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return _BY_NAME[get_name(identifier.get("class_name"))](**identifier.get("config", {}))
    return _BY_NAME[get_name(identifier)]()


def get_required(identifier, argument: str) -> Initializer:
    """:func:`get` for a layer's argument, where None is refused by the argument's name:
    Keras's add_weight would then pick glorot_uniform, even for a bias.

    Parameters
    ----------
    identifier : str, dict or Initializer
        As for :func:`get`.
    argument : str
        The layer argument's name, for the error message.

    Example
    -------
    >>> get_required('zeros', 'bias_initializer')
    Zeros()
    """
    if identifier is None:
        raise ValueError(f"{argument} must be an initializer name or object, such as "
                         f"'glorot_uniform'. Received: {argument}=None")
    return get(identifier)


def get_name(identifier) -> str:
    """The snake_case name of an initializer given by it or by its class name
    (``"HeNormal"``, as Keras accepts too).

    Parameters
    ----------
    identifier : str
        A name (any case) or a class name.

    Example
    -------
    >>> get_name('HeNormal'), get_name('Glorot_Uniform')
    ('he_normal', 'glorot_uniform')
    """
    if isinstance(identifier, str) and identifier in _CLASS_NAMES:
        return _CLASS_NAMES[identifier]
    if not isinstance(identifier, str) or identifier.lower() not in _BY_NAME:
        raise ValueError(f"Unknown initializer {identifier!r}; expected one of "
                         f"{', '.join(_BY_NAME)} or an Initializer.")
    return identifier.lower()


def serialize(init: Initializer) -> dict:
    """The ``{'class_name', 'config'}`` dict :func:`get` reads back.

    Parameters
    ----------
    init : Initializer

    Example
    -------
    >>> serialize(RandomNormal(stddev=0.1))
    {'class_name': 'random_normal', 'config': {'mean': 0.0, 'stddev': 0.1}}
    """
    return {"class_name": _NAME_OF[type(init)], "config": init.get_config()}
