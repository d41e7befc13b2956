"""The perceptron of the course: a step of a weighted sum, the logic gates, XOR, and learning.

A perceptron with weights ``w`` and bias ``b`` outputs

    y = step(b + w_1 x_1 + ... + w_k x_k),   step(a) = 1 if a > 0 else 0.

With the course's weights it is a logic gate (AND, OR, NAND). One perceptron draws one
straight line through the input plane, so it cannot compute XOR; two layers of them can:
``XOR(x1, x2) = AND(NAND(x1, x2), OR(x1, x2))``. Rosenblatt's learning rule finds weights
for any linearly separable truth table and never stops on XOR, which
``Perceptron.fit`` reports with ``converged_ = False`` and a ``ConvergenceWarning``.

Example
-------
>>> from nncore.perceptron import AND, XOR
>>> AND(1, 1), XOR(1, 1)
(1, 0)
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from nncore.exceptions import ConvergenceWarning, NotFittedError
from nncore.linear import _as_float, _check_2d, _check_y_given, _Estimator

__all__ = ["AND", "NAND", "OR", "XOR", "ConvergenceWarning", "NotFittedError", "Perceptron",
           "step"]


def step(x: Any) -> Any:
    """The step (Heaviside) activation of the course: 1 where ``x > 0``, else 0.

    Parameters
    ----------
    x : scalar or array_like
        Weighted sums. NaN compares false, so it maps to 0.

    Returns
    -------
    int or ndarray of int64
        A Python int for a scalar input, else an array of the shape of ``x``.

    Example
    -------
    >>> step([-1.0, 0.0, 2.0])
    array([0, 0, 1])
    """
    Y = (np.asarray(x) > 0).astype(np.int64)
    return int(Y) if Y.ndim == 0 else Y


def _is_real_number(value: Any) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


class Perceptron(_Estimator):
    """A single perceptron: ``y = step(X @ weights + bias)``.

    Parameters
    ----------
    weights : sequence of float, shape (k,), optional
        One weight per input. Leave it out to learn the weights with :meth:`fit`.
    bias : float, default 0.0
        Added to the weighted sum; ``-bias`` is the threshold the sum must exceed.
    name : str, optional
        Shown by ``repr`` (the course's gates are named "AND", "OR", "NAND").
    learning_rate, max_epochs, shuffle, random_state :
        The defaults of :meth:`fit` (0.1, 100, False, None), so that scikit-learn's
        GridSearchCV can tune them.

    The constructor only stores its arguments (scikit-learn's rule): they are checked
    when used, and ``get_params``/``set_params``/``sklearn.base.clone`` work.

    Attributes
    ----------
    coef_ : ndarray of float64, shape (k,)
    intercept_ : float
        The weights and bias learnt by :meth:`fit`, used by ``predict`` from then on.
    converged_, n_epochs_ (also ``n_iter_``), errors_ :
        Set by :meth:`fit`: whether an epoch ended without a mistake, how many epochs ran,
        and the misclassifications counted in each epoch.
    classes_, n_features_in_ :
        ``[0, 1]`` and k, as scikit-learn's classifiers.

    Example
    -------
    >>> p = Perceptron(weights=(0.5, 0.5), bias=-0.7)
    >>> p.predict([[0, 0], [0, 1], [1, 0], [1, 1]])
    array([0, 0, 0, 1])
    """

    _estimator_type = "classifier"
    # The course's perceptron learns 0/1 truth tables, so the checks that train on other
    # labels (1/2, -1/1, strings, a column vector) fail on purpose.
    _labels = "y must hold the labels 0 and 1; the check trains on other labels"
    _expected_failed_checks = dict(_Estimator._expected_failed_checks, **{
        "check_estimators_dtypes": _labels + " (1 and 2)",
        "check_classifier_data_not_an_array": _labels + " (1 and 2)",
        "check_fit2d_1feature": _labels + " (1 and 2)",
        "check_classifiers_classes": _labels + " (strings)",
        "check_supervised_y_2d": "y must be 1-D 0/1 labels; a (n, 1) column is refused",
        "check_fit2d_predict1d": "predict of one 1-D input vector returns its 0/1 output "
                                 "(the course's p([x1, x2])), it does not raise",
    })
    del _labels

    def __init__(self, weights: Sequence[float] | np.ndarray | None = None, bias: float = 0.0,
                 *, name: str | None = None, learning_rate: float = 0.1, max_epochs: int = 100,
                 shuffle: bool = False, random_state: int | np.random.Generator | None = None,
                 ) -> None:
        # Stored as given (scikit-learn's rule, which clone relies on); checked where used.
        self.weights = weights
        self.bias = bias
        self.name = name
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.shuffle = shuffle
        self.random_state = random_state

    def __repr__(self) -> str:
        try:
            W, b = self._given_weights()
            W = None if W is None else [float(w) for w in W]
        except (TypeError, ValueError):
            W, b = self.weights, self.bias
        name = "" if self.name is None else f", name={self.name!r}"
        return f"Perceptron(weights={W}, bias={b!r}{name})"

    # -- inference ---------------------------------------------------------------------

    def predict(self, X: Any) -> Any:
        """Outputs 0/1 for one input vector or a batch of them.

        Parameters
        ----------
        X : array_like, shape (k,) or (..., k)
            One input vector, or vectors along the last axis (e.g. an (n, k) batch).

        Returns
        -------
        int or ndarray of int64, shape X.shape[:-1]
            A Python int for a single vector.

        Example
        -------
        >>> Perceptron(weights=(1.0, 1.0), bias=-0.5).predict([0, 1])
        1
        """
        W, b = self._fitted_weights()
        X = _check_sparse(X)
        if X.ndim == 0 or X.shape[-1] != W.size:
            raise ValueError(f"X has {X.shape[-1] if X.ndim else 0} features, but Perceptron "
                             f"is expecting {W.size} features as input: X must end with an "
                             f"axis of {W.size} inputs (one per weight). "
                             f"Received: X.shape={X.shape}")
        return step(X @ W + b)

    def __call__(self, *inputs: Any) -> Any:
        """``p(x1, x2, ...)`` with one value (or array) per input, or ``p(X)`` as predict.

        Example
        -------
        >>> OR(0, 1), OR([0, 1, 1], [0, 0, 1]).tolist()
        (1, [0, 1, 1])
        """
        if len(inputs) == 1:
            return self.predict(inputs[0])
        if not inputs:
            raise TypeError("a perceptron needs its inputs: p(x1, x2, ...) or p(X)")
        # Inputs given one per argument become the last axis, so arrays of x1 values and
        # x2 values evaluate element by element (what XOR's second layer needs).
        columns = [_as_float(x, f"x{i + 1}") for i, x in enumerate(inputs)]
        try:
            columns = np.broadcast_arrays(*columns)
        except ValueError as exc:
            shapes = ", ".join(f"x{i + 1}.shape={c.shape}" for i, c in enumerate(columns))
            raise ValueError(f"the inputs must have the same shape. Received: {shapes}") from exc
        return self.predict(np.stack(columns, axis=-1))

    def score(self, X: Any, y: Any) -> float:
        """Fraction of samples classified correctly (accuracy).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            The true labels.

        Example
        -------
        >>> AND.score([[0, 0], [1, 1]], [0, 1])
        1.0
        """
        X, y = self._check_xy(X, y)
        return float(np.mean(self.predict(X) == y))

    # -- learning ------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, learning_rate: float | None = None,
            max_epochs: int | None = None, *, shuffle: bool | None = None,
            random_state: int | np.random.Generator | None = None) -> Perceptron:
        """Learn weights with Rosenblatt's perceptron rule, starting from zeros.

        The learnt weights go to ``coef_`` and ``intercept_`` (which ``predict`` then
        uses); the constructor's ``weights`` and ``bias`` stay as given (scikit-learn's
        rule: fit never changes the parameters). The keyword arguments, when given,
        override the constructor's for this fit.

        For each sample in turn, with ``y_hat = step(x @ w + b)``::

            w += learning_rate * (y - y_hat) * x
            b += learning_rate * (y - y_hat)

        An epoch is one pass over the samples. Learning stops after the first epoch
        without a mistake (``converged_ = True``); the rule is guaranteed to get there
        when a line separates the two classes. XOR has no such line, so there the rule
        cycles until ``max_epochs`` and a :class:`ConvergenceWarning` is issued.

        Parameters
        ----------
        X : array_like, shape (n, k)
            Inputs, one sample per row.
        y : array_like, shape (n,)
            Targets, each 0 or 1.
        learning_rate : float, default: the constructor's (0.1)
            Step size, > 0.
        max_epochs : int, default: the constructor's (100)
            Upper bound on the number of passes over the data, >= 1.
        shuffle : bool, default: the constructor's (False)
            Visit the samples in a new random order each epoch.
        random_state : int, Generator or None, default: the constructor's
            Seed of that order (only used with ``shuffle=True``).

        Returns
        -------
        self

        Example
        -------
        >>> p = Perceptron().fit([[0, 0], [1, 0], [0, 1], [1, 1]], [0, 1, 1, 1])
        >>> p.converged_, p.predict([[0, 0], [1, 1]]).tolist()
        (True, [0, 1])
        """
        learning_rate = self.learning_rate if learning_rate is None else learning_rate
        max_epochs = self.max_epochs if max_epochs is None else max_epochs
        shuffle = self.shuffle if shuffle is None else shuffle
        random_state = self.random_state if random_state is None else random_state
        X, y = self._check_xy(X, y)
        if not _is_real_number(learning_rate) or not np.isfinite(learning_rate) \
                or learning_rate <= 0:
            raise ValueError("learning_rate must be a finite number > 0. "
                             f"Received: learning_rate={learning_rate!r}")
        if isinstance(max_epochs, (bool, np.bool_)) or not isinstance(max_epochs,
                                                                        (int, np.integer)):
            raise TypeError(f"max_epochs must be an int. Received: max_epochs={max_epochs!r}")
        if max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1. Received: max_epochs={max_epochs!r}")
        rng = np.random.default_rng(random_state) if shuffle else None

        W = np.zeros(X.shape[1])
        b = 0.0
        errors: list[int] = []
        for _ in range(int(max_epochs)):
            order = rng.permutation(len(X)) if rng is not None else range(len(X))
            mistakes = 0
            # One sample at a time, on purpose: the rule updates after every sample (online),
            # which is what the convergence theorem is about; a batched update is another rule.
            for i in order:
                delta = learning_rate * (y[i] - step(X[i] @ W + b))
                if delta != 0:
                    W += delta * X[i]
                    b += delta
                    mistakes += 1
            errors.append(mistakes)
            if mistakes == 0:
                break

        self.coef_, self.intercept_ = W, float(b)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        self.n_iter_ = len(errors)
        self.errors_ = errors
        self.n_epochs_ = len(errors)
        self.converged_ = errors[-1] == 0
        if not self.converged_:
            warnings.warn(
                f"The perceptron rule did not converge within max_epochs={max_epochs}: "
                f"{errors[-1]} of {len(X)} samples were still misclassified in the last epoch. "
                "The classes are probably not linearly separable (like XOR, which no single "
                "line can split); use two layers, e.g. XOR = AND(NAND, OR), or an MLP.",
                ConvergenceWarning, stacklevel=2)
        return self

    # -- helpers -------------------------------------------------------------------------

    def _given_weights(self) -> tuple[np.ndarray | None, float]:
        """The constructor's weights and bias, checked."""
        W = None
        if self.weights is not None:
            W = _as_float(self.weights, "weights")
            if W.ndim != 1 or W.size == 0:
                raise ValueError("weights must be a non-empty 1-D sequence (one weight per "
                                 f"input). Received: weights={self.weights!r}")
        if not _is_real_number(self.bias):
            raise TypeError(f"bias must be a real number. Received: bias={self.bias!r}")
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"name must be a string or None. Received: name={self.name!r}")
        return W, float(_as_float(self.bias, "bias"))

    def _fitted_weights(self) -> tuple[np.ndarray, float]:
        """The learnt weights after fit, else the constructor's."""
        if self.__sklearn_is_fitted__():
            return self.coef_, self.intercept_
        W, b = self._given_weights()
        if W is None:
            raise NotFittedError("This Perceptron has no weights yet: pass weights= to the "
                                 "constructor or call fit(X, y) first.")
        return W, b

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coef_")

    @staticmethod
    def _check_xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X = _check_2d(X)
        _check_y_given(y, "Perceptron")
        y = _as_float(y, "y")
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must be 1-D with one label per row of X ({X.shape[0]}). "
                             f"Received: y.shape={y.shape}")
        if not np.all((y == 0) | (y == 1)):
            # The phrases scikit-learn's checks look for lead: "Unknown label type" for
            # real-valued y, "Only binary classification is supported" for more classes.
            kind = "Unknown label type: continuous" if np.any(y != np.round(y)) else \
                "Only binary classification is supported."
            raise ValueError(f"{kind} y must hold binary labels 0 and 1. "
                             f"Received: y with values {np.unique(y).tolist()}")
        return X, y.astype(np.int64)


def _check_sparse(X: Any) -> np.ndarray:
    """X as a float64 array of any shape; sparse matrices are refused (densify them)."""
    if sp.issparse(X):
        raise TypeError("Sparse data was passed for X, but dense data is required. "
                        "Use '.toarray()' to convert it to a dense numpy array.")
    return _as_float(X, "X")


# The course's gates (weights from the lecture notes). NAND is written there as AND's
# weights with the output inverted; negating AND's weights and bias gives the same truth
# table except on the boundary a = 0, which no 0/1 input reaches.
AND = Perceptron(weights=np.array([0.5, 0.5]), bias=-0.7, name="AND")
OR = Perceptron(weights=np.array([1.0, 1.0]), bias=-0.5, name="OR")
NAND = Perceptron(weights=np.array([-0.5, -0.5]), bias=0.7, name="NAND")


def XOR(x1: Any, x2: Any = None) -> Any:
    """XOR as a two-layer network of perceptrons: ``AND(NAND(x1, x2), OR(x1, x2))``.

    No single perceptron computes XOR (its 1s and 0s are not separated by one line);
    NAND and OR form a hidden layer whose outputs AND can separate.

    Parameters
    ----------
    x1, x2 : scalar or array_like
        The two inputs, element by element; or ``x1`` alone of shape (..., 2).

    Returns
    -------
    int or ndarray of int64

    Example
    -------
    >>> [XOR(0, 0), XOR(1, 0), XOR(0, 1), XOR(1, 1)]
    [0, 1, 1, 0]
    """
    inputs = (x1,) if x2 is None else (x1, x2)
    s1, s2 = NAND(*inputs), OR(*inputs)
    return AND(s1, s2)
