"""Callbacks that watch a logged value: EarlyStopping, ReduceLROnPlateau, TerminateOnNaN,
and LearningRateScheduler."""
from __future__ import annotations

import inspect
import math

import numpy as np

from nncore._checks import check_float, check_int
from nncore.callbacks.base import Callback
from nncore.optimizers import schedules


def better(mode: str, monitor: str, min_delta: float = 0.0):
    """``(is_better(a, b), mode)`` for a monitored value, ``mode`` resolved from 'auto':
    ``a`` is better than ``b`` when it improves on it by more than ``min_delta``.

    Parameters
    ----------
    mode : {'auto', 'min', 'max'}
    monitor : str
        The logged value's name ('auto' picks 'max' for accuracies and AUC).
    min_delta : float
        The least change that counts as an improvement (>= 0).

    Example
    -------
    >>> is_better, mode = better('auto', 'val_accuracy')
    >>> mode, is_better(0.9, 0.8)
    ('max', True)
    """
    if not isinstance(monitor, str):
        raise TypeError(f"monitor must be the name of a logged value such as 'val_loss'. "
                        f"Received: monitor={monitor!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    if mode == "min":
        return (lambda a, b: a + min_delta < b), mode
    return (lambda a, b: a - min_delta > b), mode


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

    Parameters
    ----------
    monitor : str, default 'val_loss'
        The logged value to watch.
    min_delta : float, default 0.0
        The smallest change that counts as an improvement.
    patience : int, default 0
        Epochs without improvement before stopping.
    verbose : int, default 0
        1 prints a line when it acts.
    mode : {'auto', 'min', 'max'}, default 'auto'
        Whether lower or higher is better; 'auto': higher for accuracies and AUC.
    baseline : float or None
        A value the monitored one must also beat.
    restore_best_weights : bool, default False
        Put back the best epoch's weights at the end.
    start_from_epoch : int, default 0
        Epochs to wait before watching (warm-up).

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
        self._better, self.mode = better(mode, monitor, self.min_delta)
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None
        self.best_epoch = 0

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
        if self._better(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(value, self.baseline):
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


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite.

    With ``restore_weights=True`` the model then gets back the weights (batch-norm
    statistics included) that the last finite batch loss was computed with, or those it
    started ``fit`` with if no batch was finite: the last weights known to be usable. This
    copies the weights once per batch into buffers made at the start (no allocation per
    step); the optimizer's state is not restored, so compile again before resuming.

    Parameters
    ----------
    restore_weights : bool, default False
        Put back the last weights with a finite loss.

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
    (or ``schedule(epoch)`` for a one-argument function, as Keras allows).

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, lr) -> new lr`` (epoch from 0), or ``schedule(epoch)``.
    verbose : int, default 0
        1 prints a line when it acts.

    Example
    -------
    >>> import nncore as nn
    >>> cb = nn.callbacks.LearningRateScheduler(lambda epoch, lr: lr / 2)
    >>> cb.schedule(3, 0.1)
    0.05
    """

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


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by more
    than ``min_delta`` for ``patience`` epochs, as keras.callbacks.ReduceLROnPlateau: then
    wait ``cooldown`` epochs before counting again, and never go below ``min_lr``. The
    learning rate is logged each epoch (``logs["learning_rate"]``).

    Parameters
    ----------
    monitor : str, default 'val_loss'
        The logged value to watch.
    factor : float in [0, 1), default 0.1
        The rate is multiplied by it.
    patience : int, default 10
        Epochs without improvement before reducing.
    verbose : int, default 0
        1 prints a line when it acts.
    mode : {'auto', 'min', 'max'}, default 'auto'
        Whether lower or higher is better; 'auto': higher for accuracies and AUC.
    min_delta : float, default 1e-4
        The smallest change that counts as an improvement.
    cooldown : int, default 0
        Epochs to wait after a reduction.
    min_lr : float, default 0.0
        The lowest rate.

    Example
    -------
    >>> import nncore as nn
    >>> nn.callbacks.ReduceLROnPlateau(factor=0.5, patience=2).factor
    0.5
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0):
        self.monitor = monitor
        self.factor = check_float(factor, "factor", low=0.0, high=1.0, high_open=True)
        self.patience = check_int(patience, "patience", low=0)
        self.verbose = verbose
        self.min_delta = abs(check_float(min_delta, "min_delta"))
        self._better, self.mode = better(mode, monitor, self.min_delta)
        self.cooldown = check_int(cooldown, "cooldown", low=0)
        self.min_lr = check_float(min_lr, "min_lr", low=0.0)

    def on_train_begin(self, logs=None):
        self.wait = self.cooldown_counter = 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        logs = logs if logs is not None else {}
        logs["learning_rate"] = optimizer.learning_rate
        value = logs.get(self.monitor)
        if value is None:
            raise ValueError(f"ReduceLROnPlateau: monitor={self.monitor!r} is not a logged "
                             f"value. Available keys: {', '.join(logs)}")
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(value, self.best):
            self.best, self.wait = value, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and optimizer.learning_rate > self.min_lr:
                if isinstance(optimizer._learning_rate, schedules.LearningRateSchedule):
                    raise TypeError("ReduceLROnPlateau cannot change the learning rate of "
                                    "an optimizer created with a LearningRateSchedule.")
                new = max(optimizer.learning_rate * self.factor, self.min_lr)
                optimizer.learning_rate = new
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                          f"to {new}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class GradientMonitor(Callback):
    """Record, each epoch, the size of every layer's gradient and, given a sample ``x``,
    the statistics of every layer's output, into the logs (so into the History).

    Keys, for each layer with weights: ``grad_norm/<layer>``, the root mean square over
    the epoch's batches of the Euclidean norm of the layer's gradient (all its weights
    together). For each layer, with ``x``: ``mean/<layer>`` and ``std/<layer>`` of its
    outputs on ``x`` at the epoch's end, and for ReLU-like outputs (relu, relu6 and
    Dense layers with them) ``dead/<layer>``, the fraction of its units that are 0 on
    every sample of ``x``. Gradients that shrink from the last layer to the first are
    vanishing; growing ones explode (the course's lesson 10): ``nn.plot.gradients``
    draws them.

    Parameters
    ----------
    x : array-like of shape (n, features) or None
        A sample for the output statistics; None records the gradient norms only.

    Example
    -------
    >>> import nncore as nn
    >>> x, y = nn.datasets.make_spirals(60, n_classes=2, random_state=0)
    >>> model = nn.Sequential([nn.layers.Dense(8, input_dim=2, activation="relu"),
    ...                        nn.layers.Dense(2, activation="softmax")], seed=1)
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> monitor = nn.callbacks.GradientMonitor(x)
    >>> h = model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
    >>> sorted(k for k in h.history if k.startswith(("grad_norm", "dead")))
    ['dead/dense', 'grad_norm/dense', 'grad_norm/dense_1']
    """

    _RELU_LIKE = ("relu", "relu6")

    def __init__(self, x=None):
        self.x = x

    def on_epoch_begin(self, epoch, logs=None):
        self._squares = {layer.name: 0.0 for layer in self.model.layers if layer.params}
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        # The gradients of the step just taken are still in the layers' grads.
        for layer in self.model.layers:
            if layer.params:
                self._squares[layer.name] += sum(float(np.dot(g.ravel(), g.ravel()))
                                                 for g in layer.grads)
        self._batches += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for name, total in self._squares.items():
            logs[f"grad_norm/{name}"] = math.sqrt(total / max(self._batches, 1))
        if self.x is None:
            return
        for layer, out in zip(self.model.layers, self.model.layer_outputs(self.x)):
            logs[f"mean/{layer.name}"] = float(out.mean())
            logs[f"std/{layer.name}"] = float(out.std())
            if getattr(layer, "activation", None) in self._RELU_LIKE:
                logs[f"dead/{layer.name}"] = float(np.mean(np.all(out == 0, axis=0)))
