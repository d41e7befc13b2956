"""Training and inference of a :class:`~nncore.models.Sequential`.

One training step is forward propagation through every layer, the loss and its
gradient, backpropagation (the chain rule, layer by layer in reverse), then one
optimizer update; a stack of Dense layers runs the first three in one call of the
backend's ``dense_plan``. ``fit`` repeats the step over shuffled mini-batches for a
number of epochs, inside the training guard (one trainer at a time, whole steps under
Ctrl-C).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from nncore import callbacks as callbacks_module, losses as losses_module
from nncore._checks import check_float, check_int
from nncore.backends.codes import LOSS_CODES, fuses
from nncore.layers import Dense
from nncore.models.batches import _Batches, _format_logs, _Stream, _Tracker, is_stream
from nncore.progress import check_verbose


class Trainer:
    """fit, train_on_batch and the training step of :class:`~nncore.models.Sequential`.

    Example
    -------
    >>> import numpy as np, nncore as nn
    >>> model = nn.Sequential([nn.layers.Dense(1, input_dim=2)], seed=0)
    >>> model.compile("sgd", "mse")
    >>> len(model.fit(np.ones((8, 2)), np.zeros(8), epochs=2, verbose=0).history["loss"])
    2
    """

    def _fused_output(self) -> bool:
        """True when the last layer's activation and the loss fuse (codes.FUSED)."""
        last = self._layers[-1]
        return isinstance(last, Dense) and fuses(last.activation, self.loss.name,
                                                 self.loss.from_logits)

    # ------------------------------------------------------------ one step
    def _forward(self, X: np.ndarray, training: bool) -> np.ndarray:
        for layer in self._layers:
            X = layer.call(X, training)
        return X

    def _loss(self, Y, P, sw, *, grad: bool):
        """Loss (plus regularization penalties) and, if ``grad``, dL/d(output).

        Called on arrays checked by ``_prepare`` and produced by the layers, so it goes to
        the backend's kernels directly."""
        fused = self._fused_output()
        out = self._layers[-1]._logits(len(P)) if fused else P
        dP = self._layers[-1]._buffer("dloss", out.shape) if grad else None
        if isinstance(self.loss, losses_module.CustomLoss):  # NumPy, layer by layer
            value = self.loss.batch(Y, out, sw, dP)
        else:
            value = self.ops._loss(LOSS_CODES[self.loss.name], Y, out,
                                   fused or self.loss.from_logits, self.loss.param, sw, dP)
        return value + self._penalty(), dP, fused

    def _penalty(self) -> float:
        """The regularization penalties of every regularized weight, added to the loss."""
        if not self._penalties:
            return 0.0
        return sum(self.ops._regularization_loss(param.reshape(-1), reg.l1, reg.l2)
                   for _, param, _, reg in self._penalties)

    def _dense_plan(self):
        """The backend's compiled step for this stack when every layer is Dense (made
        again when the weights' buffer or the loss changes), else None."""
        if not all(type(layer) is Dense and layer._custom is None for layer in self._layers) \
                or isinstance(self.loss, losses_module.CustomLoss):
            return None
        key = (id(self._flat), self.loss.name, self.loss.from_logits,
               self.loss.param, self._fused_output())
        if getattr(self, "_plan_key", None) != key:
            layers = self._layers
            self._plan = self.ops.dense_plan(
                [(layer.kernel, layer.bias) for layer in layers],
                [(layer.grads[0], layer.grads[1] if layer.use_bias else None)
                 for layer in layers],
                [layer._code for layer in layers], [layer._alpha for layer in layers],
                LOSS_CODES[self.loss.name], self.loss.from_logits,
                self.loss.param, key[-1])
            self._plan_key = key
        return self._plan

    # Set by nncore.distributed.data_parallel: each rank computes the gradient of its
    # shard of the batch and the ranks sum them (see _train_step).
    _data_parallel = None

    def _train_step(self, X, Y, sw) -> tuple[float, np.ndarray]:
        """One step on a checked batch: forward, loss, backward, regularization, clipping,
        update. Called inside the training guard, so Ctrl-C waits until it is complete."""
        if self._data_parallel is None:
            value, P = self._gradients(X, Y, sw)
        else:  # the global batch's loss, outputs and gradient, summed over the MPI ranks
            value, P = self._data_parallel._gradients(self, X, Y, sw)
        # After the sum: the penalty's gradient is added once, clipping sees the global one.
        for layer, param, grad, reg in self._penalties:
            if layer.trainable:
                self.ops._regularization_grad(param.reshape(-1), grad.reshape(-1),
                                              reg.l1, reg.l2)
        if self.optimizer.clips:
            self.optimizer.clip(self._grads(), self.ops)  # per weight, as Keras's clipnorm
        self.optimizer._apply_flat(self._flat, self._flat_grads, self._param_sizes,
                                   self._trainable_runs(), self.ops)
        return value, P

    def _gradients(self, X, Y, sw) -> tuple[float, np.ndarray]:
        """Forward, loss and backward on a checked batch: its loss (with the penalties) and
        outputs; the loss's gradient is left in ``self._flat_grads``."""
        plan = self._dense_plan()
        if plan is not None:  # forward, loss and backward in one compiled call
            value, P = plan.train_step(X, Y, sw)
            return value + self._penalty(), P
        P = self._forward(X, training=True)
        value, dA, fused = self._loss(Y, P, sw, grad=True)
        last = len(self._layers) - 1
        for i in range(last, -1, -1):
            layer = self._layers[i]
            if i == last and fused:
                dA = layer.backward(dA, need_dX=i > 0, from_logits=True)
            else:
                dA = layer.backward(dA, need_dX=i > 0)
        return value, P

    # ------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size: int | None = 32, epochs: int = 1,
            verbose="auto", callbacks=None, validation_split: float = 0.0,
            validation_data=None, shuffle: bool = True, class_weight=None,
            sample_weight=None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None):
        """Train for ``epochs`` passes over ``x`` in shuffled mini-batches.

        Returns a :class:`~nncore.callbacks.History` whose ``history`` maps ``"loss"``,
        each metric and their ``"val_"`` versions to one value per epoch. Batch gradient
        descent is ``batch_size=len(x)``, stochastic gradient descent ``batch_size=1``.

        Data larger than memory: ``x`` may be a memory map (``np.load(path,
        mmap_mode="r")``; each batch reads its own rows), or a stream of batches, as in
        Keras: a generator or iterator of ``(x, y)`` or ``(x, y, sample_weight)`` tuples
        (an epoch is ``steps_per_epoch`` of them, or runs until the iterator ends), or a
        re-iterable dataset such as :class:`nncore.datasets.CSVDataset` (one pass per
        epoch). With a stream, ``y``, ``sample_weight``, ``validation_split`` and
        ``shuffle`` do not apply; ``validation_data`` may be a stream too, read for
        ``validation_steps`` batches (or to its end).

        Parameters
        ----------
        x : array-like of shape (n, features), a memory map, or a stream of batches
        y : array-like
            Targets: (n,) class labels for sparse categorical cross-entropy, else (n,) or
            (n, outputs). None with a stream.
        batch_size : int
            Rows per step (None: 32).
        epochs : int
            The epoch to end before (counted from 0, with ``initial_epoch``).
        verbose : 0, 1, 2 or "auto"
            0 silent, 1 a progress bar, 2 one line per epoch ("auto": 1).
        callbacks : list of Callback, optional
        validation_split : float
            The fraction of the last rows (before shuffling) held out for validation.
        validation_data : tuple or stream, optional
            ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``, or a stream.
        shuffle : bool
            Shuffle the rows before each epoch.
        class_weight : dict, optional
            A weight per class label, multiplied into the sample weights.
        sample_weight : array-like of shape (n,), optional
        initial_epoch : int
            The epoch to start at (to resume a run).
        steps_per_epoch : int, optional
            Batches per epoch from a stream.
        validation_steps : int, optional
            Batches read from a validation stream.

        Example
        -------
        >>> import nncore as nn
        >>> x, y = nn.datasets.make_xor()
        >>> model = nn.Sequential([nn.layers.Dense(4, input_dim=2, activation="tanh"),
        ...                        nn.layers.Dense(1, activation="sigmoid")], seed=1)
        >>> model.compile(nn.optimizers.Adam(0.05), "binary_crossentropy", ["accuracy"])
        >>> model.fit(x, y, epochs=300, batch_size=4, verbose=0).history["accuracy"][-1]
        1.0
        """
        batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", low=1)
        epochs = check_int(epochs, "epochs", low=0)
        initial_epoch = check_int(initial_epoch, "initial_epoch", low=0)
        verbose = check_verbose(verbose)
        split = check_float(validation_split, "validation_split", low=0.0, high=1.0,
                            high_open=True)
        steps_per_epoch = None if steps_per_epoch is None else \
            check_int(steps_per_epoch, "steps_per_epoch", low=1)
        validation_steps = None if validation_steps is None else \
            check_int(validation_steps, "validation_steps", low=1)
        if is_stream(validation_data):
            validation_data = _Stream(validation_data, validation_steps, self._prepare,
                                      "validation_data")
        if is_stream(x):
            if y is not None or sample_weight is not None or split:
                raise ValueError("x is a stream of batches: its batches carry y and the "
                                 "sample weights, and it cannot be split; give y=None, "
                                 "sample_weight=None, validation_split=0 (validation_data "
                                 "may be a stream too).")
            source = _Stream(x, steps_per_epoch,
                             lambda *b: self._prepare(*b[:2], b[2] if len(b) > 2 else None,
                                                      class_weight))
            return self._fit_source(source, validation_data, epochs, initial_epoch,
                                    verbose, callbacks, batch_size)
        if x is None or y is None:
            raise ValueError("fit needs both x and y.")
        x, y, sw = self._prepare(x, y, sample_weight, class_weight)
        val = None
        if isinstance(validation_data, _Stream):
            val = validation_data
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or \
                    len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a tuple (x_val, y_val) or "
                                 "(x_val, y_val, val_sample_weight).")
            val = self._prepare(validation_data[0], validation_data[1],
                                validation_data[2] if len(validation_data) == 3 else None,
                                names=("validation_data[0]", "validation_data[1]"))
            if val[0].shape[1] != x.shape[1]:
                raise ValueError("validation_data[0] must have as many features as x.")
        elif split > 0.0:
            cut = int(len(x) * (1.0 - split))  # Keras: the last rows, before shuffling
            if cut == 0 or cut == len(x):
                raise ValueError(f"validation_split={split} leaves no rows for training or "
                                 f"none for validation with {len(x)} rows.")
            val = (x[cut:], y[cut:], None if sw is None else sw[cut:])
            x, y, sw = x[:cut], y[:cut], None if sw is None else sw[:cut]
        self.build(x.shape[1])
        source = _Batches(x, y, sw, batch_size)
        return self._fit_source(source, val, epochs, initial_epoch, verbose, callbacks,
                                batch_size, self.rng if shuffle else None)

    def _fit_source(self, source, val, epochs: int, initial_epoch: int, verbose: int,
                    callbacks, batch_size: int, rng=None):
        """:meth:`fit` on checked arguments: batches from ``source`` (arrays or a stream),
        shuffled by ``rng`` (arrays only), validation on arrays or a stream."""
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            raise TypeError(f"callbacks must be a list of nncore Callback instances. "
                            f"Received: callbacks={callbacks!r}")
        callback_list = list(callbacks or [])
        for cb in callback_list:
            if not isinstance(cb, callbacks_module.Callback):
                raise TypeError(f"callbacks must be nncore Callback instances. Received: {cb!r}")
        with self._guard.training(self.name):
            return self._fit_loop(source, val, batch_size, epochs, initial_epoch, verbose,
                                  rng, callback_list)

    def _fit_loop(self, source, val, batch_size: int, epochs: int, initial_epoch: int,
                  verbose: int, rng, callback_list: list):
        """The epochs of :meth:`fit`."""
        history = callbacks_module.History()
        steps = source.steps or 0  # 0: a stream of unknown length
        # History after the user's callbacks, as Keras: what they add to the epoch's logs
        # (LearningRateScheduler's learning_rate...) is recorded too.
        callback_list = callback_list + [history]
        if verbose:
            callback_list.append(callbacks_module.ProgbarLogger(steps, epochs, verbose))
        for cb in callback_list:
            cb.set_model(self)
        self.stop_training = False
        self._warned_nan = False
        self._resume_epoch = None
        for cb in callback_list:
            cb.on_train_begin()
        if self._resume_epoch is not None:  # BackupAndRestore found an interrupted run
            initial_epoch = max(initial_epoch, self._resume_epoch)
        for epoch in range(initial_epoch, epochs):
            self._guard.checkpoint()
            for cb in callback_list:
                cb.on_epoch_begin(epoch)
            tracker = _Tracker(self._metrics)
            for step, (X, Y, W) in enumerate(source.epoch(rng)):
                for cb in callback_list:
                    cb.on_train_batch_begin(step)
                if not self.built:  # a stream's first batch builds the model
                    self.build(X.shape[1])
                value, P = self._train_step(X, Y, W)
                self._guard.checkpoint()
                if not math.isfinite(value) and not self._warned_nan:
                    self._warned_nan = True
                    warnings.warn(f"The loss became {value} in epoch {epoch + 1}, batch "
                                  f"{step + 1}: training diverged (try a smaller learning "
                                  "rate or gradient clipping; TerminateOnNaN stops it).",
                                  RuntimeWarning, stacklevel=3)
                tracker.update(value, Y, P, W)
                logs = tracker.result()
                for cb in callback_list:
                    cb.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            if tracker.count == 0 and isinstance(source, _Stream):
                # The stream ran out (a finite generator after its first pass): Keras
                # stops training there, without an epoch of no data in the logs.
                self.stop_training = True
                break
            logs = tracker.result()
            if val is not None and not self.stop_training:
                batches = val.epoch() if isinstance(val, _Stream) else \
                    _Batches(*val, batch_size).epoch(None)
                val_logs = self._evaluate_batches(batches)
                if not isinstance(val, _Stream) or val.yielded:  # else: it ran out
                    logs.update({f"val_{k}": v for k, v in val_logs.items()})
            for cb in callback_list:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in callback_list:
            cb.on_train_end()
        self.history = history
        return history

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None,
                       return_dict: bool = False):
        """One optimizer step on exactly this batch; returns its loss (and metrics).

        Parameters
        ----------
        x : array-like of shape (n, features)
        y : array-like
            Targets, as ``fit`` takes them.
        sample_weight : array-like of shape (n,), optional
        class_weight : dict, optional
            A weight per class label, multiplied into ``sample_weight``.
        return_dict : bool
            Return ``{"loss": ..., metric: ...}`` instead of a float or a list.

        Example
        -------
        >>> import numpy as np, nncore as nn
        >>> model = nn.Sequential([nn.layers.Dense(1, input_dim=2)], seed=0)
        >>> model.compile("sgd", "mse")
        >>> round(model.train_on_batch(np.ones((4, 2)), np.zeros(4)), 4)
        0.0696
        """
        x, y, sw = self._prepare(x, y, sample_weight, class_weight)
        with self._guard.training(self.name):
            self.build(x.shape[1])
            value, P = self._train_step(x, y, sw)
        tracker = _Tracker(self._metrics)
        tracker.update(value, y, P, sw)
        return _format_logs(tracker.result(), return_dict)
