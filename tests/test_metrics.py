"""Metrics (nncore.metrics): each function against values worked out by hand, lookup by
name, and "accuracy" resolving to the right kind for the loss (and output) as in Keras,
through compile/evaluate/fit."""
import numpy as np
import pytest

import nncore as nn
from nncore import metrics


# --------------------------------------------------------------------------- functions
def test_binary_accuracy_by_hand():
    y_true = [[1], [0], [1], [0]]
    y_pred = [[0.9], [0.6], [0.4], [0.1]]
    np.testing.assert_array_equal(metrics.binary_accuracy(y_true, y_pred), [1, 0, 0, 1])
    # threshold 0.7: 0.6 now counts as class 0, which is right for the second row.
    np.testing.assert_array_equal(metrics.binary_accuracy(y_true, y_pred, threshold=0.7),
                                  [1, 1, 0, 1])
    # 1-D vectors are one output per sample.
    np.testing.assert_array_equal(metrics.binary_accuracy([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1]),
                                  [1, 0, 0, 1])
    # Several outputs: the mean over them (Keras's mean over the last axis).
    np.testing.assert_allclose(metrics.binary_accuracy([[1, 1], [0, 0]],
                                                       [[0.8, 0.3], [0.2, 0.1]]), [0.5, 1.0])


def test_binary_accuracy_at_the_threshold_is_class_zero():
    # Keras: y_pred > threshold is class 1, so exactly 0.5 is class 0.
    np.testing.assert_array_equal(metrics.binary_accuracy([[0], [1]], [[0.5], [0.5]]), [1, 0])


def test_categorical_accuracy_by_hand():
    y_true = [[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 0]]
    y_pred = [[0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.4, 0.35, 0.25], [0.3, 0.3, 0.4]]
    out = metrics.categorical_accuracy(y_true, y_pred)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1, 0, 1, 0])


def test_sparse_categorical_accuracy_by_hand():
    y_pred = [[0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.4, 0.35, 0.25], [0.3, 0.3, 0.4]]
    for labels in ([2, 1, 0, 1], [[2], [1], [0], [1]], np.array([2.0, 1.0, 0.0, 1.0])):
        np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(labels, y_pred),
                                      [1, 0, 1, 0])


def test_sparse_and_categorical_accuracy_agree_on_one_hot_labels():
    rng = np.random.default_rng(0)
    P = rng.random((50, 4))
    labels = rng.integers(0, 4, 50)
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(labels, P),
                                  metrics.categorical_accuracy(np.eye(4)[labels], P))


def test_regression_metrics_by_hand():
    y_true = [[1.0, 2.0], [0.0, -1.0]]
    y_pred = [[2.0, 0.0], [0.5, -1.0]]
    # errors (1, -2) and (0.5, 0): squared means 2.5 and 0.125; absolute means 1.5, 0.25.
    np.testing.assert_allclose(metrics.mean_squared_error(y_true, y_pred), [2.5, 0.125])
    np.testing.assert_allclose(metrics.mean_absolute_error(y_true, y_pred), [1.5, 0.25])
    np.testing.assert_allclose(metrics.mean_squared_error([1.0, 2.0], [2.0, 0.0]), [1.0, 4.0])


def test_regression_metrics_accumulate_in_float64():
    y_true = np.zeros((1, 3), np.float32)
    y_pred = np.array([[1e4, 1e-4, 3.0]], np.float32)
    out = metrics.mean_squared_error(y_true, y_pred)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [(1e8 + 1e-8 + 9.0) / 3], rtol=1e-6)


# --------------------------------------------------------------------------- lookup
@pytest.mark.parametrize("name, fn", [
    ("binary_accuracy", metrics.binary_accuracy),
    ("categorical_accuracy", metrics.categorical_accuracy),
    ("sparse_categorical_accuracy", metrics.sparse_categorical_accuracy),
    ("mse", metrics.mean_squared_error), ("MSE", metrics.mean_squared_error),
    ("mean_squared_error", metrics.mean_squared_error),
    ("mae", metrics.mean_absolute_error), ("mean_absolute_error", metrics.mean_absolute_error),
])
def test_get_by_name(name, fn):
    shown, got = metrics.get(name)
    assert got is fn and shown == name.lower()


@pytest.mark.parametrize("loss, fn", [
    ("binary_crossentropy", metrics.binary_accuracy),
    ("categorical_crossentropy", metrics.categorical_accuracy),
    ("sparse_categorical_crossentropy", metrics.sparse_categorical_accuracy),
])
@pytest.mark.parametrize("name", ["accuracy", "acc"])
def test_accuracy_resolves_by_the_loss(name, loss, fn):
    shown, got = metrics.get(name, loss)
    assert got is fn and shown == name


def test_accuracy_for_other_losses_resolves_by_the_shapes():
    shown, fn = metrics.get("accuracy", "mean_squared_error")
    assert shown == "accuracy"
    P3 = [[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]]
    np.testing.assert_array_equal(fn([[1], [0]], [[0.7], [0.7]]), [1, 0])     # binary
    np.testing.assert_array_equal(fn([0.0, 1.0], [0.2, 0.9]), [1, 1])         # binary, 1-D
    np.testing.assert_array_equal(fn([2, 1], P3), [1, 0])                     # sparse
    np.testing.assert_array_equal(fn([[2], [0]], P3), [1, 1])                 # sparse (n, 1)
    np.testing.assert_array_equal(fn([[0, 0, 1], [0, 1, 0]], P3), [1, 0])     # categorical


def test_callables_pass_through_with_their_name():
    def my_metric(y_true, y_pred):
        return np.zeros(len(y_pred))

    assert metrics.get(my_metric) == ("my_metric", my_metric)


def test_unknown_metrics_are_refused():
    with pytest.raises(ValueError, match="Unknown metric 'f2'"):
        metrics.get("f2")
    with pytest.raises(TypeError, match="metrics must be names, functions or Metric"):
        metrics.get(3)
    for bad in ({"class_name": "Conv2D"}, {"class_name": "AUC", "config": [1]},
                {"class_name": "AUC", "config": {}, "extra": 1}):
        with pytest.raises(ValueError, match="serialized metric"):
            metrics.get(bad)
    with pytest.raises(TypeError):
        metrics.get({"class_name": "AUC", "config": {"thresholds": 200}})


# --------------------------------------------------------------------------- in a model
# Models whose predictions are known exactly: identity kernels, zero biases.
X3 = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 0.0, 4.0], [2.0, 3.0, 0.0],
               [0.0, 0.0, 1.0]])  # argmax per row: 0, 1, 2, 1, 2
LABELS = np.array([0, 1, 1, 0, 2])  # right, right, wrong, wrong, right: accuracy 3/5


def _softmax_model(backend, loss, metric="accuracy"):
    model = nn.Sequential([nn.layers.Dense(3, input_dim=3, activation="softmax")],
                          backend=backend, seed=0)
    model.set_weights([np.eye(3), np.zeros(3)])
    model.compile("sgd", loss, metrics=[metric])
    return model


def test_accuracy_with_categorical_crossentropy_in_evaluate(backend):
    model = _softmax_model(backend, "categorical_crossentropy")
    logs = model.evaluate(X3, np.eye(3)[LABELS], return_dict=True, batch_size=2)
    assert list(logs) == ["loss", "accuracy"]
    assert logs["accuracy"] == pytest.approx(3 / 5, abs=1e-12)


def test_accuracy_with_sparse_categorical_crossentropy_in_evaluate(backend):
    model = _softmax_model(backend, "sparse_categorical_crossentropy", "acc")
    logs = model.evaluate(X3, LABELS, return_dict=True, batch_size=3)
    assert logs["acc"] == pytest.approx(3 / 5, abs=1e-12)


def test_accuracy_with_binary_crossentropy_in_evaluate(backend):
    model = nn.Sequential([nn.layers.Dense(1, input_dim=1, activation="sigmoid")],
                          backend=backend, seed=0)
    model.set_weights([np.ones((1, 1)), np.zeros(1)])
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    x = np.array([[2.0], [-1.0], [0.5], [-3.0]])  # sigmoid > 0.5 iff x > 0: 1, 0, 1, 0
    y = np.array([1.0, 0.0, 0.0, 1.0])            # right, right, wrong, wrong
    assert model.evaluate(x, y, return_dict=True)["accuracy"] == pytest.approx(0.5, abs=1e-12)


def test_accuracy_with_mse_and_one_output_is_binary_accuracy(backend):
    # Keras picks the accuracy from the shapes when the loss does not say: one output
    # column is binary accuracy (a categorical argmax over one column is always "right").
    model = nn.Sequential([nn.layers.Dense(1, input_dim=1)], backend=backend, seed=0)
    model.set_weights([np.ones((1, 1)), np.zeros(1)])
    model.compile("sgd", "mse", metrics=["accuracy"])
    x = np.array([[0.9], [0.2], [0.7], [0.1]])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    assert model.evaluate(x, y, return_dict=True)["accuracy"] == pytest.approx(0.5, abs=1e-12)


def test_accuracy_with_mse_and_one_hot_targets_is_categorical_accuracy(backend):
    model = _softmax_model(backend, "mse")
    logs = model.evaluate(X3, np.eye(3)[LABELS], return_dict=True)
    assert logs["accuracy"] == pytest.approx(3 / 5, abs=1e-12)


def test_metrics_are_weighted_by_sample_weight(backend):
    model = _softmax_model(backend, "sparse_categorical_crossentropy")
    sw = np.array([1.0, 1.0, 2.0, 0.0, 4.0])  # right rows weigh 1 + 1 + 4, wrong ones 2 + 0
    logs = model.evaluate(X3, LABELS, sample_weight=sw, return_dict=True, batch_size=2)
    assert logs["accuracy"] == pytest.approx(6 / 8, abs=1e-12)


def test_several_metrics_in_order_with_their_values(backend):
    model = nn.Sequential([nn.layers.Dense(2, input_dim=2)], backend=backend, seed=0)
    model.set_weights([np.eye(2), np.zeros(2)])
    model.compile("sgd", "mse", metrics=["mae", "mse", metrics.mean_absolute_error])
    x = np.array([[1.0, 2.0], [0.0, -1.0]])
    y = np.array([[2.0, 0.0], [0.5, -1.0]])  # errors as in test_regression_metrics_by_hand
    loss, mae, mse, fn_mae = model.evaluate(x, y)
    assert model.metrics_names == ["loss", "mae", "mse", "mean_absolute_error"]
    assert mae == pytest.approx(0.875, rel=1e-6) and fn_mae == mae
    assert mse == pytest.approx(1.3125, rel=1e-6) and loss == pytest.approx(mse, rel=1e-6)


def test_fit_logs_the_epoch_mean_of_a_metric(backend):
    model = _softmax_model(backend, "sparse_categorical_crossentropy")
    model.compile(nn.optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # lr 0: the weights, so the predictions, stay put
    history = model.fit(X3, LABELS, epochs=2, batch_size=2, shuffle=False, verbose=0,
                        validation_data=(X3[:2], LABELS[:2]))
    assert history.history["accuracy"] == pytest.approx([0.6, 0.6], abs=1e-12)
    assert history.history["val_accuracy"] == pytest.approx([1.0, 1.0], abs=1e-12)


# ------------------------------------------------------- custom metrics: values or means
# Ten samples in batches of 4, 4 and 2; a one-unit linear model with known weights and a
# learning rate of 0 in fit, so that every prediction is x itself.
XC = np.arange(10.0).reshape(-1, 1) / 10.0
YC = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
SWC = np.array([1.0, 2.0, 0.0, 1.0, 3.0, 1.0, 1.0, 2.0, 0.5, 4.0])
ABS_ERRORS = np.abs(XC[:, 0] - YC)  # the per-sample values of every metric below


def _abs_error_values(y_true, y_pred):
    return np.abs(y_pred - y_true).mean(axis=1)


def _abs_error_column(y_true, y_pred):
    return np.abs(y_pred - y_true)  # (n, 1): one value per sample, as a column


def _abs_error_mean(y_true, y_pred):
    return np.abs(y_pred - y_true).mean()  # a 0-d array


def _abs_error_float(y_true, y_pred):
    return float(np.abs(y_pred - y_true).mean())  # a Python float


CUSTOM = [_abs_error_values, _abs_error_column, _abs_error_mean, _abs_error_float]


def _identity_model(backend):
    model = nn.Sequential([nn.layers.Dense(1, input_dim=1)], backend=backend, seed=0)
    model.set_weights([np.ones((1, 1)), np.zeros(1)])
    model.compile(nn.optimizers.SGD(learning_rate=0.0), "mse", metrics=CUSTOM)
    return model


def test_custom_metrics_give_the_mean_over_samples_with_uneven_batches(backend):
    # The mean over the ten samples, whether the function returns per-sample values or
    # batch means: a batch mean counts as many times as its batch has samples. (Summing
    # batch means and dividing by the sample count gave 0.0253 for a true 0.393.)
    expected = ABS_ERRORS.mean()
    model = _identity_model(backend)
    logs = model.evaluate(XC, YC, batch_size=4, return_dict=True)
    for fn in CUSTOM:
        assert logs[fn.__name__] == pytest.approx(expected, rel=1e-6), fn.__name__
    history = model.fit(XC, YC, batch_size=4, epochs=2, verbose=0)
    for fn in CUSTOM:
        assert history.history[fn.__name__] == pytest.approx([expected] * 2, rel=1e-6)
    logs = model.train_on_batch(XC[8:], YC[8:], return_dict=True)
    for fn in CUSTOM:
        assert logs[fn.__name__] == pytest.approx(ABS_ERRORS[8:].mean(), rel=1e-6)


def test_custom_metrics_with_sample_weights(backend):
    # Per-sample values are weighted by the sample weights; a batch mean has already
    # lost them, so it keeps its batch's size as weight.
    model = _identity_model(backend)
    logs = model.evaluate(XC, YC, batch_size=4, sample_weight=SWC, return_dict=True)
    weighted = np.dot(ABS_ERRORS, SWC) / SWC.sum()
    batch_means = [ABS_ERRORS[i:i + 4].mean() for i in (0, 4, 8)]
    by_size = np.dot(batch_means, [4, 4, 2]) / 10
    assert logs["_abs_error_values"] == pytest.approx(weighted, rel=1e-6)
    assert logs["_abs_error_column"] == pytest.approx(weighted, rel=1e-6)
    assert logs["_abs_error_mean"] == pytest.approx(by_size, rel=1e-6)
    assert logs["_abs_error_float"] == pytest.approx(by_size, rel=1e-6)


@pytest.mark.parametrize("result, error, match", [
    (lambda n: np.zeros(n + 1), ValueError, r"shape \(4,\).*Received: shape \(5,\)"),
    (lambda n: np.zeros((n, 2)), ValueError, r"Received: shape \(4, 2\)"),
    (lambda n: np.zeros(1), ValueError, r"Received: shape \(1,\)"),
    (lambda n: "0.5", TypeError, "must return numbers"),
    (lambda n: None, TypeError, "must return numbers. Received: NoneType"),
])
def test_custom_metrics_of_the_wrong_shape_are_refused(backend, result, error, match):
    def bad(y_true, y_pred):
        return result(len(y_pred))

    model = nn.Sequential([nn.layers.Dense(1, input_dim=1)], backend=backend, seed=0)
    model.compile("sgd", "mse", metrics=[bad])
    with pytest.raises(error, match=f"metric 'bad'.*{match}"):
        model.evaluate(XC[:4], YC[:4])


# --------------------------------------------------------------------------- epoch metrics
def _sklearn():
    return pytest.importorskip("sklearn.metrics", reason="scikit-learn is the oracle here")


def _binary_data(n=200, d=1, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, d)) < 0.4).astype(np.float64)
    p = np.clip(0.3 * y + 0.7 * rng.random((n, d)), 0, 1)
    if ties:
        p = np.round(p, 1)  # many equal scores, some across the classes
    w = rng.uniform(0.1, 2.0, n)
    return y, p, w


def _in_batches(metric, y, p, w, sizes=(37, 1, 62, 100)):
    """The metric updated batch by batch (uneven sizes): must equal one update."""
    metric = metric.fresh()
    start = 0
    for size in sizes:
        stop = min(start + size, len(y))
        metric.update_state(y[start:stop], p[start:stop], None if w is None else w[start:stop])
        start = stop
    return metric.result()


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_precision_recall_f1_match_scikit_learn(d, weighted):
    skm = _sklearn()
    y, p, w = _binary_data(d=d)
    w = w if weighted else None
    flat_w = None if w is None else np.repeat(w, d)
    decided = (p > 0.5).ravel()
    for metric, oracle in [(metrics.Precision(), skm.precision_score),
                           (metrics.Recall(), skm.recall_score),
                           (metrics.F1Score(average="micro", threshold=0.5), skm.f1_score)]:
        expected = oracle(y.ravel(), decided, sample_weight=flat_w)
        assert _in_batches(metric, y, p, w) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_f1_of_a_multiclass_argmax_matches_scikit_learn(average):
    skm = _sklearn()
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 150)
    scores = rng.random((150, 4)) + 0.8 * np.eye(4)[labels]
    w = rng.uniform(0.5, 1.5, 150)
    expected = skm.f1_score(labels, scores.argmax(axis=1), average=average, sample_weight=w)
    for y in (labels, np.eye(4)[labels]):  # integer labels or one-hot rows
        metric = metrics.F1Score(average=average)
        assert _in_batches(metric, y, scores, w) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("d", [1, 2])
def test_auc_is_the_exact_roc_area_of_scikit_learn(ties, d):
    skm = _sklearn()
    y, p, w = _binary_data(d=d, ties=ties, seed=5)
    expected = skm.roc_auc_score(y.ravel(), p.ravel(), sample_weight=np.repeat(w, d))
    assert _in_batches(metrics.AUC(), y, p, w) == pytest.approx(expected, rel=1e-12)
    assert metrics.AUC().result() == 0.0  # nothing seen


@pytest.mark.parametrize("aggregation,multioutput", [("uniform_average", "uniform_average"),
                                                    ("variance_weighted", "variance_weighted")])
def test_r2_and_rmse_match_scikit_learn(aggregation, multioutput):
    skm = _sklearn()
    rng = np.random.default_rng(7)
    y = rng.standard_normal((120, 3)) * [1.0, 5.0, 0.2]
    p = y + rng.standard_normal((120, 3)) * 0.5
    w = rng.uniform(0.2, 3.0, 120)
    r2 = skm.r2_score(y, p, sample_weight=w, multioutput=multioutput)
    assert _in_batches(metrics.R2Score(aggregation), y, p, w) == pytest.approx(r2, rel=1e-10)
    rmse = np.sqrt(skm.mean_squared_error(y, p, sample_weight=w))
    assert _in_batches(metrics.RootMeanSquaredError(), y, p, w) == pytest.approx(rmse, rel=1e-12)


def test_r2_of_a_constant_target_and_the_adjusted_r2():
    m = metrics.R2Score()
    m.update_state([2.0, 2.0, 2.0], [2.0, 2.0, 2.0])
    assert m.result() == 1.0  # predicted exactly
    m.update_state([2.0], [3.0])
    assert m.result() == 0.0  # as scikit-learn's r2_score: no division by zero
    y, p = np.arange(10.0), np.arange(10.0) + [0.5, -0.5] * 5
    plain, adjusted = metrics.R2Score(), metrics.R2Score(num_regressors=2)
    for m in (plain, adjusted):
        m.update_state(y, p)
    assert adjusted.result() == pytest.approx(1 - (1 - plain.result()) * 9 / 7)
    with pytest.raises(ValueError, match="num_regressors=2 needs more than 3 samples"):
        m = metrics.R2Score(num_regressors=2)
        m.update_state([1.0, 2.0], [1.0, 2.0])
        m.result()


def test_top_k_accuracy_matches_scikit_learn_and_counts_ties_in():
    skm = _sklearn()
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 6, 80)
    scores = rng.random((80, 6))
    for k in (1, 2, 5):
        expected = skm.top_k_accuracy_score(labels, scores, k=k, labels=range(6))
        assert metrics.sparse_top_k_categorical_accuracy(labels, scores, k).mean() == \
            pytest.approx(expected)
        np.testing.assert_array_equal(
            metrics.top_k_categorical_accuracy(np.eye(6)[labels], scores, k),
            metrics.sparse_top_k_categorical_accuracy(labels, scores, k))
    # A score tied with the k-th largest is in the top k (TensorFlow's in_top_k).
    np.testing.assert_array_equal(
        metrics.sparse_top_k_categorical_accuracy([2, 2], [[0.5, 0.3, 0.3], [0.1, 0.9, 0.8]],
                                                  k=2), [1, 1])
    with pytest.raises(ValueError, match="k"):
        metrics.sparse_top_k_categorical_accuracy([0], [[1.0]], k=0)


def test_epoch_metrics_match_keras():
    """Keras 3's Precision, Recall, RootMeanSquaredError and R2Score on the same batches
    (Keras computes in float32: 1e-6)."""
    pytest.importorskip("torch")
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    y, p, w = _binary_data(d=2)
    for ours, theirs in [(metrics.Precision(), keras.metrics.Precision()),
                         (metrics.Recall(), keras.metrics.Recall()),
                         (metrics.RootMeanSquaredError(), keras.metrics.RootMeanSquaredError()),
                         (metrics.R2Score(), keras.metrics.R2Score())]:
        for s in range(0, 200, 64):
            theirs.update_state(y[s:s + 64], p[s:s + 64], sample_weight=w[s:s + 64])
        expected = float(keras.ops.convert_to_numpy(theirs.result()))
        assert _in_batches(ours, y, p, w) == pytest.approx(expected, rel=1e-6), ours


def test_epoch_metrics_in_fit_evaluate_and_files(backend, tmp_path):
    skm = _sklearn()
    rng = np.random.default_rng(11)
    x = rng.standard_normal((90, 4))
    y = (x[:, 0] + 0.5 * rng.standard_normal(90) > 0).astype(np.float64)
    model = nn.Sequential([nn.layers.Dense(6, input_dim=4, activation="tanh"),
                           nn.layers.Dense(1, activation="sigmoid")],
                          seed=0, backend=backend.name, dtype="float64")
    model.compile("adam", "binary_crossentropy",
                  ["auc", nn.metrics.Precision(threshold=0.4), nn.metrics.F1Score,
                   "accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0)
    assert {"auc", "precision", "f1_score", "val_auc", "val_precision"} <= set(history.history)
    logs = model.evaluate(x, y, batch_size=7, return_dict=True)  # uneven batches
    p = model.predict(x)
    assert logs["auc"] == pytest.approx(skm.roc_auc_score(y, p.ravel()), rel=1e-12)
    assert logs["precision"] == pytest.approx(skm.precision_score(y, p.ravel() > 0.4))
    path = tmp_path / "m.nnc"
    model.save(path)
    loaded = nn.load_model(path, backend=backend.name)
    assert loaded.evaluate(x, y, batch_size=7, return_dict=True) == logs
