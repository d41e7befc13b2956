"""Where nncore refuses, warns or accepts as Keras 3 does (issue 10, item 6), and the two
places where it deliberately differs, each checked against real Keras when keras and
torch are importable (KERAS_BACKEND=torch; the oracle tests skip otherwise)."""
import math
import os
import warnings

import numpy as np
import pytest

import nncore as nn

os.environ.setdefault("KERAS_BACKEND", "torch")


def _keras():
    pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras runs on another backend in this process")
    return keras


# --------------------------------------------------------------------------- AdamW
def test_adamw_refuses_weight_decay_none():
    # It used to build plain Adam under AdamW's name.
    with pytest.raises(ValueError, match="Received: weight_decay=None"):
        nn.optimizers.AdamW(weight_decay=None)
    assert nn.optimizers.AdamW(weight_decay=0.0).weight_decay == 0.0
    config = nn.optimizers.AdamW(0.01, weight_decay=0.1).get_config()
    assert nn.optimizers.AdamW.from_config(config).weight_decay == 0.1


def test_keras_adamw_refuses_weight_decay_none():
    keras = _keras()
    with pytest.raises(ValueError, match="weight_decay=None"):
        keras.optimizers.AdamW(weight_decay=None)


# ------------------------------------------------------------- a schedule, then a scheduler
def test_keras_learning_rate_scheduler_refuses_a_schedule_with_a_type_error():
    keras = _keras()
    decay = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(decay), "mse")
    with pytest.raises(TypeError, match="created with a `LearningRateSchedule`"):
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=1, verbose=0,
                  callbacks=[keras.callbacks.LearningRateScheduler(lambda e, lr: 0.01)])


# ------------------------------------------------------------- EarlyStopping
def test_keras_early_stopping_with_an_unknown_monitor_never_stops():
    # With mode="auto" Keras refuses the unknown name (it cannot pick a direction); with
    # a mode it warns each epoch and runs them all: the case nncore now refuses.
    keras = _keras()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.zeros((4, 2)), np.zeros((4, 1))
    with pytest.raises(ValueError, match="monitor=unknown"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[keras.callbacks.EarlyStopping(monitor="unknown")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, epochs=3, verbose=0, callbacks=[
            keras.callbacks.EarlyStopping(monitor="unknown", mode="min")])
    assert len(history.epoch) == 3
    assert sum("Early stopping conditioned on metric `unknown`" in str(w.message)
               for w in caught) == 3


class _Model:
    stop_training = False

    def get_weights(self):
        return []


def _stopping_epochs(stopper, values):
    """The epoch at which ``stopper`` stops on these monitored values, or None."""
    model = _Model()
    stopper.set_model(model)
    stopper.on_train_begin()
    for epoch, value in enumerate(values):
        stopper.on_epoch_end(epoch, {"loss": value})
        if model.stop_training:
            return epoch
    return None


def test_early_stopping_on_a_first_nan_differs_from_keras_on_purpose():
    # nncore: a NaN is never best, so 3, 2, 1 improve and training goes on. Keras 3: the
    # first NaN becomes best, nothing compares better, and patience 1 stops at epoch 1.
    values = [math.nan, 3.0, 2.0, 1.0]
    assert _stopping_epochs(nn.callbacks.EarlyStopping(monitor="loss", patience=1),
                            values) is None
    keras = _keras()
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=1)
    assert _stopping_epochs(stopper, values) == 1 and math.isnan(stopper.best)


# ------------------------------------------------------------- losses and metrics
def test_keras_warns_for_categorical_crossentropy_on_one_column():
    keras = _keras()
    with pytest.warns(Warning, match="num_classes > 1.*binary_crossentropy"):
        keras.losses.categorical_crossentropy(np.array([[1.0], [0.0]]),
                                              np.array([[0.7], [0.2]]))


@pytest.mark.parametrize("name, cls", [("mean_squared_error", "MeanSquaredError"),
                                       ("mean_absolute_error", "MeanAbsoluteError"),
                                       ("huber", "Huber"),
                                       ("binary_crossentropy", "BinaryCrossentropy")])
def test_targets_of_shape_n_against_one_column_as_keras(name, cls):
    # Keras's loss classes expand y_true (n,) to y_pred's (n, 1); so do nncore's classes
    # and functions. (Keras's binary_crossentropy function alone refuses the pair.)
    keras = _keras()
    t = np.array([1.0, 0.0, 1.0], np.float32)
    p = np.array([[0.8], [0.3], [0.4]], np.float32)
    expected = float(getattr(keras.losses, cls)()(t, p))
    assert getattr(nn.losses, cls)()(t, p) == pytest.approx(expected, rel=1e-5)
    assert getattr(nn.losses, name)(t, p).mean() == pytest.approx(expected, rel=1e-5)
    if name != "binary_crossentropy":
        np.testing.assert_allclose(getattr(nn.losses, name)(t, p),
                                   np.asarray(getattr(keras.losses, name)(t, p)), rtol=1e-5)
    for metric in ("mean_squared_error", "mean_absolute_error", "binary_accuracy"):
        np.testing.assert_allclose(getattr(nn.metrics, metric)(t, p), np.asarray(
            getattr(keras.metrics, metric)(t, p)).reshape(-1), rtol=1e-6)


def test_keras_models_accept_targets_of_shape_n_for_one_output():
    keras = _keras()
    x = np.array([[0.5, -1.0], [2.0, 0.0], [-1.0, 1.0]], np.float32)
    t = np.array([1.0, 0.0, 1.0], np.float32)
    kmodel = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    kmodel.compile("sgd", "binary_crossentropy")
    model = nn.Sequential([nn.layers.Dense(1, input_dim=2, activation="sigmoid")], seed=0)
    model.set_weights([w.numpy() if hasattr(w, "numpy") else np.asarray(w)
                       for w in kmodel.get_weights()])
    model.compile("sgd", "binary_crossentropy")
    expected = kmodel.evaluate(x, t, verbose=0)
    assert expected == pytest.approx(kmodel.evaluate(x, t[:, None], verbose=0), rel=1e-6)
    assert model.evaluate(x, t) == pytest.approx(expected, rel=1e-5)


# ------------------------------------------------------------- custom metrics
def test_a_batch_mean_metric_is_weighted_by_batch_size_unlike_keras():
    # Ten predictions in batches of 4, 4, 2. nncore: the mean over samples. Keras 3: the
    # mean of the three batch means, which overweights the short last batch.
    keras = _keras()
    x = np.arange(10.0, dtype=np.float32).reshape(-1, 1) / 10.0

    def batch_mean(y_true, y_pred):
        return keras.ops.mean(y_pred)

    kmodel = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    kmodel.set_weights([np.ones((1, 1)), np.zeros(1)])
    kmodel.compile("sgd", "mse", metrics=[batch_mean])
    keras_value = kmodel.evaluate(x, np.zeros((10, 1)), batch_size=4, verbose=0,
                                  return_dict=True)["batch_mean"]
    assert keras_value == pytest.approx((x[:4].mean() + x[4:8].mean() + x[8:].mean()) / 3)
    model = nn.Sequential([nn.layers.Dense(1, input_dim=1)], seed=0)
    model.set_weights([np.ones((1, 1)), np.zeros(1)])
    model.compile("sgd", "mse", metrics=[lambda t, p: float(p.mean())])
    logs = model.evaluate(x, np.zeros(10), batch_size=4, return_dict=True)
    assert logs["<lambda>"] == pytest.approx(x.mean(), rel=1e-6)


# ------------------------------------------------------------- get(None)
def test_keras_get_none_returns_none():
    keras = _keras()
    assert keras.optimizers.get(None) is None
    assert keras.initializers.get(None) is None


def test_get_none_returns_none_and_compile_refuses_it():
    assert nn.optimizers.get(None) is None and nn.initializers.get(None) is None
    model = nn.Sequential([nn.layers.Dense(1, input_dim=2)], seed=0)
    with pytest.raises(ValueError, match="Received: optimizer=None"):
        model.compile(optimizer=None, loss="mse")
    assert not model.compiled
    with pytest.raises(ValueError, match="Received: kernel_initializer=None"):
        nn.layers.Dense(2, kernel_initializer=None)
    with pytest.raises(ValueError, match="Received: gamma_initializer=None"):
        nn.layers.BatchNormalization(gamma_initializer=None)


def test_a_schedule_is_not_replaced_by_a_float():
    """Keras refuses to set a float learning rate on an optimizer built with a schedule
    (the schedule would silently stop); another schedule may take its place."""
    schedule = nn.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    opt = nn.optimizers.SGD(schedule)
    with pytest.raises(TypeError, match="schedule"):
        opt.learning_rate = 0.01
    assert opt._learning_rate is schedule
    other = nn.optimizers.schedules.ExponentialDecay(0.2, decay_steps=10, decay_rate=0.5)
    opt.learning_rate = other
    assert opt.learning_rate == pytest.approx(0.2)
