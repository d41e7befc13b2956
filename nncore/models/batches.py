"""Mini-batches for the training loop, and the running means of an epoch's logs."""
from __future__ import annotations

import numpy as np

from nncore import metrics as metrics_module


class _Batches:
    """Mini-batches gathered into reused buffers (np.take with out=): no copies per step."""

    def __init__(self, x, y, sw, batch_size: int):
        self.arrays = [a for a in (x, y, sw)]
        self.n, self.batch_size = len(x), batch_size
        self.buffers: dict[int, list] = {}

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
