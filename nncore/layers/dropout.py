"""Dropout: randomly silence units while training, a cure for overfitting."""
from __future__ import annotations

import numpy as np

from nncore._checks import check_float, check_int
from nncore.layers.base import Layer


class Dropout(Layer):
    """keras.layers.Dropout (Srivastava et al., 2014), inverted: in training each input is
    zeroed with probability ``rate`` and the survivors scaled by ``1 / (1 - rate)``, so
    inference is the identity with no rescaling.

    Parameters
    ----------
    rate : float in [0, 1)
        Probability of zeroing an input.
    seed : int or None
        Seed of the masks; None draws one from the model's seed.
    **kwargs
        ``input_dim``, ``input_shape``, ``name``, ``trainable``: see
        :class:`~nncore.layers.base.Layer`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.layers.Dropout(0.5)
    Dropout(rate=0.5)
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_float(rate, "rate", low=0.0, high=1.0, high_open=True)
        # Checked here, not at build time, so that a bad seed never half-adds a layer.
        self.seed = check_int(seed, "seed", low=0, allow_none=True)

    def build(self, input_dim, dtype, ops, rng):
        super().build(input_dim, dtype, ops, rng)
        # Its own stream, drawn from the model's: the same model seed gives the same masks.
        self.rng = np.random.default_rng(self.seed if self.seed is not None
                                         else rng.integers(2**63))
        self._mask = None

    def call(self, X, training):
        if not training:
            return X
        if self.rate == 0.0:
            self._mask = None
            return X
        self._mask = self.ops.dropout_mask(X.shape, self.rate, self.rng, dtype=X.dtype,
                                           out=self._buffer("mask", X.shape))
        return np.multiply(X, self._mask, out=self._buffer("Y", X.shape))

    def backward(self, dY, need_dX):
        if not need_dX or self._mask is None:
            return dY if need_dX else None
        return np.multiply(dY, self._mask, out=dY)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
