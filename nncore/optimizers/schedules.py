"""Learning-rate schedules, as keras.optimizers.schedules: ``schedule(step) -> float``.

Example
-------
>>> from nncore.optimizers.schedules import ExponentialDecay
>>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(10)
0.05
"""
from __future__ import annotations

import math

from nncore._checks import check_float, check_int


class LearningRateSchedule:
    """Base class: called with the optimizer's step count (0 for the first update).

    Example
    -------
    >>> schedule = CosineDecay(0.1, decay_steps=100)
    >>> schedule(0), schedule(100)
    (0.1, 0.0)
    """

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor's arguments, as a dict."""
        raise NotImplementedError


class ExponentialDecay(LearningRateSchedule):
    """``lr = initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored
    exponent when ``staircase``).

    Parameters
    ----------
    initial_learning_rate : float
        The rate at step 0, >= 0.
    decay_steps : int
        Steps over which the decay runs, >= 1.
    decay_rate : float
        Factor applied every ``decay_steps`` steps, >= 0.
    staircase : bool, default False
        Decay in whole steps of ``decay_steps``.

    Example
    -------
    >>> ExponentialDecay(0.1, 10, 0.5, staircase=True)(15)
    0.05
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False):
        self.initial_learning_rate = check_float(initial_learning_rate,
                                                 "initial_learning_rate", low=0.0)
        self.decay_steps = check_int(decay_steps, "decay_steps", low=1)
        self.decay_rate = check_float(decay_rate, "decay_rate", low=0.0)
        self.staircase = bool(staircase)

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        try:
            return self.initial_learning_rate * self.decay_rate ** p
        except OverflowError:  # a growing rate (decay_rate > 1) beyond float's range:
            # training then diverges visibly, instead of crashing in the middle of fit
            return math.inf if self.initial_learning_rate > 0 else 0.0

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]`` (Keras's rule).

    Parameters
    ----------
    boundaries : list of int
        Increasing step counts, >= 0.
    values : list of float
        One more than ``boundaries``: the rate of each interval.

    Example
    -------
    >>> schedule = PiecewiseConstantDecay([100], [0.1, 0.01])
    >>> schedule(100), schedule(101)
    (0.1, 0.01)
    """

    def __init__(self, boundaries, values):
        for name, seq in (("boundaries", boundaries), ("values", values)):
            if not isinstance(seq, (list, tuple)):
                raise TypeError(f"{name} must be a list. Received: {name}={seq!r}")
        self.boundaries = [check_int(b, "boundaries", low=0) for b in boundaries]
        self.values = [check_float(v, "values", low=0.0) for v in values]
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError("values must have one more element than boundaries. Received: "
                             f"{len(self.boundaries)} boundaries, {len(self.values)} values")
        if self.boundaries != sorted(self.boundaries):
            raise ValueError(f"boundaries must be increasing. Received: {boundaries}")

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values}


class CosineDecay(LearningRateSchedule):
    """Optional linear warm-up to ``warmup_target``, then cosine decay over
    ``decay_steps`` down to ``alpha`` times the starting rate (Loshchilov & Hutter, 2017).

    Parameters
    ----------
    initial_learning_rate : float
        The rate at step 0, >= 0.
    decay_steps : int
        Steps over which the decay runs, >= 1.
    alpha : float in [0, 1], default 0.0
        The final rate as a fraction of the starting one.
    warmup_target : float or None, default None
        The rate reached at the end of the warm-up; None for no warm-up.
    warmup_steps : int, default 0
        Length of the linear warm-up.

    Example
    -------
    >>> schedule = CosineDecay(0.0, 100, warmup_target=0.1, warmup_steps=10)
    >>> schedule(5), schedule(10), schedule(110)
    (0.05, 0.1, 0.0)
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 warmup_target: float | None = None, warmup_steps: int = 0):
        self.initial_learning_rate = check_float(initial_learning_rate,
                                                 "initial_learning_rate", low=0.0)
        self.decay_steps = check_int(decay_steps, "decay_steps", low=1)
        self.alpha = check_float(alpha, "alpha", low=0.0, high=1.0)
        self.warmup_target = (None if warmup_target is None
                              else check_float(warmup_target, "warmup_target", low=0.0))
        self.warmup_steps = check_int(warmup_steps, "warmup_steps", low=0)

    def __call__(self, step: int) -> float:
        start, warmup = self.initial_learning_rate, 0
        # As Keras: without a warmup_target there is no warm-up, whatever warmup_steps says.
        if self.warmup_target is not None:
            if step < self.warmup_steps:
                return start + (self.warmup_target - start) * step / self.warmup_steps
            start, warmup = self.warmup_target, self.warmup_steps
        t = min(max(step - warmup, 0), self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * t))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_CLASSES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """The ``{'class_name', 'config'}`` dict :func:`deserialize` reads back.

    Parameters
    ----------
    schedule : LearningRateSchedule

    Example
    -------
    >>> serialize(ExponentialDecay(0.1, 10, 0.5))['class_name']
    'ExponentialDecay'
    """
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    """A new schedule from :func:`serialize`'s dict.

    Parameters
    ----------
    config : dict

    Example
    -------
    >>> deserialize(serialize(PiecewiseConstantDecay([5], [1.0, 0.5])))(6)
    0.5
    """
    name = config.get("class_name")
    if name not in _CLASSES:
        raise ValueError(f"Unknown learning-rate schedule {name!r}; expected one of "
                         f"{', '.join(_CLASSES)}.")
    return _CLASSES[name](**config.get("config", {}))
