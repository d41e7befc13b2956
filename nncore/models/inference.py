"""Inference with a :class:`~nncore.models.Sequential`: evaluate, predict, the per-batch
versions and the outputs of every layer (dropout off, batch normalization on its moving
statistics)."""
from __future__ import annotations

import math

import numpy as np

from nncore._checks import check_int
from nncore.models.batches import _Batches, _format_logs, _Stream, _Tracker, is_stream
from nncore.progress import Progbar, check_verbose


class Inference:
    """evaluate, predict and layer_outputs of :class:`~nncore.models.Sequential`.

    Example
    -------
    >>> import numpy as np, nncore as nn
    >>> model = nn.Sequential([nn.layers.Dense(2, input_dim=3, activation="softmax")], seed=0)
    >>> model.predict(np.zeros((1, 3)))
    array([[0.5, 0.5]], dtype=float32)
    """

    def _evaluate_batches(self, batches, bar=None) -> dict[str, float]:
        tracker = _Tracker(self._metrics)
        for step, (X, Y, W) in enumerate(batches):
            self._guard.checkpoint()  # validation inside fit: Ctrl-C may stop it here
            if not self.built:  # a stream's first batch
                self.build(X.shape[1])
            P = self._forward(X, training=False)
            value, _, _ = self._loss(Y, P, W, grad=False)
            tracker.update(value, Y, P, W)
            if bar is not None:
                bar.update(step + 1, tracker.result(), finalize=step + 1 == bar.target)
        return tracker.result()

    def evaluate(self, x=None, y=None, batch_size: int | None = 32, verbose=0,
                 sample_weight=None, return_dict: bool = False, steps: int | None = None):
        """The loss (and metrics) on ``x, y``: a float, ``[loss, *metrics]``, or a dict.
        ``verbose=1`` (or 2, or ``"auto"``) shows a progress bar with the running values.
        ``x`` may be a stream of ``(x, y[, sample_weight])`` batches, as in :meth:`fit`,
        read for ``steps`` batches or to its end.

        Parameters
        ----------
        x : array-like of shape (n, features), or a stream of batches
        y : array-like
            Targets, as ``fit`` takes them (None with a stream).
        batch_size : int
            Rows per batch (None: 32).
        verbose : 0, 1, 2 or "auto"
        sample_weight : array-like of shape (n,), optional
        return_dict : bool
            Return ``{"loss": ..., metric: ...}`` instead of a float or a list.
        steps : int, optional
            Batches read from a stream.

        Example
        -------
        >>> import numpy as np, nncore as nn
        >>> model = nn.Sequential([nn.layers.Dense(1, input_dim=2, use_bias=False)], seed=0)
        >>> model.compile("sgd", "mse")
        >>> model.evaluate(np.zeros((3, 2)), np.ones(3))
        1.0
        """
        batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", low=1)
        verbose = check_verbose(verbose)
        if is_stream(x):
            stream = _Stream(x, None if steps is None else check_int(steps, "steps", low=1),
                             self._prepare)
            bar = Progbar(stream.steps) if verbose and stream.steps else None
            return _format_logs(self._evaluate_batches(stream.epoch(), bar), return_dict)
        if x is None or y is None:
            raise ValueError("evaluate needs both x and y.")
        x, y, sw = self._prepare(x, y, sample_weight)
        self.build(x.shape[1])
        bar = Progbar(math.ceil(len(x) / batch_size)) if verbose else None
        logs = self._evaluate_batches(_Batches(x, y, sw, batch_size).epoch(None), bar)
        return _format_logs(logs, return_dict)

    def predict(self, x, batch_size: int | None = None, verbose=0) -> np.ndarray:
        """The outputs for ``x`` (inference: dropout off, moving statistics in batch norm).
        ``verbose=1`` (or 2, or ``"auto"``) shows a progress bar.

        Parameters
        ----------
        x : array-like of shape (n, features)
        batch_size : int, optional
            Rows per forward pass (None: 32).
        verbose : 0, 1, 2 or "auto"

        Example
        -------
        >>> import numpy as np, nncore as nn
        >>> model = nn.Sequential([nn.layers.Dense(1, input_dim=2, use_bias=False)], seed=0)
        >>> model.predict(np.zeros((2, 2))).shape
        (2, 1)
        """
        batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", low=1)
        verbose = check_verbose(verbose)
        x = self._check_x(x)
        bar = Progbar(max(math.ceil(len(x) / batch_size), 1)) if verbose else None
        return self._predict(x, batch_size, bar)

    def _predict(self, x: np.ndarray, batch_size: int, bar=None) -> np.ndarray:
        """:meth:`predict` on an ``x`` already checked by ``_check_x``."""
        self.build(x.shape[1])
        if len(x) <= batch_size:  # one batch: the common case of serving, kept short
            out = self._forward(x, training=False).copy()
            if bar is not None:
                bar.update(1, finalize=True)
            return out
        out = np.empty((len(x), self.output_dim), dtype=self.dtype)
        for step, start in enumerate(range(0, len(x), batch_size)):
            out[start:start + batch_size] = self._forward(x[start:start + batch_size],
                                                          training=False)
            if bar is not None:
                bar.update(step + 1, finalize=step + 1 == bar.target)
        return out

    def test_on_batch(self, x, y, sample_weight=None, return_dict: bool = False):
        """The loss (and metrics) of this batch, without training.

        Parameters
        ----------
        x : array-like of shape (n, features)
        y : array-like
            Targets, as ``fit`` takes them.
        sample_weight : array-like of shape (n,), optional
        return_dict : bool
            Return ``{"loss": ..., metric: ...}`` instead of a float or a list.
        """
        x, y, sw = self._prepare(x, y, sample_weight)
        self.build(x.shape[1])
        return _format_logs(self._evaluate_batches(_Batches(x, y, sw, len(x)).epoch(None)),
                            return_dict)

    def layer_outputs(self, x) -> list[np.ndarray]:
        """The output of every layer for ``x``, in inference mode (as ``predict``): one
        array per layer, each the caller's own copy. What the course draws to show a
        network's inner representations, and vanishing or saturated activations.

        Parameters
        ----------
        x : array-like of shape (n, features)

        Example
        -------
        >>> import numpy as np, nncore as nn
        >>> model = nn.Sequential([nn.layers.Dense(3, input_dim=2, activation="relu"),
        ...                        nn.layers.Dense(1)], seed=0)
        >>> [a.shape for a in model.layer_outputs(np.ones((5, 2)))]
        [(5, 3), (5, 1)]
        """
        X = self._check_x(x)
        self.build(X.shape[1])
        outputs = []
        for layer in self._layers:
            X = layer.call(X, False)
            outputs.append(X.copy())  # the layers reuse their buffers on the next call
        return outputs

    def predict_on_batch(self, x) -> np.ndarray:
        """The outputs for one batch ``x``: :meth:`predict` in one forward pass.

        Parameters
        ----------
        x : array-like of shape (n, features)
        """
        x = self._check_x(x)  # first: len() of a 0-d or ragged input is no message for x
        return self._predict(x, len(x))
