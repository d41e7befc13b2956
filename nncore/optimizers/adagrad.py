"""Adagrad: per-parameter rates that shrink with the sum of past squared gradients."""
from __future__ import annotations

import numpy as np

from nncore._checks import check_float
from nncore.optimizers.base import Optimizer


class Adagrad(Optimizer):
    """``acc += g**2; w -= lr * g / sqrt(acc + epsilon)`` (Duchi et al., 2011), with the
    accumulator starting at ``initial_accumulator_value`` as in Keras.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
        The step size ``lr``, >= 0, or a schedule of the step count.
    initial_accumulator_value : float, default 0.1
        Starting value of ``acc``, >= 0.
    epsilon : float, default 1e-7
        Added to the denominator, for stability.
    **kwargs
        ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``:
        see :class:`~nncore.optimizers.base.Optimizer`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.optimizers.Adagrad().learning_rate
    0.001
    """

    slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = check_float(
            initial_accumulator_value, "initial_accumulator_value", low=0.0)
        self.epsilon = check_float(epsilon, "epsilon", low=0.0)

    def _initial_slot(self, name, param):
        return np.full_like(param, self.initial_accumulator_value)

    def _update(self, ops, w, g, slots, lr, wd, step):
        ops._adagrad(w, g, slots["accumulator"], lr, self.epsilon, wd)

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
