"""The Callback interface, the History fit returns, LambdaCallback and the progress
display (ProgbarLogger)."""
from __future__ import annotations

import sys

from nncore import progress
from nncore._checks import check_int


class Callback:
    """Base class; ``self.model`` is set by ``fit`` before training starts.

    Override the hooks you need; ``fit`` calls them in this order: ``on_train_begin``,
    then per epoch ``on_epoch_begin``, per batch ``on_train_batch_begin`` and
    ``on_train_batch_end``, then ``on_epoch_end``; finally ``on_train_end``.

    Example
    -------
    >>> import nncore as nn
    >>> class Stop(nn.callbacks.Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         self.model.stop_training = logs["loss"] < 0.1
    >>> Stop().on_train_begin()
    """

    model = None

    def set_model(self, model) -> None:
        """Give the callback the model being trained (``self.model``).

        Parameters
        ----------
        model : Sequential
        """
        self.model = model

    def on_train_begin(self, logs=None):
        """Called once as ``fit`` starts.

        Parameters
        ----------
        logs : dict or None
            None from ``fit``.
        """

    def on_train_end(self, logs=None):
        """Called once as ``fit`` ends (also after ``stop_training``).

        Parameters
        ----------
        logs : dict or None
            None from ``fit``.
        """

    def on_epoch_begin(self, epoch: int, logs=None):
        """Called as an epoch starts.

        Parameters
        ----------
        epoch : int
            Its index, from 0 (from ``initial_epoch`` when resuming).
        logs : dict or None
            None from ``fit``.
        """

    def on_epoch_end(self, epoch: int, logs=None):
        """Called as an epoch ends, with its results.

        Parameters
        ----------
        epoch : int
            Its index, from 0.
        logs : dict
            Metric name -> value over the epoch: ``loss``, each metric, and with
            validation data ``val_loss`` and ``val_<metric>``.
        """

    def on_train_batch_begin(self, batch: int, logs=None):
        """Called before a training step.

        Parameters
        ----------
        batch : int
            The step's index in the epoch, from 0.
        logs : dict or None
            None from ``fit``.
        """

    def on_train_batch_end(self, batch: int, logs=None):
        """Called after a training step.

        Parameters
        ----------
        batch : int
            The step's index in the epoch, from 0.
        logs : dict
            The running means over the epoch so far (``loss`` and the metrics).
        """


class History(Callback):
    """Records the logs of each epoch: ``history.history["loss"]`` is a list per epoch.

    Example
    -------
    >>> import nncore as nn
    >>> h = nn.callbacks.History()
    >>> h.on_epoch_end(0, {'loss': 0.5}); h.history
    {'loss': [0.5]}
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(self, keys=None, ax=None):
        """Plot the recorded curves with matplotlib (an optional extra: nncore[plot]).

        Parameters
        ----------
        keys : list of str or None
            The logged values to draw; None for all.
        ax : matplotlib Axes or None
            Where to draw; None for the current axes.
        """
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


class ProgbarLogger(Callback):
    """The progress display of ``fit`` (added by ``fit`` when ``verbose`` is 1 or 2).

    ``verbose=1``: ``Epoch 1/10``, then a bar redrawn as batches complete that ends as
    Keras 3's line, ``8/8 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - loss: 0.4312 - ...``; every
    logged value is shown, the ones that do not fit the terminal's width on the lines
    under the bar (see :mod:`nncore.progress`). ``verbose=2``: one line per epoch,
    ``Epoch 1/10 - 8/8 - 0s - 2ms/step - loss: 0.4312 - ...``. Written to ``sys.stderr``,
    so that the standard output holds only a program's results.

    Parameters
    ----------
    steps : int
        Batches per epoch.
    epochs : int
        Number of epochs, for ``Epoch i/epochs``.
    verbose : {1, 2}, default 1
        1: a progress bar; 2: one line per epoch.

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
        if not self.steps:  # a stream of unknown length: the next epochs know it
            self.steps = self._seen
        if self.verbose == 1:
            self.bar.update(self._seen, logs, finalize=True)
            self.bar = None
        else:
            print(progress.epoch_line(epoch, self.epochs, self._seen,
                                      progress._now() - self._start, logs or {}),
                  file=sys.stderr, flush=True)


class LambdaCallback(Callback):
    """A callback made of functions, as keras.callbacks.LambdaCallback: each argument,
    when given, is called at that point with the same arguments as the method (``epoch``
    or ``batch``, and ``logs``; ``logs`` only for the train hooks).

    Parameters
    ----------
    on_epoch_begin, on_epoch_end : callable or None
        ``fn(epoch, logs)``.
    on_train_begin, on_train_end : callable or None
        ``fn(logs)``.
    on_train_batch_begin, on_train_batch_end : callable or None
        ``fn(batch, logs)``.

    Example
    -------
    >>> import nncore as nn
    >>> seen = []
    >>> cb = nn.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    >>> cb.on_epoch_end(0, {}); seen
    [0]
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None):
        self._hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                           on_train_begin=on_train_begin, on_train_end=on_train_end,
                           on_train_batch_begin=on_train_batch_begin,
                           on_train_batch_end=on_train_batch_end)
        for name, fn in self._hooks.items():
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable or None. Received: {name}={fn!r}")

    def _call(self, name: str, *args) -> None:
        if self._hooks[name] is not None:
            self._hooks[name](*args)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)
