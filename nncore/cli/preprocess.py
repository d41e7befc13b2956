"""What ``train`` does to the data before the network sees it, stored in the model file so
that ``predict`` and ``evaluate`` do the same without being told.

The record lives in ``model.metadata["nncore.cli"]`` (strict JSON, saved with the model):

- ``task``: ``"classification"`` or ``"regression"``;
- ``scale``: inputs are divided by it first (255 for MNIST's pixels), or null;
- ``mean``, ``std``: per-feature standardization ``(x - mean) / std`` with the training
  split's statistics, or null (``--no-standardize``, MNIST);
- ``target_mean``, ``target_std``: a regression target is learned standardized the same
  way, and predictions are mapped back to its units; null for classification;
- ``label``: the label column's name in the training file, or null.

A model file is input from outside: :meth:`Preprocessing.from_metadata` checks every field
(types, lengths, finite numbers, positive scales) before anything uses it.

Example
-------
>>> import numpy as np
>>> from nncore.cli.preprocess import Preprocessing
>>> prep = Preprocessing.fit(np.array([[1.0, 10.0], [3.0, 30.0]]), standardize=True)
>>> prep.apply(np.array([[2.0, 50.0]]))
array([[0., 3.]])
"""
from __future__ import annotations

import math

import numpy as np

KEY = "nncore.cli"
#: Whole-number labels count as classes (``--task auto``) up to this many classes.
MAX_INFERRED_CLASSES = 100


def infer_task(y: np.ndarray) -> tuple[str, str]:
    """``(task, reason)`` for ``--task auto``: classification for whole-number labels
    0..k-1 with k at most MAX_INFERRED_CLASSES and at most half the number of rows, else
    regression (a quantity never silently becomes a softmax over hundreds of "classes")."""
    y = np.asarray(y, dtype=np.float64)
    if not np.isfinite(y).all():
        return "classification", "labels that are not finite"  # refused by class_count
    if np.any(y != np.round(y)):
        return "regression", "the target has non-integer values"
    k = int(y.max()) + 1 if y.size else 0
    if y.min() < 0:
        return "regression", "the target has negative values"
    if k > MAX_INFERRED_CLASSES or 2 * k > len(y):
        return "regression", (f"the whole-number target spans {k} values, too many to be "
                              f"classes of {len(y)} rows")
    return "classification", f"whole-number labels 0..{k - 1}"


def class_count(y: np.ndarray, source: str) -> int:
    """The number of classes of the labels ``y``: whole numbers in [0, number of rows).

    When every class occurs at least once, the largest label is below the number of rows.
    A larger one means the wrong label column (an id, a measurement), which would
    otherwise become an output layer of that many units and exhaust memory."""
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0 or not np.isfinite(y).all() or np.any(y != np.round(y)) \
            or y.min() < 0 or y.max() >= len(y):
        raise ValueError(f"the label column of {source} must hold whole-number class labels "
                         f"0, 1, ..., k-1, with k at most the number of rows ({len(y)}), "
                         f"for --task classification. Received labels in "
                         f"[{np.min(y) if y.size else np.nan:g}, "
                         f"{np.max(y) if y.size else np.nan:g}]")
    return int(y.max()) + 1


class Preprocessing:
    """Input scaling, standardization and (regression) target scaling, as one record."""

    def __init__(self, task: str = "classification", scale: float | None = None,
                 mean=None, std=None, target_mean: float | None = None,
                 target_std: float | None = None, label: str | None = None):
        self.task, self.scale, self.label = task, scale, label
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = None if std is None else np.asarray(std, dtype=np.float64)
        self.target_mean, self.target_std = target_mean, target_std

    @classmethod
    def fit(cls, x: np.ndarray, *, standardize: bool, scale: float | None = None,
            task: str = "classification", y: np.ndarray | None = None,
            label: str | None = None) -> Preprocessing:
        """The statistics of the training rows ``x`` (and target ``y`` for regression).
        A constant feature keeps std 1 (it becomes 0 rather than a division by zero)."""
        prep = cls(task, scale, label=label)
        if standardize:
            x = prep._scaled(x)
            with np.errstate(over="ignore", invalid="ignore"):  # checked by the caller
                std = x.std(axis=0)
            prep.mean, prep.std = x.mean(axis=0), np.where(std > 0, std, 1.0)
            if task == "regression" and y is not None:
                with np.errstate(over="ignore", invalid="ignore"):  # see check()
                    prep.target_mean = float(np.mean(y))
                    prep.target_std = float(np.std(y)) or 1.0
        return prep

    def check(self, source: str) -> None:
        """Refuse statistics that overflowed (features or a target near float64's limit)."""
        if self.mean is not None and not np.isfinite(self.mean * self.std).all():
            column = int(np.flatnonzero(~np.isfinite(self.mean * self.std))[0])
            raise ValueError(f"{source}: feature {column + 1} is too large to standardize "
                             "(its variance overflows); rescale it or give --no-standardize")
        if self.target_mean is not None and not math.isfinite(self.target_mean *
                                                              self.target_std):
            raise ValueError(f"{source}: the target is too large to standardize (its "
                             "variance overflows); rescale it or give --no-standardize")

    def _scaled(self, x: np.ndarray) -> np.ndarray:
        return x / self.scale if self.scale is not None else x

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The inputs the network was trained on, from raw rows ``x``."""
        x = self._scaled(np.asarray(x, dtype=np.float64))
        return (x - self.mean) / self.std if self.mean is not None else x

    def target(self, y: np.ndarray) -> np.ndarray:
        """The target the network learns (standardized for regression)."""
        if self.target_mean is None:
            return y
        return ((y - self.target_mean) / self.target_std).reshape(-1, 1)

    def untarget(self, p: np.ndarray) -> np.ndarray:
        """Network outputs back in the target's units (regression)."""
        if self.target_mean is None:
            return p
        return p * self.target_std + self.target_mean

    def describe(self) -> str:
        parts = [f"divided by {self.scale:g}"] if self.scale is not None else []
        if self.mean is not None:
            parts.append(f"{len(self.mean)} features standardized")
        if self.target_mean is not None:
            parts.append("target standardized")
        return ", ".join(parts) or "none"

    def to_metadata(self) -> dict:
        as_list = lambda a: None if a is None else [float(v) for v in a]  # noqa: E731
        return {"task": self.task, "scale": self.scale, "mean": as_list(self.mean),
                "std": as_list(self.std), "target_mean": self.target_mean,
                "target_std": self.target_std, "label": self.label}

    @classmethod
    def from_metadata(cls, metadata: dict, features: int, source: str) -> Preprocessing:
        """The record of a model file, checked; a file without one (written before the
        command line stored it, or by the Python API) means no preprocessing."""
        record = metadata.get(KEY)
        if record is None:
            return cls(task="classification")

        def bad(what: str):
            return ValueError(f"{source}: the stored preprocessing (metadata[{KEY!r}]) is "
                              f"invalid: {what}")

        if not isinstance(record, dict) or set(record) != set(cls().to_metadata()):
            raise bad("expected an object with the keys "
                      f"{', '.join(sorted(cls().to_metadata()))}")
        if record["task"] not in ("classification", "regression"):
            raise bad(f"task={record['task']!r}")
        if record["label"] is not None and not isinstance(record["label"], str):
            raise bad(f"label={record['label']!r}")
        for key in ("scale", "target_mean", "target_std"):
            value = record[key]
            if value is not None and (isinstance(value, bool) or
                                      not isinstance(value, (int, float)) or
                                      not math.isfinite(value) or
                                      (key != "target_mean" and value <= 0)):
                limit = "" if key == "target_mean" else " > 0"
                raise bad(f"{key}={value!r} (a finite number{limit} or null)")
        if (record["target_mean"] is None) != (record["target_std"] is None):
            raise bad("target_mean and target_std must both be numbers or both null")
        if (record["mean"] is None) != (record["std"] is None):
            raise bad("mean and std must both be lists or both null")
        for key in ("mean", "std"):
            values = record[key]
            if values is None:
                continue
            if not isinstance(values, list) or len(values) != features or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v) and (key == "mean" or v > 0) for v in values):
                raise bad(f"{key} must be a list of {features} finite numbers"
                          + (" > 0" if key == "std" else ""))
        return cls(record["task"], record["scale"], record["mean"], record["std"],
                   record["target_mean"], record["target_std"], record["label"])
