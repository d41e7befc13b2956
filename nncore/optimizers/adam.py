"""Adam and AdamW: momentum on the gradient and on its square, bias-corrected."""
from __future__ import annotations

from nncore._checks import check_float
from nncore.optimizers.base import Optimizer


class Adam(Optimizer):
    """``m += (1 - beta_1)(g - m); v += (1 - beta_2)(g**2 - v);
    w -= lr sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)``
    (Kingma & Ba, 2015); ``amsgrad`` uses the running maximum of ``v`` (Reddi et al.,
    2018).

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
        The step size ``lr``, >= 0, or a schedule of the step count.
    beta_1 : float in [0, 1), default 0.9
        Decay of the first moment ``m``.
    beta_2 : float in [0, 1), default 0.999
        Decay of the second moment ``v``.
    epsilon : float, default 1e-7
        Added to the denominator, for stability.
    amsgrad : bool, default False
        Use the running maximum of ``v``.
    **kwargs
        ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``:
        see :class:`~nncore.optimizers.base.Optimizer`.

    Example
    -------
    >>> import nncore as nn
    >>> nn.optimizers.Adam(amsgrad=True).beta_2
    0.999
    """

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = check_float(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        self.beta_2 = check_float(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        self.epsilon = check_float(epsilon, "epsilon", low=0.0)
        self.amsgrad = bool(amsgrad)

    def _active_slots(self):
        return ("m", "v") + (("vhat",) if self.amsgrad else ())

    def _update(self, ops, w, g, slots, lr, wd, step):
        ops._adam(w, g, slots["m"], slots["v"], slots.get("vhat"), lr, self.beta_1,
                  self.beta_2, self.epsilon, step, wd)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay ``w -= lr * weight_decay * w`` before each step
    (Loshchilov & Hutter, 2019); Keras's default ``weight_decay=0.004``.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
        The step size ``lr``, >= 0, or a schedule of the step count.
    weight_decay : float, default 0.004
        Decoupled decay rate, >= 0 (None is refused).
    **kwargs
        Adam's ``beta_1``, ``beta_2``, ``epsilon``, ``amsgrad``, and ``clipnorm``,
        ``clipvalue``, ``global_clipnorm``, ``name``.

    Example
    -------
    >>> import nncore as nn
    >>> nn.optimizers.AdamW().weight_decay
    0.004
    """

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, **kwargs):
        # The base class reads None as "no decay", which would make this plain Adam under
        # AdamW's name; Keras refuses it too.
        if weight_decay is None:
            raise ValueError("AdamW needs a weight_decay, a float >= 0 (Adam is AdamW "
                             "without decay). Received: weight_decay=None")
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
