"""Mini-batches for the training loop (from arrays, or from a stream of batches), and the
running means of an epoch's logs."""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator

import numpy as np

from nncore import metrics as metrics_module


class _Batches:
    """Mini-batches gathered into reused buffers (np.take with out=): no copies per step.
    Arrays may be memory maps (np.load(..., mmap_mode="r")): a batch reads its rows only."""

    def __init__(self, x, y, sw, batch_size: int):
        self.arrays = [a for a in (x, y, sw)]
        self.n, self.batch_size = len(x), batch_size
        self.steps = -(-self.n // batch_size)
        self.buffers: dict[int, list] = {}

    def epoch(self, rng: np.random.Generator | None):
        """One epoch's batches, in the order of a permutation drawn from ``rng`` (None:
        the rows' order)."""
        return self.iterate(None if rng is None else rng.permutation(self.n))

    def iterate(self, order):
        for start in range(0, self.n, self.batch_size):
            stop = min(start + self.batch_size, self.n)
            if order is None:
                yield tuple(None if a is None else a[start:stop] for a in self.arrays)
                continue
            size = stop - start
            if size not in self.buffers:
                self.buffers[size] = [None if a is None else np.empty((size,) + a.shape[1:],
                                                                      a.dtype)
                                      for a in self.arrays]
            idx = order[start:stop]
            # mode="clip": with mode="raise" numpy buffers the result and copies it; the
            # indices are a permutation of range(n), so clipping never changes one.
            yield tuple(None if a is None else np.take(a, idx, axis=0, out=buf, mode="clip")
                        for a, buf in zip(self.arrays, self.buffers[size]))


def is_stream(x) -> bool:
    """Whether ``fit``'s ``x`` is a stream of batches rather than an array: an iterator
    (a generator...), or an iterable that is no array-like (a CSVDataset...).

    Parameters
    ----------
    x : object
        What was given as ``x``.

    Example
    -------
    >>> import numpy as np
    >>> is_stream(iter([])), is_stream(np.zeros((2, 2))), is_stream([[1.0, 2.0]])
    (True, False, False)
    """
    if isinstance(x, Iterator):
        return True
    return isinstance(x, Iterable) and not isinstance(x, (np.ndarray, list, tuple, str,
                                                          bytes)) \
        and not hasattr(x, "__array__") and not hasattr(x, "shape")


class _Stream:
    """Batches drawn from a stream of ``(x, y)`` or ``(x, y, sample_weight)`` tuples, each
    checked by ``prepare`` as ``fit`` checks arrays. An iterator goes on where the last
    epoch stopped (Keras's generators); another iterable (a dataset) starts over each
    epoch. ``steps`` (``steps_per_epoch``) ends an epoch after that many batches; without
    it an epoch ends when the stream does."""

    def __init__(self, stream, steps: int | None, prepare, name: str = "x"):
        self.stream, self.steps, self.prepare, self.name = stream, steps, prepare, name
        self._iterator = stream if isinstance(stream, Iterator) else None
        if steps is None and hasattr(stream, "__len__"):
            self.steps = len(stream)

    def epoch(self, rng=None):
        iterator = self._iterator if self._iterator is not None else iter(self.stream)
        step = self.yielded = 0
        while self.steps is None or step < self.steps:
            try:
                batch = next(iterator)
            except StopIteration:
                if self.steps is not None or step == 0:
                    warnings.warn(f"{self.name} ran out of batches after {step} of this "
                                  f"epoch, so training stops there; a generator is not "
                                  f"restarted: give one that loops, with steps_per_epoch, "
                                  f"or a dataset (read again each epoch).",
                                  UserWarning, stacklevel=4)
                return
            if not isinstance(batch, tuple) or len(batch) not in (2, 3):
                raise ValueError(f"{self.name} must yield (x, y) or (x, y, sample_weight) "
                                 f"tuples. Received: {type(batch).__name__}")
            yield self.prepare(*batch)
            step = self.yielded = step + 1


class _Tracker:
    """Running means over an epoch: the loss weighted by batch size (as Keras); a metric's
    per-sample values by sample weight, its batch means by batch size
    (:func:`nncore.metrics.batch_values`)."""

    def __init__(self, metrics):
        # An epoch-level Metric gets a fresh copy per tracker (an epoch, a validation
        # pass), so no pass mixes its sums with another's.
        self.metrics = [(name, fn.fresh() if isinstance(fn, metrics_module.Metric) else fn)
                        for name, fn in metrics]
        self.loss_sum, self.count = 0.0, 0
        self.metric_sums = [0.0] * len(metrics)
        # One total weight per metric: a batch mean counts n samples even where per-sample
        # values would have been weighted by W.
        self.metric_weights = [0.0] * len(metrics)

    def update(self, value: float, Y, P, W) -> None:
        n = len(P)
        self.loss_sum += value * n
        self.count += n
        for i, (name, fn) in enumerate(self.metrics):
            if isinstance(fn, metrics_module.Metric):
                fn.update_state(Y, P, W)
                continue
            values = metrics_module.batch_values(name, fn(Y, P), n)
            if values.ndim == 0:
                total, weight = float(values) * n, n
            elif W is None:
                total, weight = float(values.sum()), n
            else:
                total, weight = float(np.dot(values, W)), float(W.sum())
            self.metric_sums[i] += total
            self.metric_weights[i] += weight

    def result(self) -> dict[str, float]:
        logs = {"loss": self.loss_sum / max(self.count, 1)}
        for i, (name, fn) in enumerate(self.metrics):
            if isinstance(fn, metrics_module.Metric):
                logs[name] = fn.result()
                continue
            weight = self.metric_weights[i]
            logs[name] = self.metric_sums[i] / weight if weight else 0.0
        return logs


def _format_logs(logs: dict, return_dict: bool):
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values
