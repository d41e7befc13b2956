"""Linear regression by the Moore-Penrose pseudo-inverse, with scikit-learn's interface.

The least-squares solution of ``X_design @ beta ~= y`` is ``beta = pinv(X_design) @ y``,
where ``pinv`` is the Moore-Penrose pseudo-inverse (through the SVD). It exists for every
matrix: with more samples than features it is the least-squares fit; when the columns are
dependent it is the solution of smallest norm.

Why the column of ones (the course's question): the model ``y = X @ w`` always passes
through the origin. Scikit-learn's ``LinearRegression`` fits ``y = X @ w + b``; to get the
same answer from the pseudo-inverse, ``b`` has to become one more weight, multiplying an
input that is always 1: ``X_design = [1 | X]``. Without that column the two disagree on any
data whose best line does not pass through the origin.

Example
-------
>>> reg = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
>>> round(reg.intercept_, 6), reg.coef_.round(6).tolist()
(1.0, [2.0])
"""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import scipy.sparse as sp

from nncore._checks import to_array
from nncore.exceptions import NotFittedError

__all__ = ["LinearRegression", "NotFittedError"]


def _check_2d(X: Any, name: str = "X") -> np.ndarray:
    """``X`` as a finite, non-empty 2-D float64 array. The messages contain scikit-learn's
    phrases ("Reshape your data", "0 feature(s)", "sparse"), which its checks look for."""
    if sp.issparse(X):
        raise TypeError(f"Sparse data was passed for {name}, but dense data is required. "
                        "Use '.toarray()' to convert it to a dense numpy array.")
    A = _as_float(X, name)
    if A.ndim == 1:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features). Reshape your data: for "
                         f"a single feature use {name}.reshape(-1, 1). "
                         f"Received: {name}.shape={A.shape}")
    if A.ndim == 2 and A.shape[0] > 0 and A.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array: found array with 0 feature(s) "
                         f"(shape={A.shape}) while a minimum of 1 is required.")
    if A.ndim != 2 or A.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n_samples, n_features). "
                         f"Received: {name}.shape={A.shape}")
    return A


def _check_y_given(y: Any, owner: str) -> None:
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None.")


class _Estimator:
    """scikit-learn's estimator protocol without importing scikit-learn (an optional
    dependency): ``get_params``/``set_params`` read the constructor's signature, as
    ``sklearn.base.BaseEstimator`` does, so ``clone``, Pipeline and GridSearchCV work. The
    constructor only stores its arguments; they are checked in ``fit``."""

    _estimator_type = "regressor"
    # scikit-learn's estimator checks that fail on purpose, with why
    # (nncore.sklearn.expected_failed_checks hands them to check_estimator).
    _expected_failed_checks = {
        "check_estimators_unfitted":
            "raises nncore.exceptions.NotFittedError (a ValueError and AttributeError, as "
            "sklearn's), not sklearn's class: nncore does not import scikit-learn",
        "check_complex_data":
            "complex input is refused with a TypeError (nncore's rule for dtypes), sklearn "
            "expects a ValueError",
        "check_dtype_object":
            "object arrays are refused with a TypeError (nncore's rule: no object arrays), "
            "sklearn expects them converted to float",
    }

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values()
                      if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments, by name (``deep`` is accepted for scikit-learn)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> _Estimator:
        """Set constructor arguments by name; they are checked by the next ``fit``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator {self!r}. "
                                 f"Valid parameters are: {valid!r}.")
            setattr(self, name, value)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coef_")

    def __sklearn_tags__(self):
        # Only scikit-learn calls this, so scikit-learn is already imported here.
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags
        classifier = self._estimator_type == "classifier"
        return Tags(estimator_type=self._estimator_type,
                    target_tags=TargetTags(required=True, multi_output=not classifier,
                                           single_output=True),
                    classifier_tags=ClassifierTags(multi_class=False) if classifier else None,
                    regressor_tags=None if classifier else RegressorTags())


def _as_float(value: Any, name: str) -> np.ndarray:
    """``value`` as a finite float64 array; complex, object and string arrays are refused."""
    return to_array(value, name, np.float64, allow_empty=True)


class LinearRegression(_Estimator):
    """Ordinary least squares, ``y = X @ coef_.T + intercept_``, via the pseudo-inverse.

    Parameters
    ----------
    fit_intercept : bool, default True
        Add a column of ones to the design matrix so that the intercept is learnt; with
        False the fitted hyperplane passes through the origin (``intercept_ = 0``).

    Attributes
    ----------
    coef_ : ndarray, shape (n_features,) or (n_targets, n_features)
        Weights; 2-D when ``y`` was 2-D, as in scikit-learn.
    intercept_ : float or ndarray, shape (n_targets,)
    rank_ : int
        Rank of the design matrix (less than its column count means dependent columns:
        the solution returned is then the one of smallest norm).
    n_features_in_ : int

    The constructor only stores its arguments (scikit-learn's rule; ``fit`` checks them),
    and ``get_params``/``set_params``/``sklearn.base.clone`` work without nncore
    importing scikit-learn.

    Example
    -------
    >>> reg = LinearRegression().fit([[1, 0], [0, 1], [1, 1], [2, 1]], [5, 2, 4, 6])
    >>> reg.predict([[3, 0]]).round(6).tolist()
    [9.0]
    """

    def __init__(self, fit_intercept: bool = True) -> None:
        self.fit_intercept = fit_intercept  # stored as given (sklearn's rule), checked in fit

    def __repr__(self) -> str:
        return f"LinearRegression(fit_intercept={self.fit_intercept})"

    def fit(self, X: Any, y: Any) -> LinearRegression:
        """Least squares through the Moore-Penrose pseudo-inverse of the design matrix.

        ``beta = pinv([1 | X]) @ y``; ``beta[0]`` is the intercept and ``beta[1:]`` the
        coefficients (without the ones column when ``fit_intercept=False``).

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : array_like, shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        self

        Example
        -------
        >>> LinearRegression(fit_intercept=False).fit([[1.0], [2.0]], [2.0, 4.0]).coef_
        array([2.])
        """
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise TypeError(f"fit_intercept must be True or False. "
                            f"Received: fit_intercept={self.fit_intercept!r}")
        X = self._check_X(X)
        _check_y_given(y, "LinearRegression")
        Y = _as_float(y, "y")
        if Y.ndim not in (1, 2) or Y.shape[0] != X.shape[0] or (Y.ndim == 2 and Y.shape[1] == 0):
            raise ValueError(f"y must have shape ({X.shape[0]},) or ({X.shape[0]}, n_targets) "
                             f"to match X.shape={X.shape}. Received: y.shape={Y.shape}")
        A = np.hstack([np.ones((X.shape[0], 1)), X]) if self.fit_intercept else X
        beta = np.linalg.pinv(A) @ Y  # (1 + d,) or (1 + d, t)
        # Assign only after every step succeeded, so a failed fit leaves the model as it was.
        if self.fit_intercept:
            intercept, coef = beta[0], beta[1:]
        else:
            intercept, coef = np.zeros(Y.shape[1:]), beta
        self.coef_ = coef.T  # (d,) or (t, d): scikit-learn's layout
        self.intercept_ = float(intercept) if Y.ndim == 1 else intercept
        self.rank_ = int(np.linalg.matrix_rank(A))
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        """``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples,) or (n_samples, n_targets)

        Example
        -------
        >>> LinearRegression().fit([[0.0], [1.0]], [1.0, 3.0]).predict([[2.0]]).round(6)
        array([5.])
        """
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("This LinearRegression is not fitted yet: call fit(X, y) "
                                 "before predict or score.")
        X = self._check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but LinearRegression is expecting "
                             f"{self.n_features_in_} features as input (it was fitted with "
                             f"{self.n_features_in_}). Received: X.shape={X.shape}")
        return X @ self.coef_.T + self.intercept_

    def score(self, X: Any, y: Any) -> float:
        """Coefficient of determination ``R^2 = 1 - SS_res / SS_tot`` of ``predict(X)``.

        1 is a perfect fit, 0 is no better than predicting the mean of ``y``. For 2-D ``y``
        the R^2 of each target is averaged (scikit-learn's "uniform_average"). A constant
        target gives 1.0 when predicted exactly, else 0.0 (scikit-learn's convention).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Example
        -------
        >>> reg = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
        >>> reg.score([[3.0], [4.0]], [7.0, 9.0])
        1.0
        """
        P = self.predict(X)
        Y = _as_float(y, "y")
        if Y.shape != P.shape:
            raise ValueError(f"y must have shape {P.shape} to match the predictions for X. "
                             f"Received: y.shape={Y.shape}")
        if Y.shape[0] < 2:
            raise ValueError("R^2 needs at least 2 samples (the variance of one value is 0). "
                             f"Received: y.shape={Y.shape}")
        ss_res = np.sum((Y - P) ** 2, axis=0)
        ss_tot = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)
        safe = np.where(ss_tot > 0, ss_tot, 1.0)
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / safe, np.where(ss_res == 0, 1.0, 0.0))
        return float(np.mean(r2))

    @staticmethod
    def _check_X(X: Any) -> np.ndarray:
        return _check_2d(X)
