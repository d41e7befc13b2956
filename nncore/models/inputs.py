"""The data a model is given, checked at the edge: features, targets and weights.

Each check returns arrays ready for the kernels (the model's dtype, C-contiguous) or
raises a ValueError/TypeError naming the argument, before the model changes at all.
"""
from __future__ import annotations

import numpy as np

from nncore._checks import check_float, check_int, class_labels, to_array
from nncore.exceptions import NotCompiledError


class Inputs:
    """The input checks of :class:`~nncore.models.Sequential`.

    Example
    -------
    >>> import nncore as nn
    >>> model = nn.Sequential([nn.layers.Dense(2, input_dim=3)], seed=0)
    >>> model.predict([[1.0, 2.0]])
    Traceback (most recent call last):
    ValueError: x must have 3 features (columns). Received: x.shape=(1, 2)
    """

    def _check_x(self, x, name: str = "x") -> np.ndarray:
        x = to_array(x, name, self.dtype, ndim=2)
        features = self.input_dim if self.built else self._layers[0].input_dim \
            if self._layers else None
        if features is not None and x.shape[1] != features:
            raise ValueError(f"{name} must have {features} features (columns). "
                             f"Received: {name}.shape={x.shape}")
        if not self._layers:
            raise ValueError("The model has no layers; add() some first.")
        self._output_dim(x.shape[1])
        return x

    def _check_y(self, y, n: int, out_dim: int, name: str = "y") -> np.ndarray:
        """Labels for sparse cross-entropy; otherwise targets of shape (n, out_dim)."""
        if self.loss.name == "sparse_categorical_crossentropy":
            # Aligned too: train_on_batch hands y to the loss kernel as it is.
            y = class_labels(y, name, out_dim, f"a model with {out_dim} outputs")
        else:
            self.loss.check_outputs(out_dim)
            y = to_array(y, name, self.dtype, ndim=(1, 2))
            if y.ndim == 1:
                y = y.reshape(-1, 1)
            if y.shape[1] != out_dim:
                raise ValueError(f"{name} must have {out_dim} columns to match the model's "
                                 f"output (one-hot for categorical_crossentropy). Received: "
                                 f"{name}.shape={y.shape}")
            if self.loss.name in ("binary_crossentropy", "categorical_crossentropy") and \
                    (y.min() < 0 or y.max() > 1):
                raise ValueError(f"{name} must hold targets in [0, 1] for {self.loss.name}.")
        if len(y) != n:
            raise ValueError(f"x and {name} must have the same number of rows. Received: "
                             f"{n} and {len(y)}")
        return y

    def _check_sample_weight(self, sample_weight, n: int, name="sample_weight"):
        if sample_weight is None:
            return None
        sw = to_array(sample_weight, name, self.dtype, ndim=1)
        if sw.shape != (n,):
            raise ValueError(f"{name} must have one weight per row, shape ({n},). "
                             f"Received: {name}.shape={sw.shape}")
        if sw.min() < 0:
            raise ValueError(f"{name} must not be negative.")
        return sw

    def _class_weights(self, class_weight, y: np.ndarray, n: int):
        if class_weight is None:
            return None
        if not isinstance(class_weight, dict):
            raise TypeError(f"class_weight must be a dict {{class: weight}}. "
                            f"Received: {type(class_weight).__name__}")
        labels = y if y.ndim == 1 else (y[:, 0] > 0.5).astype(np.int64) if y.shape[1] == 1 \
            else y.argmax(axis=1)
        table = {}
        for key, value in class_weight.items():
            key = check_int(key, "class_weight key", low=0)
            table[key] = check_float(value, f"class_weight[{key}]", low=0.0)
        missing = set(np.unique(labels).tolist()) - set(table)
        if missing:
            raise ValueError(f"class_weight has no weight for classes {sorted(missing)}.")
        # Sized by the labels, not by the keys: a key such as 10**12 names no class here
        # and must not allocate a table of that length.
        weights = np.zeros(int(labels.max()) + 1, dtype=self.dtype)
        for key, value in table.items():
            if key < len(weights):
                weights[key] = value
        return weights[labels]

    def _prepare(self, x, y, sample_weight=None, class_weight=None, *, names=("x", "y")):
        """Checked arrays (x, y, sample weights) and the input width, before any change."""
        if not self.compiled:
            raise NotCompiledError("You must compile() the model before training or "
                                   "evaluating it.")
        x = self._check_x(x, names[0])
        out_dim = self._output_dim(x.shape[1])
        y = self._check_y(y, len(x), out_dim, names[1])
        sw = self._check_sample_weight(sample_weight, len(x))
        cw = self._class_weights(class_weight, y, len(x))
        if cw is not None:
            sw = cw if sw is None else sw * cw
        return x, y, sw
