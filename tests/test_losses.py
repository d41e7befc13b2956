"""The public losses module (nncore.losses): Loss classes and per-sample functions on tiny
examples worked out by hand, equal to the backend's value on both backends, from_logits,
Huber's delta, lookup by name, config round trips and refusals. The kernels themselves
(gradients, native against numpy, extreme values) are tested in tests/backends/test_losses.py.
"""
import math

import numpy as np
import pytest

import nncore as nn
from nncore import losses

from conftest import assert_close

# Regression: errors (1, -3) and (0.5, 0).
T_REG = [[0.0, 2.0], [1.0, 1.0]]
P_REG = [[1.0, -1.0], [1.5, 1.0]]
# Per row: MSE (1 + 9) / 2 = 5 and 0.25 / 2 = 0.125; MAE 2 and 0.25. Huber with delta d
# per element: e**2 / 2 if |e| <= d else d |e| - d**2 / 2.
REGRESSION = {
    "mse": (losses.MeanSquaredError(), [5.0, 0.125]),
    "mae": (losses.MeanAbsoluteError(), [2.0, 0.25]),
    "huber": (losses.Huber(), [(0.5 + 2.5) / 2, 0.125 / 2]),
    "huber_delta2": (losses.Huber(delta=2.0), [(0.5 + 4.0) / 2, 0.125 / 2]),
    "huber_delta0.5": (losses.Huber(delta=0.5), [(0.375 + 1.375) / 2, 0.125 / 2]),
}

T_BIN = [[1.0], [0.0], [1.0]]
P_BIN = [[0.8], [0.3], [0.5]]
Z_BIN = [[2.0], [-1.0], [0.0]]
T_CAT = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
LABELS = [1, 2]
P_CAT = [[0.2, 0.7, 0.1], [0.25, 0.25, 0.5]]
Z_CAT = [[1.0, 2.0, 0.0], [0.0, 0.0, 1.0]]


def _lse(z):
    return math.log(sum(math.exp(v) for v in z))


CLASSIFICATION = {
    "bce": (losses.BinaryCrossentropy(), T_BIN, P_BIN,
            [-math.log(0.8), -math.log(0.7), -math.log(0.5)]),
    # From logits, -log sigmoid(z) = log(1 + e**-z) for t = 1 and log(1 + e**z) for t = 0.
    "bce_logits": (losses.BinaryCrossentropy(from_logits=True), T_BIN, Z_BIN,
                   [math.log1p(math.exp(-2.0)), math.log1p(math.exp(-1.0)), math.log(2.0)]),
    "cce": (losses.CategoricalCrossentropy(), T_CAT, P_CAT, [-math.log(0.7), -math.log(0.5)]),
    "cce_logits": (losses.CategoricalCrossentropy(from_logits=True), T_CAT, Z_CAT,
                   [_lse(Z_CAT[0]) - 2.0, _lse(Z_CAT[1]) - 1.0]),
    "sparse": (losses.SparseCategoricalCrossentropy(), LABELS, P_CAT,
               [-math.log(0.7), -math.log(0.5)]),
    "sparse_logits": (losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, Z_CAT,
                      [_lse(Z_CAT[0]) - 2.0, _lse(Z_CAT[1]) - 1.0]),
}
CASES = {**{k: (loss, T_REG, P_REG, rows) for k, (loss, rows) in REGRESSION.items()},
         **CLASSIFICATION}


def _as(values, dtype):
    return np.array(values, dtype=dtype)


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize("case", list(CASES))
def test_class_value_by_hand_equals_the_backend_value(backend, dtype, case):
    loss, y_true, y_pred, rows = CASES[case]
    P = _as(y_pred, dtype)
    with nn.use_backend(backend.name):
        value = loss(y_true, P)
    assert isinstance(value, float)
    assert_close(value, np.mean(rows), dtype, scale=10.0)
    T = np.asarray(y_true) if loss.name == "sparse_categorical_crossentropy" \
        else _as(y_true, dtype)
    assert_close(value, backend.loss(loss.name, T, P, **loss.options), dtype, scale=10.0)


@pytest.mark.parametrize("case", list(CASES))
def test_sample_weight_is_sum_over_batch_size(backend, case):
    loss, y_true, y_pred, rows = CASES[case]
    w = np.arange(1.0, len(rows) + 1.0) * 0.5  # 0.5, 1, 1.5
    with nn.use_backend(backend.name):
        value = loss(y_true, _as(y_pred, np.float64), sample_weight=w)
    # Keras's reduction: divided by the number of samples, not by the sum of the weights.
    assert value == pytest.approx(float(np.dot(w, rows)) / len(rows), rel=1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_per_sample_functions_by_hand(case):
    loss, y_true, y_pred, rows = CASES[case]
    fn = getattr(losses, loss.name)
    kwargs = {}
    if loss.name == "huber":
        kwargs["delta"] = loss.delta
    elif loss.from_logits:
        kwargs["from_logits"] = True
    out = fn(y_true, _as(y_pred, np.float64), **kwargs)
    assert out.shape == (len(rows),)
    np.testing.assert_allclose(out, rows, rtol=1e-12)
    assert float(np.mean(out)) == pytest.approx(loss(y_true, _as(y_pred, np.float64)),
                                                rel=1e-12)


def test_function_aliases():
    assert losses.mse is losses.mean_squared_error
    assert losses.mae is losses.mean_absolute_error


def test_float64_stays_float64_and_other_data_is_computed_in_float32():
    # 0.1 is not a float32: the two results differ by float32's rounding of it.
    f64 = losses.MeanSquaredError()([[0.0]], np.array([[0.1]]))
    f32 = losses.MeanSquaredError()([[0.0]], np.array([[0.1]], np.float32))
    assert f64 == pytest.approx(0.01, rel=1e-15)
    assert f32 == pytest.approx(float(np.float32(0.1)) ** 2, rel=1e-6) and f32 != f64
    # float16 and integers go to float32 (Keras's floatx): 3**2 = 9 exactly either way.
    assert losses.MeanSquaredError()([[0]], np.array([[3]], np.int64)) == 9.0
    f16 = losses.MeanSquaredError()([[0.0]], np.array([[0.1]], np.float16))
    assert f16 == pytest.approx(float(np.float16(0.1)) ** 2, rel=1e-6)


def test_one_dimensional_inputs_are_one_output_per_sample():
    # As Keras's mean over the last axis: (0 - 1)**2 and (1 - 1)**2 average to 0.5.
    assert losses.MeanSquaredError()([0.0, 1.0], [1.0, 1.0]) == 0.5
    np.testing.assert_array_equal(losses.mean_squared_error([0.0, 1.0], [1.0, 1.0]), [1.0, 0.0])
    bce = losses.BinaryCrossentropy()([1, 0, 1], np.array([0.8, 0.3, 0.5]))
    assert bce == pytest.approx(-(math.log(0.8) + math.log(0.7) + math.log(0.5)) / 3,
                                rel=1e-12)


# --------------------------------------------------------------------------- options
def test_from_logits_equals_the_probability_path_for_moderate_logits(backend):
    rng = np.random.default_rng(0)
    Z = rng.uniform(-4, 4, (6, 3))
    T = np.eye(3)[rng.integers(0, 3, 6)]
    sig = 1 / (1 + np.exp(-Z))
    soft = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    with nn.use_backend(backend.name):
        assert losses.BinaryCrossentropy(from_logits=True)(T, Z) == \
            pytest.approx(losses.BinaryCrossentropy()(T, sig), rel=1e-12)
        assert losses.CategoricalCrossentropy(from_logits=True)(T, Z) == \
            pytest.approx(losses.CategoricalCrossentropy()(T, soft), rel=1e-12)


def test_from_logits_keeps_large_logits_exact(backend):
    # sigmoid(50) rounds to 1, so the probability path can only clip at 1 - 1e-7
    # (-log(1e-7) = 16.1); from logits the loss is the exact 50 + log1p(e**-50).
    with nn.use_backend(backend.name):
        logits = losses.BinaryCrossentropy(from_logits=True)([[0.0]], np.array([[50.0]]))
        probs = losses.BinaryCrossentropy()([[0.0]], np.array([[1.0]]))
    assert logits == pytest.approx(50.0, rel=1e-12)
    assert probs == pytest.approx(-math.log(1e-7), rel=1e-6)


@pytest.mark.parametrize("delta", [0.1, 1.0, 3.0])
def test_huber_is_quadratic_inside_delta_and_linear_outside(delta):
    e = np.array([[delta / 2, delta, 2 * delta, -4 * delta]])
    loss = losses.Huber(delta=delta)(np.zeros_like(e), e)
    elementwise = [delta ** 2 / 8, delta ** 2 / 2, 1.5 * delta ** 2, 3.5 * delta ** 2]
    assert loss == pytest.approx(np.mean(elementwise), rel=1e-12)


def test_a_loss_object_compiled_into_a_model_gives_the_evaluated_loss(backend):
    model = nn.Sequential([nn.layers.Dense(2, input_dim=3)], backend=backend, seed=0,
                          dtype="float64")
    model.compile("sgd", losses.Huber(delta=0.5))
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((7, 3)), 3 * rng.standard_normal((7, 2))
    with nn.use_backend(backend.name):
        expected = losses.Huber(delta=0.5)(y, model.predict(x))
    assert model.evaluate(x, y, batch_size=7) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- lookup, config
@pytest.mark.parametrize("name, cls", [
    ("mean_squared_error", losses.MeanSquaredError), ("mse", losses.MeanSquaredError),
    ("MSE", losses.MeanSquaredError), ("mean_absolute_error", losses.MeanAbsoluteError),
    ("mae", losses.MeanAbsoluteError), ("huber", losses.Huber), ("huber_loss", losses.Huber),
    ("binary_crossentropy", losses.BinaryCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
])
def test_get_every_name_and_alias(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls
    assert getattr(loss, "from_logits", False) is False
    if cls is losses.Huber:
        assert loss.delta == 1.0  # Keras's default


def test_get_passes_instances_through():
    loss = losses.Huber(delta=0.3)
    assert losses.get(loss) is loss


@pytest.mark.parametrize("loss", [
    losses.MeanSquaredError(), losses.MeanAbsoluteError(), losses.Huber(delta=2.5),
    losses.BinaryCrossentropy(from_logits=True), losses.CategoricalCrossentropy(),
    losses.SparseCategoricalCrossentropy(from_logits=True),
], ids=repr)
def test_serialize_round_trip(loss):
    config = losses.serialize(loss)
    again = losses.get(config)
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    assert again.options == loss.options


def test_readable_reprs():
    assert repr(losses.MeanSquaredError()) == "MeanSquaredError()"
    assert repr(losses.Huber(delta=2.0)) == "Huber(delta=2.0)"
    assert repr(losses.BinaryCrossentropy(from_logits=True)) == \
        "BinaryCrossentropy(from_logits=True, label_smoothing=0.0)"


@pytest.mark.parametrize("bad, exc", [("squared_hinge", ValueError), ("", ValueError),
                                      (None, TypeError), (3, TypeError),
                                      ({"name": "cosine_similarity"}, ValueError)])
def test_unknown_losses_are_refused(bad, exc):
    with pytest.raises(exc, match="loss"):
        losses.get(bad)


def test_bad_options_are_refused_with_their_name():
    with pytest.raises(ValueError, match="delta"):
        losses.Huber(delta=0.0)
    with pytest.raises(ValueError, match="delta"):
        losses.Huber(delta=-1.0)
    with pytest.raises(TypeError, match="delta"):
        losses.Huber(delta="1")
    with pytest.raises(ValueError, match="delta"):
        losses.huber([[0.0]], [[1.0]], delta=0.0)
    with pytest.raises(TypeError):
        losses.MeanSquaredError(from_logits=True)  # Keras's MSE has no such option


@pytest.mark.parametrize("loss", [losses.MeanSquaredError(), losses.mean_squared_error],
                         ids=["class", "function"])
def test_bad_data_is_refused(loss):
    with pytest.raises(ValueError, match="y_pred.*finite"):
        loss([[0.0, 1.0]], [[np.nan, 1.0]])
    with pytest.raises(TypeError, match="y_pred"):
        loss([[0.0]], [[1j]])
    with pytest.raises(TypeError, match="y_pred"):
        loss([[0.0]], [["a"]])
    with pytest.raises(ValueError, match="y_pred"):
        loss(np.zeros((1, 1, 1)), np.zeros((1, 1, 1)))
    with pytest.raises(ValueError, match="y_pred.*empty"):
        loss(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="y_true must have the shape of y_pred"):
        loss([[0.0, 1.0]], [[1.0, 1.0, 1.0]])


def test_bad_labels_and_weights_are_refused():
    sparse = losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        sparse([3, 0], P_CAT)
    with pytest.raises(ValueError, match="whole-number"):
        sparse([0.5, 1.0], P_CAT)
    with pytest.raises(ValueError, match="sample_weight"):
        losses.MeanSquaredError()(T_REG, P_REG, sample_weight=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="sample_weight"):
        losses.MeanSquaredError()(T_REG, P_REG, sample_weight=["a", "b"])


def test_class_names_are_accepted_as_keras_does():
    import nncore as nn

    assert isinstance(nn.losses.get("MeanSquaredError"), nn.losses.MeanSquaredError)
    assert isinstance(nn.losses.get("SparseCategoricalCrossentropy"),
                      nn.losses.SparseCategoricalCrossentropy)


# ------------------------------------------- targets (n,) against one output column (n, 1)
ONE_COLUMN = {
    "mean_squared_error": (losses.MeanSquaredError(), losses.mean_squared_error),
    "mean_absolute_error": (losses.MeanAbsoluteError(), losses.mean_absolute_error),
    "huber": (losses.Huber(), losses.huber),
    "binary_crossentropy": (losses.BinaryCrossentropy(), losses.binary_crossentropy),
}


@pytest.mark.parametrize("name", list(ONE_COLUMN))
def test_targets_of_shape_n_match_one_output_column(backend, name):
    # As Keras's losses (which expand y_true to y_pred's rank) and as the model does:
    # y_true (n,) against y_pred (n, 1) is one target per sample, not a shape error.
    cls, fn = ONE_COLUMN[name]
    t, p = np.array([1.0, 0.0, 1.0]), np.array([[0.8], [0.3], [0.4]])
    with nn.use_backend(backend):
        assert cls(t, p) == cls(t[:, None], p)
        assert cls(t, p, sample_weight=[1.0, 2.0, 0.5]) == \
            cls(t[:, None], p, sample_weight=[1.0, 2.0, 0.5])
    np.testing.assert_array_equal(fn(t, p), fn(t[:, None], p))
    assert fn(t, p).shape == (3,)
    with pytest.raises(ValueError, match="y_true must have the shape of y_pred"):
        fn([1.0, 0.0], p)  # the number of rows must still agree


def test_targets_of_shape_n_match_one_output_column_in_metrics_and_models(backend):
    t, p = np.array([1.0, 0.0, 1.0]), np.array([[0.8], [0.3], [0.4]])
    for fn in (nn.metrics.binary_accuracy, nn.metrics.accuracy,
               nn.metrics.mean_squared_error, nn.metrics.mean_absolute_error):
        np.testing.assert_array_equal(fn(t, p), fn(t[:, None], p))
    model = nn.Sequential([nn.layers.Dense(1, input_dim=2, activation="sigmoid")],
                          backend=backend, seed=0)
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy", "mae"])
    x = np.array([[0.5, -1.0], [2.0, 0.0], [-1.0, 1.0]])
    assert model.evaluate(x, t) == model.evaluate(x, t[:, None])


# ------------------------------------------- categorical cross-entropy on one column
def _one_output_model(backend, loss="categorical_crossentropy"):
    model = nn.Sequential([nn.layers.Dense(1, input_dim=2, activation="softmax")],
                          backend=backend, seed=0)
    model.compile("sgd", loss)
    return model


ONE_COLUMN_WARNING = "categorical_crossentropy over one output column.*binary_crossentropy"


def test_categorical_crossentropy_on_one_column_warns_in_calls():
    # Keras warns in each call too: the loss is about 0 and its gradient exactly 0.
    t, p = [[1.0], [0.0]], [[0.7], [0.2]]
    for loss in (losses.CategoricalCrossentropy(), losses.categorical_crossentropy):
        with pytest.warns(UserWarning, match=ONE_COLUMN_WARNING) as caught:
            loss(t, p)
        assert caught[0].filename == __file__  # it points at the caller
    with pytest.warns(UserWarning, match=ONE_COLUMN_WARNING):
        losses.categorical_crossentropy([1.0, 0.0], [0.7, 0.2])  # 1-D: one column too


def test_categorical_crossentropy_on_one_column_warns_once_per_compile(backend, recwarn):
    x, y = np.array([[0.5, -1.0], [2.0, 0.0], [-1.0, 1.0]]), np.array([[1.0], [0.0], [1.0]])
    model = _one_output_model(backend)
    model.fit(x, y, epochs=2, batch_size=2, verbose=0, validation_data=(x, y))
    model.evaluate(x, y)
    model.train_on_batch(x, y)
    (warning,) = [w for w in recwarn if issubclass(w.category, UserWarning)]
    assert warning.filename == __file__ and "y_pred.shape=(None, 1)" in str(warning.message)
    model.compile("sgd", "categorical_crossentropy")  # a new loss: a new warning
    with pytest.warns(UserWarning, match=ONE_COLUMN_WARNING):
        model.evaluate(x, y)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "sparse_categorical_crossentropy"])
def test_no_warning_for_other_losses_or_several_columns(backend, loss, recwarn):
    x = np.array([[0.5, -1.0], [2.0, 0.0]])
    _one_output_model(backend, loss).evaluate(x, np.array([1, 0]) if "sparse" not in loss
                                              else np.array([0, 0]))
    model = nn.Sequential([nn.layers.Dense(2, input_dim=2, activation="softmax")],
                          backend=backend, seed=0)
    model.compile("sgd", "categorical_crossentropy")
    model.evaluate(x, np.eye(2))
    losses.categorical_crossentropy(np.eye(2), [[0.7, 0.3], [0.4, 0.6]])
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


# --------------------------------------------------------------------------- Keras 3
def _keras():
    pytest.importorskip("torch")
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras runs on another backend in this process")
    return keras


def _keras_case(name, rng, n=9, d=4):
    """(nncore loss, Keras loss class and kwargs, y_true, y_pred): predictions inside
    every clip range and away from hinge's kink, where the two libraries' derivatives
    are defined alike (nncore differentiates at the clipped value, Keras gives 0)."""
    probs = rng.uniform(0.05, 0.95, (n, d))
    targets = {"binary": (rng.random((n, d)) < 0.5).astype(float),
               "onehot": np.eye(d)[rng.integers(0, d, n)],
               "dist": rng.dirichlet(np.ones(d), n), "real": rng.standard_normal((n, d)),
               "counts": rng.poisson(2.0, (n, d)).astype(float),
               "signs": rng.choice([-1.0, 1.0], (n, d))}
    margin_safe = rng.uniform(-2, 2, (n, d))
    margin_safe[np.abs(np.abs(margin_safe) - 1) < 0.05] = 0.5
    return {
        "hinge01": (losses.Hinge(), ("hinge", {}), targets["binary"], margin_safe),
        "hinge_signs": (losses.Hinge(), ("hinge", {}), targets["signs"], margin_safe),
        "kld": (losses.KLDivergence(), ("kl_divergence", {}), targets["dist"],
                probs / probs.sum(axis=1, keepdims=True)),
        "poisson": (losses.Poisson(), ("poisson", {}), targets["counts"],
                    rng.uniform(0.1, 4.0, (n, d))),
        "log_cosh": (losses.LogCosh(), ("log_cosh", {}), targets["real"],
                     targets["real"] + 2 * rng.standard_normal((n, d))),
        "bce_smooth": (losses.BinaryCrossentropy(label_smoothing=0.2),
                       ("binary_crossentropy", {"label_smoothing": 0.2}), targets["binary"],
                       probs),
        "bce_smooth_logits": (losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
                              ("binary_crossentropy", {"from_logits": True,
                                                       "label_smoothing": 0.1}),
                              targets["binary"], 3 * targets["real"]),
        "cce_smooth": (losses.CategoricalCrossentropy(label_smoothing=0.3),
                       ("categorical_crossentropy", {"label_smoothing": 0.3}),
                       targets["onehot"], probs / probs.sum(axis=1, keepdims=True)),
        "cce_smooth_logits": (losses.CategoricalCrossentropy(from_logits=True,
                                                             label_smoothing=0.1),
                              ("categorical_crossentropy", {"from_logits": True,
                                                            "label_smoothing": 0.1}),
                              targets["onehot"], 3 * targets["real"]),
    }[name]


KERAS_CASES = ["hinge01", "hinge_signs", "kld", "poisson", "log_cosh", "bce_smooth",
               "bce_smooth_logits", "cce_smooth", "cce_smooth_logits"]


@pytest.mark.parametrize("case", KERAS_CASES)
def test_losses_and_their_gradients_match_keras(backend, case):
    """Value and gradient with respect to y_pred against Keras 3 (PyTorch autograd,
    float64, sample weights): equal to rounding, 1e-12."""
    keras = _keras()
    import torch

    rng = np.random.default_rng(KERAS_CASES.index(case))
    ours, (fn, kwargs), T, P = _keras_case(case, rng)
    w = rng.uniform(0.2, 2.0, len(P))
    # Keras's per-sample function, reduced as Keras's "sum_over_batch_size" does (its
    # Loss classes return float32 on the torch backend whatever the dtype asked for).
    p = torch.tensor(P, requires_grad=True)
    floatx = keras.config.floatx()
    keras.config.set_floatx("float64")  # Keras makes its constants (log 2...) in floatx
    try:
        per_sample = getattr(keras.losses, fn)(torch.tensor(T), p, **kwargs)
    finally:
        keras.config.set_floatx(floatx)
    value = (per_sample * torch.tensor(w)).sum() / len(P)
    value.backward()
    value = value.item()
    # Keras 3 on PyTorch rounds some of its float64 work to float32: hinge's result, the
    # log 2 of log_cosh, the label_smoothing factor. Agreement is to ~1e-8 relative; 1e-6
    # still catches any difference of formula. The exact float64 values are held to
    # finite differences in tests/backends/test_losses.py.
    rtol = 1e-6
    name = ours.name
    got, dP = backend.loss_and_grad(name, T, P, sample_weight=w, **ours.options)
    assert got == pytest.approx(value, rel=rtol)
    np.testing.assert_allclose(dP, p.grad.numpy(), rtol=rtol, atol=1e-15)
    with nn.use_backend(backend.name):
        assert ours(T, P, sample_weight=w) == pytest.approx(value, rel=rtol)


@pytest.mark.parametrize("fn,keras_name", [(losses.hinge, "hinge"),
                                           (losses.kl_divergence, "kl_divergence"),
                                           (losses.kld, "kl_divergence"),
                                           (losses.poisson, "poisson"),
                                           (losses.log_cosh, "log_cosh")])
def test_per_sample_functions_match_keras(fn, keras_name):
    keras = _keras()
    rng = np.random.default_rng(4)
    T = rng.uniform(0.0, 1.0, (6, 3))
    P = rng.uniform(0.1, 0.9, (6, 3))
    expected = keras.ops.convert_to_numpy(getattr(keras.losses, keras_name)(T, P))
    np.testing.assert_allclose(fn(T, P), expected, rtol=1e-6)  # Keras's functions: floatx


def test_label_smoothing_is_checked_and_kept_in_config():
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.CategoricalCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="label_smoothing applies only to"):
        nn.get_backend().loss("mean_squared_error", np.ones((1, 1)), np.full((1, 1), 0.5),
                              label_smoothing=0.1)
    loss = losses.BinaryCrossentropy(label_smoothing=0.1)
    assert losses.get(losses.serialize(loss)).label_smoothing == 0.1
    assert loss.param == 0.1 and losses.Huber(2.0).param == 2.0 and losses.Hinge().param == 0


@pytest.mark.parametrize("loss", ["hinge", "kld", "poisson", "logcosh",
                                  losses.CategoricalCrossentropy(label_smoothing=0.1)])
def test_new_losses_train_a_model_on_the_compiled_and_the_layer_path(backend, loss):
    """The compiled DensePlan and the layer-by-layer path give the same step."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3))
    y = np.eye(2)[rng.integers(0, 2, 16)]
    runs = []
    for extra in ([], [nn.layers.Activation("linear")]):  # an Activation layer: no plan
        model = nn.Sequential([nn.layers.Dense(5, input_dim=3, activation="tanh"),
                               nn.layers.Dense(2, activation="softmax"), *extra],
                              seed=0, dtype="float64", backend=backend.name)
        model.compile(nn.optimizers.SGD(0.1), loss)
        history = model.fit(x, y, epochs=2, batch_size=5, shuffle=False, verbose=0)
        runs.append((history.history["loss"], model.get_weights()))
    assert runs[0][0] == pytest.approx(runs[1][0], rel=1e-12)
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- your own
def _mse(t, p):
    return np.mean((p - t) ** 2, axis=1)


def _mse_gradient(t, p):
    return 2 * (p - t) / p.shape[1]


def _regression(backend, loss, seed=0):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    model = nn.Sequential([nn.layers.Dense(4, input_dim=3, activation="tanh"),
                           nn.layers.Dense(2)], seed=seed, dtype="float64",
                          backend=backend.name)
    model.compile(nn.optimizers.Adam(0.01), loss)
    history = model.fit(x, y, epochs=3, batch_size=6, verbose=0)
    return history.history["loss"], model.get_weights()


def test_a_custom_loss_trains_as_the_built_in_it_restates(backend):
    """(fn, gradient) and a subclass, both mean squared error: the training of "mse"."""
    class MSE(losses.CustomLoss):
        def call(self, y_true, y_pred):
            return _mse(y_true, y_pred)

        def gradient(self, y_true, y_pred):
            return _mse_gradient(y_true, y_pred)

    reference = _regression(backend, "mse")
    for loss in ((_mse, _mse_gradient), MSE()):
        run = _regression(backend, loss)
        np.testing.assert_allclose(run[0], reference[0], rtol=1e-12)
        for a, b in zip(run[1], reference[1]):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_a_wrong_custom_gradient_is_refused_at_compile():
    model = nn.Sequential([nn.layers.Dense(2, input_dim=3)], seed=0)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"gradient of loss '_mse' does not match"):
        model.compile("sgd", (_mse, lambda t, p: (p - t) / p.shape[1]))
    assert model.loss.name == "mean_squared_error"  # the old settings stay
    with pytest.raises(TypeError, match=r"needs its gradient: pass \(fn, gradient\)"):
        model.compile("sgd", _mse)
    with pytest.raises(ValueError, match="one value per sample"):
        model.compile("sgd", (lambda t, p: (p - t) ** 2, _mse_gradient))
    with pytest.raises(ValueError, match="built-in loss"):
        losses.CustomLoss(_mse, _mse_gradient, name="huber")


def test_a_model_with_a_custom_loss_is_saved_without_its_compile_state(tmp_path):
    model = nn.Sequential([nn.layers.Dense(2, input_dim=3)], seed=0)
    model.compile("sgd", (_mse, _mse_gradient))
    with pytest.warns(UserWarning, match="CustomLoss: a model file holds no code"):
        model.save(tmp_path / "m.nnc")
    loaded = nn.load_model(tmp_path / "m.nnc")
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
