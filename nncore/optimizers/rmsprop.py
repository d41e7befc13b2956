"""RMSprop: divide the step by a running root-mean-square of recent gradients."""
from __future__ import annotations

from nncore._checks import check_float
from nncore.optimizers.base import Optimizer


class RMSprop(Optimizer):
    """``v = rho * v + (1 - rho) * g**2; w -= lr * g / sqrt(v + epsilon)`` (Hinton,
    lecture 6e); ``centered`` subtracts the squared running mean gradient from ``v``;
    ``momentum`` accumulates the steps.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
        The step size ``lr``, >= 0, or a schedule of the step count.
    rho : float in [0, 1], default 0.9
        Decay of the running mean of ``g**2``.
    momentum : float in [0, 1], default 0.0
        Momentum of the steps; 0 for none.
    epsilon : float, default 1e-7
        Added to the denominator, for stability.
    centered : bool, default False
        Divide by the estimated variance instead of the mean square.
    **kwargs
        ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``:
        see :class:`~nncore.optimizers.base.Optimizer`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.optimizers.RMSprop(centered=True).rho
    0.9
    """

    def __init__(self, learning_rate=0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = check_float(rho, "rho", low=0.0, high=1.0)
        self.momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        self.epsilon = check_float(epsilon, "epsilon", low=0.0)
        self.centered = bool(centered)

    def _active_slots(self):
        return (("velocity",) + (("momentum_buffer",) if self.momentum > 0 else ())
                + (("average_gradient",) if self.centered else ()))

    def _update(self, ops, w, g, slots, lr, wd, step):
        ops._rmsprop(w, g, slots["velocity"], slots.get("momentum_buffer"),
                     slots.get("average_gradient"), lr, self.rho, self.momentum,
                     self.epsilon, wd)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
