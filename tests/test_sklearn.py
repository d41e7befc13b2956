"""The scikit-learn estimators: sklearn's own check_estimator, real sklearn tools (clone,
Pipeline, GridSearchCV, cross_val_score), partial_fit = fit, pickle/joblib, labels."""
import io
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed")

import joblib  # noqa: E402  (scikit-learn brings joblib)
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from nncore.linear import LinearRegression  # noqa: E402
from nncore.perceptron import Perceptron  # noqa: E402
from nncore.sklearn import MLPClassifier, MLPRegressor, expected_failed_checks  # noqa: E402

BACKENDS = ["native", "numpy"]
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::nncore.exceptions.ConvergenceWarning"),
    # LinearRegression and Perceptron follow sklearn's protocol without inheriting from
    # BaseEstimator, so that `import nncore` never imports scikit-learn.
    pytest.mark.filterwarnings("ignore:Estimator .* does not inherit from"),
]


# LinearRegression and Perceptron follow sklearn's protocol without inheriting from
# BaseEstimator (so that `import nncore` never imports scikit-learn); sklearn warns about
# that when it collects their checks.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Estimator .* does not inherit from")
    # float64 too: its outputs do not depend on the batch size, so one check that float32
    # fails on purpose passes there (expected_failed_checks knows the difference).
    _ESTIMATOR_CHECKS = parametrize_with_checks(
        [MLPClassifier(max_iter=50), MLPRegressor(max_iter=50),
         MLPRegressor(max_iter=20, dtype="float64", backend="numpy"),
         LinearRegression(), Perceptron()],
        expected_failed_checks=expected_failed_checks, xfail_strict=True)


@_ESTIMATOR_CHECKS
def test_sklearn_check_estimator(estimator, check):
    check(estimator)


def _data(n=120, classes=3, seed=0):
    X, y = make_classification(n_samples=n, n_features=6, n_informative=4,
                               n_classes=classes, random_state=seed)
    return X.astype(np.float64), y


def test_import_nncore_does_not_import_sklearn():
    code = "import sys, nncore; sys.exit('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_constructor_only_stores_and_bad_arguments_are_named_in_fit():
    clf = MLPClassifier(hidden_layer_sizes=(0,), learning_rate=-1)  # no error yet
    assert clf.get_params()["hidden_layer_sizes"] == (0,)
    X, y = _data()
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(0,\)"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="learning_rate=-1"):
        clf.set_params(hidden_layer_sizes=(4,)).fit(X, y)
    with pytest.raises(ValueError, match="optimizer='nope'"):
        MLPRegressor(optimizer="nope").fit(X, y)
    with pytest.raises(ValueError, match="activation='cube'"):
        MLPRegressor(activation="cube").fit(X, y)
    # A failed refit leaves the fitted estimator as it was.
    fitted = MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    model, before = fitted.model_, fitted.predict_proba(X)
    with pytest.raises(ValueError, match="optimizer='nope'"):
        fitted.set_params(optimizer="nope").fit(X[:, :3], y + 5)
    assert fitted.model_ is model and fitted.n_features_in_ == 6
    np.testing.assert_array_equal(fitted.predict_proba(X), before)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_fit_n_times_equals_fit_n_epochs_bit_for_bit(backend, shuffle):
    # With shuffle on too: fit's epochs and partial_fit's calls draw each epoch's order
    # from the model's own generator, one draw per epoch.
    X, y = _data()
    args = dict(hidden_layer_sizes=(8, 8), shuffle=shuffle, random_state=3, backend=backend,
                max_iter=5, n_iter_no_change=100, dropout=0.1, batch_normalization=True)
    full = MLPClassifier(**args).fit(X, y)
    inc = MLPClassifier(**args)
    for _ in range(5):
        inc.partial_fit(X, y, classes=np.unique(y))
    for a, b in zip(full.model_.get_weights(), inc.model_.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert full.loss_curve_ == inc.loss_curve_ and inc.n_iter_ == 5
    reg_args = dict(args, hidden_layer_sizes=(4,), dropout=0.0)
    full = MLPRegressor(**reg_args).fit(X, X[:, 0])
    inc = MLPRegressor(**reg_args)
    for _ in range(5):
        inc.partial_fit(X, X[:, 0])
    np.testing.assert_array_equal(full.predict(X), inc.predict(X))


def test_fit_checks_the_data_once_not_once_per_epoch(monkeypatch):
    from nncore.models import Sequential
    calls = []
    original = Sequential.fit

    def counting_fit(self, *args, **kwargs):
        calls.append(kwargs["epochs"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Sequential, "fit", counting_fit)
    X, y = _data()
    clf = MLPClassifier((4,), max_iter=6, n_iter_no_change=100, random_state=0).fit(X, y)
    assert calls == [6] and clf.n_iter_ == len(clf.loss_curve_) == 6
    assert clf.model_.dtype == np.float32 and clf.t_ == 6 * len(X)
    # The stopping rule ends that one call early, as sklearn's would.
    calls.clear()
    clf = MLPClassifier((4,), max_iter=50, tol=10.0, n_iter_no_change=2,
                        random_state=0).fit(X, y)
    assert calls == [50] and clf.n_iter_ == 4


def test_partial_fit_needs_classes_first():
    X, y = _data()
    with pytest.raises(ValueError, match="classes=None"):
        MLPClassifier().partial_fit(X, y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_string_labels_binary_multiclass_and_proba(backend):
    X, y = _data(classes=3)
    labels = np.array(["cat", "dog", "emu"])[y]
    clf = MLPClassifier((16,), learning_rate=0.01, max_iter=60, random_state=0,
                        backend=backend).fit(X, labels)
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    assert set(clf.predict(X)) <= set(labels) and clf.score(X, labels) > 0.8
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(clf.classes_[clf.decision_function(X).argmax(1)] == clf.predict(X))
    Xb, yb = _data(classes=2)
    clf = MLPClassifier((8,), learning_rate=0.01, max_iter=60, random_state=0,
                        backend=backend).fit(Xb, np.where(yb, "yes", "no"))
    assert clf.decision_function(Xb).shape == (len(Xb),)
    assert np.all((clf.decision_function(Xb) > 0) == (clf.predict(Xb) == "yes"))


def test_multilabel_and_multioutput_regression():
    X, y = _data()
    Y = np.stack([y == 0, y == 1, y != 1], axis=1).astype(int)
    clf = MLPClassifier((16,), learning_rate=0.01, max_iter=80, random_state=0).fit(X, Y)
    assert clf.predict(X).shape == Y.shape and clf.predict_proba(X).shape == Y.shape
    assert clf.model_.loss.name == "binary_crossentropy"
    assert clf.score(X, Y) > 0.6  # subset accuracy, as sklearn
    Yr = np.stack([X[:, 0] + X[:, 1], X[:, 2] - X[:, 3]], axis=1)
    reg = MLPRegressor((16,), learning_rate=0.01, max_iter=150, random_state=0).fit(X, Yr)
    assert reg.predict(X).shape == Yr.shape and reg.score(X, Yr) > 0.9


def test_class_weight_and_sample_weight_shift_predictions():
    X, y = _data(classes=2)
    base = dict(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
    heavy = MLPClassifier(class_weight={0: 100.0, 1: 0.01}, **base).fit(X, y)
    assert np.mean(heavy.predict(X) == 0) > 0.9
    # class_weight is a per-class sample_weight: the same numbers give the same network.
    weighted = MLPClassifier(**base).fit(X, y, sample_weight=np.where(y == 1, 0.01, 100.0))
    np.testing.assert_array_equal(weighted.predict_proba(X), heavy.predict_proba(X))
    from sklearn.utils.class_weight import compute_sample_weight
    Xu, yu = X[:90], y[:90]  # uneven classes, so "balanced" weighs
    balanced = MLPClassifier(class_weight="balanced", **base).fit(Xu, yu)
    oracle = MLPClassifier(**base).fit(Xu, yu,
                                       sample_weight=compute_sample_weight("balanced", yu))
    np.testing.assert_array_equal(balanced.predict_proba(X), oracle.predict_proba(X))


def test_early_stopping_keeps_validation_scores_and_best_weights():
    X, y = _data(n=300)
    clf = MLPClassifier((16,), learning_rate=0.01, max_iter=200, early_stopping=True,
                        n_iter_no_change=3, random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None and len(clf.loss_curve_) == clf.n_iter_
    reg = MLPRegressor((8,), max_iter=3, random_state=0).fit(X, X[:, 0])
    assert reg.validation_scores_ is None and reg.best_loss_ == min(reg.loss_curve_)


def test_stops_on_tol_as_sklearn_else_warns_convergence():
    from sklearn.neural_network import MLPClassifier as SkMLP
    X, y = _data()
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\)"):
        MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    args = dict(hidden_layer_sizes=(4,), max_iter=500, tol=1.0, n_iter_no_change=2,
                random_state=0)
    # No epoch after the first improves by 1.0: both stop after 1 + n_iter_no_change + 1.
    assert MLPClassifier(**args).fit(X, y).n_iter_ == SkMLP(**args).fit(X, y).n_iter_ == 4


def test_sparse_input_is_refused_with_a_hint_to_densify():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, y = _data()
    with pytest.raises(TypeError, match="dense data is required"):
        MLPClassifier(max_iter=1).fit(scipy_sparse.csr_matrix(X), y)


def test_pandas_input_sets_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = _data()
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = MLPClassifier((4,), max_iter=2, random_state=0).fit(df, pd.Series(y))
    assert clf.feature_names_in_.tolist() == list(df.columns) and clf.n_features_in_ == 6
    assert clf.predict(df).shape == (len(df),)


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier((8,), max_iter=5, random_state=0, dropout=0.2,
                          batch_normalization=True),
    lambda: MLPRegressor((8,), max_iter=5, random_state=0),
    lambda: LinearRegression(),
    lambda: Perceptron(max_epochs=5)])
def test_fitted_estimators_round_trip_pickle_and_joblib(make, tmp_path):
    X, y = _data(classes=2)
    est = make().fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    joblib.dump(est, tmp_path / "est.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "est.joblib").predict(X),
                                  est.predict(X))
    if hasattr(est, "partial_fit"):  # the optimizer's state travels too
        kwargs = {"classes": [0, 1]} if hasattr(est, "classes_") else {}
        a, b = est.partial_fit(X, y, **kwargs), again.partial_fit(X, y, **kwargs)
        np.testing.assert_array_equal(a.predict(X), b.predict(X))


class _RecordingUnpickler(pickle.Unpickler):
    """Unpickles, noting every class and function the stream asks for."""

    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data))
        self.globals = set()

    def find_class(self, module, name):
        self.globals.add((module, name))
        return super().find_class(module, name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pickle_and_joblib_carry_the_model_file_bytes_and_nothing_native(backend, tmp_path):
    X, y = _data()
    est = MLPClassifier((8,), max_iter=3, random_state=0, batch_normalization=True,
                        backend=backend).fit(X, y)
    est.model_.save(tmp_path / "model.nnc")
    file_bytes = (tmp_path / "model.nnc").read_bytes()
    blob = pickle.dumps(est)
    # The network travels as the bytes of its model file (format, version, SHA-256)...
    assert file_bytes in blob
    joblib.dump(est, tmp_path / "est.joblib")
    assert file_bytes in (tmp_path / "est.joblib").read_bytes()
    # ...and is rebuilt from them: no class of a backend (native buffers, plans) is pickled.
    unpickler = _RecordingUnpickler(blob)
    again = unpickler.load()
    assert ("nncore.models.persistence", "_unpickle") in unpickler.globals
    assert not [g for g in unpickler.globals if g[0].startswith("nncore.backends")]
    assert again.model_.ops.name == est.model_.ops.name == backend
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))


def test_clone_of_a_fitted_estimator_is_unfitted_and_refits_identically():
    X, y = _data()
    fitted = MLPClassifier((8,), dropout=0.1, max_iter=4, random_state=5).fit(X, y)
    twin = clone(fitted)
    assert not hasattr(twin, "model_") and not hasattr(twin, "classes_")
    assert twin.get_params() == fitted.get_params()
    twin.fit(X, y)
    assert twin.model_ is not fitted.model_ and twin.loss_curve_ == fitted.loss_curve_
    np.testing.assert_array_equal(twin.predict_proba(X), fitted.predict_proba(X))


def test_sklearn_tools_clone_pipeline_gridsearch_cross_val():
    X, y = _data()
    clf = MLPClassifier((8,), learning_rate=0.01, max_iter=20, random_state=0)
    assert clone(clf).get_params() == clf.get_params()
    pipe = make_pipeline(StandardScaler(), clf)
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.6
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (8,)],
                               "mlpclassifier__alpha": [0.0, 1e-3]}, cv=2).fit(X, y)
    assert grid.best_params_["mlpclassifier__hidden_layer_sizes"] in [(4,), (8,)]
    lin = GridSearchCV(LinearRegression(), {"fit_intercept": [True, False]}, cv=3)
    assert lin.fit(X, X @ np.arange(6.0) + 1).best_params_ == {"fit_intercept": True}


def test_same_seed_gives_the_same_model_and_float64_works():
    X, y = _data()
    a = MLPRegressor((8,), max_iter=5, random_state=7, dtype="float64").fit(X, X[:, 0])
    b = MLPRegressor((8,), max_iter=5, random_state=7, dtype="float64").fit(X, X[:, 0])
    assert a.model_.dtype == np.float64
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_results_close_to_sklearns_mlp_on_the_same_task():
    from sklearn.neural_network import MLPClassifier as SkMLP
    X, y = _data(n=400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier((32,), max_iter=100, random_state=0).fit(X[:300], y[:300])
        theirs = SkMLP((32,), max_iter=100, random_state=0).fit(X[:300], y[:300])
    assert abs(ours.score(X[300:], y[300:]) - theirs.score(X[300:], y[300:])) < 0.1


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_size_auto_is_min_200_n_and_optimizer_choices(backend):
    X, y = _data(n=60)
    args = dict(hidden_layer_sizes=(4,), max_iter=3, shuffle=False, random_state=0,
                backend=backend)
    auto = MLPRegressor(batch_size="auto", **args).fit(X, X[:, 0])
    full = MLPRegressor(batch_size=60, **args).fit(X, X[:, 0])
    np.testing.assert_array_equal(auto.predict(X), full.predict(X))
    import nncore as nn
    sgd = MLPRegressor(optimizer="sgd", learning_rate=0.05, **args).fit(X, X[:, 0])
    assert type(sgd.model_.optimizer).__name__ == "SGD"
    template = nn.optimizers.RMSprop(learning_rate=0.01)
    est = MLPRegressor(optimizer=template, **args).fit(X, X[:, 0])
    assert est.model_.optimizer is not template and est.optimizer is template


def test_linear_and_perceptron_params_clone_and_set_params():
    p = Perceptron(weights=[1.0, 1.0], bias=-1.5, learning_rate=0.5)
    assert p.get_params() == {"bias": -1.5, "learning_rate": 0.5, "max_epochs": 100,
                              "name": None, "random_state": None, "shuffle": False,
                              "weights": [1.0, 1.0]}
    assert clone(p).get_params() == p.get_params()
    with pytest.raises(ValueError, match="Invalid parameter 'lr'"):
        p.set_params(lr=1)
    fitted = Perceptron(max_epochs=50).fit([[0, 0], [1, 1]], [0, 1])
    assert not hasattr(clone(fitted), "coef_") and clone(fitted).max_epochs == 50
    assert LinearRegression().set_params(fit_intercept=False).fit_intercept is False
    assert sklearn.base.is_regressor(LinearRegression())
    assert sklearn.base.is_classifier(Perceptron())
    assert sklearn.base.is_classifier(MLPClassifier())


def test_without_sklearn_the_import_error_says_what_to_install():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "try:\n    import nncore.sklearn\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "pip install scikit-learn" in out


def test_partial_fit_streams_chunks_missing_some_classes():
    X, y = _data()
    clf = MLPClassifier((8,), random_state=0)
    for chunk in np.array_split(np.argsort(y), 4):  # sorted: early chunks lack class 2
        clf.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
    assert clf.classes_.tolist() == [0, 1, 2] and clf.n_iter_ == 4
    with pytest.raises(ValueError, match=r"labels \[7\] not in classes_"):
        clf.partial_fit(X[:2], [7, 0])
