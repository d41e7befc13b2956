"""Optimizers with Keras 3's names, arguments and defaults; strings or instances.

Example
-------
>>> import nncore as nn
>>> nn.optimizers.get("adam")
Adam(learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=False)
"""
from __future__ import annotations

from nncore.optimizers import schedules
from nncore.optimizers.adagrad import Adagrad
from nncore.optimizers.adam import Adam, AdamW
from nncore.optimizers.base import Optimizer
from nncore.optimizers.rmsprop import RMSprop
from nncore.optimizers.sgd import SGD

_BY_NAME = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def get(identifier) -> Optimizer | None:
    """A new optimizer from a name (``"adam"``), the given instance, or None for None (as
    keras.optimizers.get; ``compile`` refuses it).

    Parameters
    ----------
    identifier : str, Optimizer or None
        A name (any case) or an instance, returned as is.

    Example
    -------
    >>> get('SGD').learning_rate
    0.01
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Unknown optimizer {identifier!r}; expected one of "
                     f"{', '.join(_BY_NAME)} or an Optimizer instance.")


def serialize(optimizer: Optimizer) -> dict:
    """The ``{'class_name', 'config'}`` dict :func:`deserialize` reads back.

    Parameters
    ----------
    optimizer : Optimizer

    Example
    -------
    >>> serialize(SGD(momentum=0.9))['config']['momentum']
    0.9
    """
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict) -> Optimizer:
    """A new optimizer from :func:`serialize`'s dict (its slots are not kept).

    Parameters
    ----------
    config : dict

    Example
    -------
    >>> deserialize(serialize(RMSprop(rho=0.8)))
    RMSprop(learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, rho=0.8, momentum=0.0, epsilon=1e-07, centered=False)
    """
    classes = {cls.__name__: cls for cls in _BY_NAME.values()}
    name = config.get("class_name")
    if name not in classes:
        raise ValueError(f"Unknown optimizer class {name!r}; expected one of "
                         f"{', '.join(classes)}.")
    return classes[name].from_config(config.get("config", {}))


__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Optimizer", "get", "schedules",
           "serialize", "deserialize"]
