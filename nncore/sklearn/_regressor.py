"""MLPRegressor: sklearn's MLPRegressor interface on nncore's Sequential."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score

from nncore.sklearn._base import _BaseMLP


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor, mirroring ``sklearn.neural_network.MLPRegressor``.

    A linear output per target, trained on the mean squared error; ``score`` is R^2.
    Parameters and attributes are those of :class:`MLPClassifier` without
    ``class_weight`` and ``classes_``; early stopping watches the validation R^2.
    Sparse input is refused with a TypeError: densify it with ``X.toarray()``.

    Parameters
    ----------
    hidden_layer_sizes, activation, dropout, batch_normalization, optimizer :
        As in :class:`MLPClassifier`.
    learning_rate, batch_size, max_iter, shuffle, early_stopping, validation_fraction :
        As in :class:`MLPClassifier` (the validation split is random, not stratified).
    n_iter_no_change, tol, alpha, random_state, verbose, dtype, backend :
        As in :class:`MLPClassifier`.

    Example
    -------
    >>> X = [[x / 10] for x in range(10)]
    >>> reg = MLPRegressor((8,), learning_rate=0.02, max_iter=300, batch_size=10, tol=0.0,
    ...                    random_state=0).fit(X, [2 * x[0] for x in X])
    >>> round(float(reg.predict([[0.5]])[0]), 1)
    1.0
    """

    _y_numeric = True

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train a new network on (X, y) for up to ``max_iter`` epochs; returns self.

        Parameters
        ----------
        X : array_like or DataFrame, shape (n_samples, n_features)
        y : array_like, shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array_like, shape (n_samples,), optional
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y), keeping the weights and optimizer state of earlier calls.

        Parameters
        ----------
        X : array_like or DataFrame, shape (n_samples, n_features)
        y : array_like, shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array_like, shape (n_samples,), optional
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode(self, Y, sw, first: bool, classes):
        Y = np.asarray(Y, dtype=np.float64)
        if first:
            self._n_outputs = 1 if Y.ndim == 1 else Y.shape[1]
            self._ravel = Y.ndim == 1
        n = 1 if Y.ndim == 1 else Y.shape[1]
        if n != self._n_outputs:
            raise ValueError(f"y must have {self._n_outputs} targets, as in the first call. "
                             f"Received: y.shape={Y.shape}")
        return Y.reshape(len(Y), -1), sw

    def _head(self) -> tuple[int, str, str]:
        return self._n_outputs, "linear", "mean_squared_error"

    def _stratify(self) -> bool:
        return False

    def _val_score(self, X, Y) -> float:
        return float(r2_score(Y, self._forward_raw(X)))

    def predict(self, X: Any) -> np.ndarray:
        """Predictions, shape (n_samples,) or (n_samples, n_targets) as y was.

        Parameters
        ----------
        X : array_like or DataFrame, shape (n_samples, n_features)
        """
        P = self._forward(X)
        return P.ravel() if self._ravel else P
