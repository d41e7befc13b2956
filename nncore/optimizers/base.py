"""The optimizer base class: hyperparameters, slots, clipping and one update step.

As in Keras 3: hyperparameters are fixed in ``__init__``; slots (momentum, moments) are
created lazily for each parameter on the first step; ``apply`` clips the gradients
(``clipnorm`` per tensor, ``global_clipnorm`` across all, or ``clipvalue`` elementwise),
then updates every parameter in place through the backend's fused kernel, then counts
the step in ``iterations``. ``clip`` and ``update`` are the two halves, for a caller
(the model) that clips per tensor but updates one flat buffer holding them all.

Hyperparameters are checked once, here, and parameters when the slots are built, so a
step calls the backend's update kernels directly: one call per parameter array.

Slots belong to parameters, as Keras's one slot per variable. A model packs its weights
back to back in one flat buffer (``_build_flat``): the optimizer then keeps one flat
buffer per slot name laid out alike, ``slots[i]`` views parameter ``i``'s part, and a step
updates any subset of the parameters (the trainable ones) without touching the others'
slots. Freezing a layer, unfreezing it, ``set_weights``, save and load keep every slot.
"""
from __future__ import annotations

import numpy as np

from nncore._checks import check_float, check_int

from nncore.backends.base import Backend
from nncore.optimizers import schedules


#: The largest step count: 2**62 leaves a 64-bit signed counter room to go on counting.
MAX_ITERATIONS = 2**62


class Optimizer:
    """Base class of nncore's optimizers; subclasses define ``slot_names`` and ``_update``.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
        The step size ``lr``, >= 0, or a schedule of the step count.
    weight_decay : float or None, default None
        Decoupled decay ``w -= lr * weight_decay * w`` each step; None for none.
    clipnorm : float or None
        Rescale each gradient array to this L2 norm at most.
    clipvalue : float or None
        Clip every gradient entry to ``[-clipvalue, clipvalue]``.
    global_clipnorm : float or None
        Rescale all gradients together to this global L2 norm at most (only one of the
        three clips may be set).
    name : str or None
        Defaults to the class name in lower case.

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
        self.name = name or type(self).__name__.lower()  # as Keras: "rmsprop", "adamw"
        self.iterations = 0
        self.slots: list[dict[str, np.ndarray]] | None = None
        # For a model's flat buffer (_build_flat): slot name -> flat buffer, the layout it
        # mirrors (parameter sizes, dtype), each parameter's size, the last runs' views.
        self._flat_slots: dict[str, np.ndarray] | None = None
        self._flat_key: tuple | None = None
        self._slot_sizes: list[int] = []
        self._run_views: tuple | None = None

    @property
    def iterations(self) -> int:
        """Steps taken so far; the next step is ``iterations + 1`` (Adam's bias correction)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value) -> None:
        # Bounded so that every later step still fits the kernels' 64-bit counter.
        self._iterations = check_int(value, "iterations", low=0, high=MAX_ITERATIONS)

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
            return
        # As Keras: a float in its place would silently end the schedule.
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            raise TypeError(f"This optimizer was built with a learning-rate schedule "
                            f"({type(self._learning_rate).__name__}); its learning_rate can "
                            f"only be replaced by another schedule. Received: "
                            f"learning_rate={value!r}")
        self._learning_rate = check_float(value, "learning_rate", low=0.0)

    # ------------------------------------------------------------ slots and steps
    def build(self, params) -> None:
        """Create zeroed slots (Adagrad: its initial accumulator) for each parameter, flat.

        Parameters
        ----------
        params : list of ndarray
            Writeable C-contiguous float32/float64 arrays.
        """
        for i, p in enumerate(params):
            _check_param(p, f"params[{i}]")
        self.slots = [{name: self._initial_slot(name, p).reshape(-1)
                       for name in self._active_slots()} for p in params]
        self._flat_slots = self._flat_key = self._run_views = None
        self._slot_sizes = []

    def _build_flat(self, flat: np.ndarray, sizes: list[int]) -> None:
        """Slots for parameters of ``sizes`` packed back to back in ``flat`` (a model's
        buffer): one flat buffer per slot name, and ``slots[i]`` the views of parameter
        ``i``'s part."""
        _check_param(flat, "flat")
        if sum(sizes) != flat.size:
            raise ValueError(f"sizes must add up to flat.size={flat.size}. Received: "
                             f"sum(sizes)={sum(sizes)}")
        self._flat_slots = {name: self._initial_slot(name, flat)
                            for name in self._active_slots()}
        self._slot_sizes = [int(size) for size in sizes]
        self._flat_key = (tuple(self._slot_sizes), flat.dtype)
        self._run_views = None
        self._view_slots()

    def _view_slots(self) -> None:
        """``slots``: each parameter's views of the flat slot buffers."""
        self.slots, start = [], 0
        for size in self._slot_sizes:
            self.slots.append({name: buf[start:start + size]
                               for name, buf in self._flat_slots.items()})
            start += size

    def _active_slots(self) -> tuple[str, ...]:
        return self.slot_names

    def _initial_slot(self, name: str, param: np.ndarray) -> np.ndarray:
        return np.zeros_like(param)

    def apply(self, params, grads, ops: Backend) -> None:
        """One step: clip ``grads`` in place, then update each of ``params`` in place.

        Parameters
        ----------
        params : list of ndarray
            Writeable C-contiguous float32/float64 arrays.
        grads : list of ndarray
            One per parameter, of its shape and dtype.
        ops : Backend
            The backend whose kernels run the step (``nn.get_backend()``).
        """
        self.clip(grads, ops)
        self.update(params, grads, ops)

    @property
    def clips(self) -> bool:
        """True when a clipnorm, clipvalue or global_clipnorm is set."""
        return not (self.clipnorm is None and self.clipvalue is None
                    and self.global_clipnorm is None)

    def clip(self, grads, ops: Backend) -> None:
        """Clip ``grads`` in place as configured (nothing if no clipping is set).

        Parameters
        ----------
        grads : list of ndarray
            One per parameter, of its shape and dtype.
        ops : Backend
            The backend whose kernels run the step (``nn.get_backend()``).
        """
        if self.clipnorm is not None:
            for g in grads:
                ops.clip_by_norm(g, self.clipnorm)
        elif self.global_clipnorm is not None:
            ops.clip_by_global_norm(grads, self.global_clipnorm)
        elif self.clipvalue is not None:
            for g in grads:
                ops.clip_by_value(g, self.clipvalue)

    def update(self, params, grads, ops: Backend) -> None:
        """Update each of ``params`` in place from ``grads`` (already clipped); count it.

        Parameters
        ----------
        params : list of ndarray
            Writeable C-contiguous float32/float64 arrays.
        grads : list of ndarray
            One per parameter, of its shape and dtype.
        ops : Backend
            The backend whose kernels run the step (``nn.get_backend()``).
        """
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
        step = self._iterations + 1
        for p, g, state in zip(params, grads, self.slots):
            self._update(ops, p, g, state, lr, wd, step)
        self._iterations = step

    def _apply_flat(self, flat: np.ndarray, grads: np.ndarray, sizes: list[int],
                    runs: tuple[tuple[int, int], ...], ops: Backend) -> None:
        """One step over the parts ``flat[a:b]`` for ``(a, b)`` in ``runs`` (the trainable
        parameters of a model, packed in ``flat`` by ``sizes``), each with the same part of
        every slot; the other parameters and their slots are left as they are."""
        # The slots follow the layout, not the buffer: a model of the same layout (a copy,
        # a reload) continues with them, as Keras's slots follow their variables.
        if (tuple(sizes), flat.dtype) != self._flat_key:
            self._build_flat(flat, sizes)
        key = (id(flat), id(grads), runs)
        if self._run_views is None or self._run_views[0] != key:
            views = [(flat[a:b], grads[a:b],
                      {name: buf[a:b] for name, buf in self._flat_slots.items()})
                     for a, b in runs]
            self._run_views = (key, views)
        lr, wd = self.learning_rate, self.weight_decay or 0.0
        step = self._iterations + 1
        for w, g, state in self._run_views[1]:
            self._update(ops, w, g, state, lr, wd, step)
        self._iterations = step

    def _slots_fit(self, params: list) -> bool:
        """True when the slots were built for these parameters' sizes, one by one."""
        if self.slots is None or self._flat_slots is not None or \
                len(self.slots) != len(params):
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
    def __getstate__(self) -> dict:
        # The views in ``slots`` would come back as separate copies of the flat buffers:
        # they are made again from the buffers instead.
        state = dict(self.__dict__)
        if state["_flat_slots"] is not None:
            state["slots"] = None
        state["_run_views"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._flat_slots is not None:
            self._view_slots()

    def get_config(self) -> dict:
        """The constructor's arguments, as a dict (a schedule serialized)."""
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
        """A new optimizer from :meth:`get_config`'s dict.

        Parameters
        ----------
        config : dict
        """
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _check_param(p, name: str) -> None:
    if not isinstance(p, np.ndarray) or p.dtype not in (np.float32, np.float64) \
            or not p.flags.c_contiguous or not p.flags.writeable:
        raise ValueError(f"{name} must be a writeable C-contiguous float32/float64 array.")
