"""MLPClassifier: sklearn's MLPClassifier interface on nncore's Sequential."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target

from nncore.sklearn._base import _BaseMLP


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier, mirroring ``sklearn.neural_network.MLPClassifier``.

    Binary y trains one sigmoid output with binary cross-entropy, multiclass y a softmax
    with cross-entropy, multi-label y (2-D 0/1) one sigmoid per label. Labels may be any
    values (strings...): ``classes_`` keeps them and ``predict`` returns them.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Units of each hidden Dense layer.
    activation : {"relu", "tanh", "logistic", "identity", ...}, default "relu"
    dropout : float in [0, 1), default 0.0
        Dropout rate after each hidden layer.
    batch_normalization : bool, default False
        BatchNormalization between each hidden Dense and its activation.
    optimizer : str or nncore Optimizer, default "adam"
        A name ("adam", "sgd", "rmsprop", "adagrad", "adamw") built with ``learning_rate``,
        or an instance (copied at each fit; its own learning rate is used).
    learning_rate : float, default 0.001
        sklearn's ``learning_rate_init``.
    batch_size : int or "auto", default 32
        "auto" is ``min(200, n_samples)``, as in sklearn.
    max_iter : int, default 200
        Epochs (passes over the data) at most.
    shuffle, early_stopping, validation_fraction, n_iter_no_change, tol :
        As in sklearn: stop when the training loss (or, with early_stopping, the
        validation accuracy on a stratified held-out ``validation_fraction``) has not
        improved by ``tol`` for ``n_iter_no_change`` epochs.
    alpha : float, default 0.0
        L2 penalty on the kernels, Keras's convention: ``alpha * sum(W**2)`` is added to
        the loss. sklearn adds ``0.5 * alpha * sum(W**2) / batch_size`` to each batch's
        loss, so sklearn's alpha is ``2 * batch_size`` times this one.
    class_weight : dict, "balanced" or None
        Weights keyed by class label, multiplying ``sample_weight``.
    random_state : int, RandomState or None
        Seeds weights, shuffling, dropout and the validation split.
    verbose : int, default 0
        Print the loss of each epoch.
    dtype : {"float32", "float64"}, default "float32"
    backend : {"native", "numpy"} or None

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_ (pandas input), loss_curve_,
    validation_scores_ and best_validation_score_ (early stopping), best_loss_, n_iter_,
    t_ (samples seen), model_ (the trained nncore Sequential).

    Sparse input is refused with a TypeError: densify it with ``X.toarray()``.

    Example
    -------
    >>> clf = MLPClassifier((4,), learning_rate=0.05, max_iter=100, random_state=0)
    >>> clf.fit([[0.0], [0.1], [0.9], [1.0]] * 4, [0, 0, 1, 1] * 4).score([[0.0], [1.0]], [0, 1])
    1.0
    """

    def __init__(self, hidden_layer_sizes: tuple = (100,), activation: str = "relu", *,
                 dropout: float = 0.0, batch_normalization: bool = False,
                 optimizer: Any = "adam", learning_rate: float = 0.001,
                 batch_size: int | str = 32, max_iter: int = 200, shuffle: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 10, tol: float = 1e-4, alpha: float = 0.0,
                 class_weight: dict | str | None = None, random_state: Any = None,
                 verbose: int = 0, dtype: str = "float32", backend: str | None = None) -> None:
        super().__init__(hidden_layer_sizes, activation, dropout=dropout,
                         batch_normalization=batch_normalization, optimizer=optimizer,
                         learning_rate=learning_rate, batch_size=batch_size,
                         max_iter=max_iter, shuffle=shuffle, early_stopping=early_stopping,
                         validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, tol=tol, alpha=alpha,
                         random_state=random_state, verbose=verbose, dtype=dtype,
                         backend=backend)
        self.class_weight = class_weight

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train a new network on (X, y) for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array_like or DataFrame, shape (n_samples, n_features)
        y : array_like, shape (n_samples,) or (n_samples, n_labels) of 0/1 (multi-label)
        sample_weight : array_like, shape (n_samples,), optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None,
                    sample_weight: Any = None) -> MLPClassifier:
        """One epoch over (X, y), keeping the weights and optimizer state of earlier calls.

        ``classes`` (all the labels) is required on the first call, as in sklearn. With
        ``shuffle=False``, n calls over the same data equal ``fit`` with ``max_iter=n``.

        Parameters
        ----------
        X : array_like or DataFrame, shape (n_samples, n_features)
        y : array_like, shape (n_samples,) or (n_samples, n_labels)
        classes : array_like, optional
            Every label; required on the first call.
        sample_weight : array_like, shape (n_samples,), optional
        """
        if not hasattr(self, "model_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit. "
                             "Received: classes=None")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _encode(self, Y, sw, first: bool, classes):
        if first:
            check_classification_targets(Y)
            if Y.ndim == 2 and Y.shape[1] == 1:
                Y = Y.ravel()
            self._multilabel = type_of_target(Y) == "multilabel-indicator"
            self._binarizer = LabelBinarizer()
            self._binarizer.fit(Y if classes is None else np.asarray(classes))
            self.classes_ = self._binarizer.classes_
            if len(self.classes_) < 2:
                raise ValueError("MLPClassifier needs samples of at least 2 classes in the "
                                 f"data. Received only one class: {self.classes_[0]!r}")
        elif Y.ndim == 2 and Y.shape[1] == 1:
            Y = Y.ravel()
        if not self._multilabel:
            unknown = np.setdiff1d(np.unique(Y), self.classes_)
            if unknown.size:
                raise ValueError(f"y has labels {unknown.tolist()} not in classes_ "
                                 f"{self.classes_.tolist()}.")
        if self.class_weight is not None:
            if self._multilabel:
                raise ValueError("class_weight is not supported for multi-label y. "
                                 f"Received: class_weight={self.class_weight!r}")
            cw = compute_class_weight(self.class_weight, classes=self.classes_, y=Y)
            cw = cw[np.searchsorted(self.classes_, Y)]
            sw = cw if sw is None else sw * cw
        if self._multilabel:
            return Y.astype(np.float64), sw
        if len(self.classes_) == 2:
            return self._binarizer.transform(Y).astype(np.float64), sw
        return np.searchsorted(self.classes_, Y).astype(np.int64), sw

    def _head(self) -> tuple[int, str, str]:
        if self._multilabel:
            return len(self.classes_), "sigmoid", "binary_crossentropy"
        if len(self.classes_) == 2:
            return 1, "sigmoid", "binary_crossentropy"
        return len(self.classes_), "softmax", "sparse_categorical_crossentropy"

    def _stratify(self) -> bool:
        return not self._multilabel

    def _val_score(self, X, Y) -> float:
        P = self._forward_raw(X)
        if self._multilabel or len(self.classes_) == 2:
            return float(np.mean(np.all((P > 0.5) == (Y > 0.5), axis=1)))
        return float(np.mean(P.argmax(axis=1) == Y))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order.

        For multi-label y, the probability of each label, shape (n_samples, n_labels).

        Parameters
        ----------
        X : array_like or DataFrame, shape (n_samples, n_features)
        """
        P = self._forward(X)
        if self._multilabel:
            return P
        if len(self.classes_) == 2:
            return np.hstack([1.0 - P, P])
        return P / P.sum(axis=1, keepdims=True)  # exact sums of 1 in float64

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``.

        Parameters
        ----------
        X : array_like or DataFrame, shape (n_samples, n_features)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits: shape (n_samples,) for binary y (> 0 means ``classes_[1]``), else the
        log-probabilities (n_samples, n_classes), whose argmax is ``predict``.

        Parameters
        ----------
        X : array_like or DataFrame, shape (n_samples, n_features)
        """
        P = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            if self._multilabel:
                return np.log(P) - np.log1p(-P)
            if len(self.classes_) == 2:
                return np.log(P[:, 1]) - np.log(P[:, 0])
            return np.log(P)

    def predict(self, X: Any) -> np.ndarray:
        """Labels from ``classes_`` (a 0/1 array of shape (n, n_labels) for multi-label).

        Parameters
        ----------
        X : array_like or DataFrame, shape (n_samples, n_features)
        """
        P = self.predict_proba(X)
        if self._multilabel:
            return (P > 0.5).astype(int)
        return self.classes_[P.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
