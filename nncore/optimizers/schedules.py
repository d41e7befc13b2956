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
    """Base class: called with the optimizer's step count (0 for the first update)."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError


class ExponentialDecay(LearningRateSchedule):
    """``lr = initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored
    exponent when ``staircase``)."""

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
    """``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]`` (Keras's rule)."""

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
    ``decay_steps`` down to ``alpha`` times the starting rate (Loshchilov & Hutter, 2017)."""

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
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    name = config.get("class_name")
    if name not in _CLASSES:
        raise ValueError(f"Unknown learning-rate schedule {name!r}; expected one of "
                         f"{', '.join(_CLASSES)}.")
    return _CLASSES[name](**config.get("config", {}))
