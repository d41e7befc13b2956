"""The optimizer base class: hyperparameters, slots, clipping and one update step.

As in Keras 3: hyperparameters are fixed in ``__init__``; slots (momentum, moments) are
created lazily for each parameter on the first step; ``apply`` clips the gradients
(``clipnorm`` per tensor, ``global_clipnorm`` across all, or ``clipvalue`` elementwise),
then updates every parameter in place through the backend's fused kernel, then counts
the step in ``iterations``. ``clip`` and ``update`` are the two halves, for a caller
(the model) that clips per tensor but updates one flat buffer holding them all.

Hyperparameters are checked once, here, and parameters when the slots are built, so a
step calls the backend's update kernels directly: one call per parameter array.
"""
from __future__ import annotations

import numpy as np

from nncore.backends.base import Backend, check_float
from nncore.optimizers import schedules


class Optimizer:
    """Base class of nncore's optimizers; subclasses define ``slot_names`` and ``_update``.

    Example
    -------
    >>> import numpy as np, nncore as nn
    >>> w, g = np.ones(3, np.float32), np.full(3, 0.5, np.float32)
    >>> nn.optimizers.SGD(learning_rate=0.1).apply([w], [g], nn.get_backend())
    >>> w
    array([0.95, 0.95, 0.95], dtype=float32)
    """

    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate=0.001, *, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None):
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            self._learning_rate = learning_rate
        else:
            self._learning_rate = check_float(learning_rate, "learning_rate", low=0.0)
        self.weight_decay = (None if weight_decay is None
                             else check_float(weight_decay, "weight_decay", low=0.0))
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue,
                 "global_clipnorm": global_clipnorm}
        given = [k for k, v in clips.items() if v is not None]
        if len(given) > 1:
            raise ValueError(f"Only one of clipnorm, clipvalue and global_clipnorm can be set. "
                             f"Received: {', '.join(given)}")
        for key in given:
            check_float(clips[key], key, low=0.0, low_open=True)
        self.clipnorm, self.clipvalue, self.global_clipnorm = (
            None if v is None else float(v) for v in clips.values())
        self.name = name or _snake(type(self).__name__)
        self.iterations = 0
        self.slots: list[dict[str, np.ndarray]] | None = None

    # ------------------------------------------------------------ learning rate
    @property
    def learning_rate(self) -> float:
        """The rate of the next step (a schedule is evaluated at ``iterations``)."""
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
        else:
            self._learning_rate = check_float(value, "learning_rate", low=0.0)

    # ------------------------------------------------------------ slots and steps
    def build(self, params) -> None:
        """Create zeroed slots (Adagrad: its initial accumulator) for each parameter, flat."""
        for i, p in enumerate(params):
            _check_param(p, f"params[{i}]")
        self.slots = [{name: self._initial_slot(name, p).reshape(-1)
                       for name in self._active_slots()} for p in params]

    def _active_slots(self) -> tuple[str, ...]:
        return self.slot_names

    def _initial_slot(self, name: str, param: np.ndarray) -> np.ndarray:
        return np.zeros_like(param)

    def apply(self, params, grads, ops: Backend) -> None:
        """One step: clip ``grads`` in place, then update each of ``params`` in place."""
        self.clip(grads, ops)
        self.update(params, grads, ops)

    @property
    def clips(self) -> bool:
        """True when a clipnorm, clipvalue or global_clipnorm is set."""
        return not (self.clipnorm is None and self.clipvalue is None
                    and self.global_clipnorm is None)

    def clip(self, grads, ops: Backend) -> None:
        """Clip ``grads`` in place as configured (nothing if no clipping is set)."""
        if self.clipnorm is not None:
            for g in grads:
                ops.clip_by_norm(g, self.clipnorm)
        elif self.global_clipnorm is not None:
            ops.clip_by_global_norm(grads, self.global_clipnorm)
        elif self.clipvalue is not None:
            for g in grads:
                ops.clip_by_value(g, self.clipvalue)

    def update(self, params, grads, ops: Backend) -> None:
        """Update each of ``params`` in place from ``grads`` (already clipped); count it."""
        if len(grads) != len(params):
            raise ValueError(f"grads must hold one array per parameter ({len(params)}). "
                             f"Received {len(grads)}.")
        for i, (p, g) in enumerate(zip(params, grads)):
            _check_param(p, f"params[{i}]")
            if not isinstance(g, np.ndarray) or g.shape != p.shape or g.dtype != p.dtype \
                    or not g.flags.c_contiguous:
                raise ValueError(f"grads[{i}] must be a C-contiguous array of the shape and "
                                 f"dtype of params[{i}] {p.shape} {p.dtype}.")
        self._apply([p.reshape(-1) for p in params], [g.reshape(-1) for g in grads], ops)

    def _apply(self, params: list, grads: list, ops: Backend) -> None:
        """:meth:`update` on flat, checked arrays: a model's own buffers, every step."""
        if not self._slots_fit(params):
            self.build(params)
        lr, wd = self.learning_rate, self.weight_decay or 0.0
        step = self.iterations + 1
        for p, g, state in zip(params, grads, self.slots):
            self._update(ops, p, g, state, lr, wd, step)
        self.iterations = step

    def _slots_fit(self, params: list) -> bool:
        """True when the slots were built for parameters of these sizes (a model whose
        trainable layers changed hands the optimizer other runs)."""
        if self.slots is None or len(self.slots) != len(params):
            return False
        for p, state in zip(params, self.slots):
            for slot in state.values():
                if slot.size != p.size:
                    return False
        return True

    def _update(self, ops: Backend, w, g, slots: dict, lr: float, wd: float,
                step: int) -> None:
        """Call the backend's update kernel on the flat ``w``, ``g`` and ``slots``."""
        raise NotImplementedError

    # ------------------------------------------------------------ config and state
    def get_config(self) -> dict:
        lr = self._learning_rate
        return {
            "name": self.name,
            "learning_rate": (schedules.serialize(lr)
                              if isinstance(lr, schedules.LearningRateSchedule) else lr),
            "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm,
        }

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


def _check_param(p, name: str) -> None:
    if not isinstance(p, np.ndarray) or p.dtype not in (np.float32, np.float64) \
            or not p.flags.c_contiguous or not p.flags.writeable:
        raise ValueError(f"{name} must be a writeable C-contiguous float32/float64 array.")
