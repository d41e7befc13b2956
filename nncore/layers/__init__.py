"""Layers, as keras.layers: Dense, Dropout, BatchNormalization, Activation, LeakyReLU, ELU,
Softmax."""
from nncore.layers.activation import ELU, Activation, LeakyReLU, Softmax
from nncore.layers.base import Layer
from nncore.layers.batch_normalization import BatchNormalization
from nncore.layers.dense import Dense
from nncore.layers.dropout import Dropout

_CLASSES = {cls.__name__: cls for cls in (Activation, BatchNormalization, Dense, Dropout,
                                          ELU, LeakyReLU, Softmax)}


def serialize(layer: Layer) -> dict:
    """The ``{'class_name', 'config'}`` dict :func:`deserialize` reads back.

    Parameters
    ----------
    layer : Layer

    Example
    -------
    >>> serialize(Dropout(0.5))['config']['rate']
    0.5
    """
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config: dict) -> Layer:
    """A new, unbuilt layer from :func:`serialize`'s dict.

    Parameters
    ----------
    config : dict

    Example
    -------
    >>> deserialize({'class_name': 'Dense', 'config': {'units': 3}})
    Dense(units=3, activation='linear', use_bias=True)
    """
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in _CLASSES:
        raise ValueError(f"Unknown layer class {name!r}; expected one of {', '.join(_CLASSES)}.")
    return _CLASSES[name](**config.get("config", {}))


__all__ = ["Activation", "BatchNormalization", "Dense", "Dropout", "ELU", "Layer",
           "LeakyReLU", "Softmax", "deserialize", "serialize"]
