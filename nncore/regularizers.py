"""Weight penalties, as keras.regularizers: ``L1``, ``L2`` and ``L1L2``.

A penalty ``l1 * sum(|W|) + l2 * sum(W**2)`` is added to the loss; its gradient
``l1 * sign(W) + 2 * l2 * W`` pulls weights toward zero, a cure for overfitting
(smaller weights, a smoother function).

Example
-------
>>> from nncore import regularizers
>>> regularizers.get("l2")
L1L2(l1=0.0, l2=0.01)
"""
from __future__ import annotations

from nncore._checks import check_float


class L1L2:
    """Both penalties; ``L1(l1)`` and ``L2(l2)`` are the one-sided cases (Keras defaults
    0.01).

    Parameters
    ----------
    l1 : float, default 0.0
        Weight of ``sum(|W|)``, >= 0.
    l2 : float, default 0.0
        Weight of ``sum(W**2)``, >= 0.

    Example
    -------
    >>> L1L2(l1=0.001, l2=0.01)
    L1L2(l1=0.001, l2=0.01)
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = check_float(l1, "l1", low=0.0)
        self.l2 = check_float(l2, "l2", low=0.0)

    def get_config(self) -> dict:
        """``{'l1': ..., 'l2': ...}``, the constructor's arguments."""
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self) -> str:
        return f"L1L2(l1={self.l1}, l2={self.l2})"


def L1(l1: float = 0.01) -> L1L2:
    """``L1L2(l1=l1)``: the penalty ``l1 * sum(|W|)``.

    Parameters
    ----------
    l1 : float, default 0.01

    Example
    -------
    >>> L1(0.1)
    L1L2(l1=0.1, l2=0.0)
    """
    return L1L2(l1=l1)


def L2(l2: float = 0.01) -> L1L2:
    """``L1L2(l2=l2)``: the penalty ``l2 * sum(W**2)`` (weight decay).

    Parameters
    ----------
    l2 : float, default 0.01

    Example
    -------
    >>> L2()
    L1L2(l1=0.0, l2=0.01)
    """
    return L1L2(l2=l2)


def get(identifier) -> L1L2 | None:
    """A regularizer from None, ``"l1"``, ``"l2"``, ``"l1_l2"``, an instance or a config.

    Parameters
    ----------
    identifier : None, str, dict or L1L2
        ``'l1'``, ``'l2'``, ``'l1_l2'`` (each at 0.01), ``{'l1': ..., 'l2': ...}`` or an
        instance.

    Example
    -------
    >>> get('l1_l2'), get(None)
    (L1L2(l1=0.01, l2=0.01), None)
    """
    if identifier is None or isinstance(identifier, L1L2):
        return identifier
    if isinstance(identifier, dict):
        return L1L2(**identifier)
    makers = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01), "l1l2": L1L2}
    if isinstance(identifier, str) and identifier.lower() in makers:
        return makers[identifier.lower()]()
    raise ValueError(f"Unknown regularizer {identifier!r}; expected 'l1', 'l2', 'l1_l2', "
                     "an L1L2 instance or None.")


def serialize(reg: L1L2 | None) -> dict | None:
    """The config dict of ``reg`` (None for None), which :func:`get` reads back.

    Parameters
    ----------
    reg : L1L2 or None

    Example
    -------
    >>> serialize(L2(0.5))
    {'l1': 0.0, 'l2': 0.5}
    """
    return None if reg is None else reg.get_config()
