"""Stochastic gradient descent, optionally with (Nesterov) momentum."""
from __future__ import annotations

from nncore._checks import check_float
from nncore.optimizers.base import Optimizer


class SGD(Optimizer):
    """``w -= lr * g``; with momentum ``v = momentum * v - lr * g; w += v`` (Polyak, 1964),
    or with ``nesterov=True`` ``w += momentum * v - lr * g`` (Sutskever et al., 2013).

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.01
        The step size ``lr``, >= 0, or a schedule of the step count.
    momentum : float in [0, 1], default 0.0
        Weight of the previous velocity; 0 for plain SGD.
    nesterov : bool, default False
        Nesterov's look-ahead momentum.
    **kwargs
        ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``:
        see :class:`~nncore.optimizers.base.Optimizer`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True).momentum
    0.9
    """

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        self.nesterov = bool(nesterov)

    def _active_slots(self):
        return ("velocity",) if self.momentum > 0 else ()

    def _update(self, ops, w, g, slots, lr, wd, step):
        ops._sgd(w, g, slots.get("velocity"), lr, self.momentum, self.nesterov, wd)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
