"""Metrics of a whole epoch, as keras.metrics classes: precision, recall, F1, exact ROC AUC,
RMSE and R². Each is a ratio of sums (or, for AUC, a ranking) over every sample seen, not
a mean of per-sample values, so it keeps state: ``update_state`` adds a batch,
``result`` gives the value, ``reset_state`` starts again. ``fit`` and ``evaluate`` give
each epoch (and each validation pass) a fresh copy (:meth:`Metric.fresh`).

Sample weights weigh each sample's contribution to every sum. Binary decisions compare
each output with ``threshold`` (0.5 by default) and each label with 0.5; integer labels
(n,) against several output columns are taken as one-hot rows.

Example
-------
>>> import nncore as nn
>>> m = nn.metrics.Precision()
>>> m.update_state([1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1])
>>> m.result()
0.5
"""
from __future__ import annotations

import math

import numpy as np

from nncore._checks import check_choice, check_float, check_int


def _arrays(y_true, y_pred, sample_weight):
    """y_pred as float64 (n, d); y_true as (n, d) (integer labels against d > 1 columns
    become one-hot rows); the weights as (n,) float64, ones when None."""
    P = np.asarray(y_pred, dtype=np.float64)
    P = P.reshape(len(P), -1)
    T = np.asarray(y_true)
    if T.size == len(P) and P.shape[1] > 1:
        labels = T.reshape(len(P)).astype(np.int64)
        if labels.min(initial=0) < 0 or labels.max(initial=0) >= P.shape[1]:
            raise ValueError(f"y_true labels must be in [0, {P.shape[1]}).")
        T = np.eye(P.shape[1])[labels]
    T = T.astype(np.float64).reshape(P.shape)
    W = np.ones(len(P)) if sample_weight is None else \
        np.asarray(sample_weight, dtype=np.float64).reshape(len(P))
    return T, P, W


class Metric:
    """Base class: a named accumulator over batches (Keras's Metric interface).

    Parameters
    ----------
    name : str
        Shown in the logs.

    Example
    -------
    >>> m = Precision()
    >>> m.update_state([1, 0], [0.9, 0.8]); m.result()
    0.5
    >>> m.reset_state(); m.result()
    0.0
    """

    def __init__(self, name: str):
        self.name = name
        self.reset_state()

    def reset_state(self) -> None:
        """Forget every batch seen (fit calls it at each epoch's start)."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Accumulate one batch.

        Parameters
        ----------
        y_true : array-like, shape (n,) or (n, d)
        y_pred : array-like, shape (n,) or (n, d)
        sample_weight : array-like, shape (n,), optional
            Weights of the samples (default 1).
        """
        raise NotImplementedError

    def result(self) -> float:
        """The metric over every batch since the last reset, a float."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor's arguments, as a dict."""
        return {"name": self.name}

    def fresh(self) -> Metric:
        """A new metric of the same kind and configuration, with no state."""
        return type(self)(**self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0  # Keras's divide_no_nan: nothing seen yet gives 0


class _Confusion(Metric):
    """Weighted true/false positives and false negatives over every output."""

    def __init__(self, threshold: float = 0.5, name: str = ""):
        self.threshold = check_float(threshold, "threshold", low=0.0, high=1.0)
        super().__init__(name)

    def reset_state(self) -> None:
        self.tp = self.fp = self.fn = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        T, P, W = _arrays(y_true, y_pred, sample_weight)
        actual, predicted = T > 0.5, P > self.threshold
        self.tp += float(W @ (actual & predicted).sum(axis=1))
        self.fp += float(W @ (~actual & predicted).sum(axis=1))
        self.fn += float(W @ (actual & ~predicted).sum(axis=1))

    def get_config(self) -> dict:
        return {"threshold": self.threshold, "name": self.name}


class Precision(_Confusion):
    """``TP / (TP + FP)``: of the outputs predicted positive, the fraction that are.

    Parameters
    ----------
    threshold : float in [0, 1], default 0.5
        An output above it is predicted positive (a target above 0.5 is positive).
    name : str, default 'precision'
        Shown in the logs.

    Example
    -------
    >>> import nncore as nn
    >>> nn.metrics.Precision().name
    'precision'
    """

    def __init__(self, threshold: float = 0.5, name: str = "precision"):
        super().__init__(threshold, name)

    def result(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)


class Recall(_Confusion):
    """``TP / (TP + FN)``: of the positive outputs, the fraction predicted positive.

    Parameters
    ----------
    threshold : float in [0, 1], default 0.5
        An output above it is predicted positive (a target above 0.5 is positive).
    name : str, default 'recall'
        Shown in the logs.

    Example
    -------
    >>> import nncore as nn
    >>> m = nn.metrics.Recall()
    >>> m.update_state([1, 1, 0], [0.7, 0.2, 0.9]); m.result()
    0.5
    """

    def __init__(self, threshold: float = 0.5, name: str = "recall"):
        super().__init__(threshold, name)

    def result(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)


class F1Score(Metric):
    """The harmonic mean of precision and recall, ``2 TP / (2 TP + FP + FN)``, per class.

    With ``threshold=None`` the largest output of each row is its prediction (one class
    per sample; for one output column use a threshold); else every output above
    ``threshold`` is. ``average``: ``"macro"`` (the mean over classes, the default here:
    fit's logs hold one number per metric, where Keras's default None gives one per
    class), ``"micro"`` (from the summed counts) or ``"weighted"`` (by each class's
    weighted support).

    Parameters
    ----------
    average : {'macro', 'micro', 'weighted'}, default 'macro'
    threshold : float in [0, 1] or None, default None
        None: the row's largest output is its prediction.
    name : str, default 'f1_score'
        Shown in the logs.

    Example
    -------
    >>> import nncore as nn
    >>> m = nn.metrics.F1Score()
    >>> m.update_state([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]); round(m.result(), 4)
    0.6667
    """

    def __init__(self, average: str = "macro", threshold: float | None = None,
                 name: str = "f1_score"):
        self.average = check_choice(average, "average", ("macro", "micro", "weighted"))
        self.threshold = None if threshold is None else \
            check_float(threshold, "threshold", low=0.0, high=1.0)
        super().__init__(name)

    def reset_state(self) -> None:
        self.tp = self.fp = self.fn = None  # per class, once the width is known

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        T, P, W = _arrays(y_true, y_pred, sample_weight)
        if self.threshold is None:
            predicted = np.zeros(P.shape, bool)
            predicted[np.arange(len(P)), P.argmax(axis=1)] = True
        else:
            predicted = P > self.threshold
        actual = T > 0.5
        counts = [W @ (a & b) for a, b in ((actual, predicted), (~actual, predicted),
                                           (actual, ~predicted))]
        if self.tp is None:
            self.tp, self.fp, self.fn = counts
        elif len(self.tp) != P.shape[1]:
            raise ValueError(f"y_pred must keep its {len(self.tp)} columns across batches. "
                             f"Received: {P.shape[1]}")
        else:
            self.tp, self.fp, self.fn = (a + b for a, b in
                                         zip((self.tp, self.fp, self.fn), counts))

    def result(self) -> float:
        if self.tp is None:
            return 0.0
        if self.average == "micro":
            tp, fp, fn = self.tp.sum(), self.fp.sum(), self.fn.sum()
            return _ratio(2 * tp, 2 * tp + fp + fn)
        den = 2 * self.tp + self.fp + self.fn
        per_class = np.divide(2 * self.tp, den, out=np.zeros_like(den), where=den > 0)
        if self.average == "macro":
            return float(per_class.mean())
        support = self.tp + self.fn
        return _ratio(float(per_class @ support), float(support.sum()))

    def get_config(self) -> dict:
        return {"average": self.average, "threshold": self.threshold, "name": self.name}


class AUC(Metric):
    """The exact area under the ROC curve: the probability that a positive output scores
    above a negative one (ties count one half), weighted by sample weights, over every
    output of every sample seen (Keras's ``multi_label=False``). Keras approximates it
    with 200 thresholds; this keeps the scores and ranks them.

    Parameters
    ----------
    name : str, default 'auc'
        Shown in the logs.

    Example
    -------
    >>> import nncore as nn
    >>> m = nn.metrics.AUC()
    >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); m.result()
    0.75
    """

    def __init__(self, name: str = "auc"):
        super().__init__(name)

    def reset_state(self) -> None:
        self._labels, self._scores, self._weights = [], [], []

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        T, P, W = _arrays(y_true, y_pred, sample_weight)
        self._labels.append((T > 0.5).ravel())
        self._scores.append(P.ravel().copy())  # P may be a buffer the next batch reuses
        self._weights.append(np.repeat(W, P.shape[1]))

    def result(self) -> float:
        if not self._scores:
            return 0.0
        labels, scores, weights = (np.concatenate(a) for a in
                                   (self._labels, self._scores, self._weights))
        order = np.argsort(scores, kind="stable")
        scores, pos, neg = scores[order], (weights * labels)[order], (weights * ~labels)[order]
        # One group per distinct score: a positive beats every negative in lower groups
        # and ties half of those in its own.
        starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])
        pos_g, neg_g = np.add.reduceat(pos, starts), np.add.reduceat(neg, starts)
        below = np.cumsum(neg_g) - neg_g
        total = pos_g.sum() * neg_g.sum()
        return _ratio(float(pos_g @ (below + 0.5 * neg_g)), float(total))


class RootMeanSquaredError(Metric):
    """``sqrt(sum(w (y_pred - y_true)**2) / sum(w))`` over every output of every sample.

    Parameters
    ----------
    name : str, default 'root_mean_squared_error'
        Shown in the logs.

    Example
    -------
    >>> import nncore as nn
    >>> m = nn.metrics.RootMeanSquaredError()
    >>> m.update_state([[0.0], [0.0]], [[3.0], [4.0]]); round(m.result(), 4)
    3.5355
    """

    def __init__(self, name: str = "root_mean_squared_error"):
        super().__init__(name)

    def reset_state(self) -> None:
        self.total = self.count = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        T, P, W = _arrays(y_true, y_pred, sample_weight)
        self.total += float(W @ np.square(P - T).sum(axis=1))
        self.count += float(W.sum()) * P.shape[1]

    def result(self) -> float:
        return math.sqrt(_ratio(self.total, self.count))


class R2Score(Metric):
    """The coefficient of determination ``1 - SS_res / SS_tot`` of each output, averaged
    (``"uniform_average"``) or weighted by each output's variance
    (``"variance_weighted"``), as keras.metrics.R2Score; ``num_regressors`` > 0 gives the
    adjusted R² ``1 - (1 - R²) (n - 1) / (n - p - 1)``.

    Parameters
    ----------
    class_aggregation : {'uniform_average', 'variance_weighted'}
        How outputs are combined; default 'uniform_average'.
    num_regressors : int, default 0
        ``p`` of the adjusted R²; 0 for plain R².
    name : str, default 'r2_score'
        Shown in the logs.

    Example
    -------
    >>> import nncore as nn
    >>> m = nn.metrics.R2Score()
    >>> m.update_state([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]); m.result()
    0.5
    """

    def __init__(self, class_aggregation: str = "uniform_average", num_regressors: int = 0,
                 name: str = "r2_score"):
        self.class_aggregation = check_choice(class_aggregation, "class_aggregation",
                                              ("uniform_average", "variance_weighted"))
        self.num_regressors = check_int(num_regressors, "num_regressors", low=0)
        super().__init__(name)

    def reset_state(self) -> None:
        self.sums = None  # per output: sum of w, w y, w y^2, w (y - y_pred)^2
        self.samples = 0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        T, P, W = _arrays(y_true, y_pred, sample_weight)
        sums = np.stack([np.full(T.shape[1], W.sum()), W @ T, W @ (T * T),
                         W @ np.square(T - P)])
        if self.sums is not None and self.sums.shape != sums.shape:
            raise ValueError(f"y_true must keep its {self.sums.shape[1]} columns across "
                             f"batches. Received: {T.shape[1]}")
        self.sums = sums if self.sums is None else self.sums + sums
        self.samples += len(T)

    def result(self) -> float:
        if self.sums is None:
            return 0.0
        weight, total, squares, residual = self.sums
        ss_tot = squares - total * total / np.where(weight > 0, weight, 1)
        # A constant target (SS_tot = 0, up to the rounding of that difference) scores 1
        # if predicted exactly, else 0 (as scikit-learn's r2_score): no division by ~0.
        varies = ss_tot > 64 * np.finfo(np.float64).eps * squares
        r2 = np.where(residual == 0, 1.0, 0.0)
        np.subtract(1, residual / np.where(varies, ss_tot, 1), out=r2, where=varies)
        ss_tot = np.where(varies, ss_tot, 0.0)
        r2 = float(r2.mean() if self.class_aggregation == "uniform_average"
                   else _ratio(float(r2 @ ss_tot), float(ss_tot.sum())))
        n, p = self.samples, self.num_regressors
        if p:
            if n - p - 1 <= 0:
                raise ValueError(f"num_regressors={p} needs more than {p + 1} samples; "
                                 f"{n} were seen.")
            r2 = 1 - (1 - r2) * (n - 1) / (n - p - 1)
        return r2

    def get_config(self) -> dict:
        return {"class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors, "name": self.name}
