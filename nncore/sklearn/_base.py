"""The network, the training loop and the stopping rule shared by the MLP estimators."""
from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np

from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from nncore import callbacks, layers, optimizers, regularizers
from nncore.backends.codes import ACTIVATIONS
from nncore.models import Sequential


# nncore's hidden-layer activations (softmax is an output), and sklearn's names for two.
_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a != "softmax") + ("logistic", "identity")


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: the network, the loop and stopping."""

    _y_numeric = False

    def __init__(self, hidden_layer_sizes: tuple = (100,), activation: str = "relu", *,
                 dropout: float = 0.0, batch_normalization: bool = False,
                 optimizer: Any = "adam", learning_rate: float = 0.001,
                 batch_size: int | str = 32, max_iter: int = 200, shuffle: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 10, tol: float = 1e-4, alpha: float = 0.0,
                 random_state: Any = None, verbose: int = 0, dtype: str = "float32",
                 backend: str | None = None) -> None:
        # sklearn's rule: store the arguments as given, check them in fit.
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.batch_normalization = batch_normalization
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.alpha = alpha
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype
        self.backend = backend

    # ------------------------------------------------------------ argument checks
    def _check_params(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, (int, np.integer)) else sizes
        try:
            sizes = tuple(sizes)
        except TypeError:
            sizes = None
        if sizes is None or any(isinstance(s, (bool, np.bool_)) or
                                not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
            raise ValueError("hidden_layer_sizes must be a tuple of ints >= 1. "
                             f"Received: hidden_layer_sizes={self.hidden_layer_sizes!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(_ACTIVATIONS)}. "
                             f"Received: activation={self.activation!r}")
        _number(self, "dropout", 0.0, 1.0, high_open=True)
        _number(self, "learning_rate", 0.0, None, low_open=True)
        _number(self, "validation_fraction", 0.0, 1.0, low_open=True, high_open=True)
        _number(self, "tol", 0.0, None)
        _number(self, "alpha", 0.0, None)
        _integer(self, "max_iter", 1)
        _integer(self, "n_iter_no_change", 1)
        _integer(self, "verbose", 0)
        if self.batch_size != "auto":
            _integer(self, "batch_size", 1)
        for name in ("batch_normalization", "shuffle", "early_stopping"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False. "
                                f"Received: {name}={getattr(self, name)!r}")
        if self.dtype not in ("float32", "float64", np.float32, np.float64):
            raise ValueError("dtype must be 'float32' or 'float64'. "
                             f"Received: dtype={self.dtype!r}")
        return sizes

    def _make_optimizer(self) -> optimizers.Optimizer:
        if isinstance(self.optimizer, optimizers.Optimizer):
            # A copy: the estimator's parameter must not carry state from one fit to the next
            # (clone and GridSearchCV share it between candidates).
            return copy.deepcopy(self.optimizer)
        try:
            template = optimizers.get(self.optimizer) if isinstance(self.optimizer, str) \
                else None
        except ValueError:
            template = None
        if template is None:
            raise ValueError("optimizer must be a name (adam, sgd, rmsprop, adagrad, adamw) "
                             f"or an nncore Optimizer. Received: optimizer={self.optimizer!r}")
        return type(template)(learning_rate=self.learning_rate)

    def _build(self, n_outputs: int, out_activation: str, loss: str) -> Sequential:
        """A new, compiled network, its weights seeded from random_state."""
        sizes = self._check_params()
        act = {"logistic": "sigmoid", "identity": "linear"}.get(self.activation,
                                                                   self.activation)
        reg = regularizers.L2(self.alpha) if self.alpha > 0 else None
        stack = []
        for units in sizes:
            if self.batch_normalization:
                # Dense -> BN -> activation: normalise the pre-activations (Ioffe & Szegedy).
                stack += [layers.Dense(units, kernel_regularizer=reg),
                          layers.BatchNormalization(), layers.Activation(act)]
            else:
                stack.append(layers.Dense(units, activation=act, kernel_regularizer=reg))
            if self.dropout > 0:
                stack.append(layers.Dropout(float(self.dropout)))
        stack.append(layers.Dense(n_outputs, activation=out_activation, kernel_regularizer=reg))
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        model = Sequential(stack, seed=seed, backend=self.backend,
                           dtype=np.dtype(self.dtype).name)
        model.compile(optimizer=self._make_optimizer(), loss=loss)
        return model

    # ------------------------------------------------------------ training
    def _fit(self, X, y, sample_weight, incremental: bool, classes=None):
        # Arguments first, so that a bad one leaves a fitted estimator exactly as it was.
        self._check_params()
        self._make_optimizer()
        first = not (incremental and hasattr(self, "model_"))
        X, Y = self._validate(X, y, reset=first)
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        Y, sw = self._encode(Y, sw, first, classes)
        if first:
            n_out, out_act, loss = self._head()
            self.model_ = self._build(n_out, out_act, loss)
            self.loss_curve_, self.n_iter_, self.t_ = [], 0, 0
            self.best_loss_ = np.inf
            self.validation_scores_ = [] if self.early_stopping and not incremental else None
            self.best_validation_score_ = -np.inf if self.validation_scores_ is not None \
                else None
            self._no_improvement = 0
        # Once here, not in every epoch's Sequential.fit: float64 data (sklearn's default)
        # would otherwise be copied to float32 max_iter times.
        X = np.ascontiguousarray(X, dtype=self.model_.dtype)
        batch = min(200, len(X)) if self.batch_size == "auto" else int(self.batch_size)
        if incremental:
            self._run_epochs(X, Y, sw, batch, 1)
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
            return self
        val, best = None, {}
        if self.early_stopping:
            stratify = Y if self._stratify() else None
            parts = train_test_split(X, Y, *(() if sw is None else (sw,)),
                                     random_state=self.model_.seed, stratify=stratify,
                                     test_size=self.validation_fraction)
            X, X_val, Y, Y_val = parts[:4]
            sw = parts[4] if sw is not None else None
            val = (X_val, Y_val)
            best["weights"] = self.model_.get_weights()

        def stop_here() -> bool:
            if val is not None:
                self.validation_scores_.append(self._val_score(*val))
                if self.validation_scores_[-1] > self.best_validation_score_:
                    best["weights"] = self.model_.get_weights()
                improved = self.validation_scores_[-1] >= self.best_validation_score_ + self.tol
                self.best_validation_score_ = max(self.best_validation_score_,
                                                  self.validation_scores_[-1])
            else:
                improved = self.loss_curve_[-1] <= self.best_loss_ - self.tol
                self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
            # sklearn's rule: stop after n_iter_no_change epochs without an improvement of tol.
            self._no_improvement = 0 if improved else self._no_improvement + 1
            return self._no_improvement > self.n_iter_no_change

        if not self._run_epochs(X, Y, sw, batch, self.max_iter, stop_here):
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=3)
        if val is not None:
            self.model_.set_weights(best["weights"])  # as sklearn: the best-validated epoch
            self.best_loss_ = None
        return self

    def _run_epochs(self, X, Y, sw, batch: int, epochs: int, stop_here=None) -> bool:
        """Up to ``epochs`` passes over the data in one ``Sequential.fit``, so that its
        input checks run once per fit, not once per epoch. After each epoch its loss is
        recorded and ``stop_here()`` may end training; returns whether it did. The model
        draws each epoch's shuffle from its own generator, so one call of n epochs trains
        exactly as n calls of one: partial_fit n times equals fit for n epochs."""
        epoch_end = _EpochEnd(self, len(X), stop_here)
        self.model_.fit(X, Y, batch_size=batch, epochs=epochs, verbose=0,
                        shuffle=bool(self.shuffle), sample_weight=sw, callbacks=[epoch_end])
        return epoch_end.stopped

    def _forward_raw(self, X: np.ndarray) -> np.ndarray:
        # Batches of up to 1024 rows: one GEMM per layer for most inputs (predict's default
        # of 32 rows pays its per-call cost 30 times more often), memory still bounded.
        return self.model_.predict(X, batch_size=max(1, min(len(X), 1024)))

    def _validate(self, X, y, reset: bool):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target "
                             "y is None.")
        # Sparse input is refused (accept_sparse=False): sklearn's TypeError says to densify.
        return validate_data(self, X, y, reset=reset, multi_output=True,
                             y_numeric=self._y_numeric, dtype=(np.float64, np.float32))

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self._forward_raw(X).astype(np.float64)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.non_deterministic = False
        return tags


class _EpochEnd(callbacks.Callback):
    """Records each epoch of ``Sequential.fit`` in the estimator (loss_curve_, n_iter_,
    t_) and stops training when the estimator's rule says so."""

    def __init__(self, estimator, n_samples: int, stop_here=None):
        self.estimator, self.n_samples, self.stop_here = estimator, n_samples, stop_here
        self.stopped = False

    def on_epoch_end(self, epoch, logs=None):
        est = self.estimator
        loss = float(logs["loss"])
        est.loss_curve_.append(loss)
        est.n_iter_ += 1
        est.t_ += self.n_samples
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        if self.stop_here is not None and self.stop_here():
            self.stopped = self.model.stop_training = True


def _number(est, name: str, low, high, *, low_open=False, high_open=False) -> None:
    value = getattr(est, name)
    ok = isinstance(value, (int, float, np.integer, np.floating)) and \
        not isinstance(value, (bool, np.bool_)) and np.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and \
            (high is None or (value < high if high_open else value <= high))
    if not ok:
        bounds = f"{'(' if low_open else '['}{low}, {'inf' if high is None else high}" \
                 f"{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must be a number in {bounds}. Received: {name}={value!r}")


def _integer(est, name: str, low: int) -> None:
    value = getattr(est, name)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < low:
        raise ValueError(f"{name} must be an int >= {low}. Received: {name}={value!r}")
