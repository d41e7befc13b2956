"""Callbacks, as keras.callbacks: hooks that ``fit`` calls around epochs and batches.

Example
-------
>>> import nncore as nn
>>> nn.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
EarlyStopping(monitor='val_loss', patience=3)
"""
from __future__ import annotations

import inspect
import math
import os
import sys
import warnings

import numpy as np

from nncore import progress
from nncore._checks import check_float, check_int
from nncore.optimizers import schedules


class Callback:
    """Base class; ``self.model`` is set by ``fit`` before training starts."""

    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch: int, logs=None): ...
    def on_epoch_end(self, epoch: int, logs=None): ...
    def on_train_batch_begin(self, batch: int, logs=None): ...
    def on_train_batch_end(self, batch: int, logs=None): ...


class History(Callback):
    """Records the logs of each epoch: ``history.history["loss"]`` is a list per epoch."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(self, keys=None, ax=None):
        """Plot the recorded curves with matplotlib (an optional extra: nncore[plot])."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError("History.plot needs matplotlib: pip install nncore[plot]") from exc
        ax = ax if ax is not None else plt.gca()
        for key in keys or self.history:
            ax.plot(self.epoch, self.history[key], label=key)
        ax.set_xlabel("epoch")
        ax.legend()
        return ax


def _better(mode: str, monitor: str):
    if not isinstance(monitor, str):
        raise TypeError(f"monitor must be the name of a logged value such as 'val_loss'. "
                        f"Received: monitor={monitor!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    return (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b), mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs; ``restore_best_weights`` puts back the weights of the best epoch when training
    ends, as Keras 3 does (whether it stopped early or not). With a ``baseline``, an
    improvement that does not also beat the baseline does not reset the wait.

    ``monitor`` must be a key of the epoch's logs: a ValueError at the end of the first
    epoch names the available ones (Keras warns each epoch and never stops).

    A NaN is never the best value: deliberately unlike Keras 3, where a NaN in the first
    monitored epoch becomes ``best`` and, since nothing compares better than NaN, no later
    epoch improves on it, so training stops after ``patience`` epochs (and
    ``restore_best_weights`` brings back the NaN epoch's weights). Here the first finite
    value is the first best, and NaN epochs count towards the wait as any epoch without
    improvement does.

    Example
    -------
    >>> import nncore as nn
    >>> nn.callbacks.EarlyStopping(monitor="loss", patience=2).mode
    'min'
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        self.monitor = monitor
        self.min_delta = abs(check_float(min_delta, "min_delta"))
        self.patience = check_int(patience, "patience", low=0)
        self.verbose = verbose
        self.baseline = None if baseline is None else check_float(baseline, "baseline")
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = check_int(start_from_epoch, "start_from_epoch", low=0)
        self._better, self.mode = _better(mode, monitor)
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None
        self.best_epoch = 0

    def _improved(self, value: float, reference: float) -> bool:
        shift = -self.min_delta if self.mode == "min" else self.min_delta
        return self._better(value - shift, reference)

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            if self.model.stop_training:  # fit skips validation when told to stop
                return
            # A typo or a val_ value without validation data would otherwise never stop
            # anything, epoch after epoch; the logs are the same every epoch, so the first
            # one tells.
            hint = (" (val_ values need validation_data or validation_split in fit)"
                    if self.monitor.startswith("val_") else "")
            raise ValueError(f"EarlyStopping: monitor={self.monitor!r} is not a logged value"
                             f"{hint}. Available keys: {', '.join(logs or {}) or 'none'}")
        if epoch < self.start_from_epoch:
            return
        if self.best_weights is None and self.restore_best_weights:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def __repr__(self):
        return f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience})"


class ModelCheckpoint(Callback):
    """Save the model after each epoch to ``filepath`` (which may hold ``{epoch}`` and log
    keys, e.g. ``"model-{epoch:02d}-{val_loss:.3f}.nnc"``); with ``save_best_only`` only
    when ``monitor`` improved."""

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, mode: str = "auto"):
        # A str path: it is formatted with the epoch and logs (bytes have no .format).
        if not isinstance(filepath, (str, os.PathLike)) or \
                not isinstance(os.fspath(filepath), str):
            raise TypeError(f"filepath must be a str or a path. Received: filepath={filepath!r}")
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only = bool(save_best_only)
        self._better, self.mode = _better(mode, monitor)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                warnings.warn(f"ModelCheckpoint: monitor {self.monitor!r} is not in the logs; "
                              "saving skipped.", RuntimeWarning, stacklevel=2)
                return
            if not self._better(value, self.best):
                return
            self.best = value
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite.

    With ``restore_weights=True`` the model then gets back the weights (batch-norm
    statistics included) that the last finite batch loss was computed with, or those it
    started ``fit`` with if no batch was finite: the last weights known to be usable. This
    copies the weights once per batch into buffers made at the start (no allocation per
    step); the optimizer's state is not restored, so compile again before resuming.

    Example
    -------
    >>> import nncore as nn
    >>> nn.callbacks.TerminateOnNaN(restore_weights=True).restore_weights
    True
    """

    def __init__(self, restore_weights: bool = False):
        if not isinstance(restore_weights, (bool, np.bool_)):
            raise TypeError(f"restore_weights must be True or False. "
                            f"Received: restore_weights={restore_weights!r}")
        self.restore_weights = bool(restore_weights)

    def _weights(self) -> list[np.ndarray]:
        return [w for layer in self.model.layers for w in layer.params + layer.state]

    def on_train_begin(self, logs=None):
        if self.restore_weights:
            # Two sets of buffers: "good" holds the last weights that gave a finite loss,
            # "pending" the ones the running batch started from; they swap when it ends
            # finite.
            self._good = [w.copy() for w in self._weights()]
            self._pending = [w.copy() for w in self._weights()]

    def on_train_batch_begin(self, batch, logs=None):
        if self.restore_weights:
            for buffer, w in zip(self._pending, self._weights()):
                np.copyto(buffer, w)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: invalid loss, terminating training")
            self.model.stop_training = True
            if self.restore_weights:
                self.model.set_weights(self._good)
                print("Restored the weights of the last batch with a finite loss.")
        elif self.restore_weights and all(math.isfinite(w.min()) and math.isfinite(w.max())
                                          for w in self._pending if w.size):
            # (the moving statistics of batch norm do not enter the loss: check them too)
            self._good, self._pending = self._pending, self._good


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at each epoch start to ``schedule(epoch, lr)``
    (or ``schedule(epoch)`` for a one-argument function, as Keras allows)."""

    def __init__(self, schedule, verbose: int = 0):
        if not callable(schedule):
            raise TypeError(f"schedule must be callable. Received: {schedule!r}")
        self.schedule, self.verbose = schedule, verbose
        try:
            inspect.signature(schedule).bind(0, 0.0)
            self._takes_lr = True
        except TypeError:
            self._takes_lr = False
        except ValueError:  # a builtin without a signature: assume Keras's two arguments
            self._takes_lr = True

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        # Setting a float would silently replace the schedule the optimizer was built
        # with; Keras's optimizer refuses it with a TypeError, and so do we.
        if isinstance(optimizer._learning_rate, schedules.LearningRateSchedule):
            raise TypeError(
                f"LearningRateScheduler cannot set the learning rate of an optimizer created "
                f"with a LearningRateSchedule as its learning_rate. Received: learning_rate="
                f"{type(optimizer._learning_rate).__name__}(...). Give the optimizer "
                "a float learning_rate to schedule it with this callback, or keep the "
                "schedule and drop the callback.")
        lr = float(self.schedule(epoch, optimizer.learning_rate) if self._takes_lr
                   else self.schedule(epoch))
        optimizer.learning_rate = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate


class ProgbarLogger(Callback):
    """The progress display of ``fit`` (added by ``fit`` when ``verbose`` is 1 or 2).

    ``verbose=1``: ``Epoch 1/10``, then a bar redrawn as batches complete that ends as
    Keras 3's line, ``8/8 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - loss: 0.4312 - ...``; every
    logged value is shown, the ones that do not fit the terminal's width on the lines
    under the bar (see :mod:`nncore.progress`). ``verbose=2``: one line per epoch,
    ``Epoch 1/10 - 8/8 - 0s - 2ms/step - loss: 0.4312 - ...``. Written to ``sys.stderr``,
    so that the standard output holds only a program's results.

    Example
    -------
    >>> import nncore as nn
    >>> nn.callbacks.ProgbarLogger(steps=8, epochs=10, verbose=2).verbose
    2
    """

    def __init__(self, steps: int, epochs: int, verbose: int = 1):
        self.steps = check_int(steps, "steps", low=0)
        self.epochs = check_int(epochs, "epochs", low=0)
        self.verbose = check_int(verbose, "verbose", low=1, high=2)
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = progress._now()
        if self.verbose == 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", file=sys.stderr, flush=True)
            self.bar = progress.Progbar(self.steps)
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self.bar is not None:
            self.bar.update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose == 1:
            self.bar.update(self._seen, logs, finalize=True)
            self.bar = None
        else:
            print(progress.epoch_line(epoch, self.epochs, self._seen,
                                      progress._now() - self._start, logs or {}),
                  file=sys.stderr, flush=True)
