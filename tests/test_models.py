"""Sequential: structure, Keras semantics of compile/fit/evaluate/predict, one training step
worked out by hand, integration runs, determinism, and refusals that change nothing.

The hand computations are written with NumPy in the test (forward pass, the chain rule
backwards, the optimizer update), never with nncore's own kernels.
"""
from __future__ import annotations

import hashlib
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nncore as nn
from conftest import BACKENDS, SHARED_DATA, TOL, assert_close

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers
def course_model(backend="numpy", seed=0, dtype="float32") -> nn.Sequential:
    """The course's network: Dense(8, input_dim=4, relu) - Dense(8, relu) - Dense(3, softmax)."""
    return nn.Sequential([
        nn.layers.Dense(8, input_dim=4, activation="relu"),
        nn.layers.Dense(8, activation="relu"),
        nn.layers.Dense(3, activation="softmax"),
    ], seed=seed, backend=backend, dtype=dtype)


def toy_data(n=12, d=4, classes=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(dtype)
    y = rng.integers(0, classes, size=n)
    return x, y


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def relu(z):
    return np.maximum(z, 0.0)


def course_forward(weights, x):
    """The course network's forward pass in NumPy, from Keras-ordered weights."""
    W1, b1, W2, b2, W3, b3 = weights
    return softmax(relu(relu(x @ W1 + b1) @ W2 + b2) @ W3 + b3)


def weights_bytes(model) -> bytes:
    return b"".join(w.tobytes() for w in model.get_weights())


def assert_same_weights(a, b):
    wa, wb = (a.get_weights(), b.get_weights()) if hasattr(a, "get_weights") else (a, b)
    assert len(wa) == len(wb)
    for u, v in zip(wa, wb):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)


def snapshot(model) -> dict:
    """Everything a refused call must leave as it was."""
    opt = model.optimizer
    return {
        "built": model.built,
        "weights": model.get_weights() if model.built else None,
        "rng": model.rng.bit_generator.state,
        "layer_rngs": [layer.rng.bit_generator.state for layer in model.layers
                       if hasattr(layer, "rng")],
        "optimizer": opt,
        "iterations": None if opt is None else opt.iterations,
        "slots": None if opt is None or opt.slots is None else
        [{k: v.copy() for k, v in s.items()} for s in opt.slots],
        "loss": model.loss,
        "metrics": list(model.metrics_names),
    }


def assert_unchanged(model, before: dict) -> None:
    after = snapshot(model)
    assert after["built"] == before["built"]
    if before["weights"] is not None:
        assert_same_weights(after["weights"], before["weights"])
    assert after["rng"] == before["rng"]
    assert after["layer_rngs"] == before["layer_rngs"]
    assert after["optimizer"] is before["optimizer"]
    assert after["iterations"] == before["iterations"]
    if before["slots"] is None:
        assert after["slots"] is None
    else:
        assert len(after["slots"]) == len(before["slots"])
        for s, t in zip(after["slots"], before["slots"]):
            assert s.keys() == t.keys()
            for k in s:
                np.testing.assert_array_equal(s[k], t[k])
    assert after["loss"] is before["loss"]
    assert after["metrics"] == before["metrics"]


# --------------------------------------------------------------------------- structure
def test_layer_names_follow_keras():
    model = nn.Sequential([nn.layers.Dense(4, input_dim=3), nn.layers.Dense(4),
                           nn.layers.BatchNormalization(), nn.layers.Dropout(0.1),
                           nn.layers.Dense(2), nn.layers.Activation("softmax")])
    assert [layer.name for layer in model.layers] == [
        "dense", "dense_1", "batch_normalization", "dropout", "dense_2", "activation"]
    model.add(nn.layers.Dense(2, name="head"))
    assert model.layers[-1].name == "head"
    with pytest.raises(ValueError, match="unique"):
        model.add(nn.layers.Dense(2, name="head"))
    assert len(model.layers) == 7


def test_add_builds_and_layers_is_a_copy():
    model = nn.Sequential(seed=0)
    assert not model.built and model.layers == []
    model.add(nn.layers.Dense(5, input_dim=3, activation="tanh"))
    assert model.built and model.input_dim == 3
    model.add(nn.layers.Dense(2))
    assert [w.shape for w in model.get_weights()] == [(3, 5), (5,), (5, 2), (2,)]
    assert model.output_dim == 2
    model.layers.append("junk")  # a copy: the model's own list is untouched
    assert len(model.layers) == 2
    with pytest.raises(TypeError, match="layer"):
        model.add("dense")
    used = model.layers[0]
    with pytest.raises(ValueError, match="already"):
        nn.Sequential([used])


def test_input_shape_equals_input_dim():
    a = nn.Sequential([nn.layers.Dense(3, input_shape=(4,))], seed=1)
    b = nn.Sequential([nn.layers.Dense(3, input_dim=4)], seed=1)
    assert a.input_dim == b.input_dim == 4
    assert_same_weights(a, b)
    with pytest.raises(ValueError, match="input_shape"):
        nn.layers.Dense(3, input_shape=(4, 2))
    with pytest.raises(ValueError, match="input_dim"):
        nn.layers.Dense(3, input_dim=0)


@pytest.mark.parametrize("how", ["predict", "fit", "build"])
def test_build_on_first_use(how):
    model = nn.Sequential([nn.layers.Dense(6, activation="relu"), nn.layers.Dense(2)], seed=0)
    assert not model.built
    with pytest.raises(ValueError, match="built"):
        model.count_params()
    with pytest.raises(ValueError, match="built"):
        model.summary()
    x = np.ones((5, 7), np.float32)
    if how == "predict":
        assert model.predict(x).shape == (5, 2)
    elif how == "fit":
        model.compile("sgd", "mse")
        model.fit(x, np.zeros((5, 2)), epochs=1, verbose=0)
    else:
        model.build(7)
    assert model.built and model.input_dim == 7
    assert model.count_params() == 7 * 6 + 6 + 6 * 2 + 2
    with pytest.raises(ValueError, match="features"):
        model.predict(np.ones((5, 6), np.float32))


def test_summary_of_the_course_network():
    lines = []
    model = course_model()
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    rows = {line.split()[0]: line for line in text.splitlines()
            if line.strip().startswith("dense")}
    assert rows["dense"].split()[-1] == "40"
    assert rows["dense_1"].split()[-1] == "72"
    assert rows["dense_2"].split()[-1] == "27"
    assert "(None, 8)" in rows["dense"] and "(None, 3)" in rows["dense_2"]
    assert "Total params: 139 (556.00 B)" in text          # 139 * 4 bytes
    assert "Trainable params: 139 (556.00 B)" in text
    assert "Non-trainable params: 0 (0.00 B)" in text
    assert model.count_params() == 139

    lines.clear()
    course_model(dtype="float64").summary(print_fn=lines.append)
    assert "Total params: 139 (1.09 KB)" in lines[0]        # 1112 B / 1024


def test_summary_counts_batch_norm_state_as_non_trainable():
    lines = []
    model = nn.Sequential([nn.layers.Dense(4, input_dim=3), nn.layers.BatchNormalization(),
                           nn.layers.Dropout(0.5), nn.layers.Dense(2, activation="softmax")])
    model.summary(print_fn=lines.append)
    text = lines[0]
    # Dense 3*4+4 = 16; BN gamma, beta (trainable) + moving mean, variance = 4 * 4; Dense 10.
    assert model.count_params() == 16 + 16 + 10
    assert "Total params: 42 (168.00 B)" in text
    assert "Trainable params: 34 (136.00 B)" in text
    assert "Non-trainable params: 8 (32.00 B)" in text
    # The columns stay aligned however long a layer's name is (Keras's table never
    # runs one column into the next).
    rows = [line for line in text.splitlines() if "(None," in line]
    assert len(rows) == 4
    assert len({line.index("(None,") for line in rows}) == 1
    assert len({len(line) for line in rows}) == 1
    assert [line.split()[-1] for line in rows] == ["16", "16", "0", "10"]


def test_count_params_and_trainable_flag():
    model = nn.Sequential([nn.layers.Dense(4, input_dim=3, trainable=False),
                           nn.layers.Dense(2)], seed=0)
    assert model.count_params() == 16 + 10
    lines = []
    model.summary(print_fn=lines.append)
    assert "Trainable params: 10 " in lines[0] and "Non-trainable params: 16 " in lines[0]
    frozen = model.get_weights()[:2]
    model.compile(nn.optimizers.SGD(0.1), "mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=2, verbose=0)
    assert_same_weights(model.get_weights()[:2], frozen)
    assert not np.array_equal(model.get_weights()[2], np.zeros((4, 2)))


def test_get_weights_keras_order_and_forward_pass(backend):
    model = course_model(backend)
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(4, 8), (8,), (8, 8), (8,), (8, 3), (3,)]
    assert all(w.dtype == np.float32 for w in weights)
    x, _ = toy_data()
    assert_close(model.predict(x), course_forward(weights, x).astype(np.float32),
                 np.float32)
    weights[0][...] = 99.0  # copies: the model keeps its own
    assert not np.any(model.get_weights()[0] == 99.0)


def test_set_weights_then_predict_matches_numpy(backend):
    model = course_model(backend, dtype="float64")
    rng = np.random.default_rng(7)
    new = [rng.normal(size=w.shape) for w in model.get_weights()]
    model.set_weights(new)
    assert_same_weights(model.get_weights(), new)
    x, _ = toy_data(dtype=np.float64)
    assert_close(model.predict(x), course_forward(new, x), np.float64)
    # Lists and integer arrays are converted to the model's dtype.
    model.set_weights([w.tolist() for w in new])
    assert_same_weights(model.get_weights(), new)


@pytest.mark.parametrize("change", ["count", "shape", "nan", "inf", "complex", "transposed"])
def test_set_weights_refuses_and_changes_nothing(change):
    model = course_model()
    before = model.get_weights()
    new = [np.full_like(w, 0.5) for w in before]
    if change == "count":
        new = new[:-1]
    elif change == "shape":
        new[2] = np.zeros((8, 9), np.float32)
    elif change == "nan":
        new[4][1, 1] = np.nan          # a late array: the earlier ones must not be written
    elif change == "inf":
        new[5][0] = np.inf
    elif change == "complex":
        new[3] = new[3].astype(np.complex64)
    else:
        new[0] = new[0].T
    with pytest.raises((ValueError, TypeError), match="weights"):
        model.set_weights(new)
    assert_same_weights(model.get_weights(), before)


def test_config_round_trip():
    model = nn.Sequential([
        nn.layers.Dense(5, input_dim=3, activation="tanh", kernel_regularizer="l2",
                        kernel_initializer="he_normal"),
        nn.layers.BatchNormalization(momentum=0.9),
        nn.layers.Dropout(0.25, seed=4),
        nn.layers.Dense(2, activation="sigmoid", use_bias=False),
    ], seed=11, dtype="float64", name="net")
    config = model.get_config()
    clone = nn.Sequential.from_config(config)
    assert clone.get_config() == config
    assert clone.name == "net" and clone.dtype == np.float64 and clone.seed == 11
    assert [type(layer).__name__ for layer in clone.layers] == [
        "Dense", "BatchNormalization", "Dropout", "Dense"]
    # The same seed draws the same initial weights.
    assert_same_weights(clone, model)
    assert clone.layers[0].kernel_regularizer.l2 == 0.01
    assert clone.layers[1].momentum == 0.9 and clone.layers[2].rate == 0.25
    assert clone.layers[3].use_bias is False


def test_repr():
    model = nn.Sequential([nn.layers.Dense(8, input_dim=4, activation="relu"),
                           nn.layers.Dropout(0.5), nn.layers.Dense(3, activation="softmax")],
                          backend="numpy")
    assert repr(model) == (
        "Sequential([\n"
        "    Dense(units=8, activation='relu', use_bias=True, input_dim=4),\n"
        "    Dropout(rate=0.5),\n"
        "    Dense(units=3, activation='softmax', use_bias=True, input_dim=8)\n"
        "], backend='numpy', dtype='float32')")


# --------------------------------------------------------------------------- compile / fit
def iris_split(seed=0):
    x, y = nn.datasets.load_iris()
    x_train, x_test, y_train, y_test = nn.datasets.train_test_split(
        x, y, test_size=0.3, random_state=seed, stratify=y)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    return (x_train - mean) / std, (x_test - mean) / std, y_train, y_test


def test_history_keys_and_lengths(backend):
    x, y = toy_data(n=20)
    model = course_model(backend)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    assert isinstance(history, nn.callbacks.History) and model.history is history
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    # Accuracies are fractions of 15 training rows and 5 validation rows.
    assert all(round(a * 15) == pytest.approx(a * 15) for a in history.history["accuracy"])
    assert all(round(a * 5) == pytest.approx(a * 5) for a in history.history["val_accuracy"])
    plain = course_model(backend)
    plain.compile("sgd", "sparse_categorical_crossentropy")
    assert list(plain.fit(x, y, epochs=2, verbose=0).history) == ["loss"]


def test_evaluate_return_types_and_values(backend):
    model = course_model(backend, dtype="float64")
    x, y = toy_data(n=10, dtype=np.float64)
    P = course_forward(model.get_weights(), x)
    loss = -np.mean(np.log(P[np.arange(10), y]))
    accuracy = np.mean(P.argmax(axis=1) == y)

    model.compile("sgd", "sparse_categorical_crossentropy")
    value = model.evaluate(x, y)
    assert isinstance(value, float)
    assert value == pytest.approx(loss, rel=1e-12)

    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    values = model.evaluate(x, y, batch_size=3)  # batches of 3, 3, 3, 1 weigh by size
    assert isinstance(values, list) and len(values) == 2
    assert values[0] == pytest.approx(loss, rel=1e-12)
    assert values[1] == pytest.approx(accuracy)
    logs = model.evaluate(x, y, return_dict=True)
    assert logs == {"loss": pytest.approx(loss, rel=1e-12), "accuracy": pytest.approx(accuracy)}
    assert model.metrics_names == ["loss", "accuracy"]

    onehot = nn.datasets.to_categorical(y, 3)
    model.compile("sgd", "categorical_crossentropy", ["accuracy", "mse"])
    logs = model.evaluate(x, onehot, return_dict=True)
    assert logs["loss"] == pytest.approx(loss, rel=1e-12)
    assert logs["accuracy"] == pytest.approx(accuracy)
    assert logs["mse"] == pytest.approx(np.mean((P - onehot) ** 2), rel=1e-12)


def test_predict_batching_and_on_batch_methods(backend):
    model = course_model(backend, dtype="float64")
    x, y = toy_data(n=11, dtype=np.float64)
    expected = course_forward(model.get_weights(), x)
    assert_close(model.predict(x, batch_size=4), expected, np.float64)
    assert_close(model.predict_on_batch(x), expected, np.float64)
    model.compile(nn.optimizers.SGD(0.1), "sparse_categorical_crossentropy", ["accuracy"])
    loss = -np.mean(np.log(expected[np.arange(11), y]))
    assert model.test_on_batch(x, y)[0] == pytest.approx(loss, rel=1e-12)
    assert model.test_on_batch(x, y, return_dict=True)["loss"] == pytest.approx(loss, rel=1e-12)
    assert model.optimizer.iterations == 0
    # train_on_batch reports the loss before its update, then steps once.
    result = model.train_on_batch(x, y)
    assert result[0] == pytest.approx(loss, rel=1e-12)
    assert model.optimizer.iterations == 1
    assert model.test_on_batch(x, y)[0] < loss


def test_validation_split_takes_the_last_rows(backend):
    x, y = toy_data(n=20, seed=3)
    a, b = course_model(backend, seed=5), course_model(backend, seed=5)
    for model in (a, b):
        model.compile(nn.optimizers.SGD(0.1), "sparse_categorical_crossentropy", ["accuracy"])
    history = a.fit(x, y, epochs=2, batch_size=4, validation_split=0.2, shuffle=False,
                    verbose=0)
    b.fit(x[:16], y[:16], epochs=2, batch_size=4, shuffle=False, verbose=0)
    assert_same_weights(a, b)
    val = b.evaluate(x[16:], y[16:], batch_size=4, return_dict=True)
    assert history.history["val_loss"][-1] == val["loss"]
    assert history.history["val_accuracy"][-1] == val["accuracy"]
    assert a.optimizer.iterations == 2 * 4


def test_validation_data(backend):
    x, y = toy_data(n=16, seed=1)
    xv, yv = toy_data(n=6, seed=2)
    model = course_model(backend)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=1, batch_size=5, validation_data=(xv, yv), verbose=0)
    val = model.evaluate(xv, yv, batch_size=5, return_dict=True)
    assert history.history["val_loss"] == [val["loss"]]
    assert history.history["val_accuracy"] == [val["accuracy"]]
    # With sample weights for the validation rows (a third element).
    sw = np.array([1, 0, 2, 1, 0, 1], np.float32)
    history = model.fit(x, y, epochs=1, validation_data=(xv, yv, sw), verbose=0)
    val = model.evaluate(xv, yv, sample_weight=sw, return_dict=True)
    assert history.history["val_loss"][0] == pytest.approx(val["loss"], rel=1e-6)


def test_shuffle_false_is_train_on_batch_in_order(backend):
    x, y = toy_data(n=10)
    a, b = course_model(backend, seed=2), course_model(backend, seed=2)
    for model in (a, b):
        model.compile(nn.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    a.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    for _ in range(2):
        for start in range(0, 10, 4):
            b.train_on_batch(x[start:start + 4], y[start:start + 4])
    assert_same_weights(a, b)
    assert a.optimizer.iterations == b.optimizer.iterations == 6


def test_shuffle_true_draws_a_permutation_per_epoch_from_the_model_rng(backend):
    x, y = toy_data(n=10)
    a, b = course_model(backend, seed=2), course_model(backend, seed=2)
    for model in (a, b):
        model.compile(nn.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    twin = np.random.default_rng()
    twin.bit_generator.state = a.rng.bit_generator.state
    a.fit(x, y, epochs=3, batch_size=4, shuffle=True, verbose=0)
    for _ in range(3):
        order = twin.permutation(10)
        for start in range(0, 10, 4):
            idx = order[start:start + 4]
            b.train_on_batch(x[idx], y[idx])
    assert_same_weights(a, b)
    c = course_model(backend, seed=2)
    c.compile(nn.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    c.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    assert weights_bytes(c) != weights_bytes(a)


@pytest.mark.parametrize("batch_size, per_epoch", [(12, 1), (1, 12), (5, 3), (100, 1)])
def test_iterations_batch_vs_stochastic(batch_size, per_epoch):
    x, y = toy_data(n=12)
    model = course_model()
    model.compile(nn.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=batch_size, verbose=0)
    assert model.optimizer.iterations == 3 * per_epoch


def test_batch_gradient_descent_is_one_step_on_everything(backend):
    """batch_size=len(x): one step on the mean gradient of all rows, whatever the order."""
    x, y = toy_data(n=12)
    a, b = course_model(backend, seed=4, dtype="float64"), \
        course_model(backend, seed=4, dtype="float64")
    for model in (a, b):
        model.compile(nn.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    a.fit(x, y, epochs=2, batch_size=12, shuffle=True, verbose=0)
    b.train_on_batch(x, y)
    b.train_on_batch(x, y)
    for u, v in zip(a.get_weights(), b.get_weights()):
        assert_close(u, v, np.float64)


def test_initial_epoch(backend):
    x, y = toy_data(n=8)
    model = course_model(backend)
    model.compile(nn.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=5, initial_epoch=3, batch_size=4, verbose=0)
    assert history.epoch == [3, 4]
    assert len(history.history["loss"]) == 2
    assert model.optimizer.iterations == 2 * 2
    history = model.fit(x, y, epochs=2, initial_epoch=2, verbose=0)
    assert history.epoch == [] and model.optimizer.iterations == 4


def test_sample_weight_is_sum_over_batch_size(backend):
    """Keras's sum_over_batch_size: sum_i w_i * loss_i / n, not divided by sum(w)."""
    model = nn.Sequential([nn.layers.Dense(2, input_dim=2)], backend=backend, dtype="float64")
    W, b = np.array([[1.0, -1.0], [0.5, 2.0]]), np.array([0.1, -0.2])
    model.set_weights([W, b])
    x = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]])
    y = np.array([[1.0, 0.0], [0.0, 0.0], [4.0, -1.0]])
    w = np.array([2.0, 0.0, 0.5])
    P = x @ W + b                      # [[2.1, 2.8], [-0.6, -2.2], [3.6, -0.8]]
    per_row = ((P - y) ** 2).mean(axis=1)
    expected = float(np.dot(w, per_row) / 3)
    model.compile(nn.optimizers.SGD(0.1), "mse", ["mae"])
    logs = model.test_on_batch(x, y, sample_weight=w, return_dict=True)
    assert logs["loss"] == pytest.approx(expected, rel=1e-12)
    # Metrics are sample-weighted means (Keras: sum(w m) / sum(w)).
    mae = np.abs(P - y).mean(axis=1)
    assert logs["mae"] == pytest.approx(np.dot(w, mae) / w.sum(), rel=1e-12)
    # The same for evaluate in batches of 2 (the loss weighs each batch by its size).
    assert model.evaluate(x, y, sample_weight=w, batch_size=2) == [
        pytest.approx(expected, rel=1e-12), pytest.approx(np.dot(w, mae) / w.sum(), rel=1e-12)]

    # Training: the gradient of sum_i w_i l_i / n; SGD step by hand.
    dP = 2 * (P - y) / 2 * (w / 3)[:, None]           # d(mean over 2 features) * w_i / n
    model.train_on_batch(x, y, sample_weight=w)
    assert_close(model.get_weights()[0], W - 0.1 * x.T @ dP, np.float64)
    assert_close(model.get_weights()[1], b - 0.1 * dP.sum(axis=0), np.float64)


def test_class_weight_equals_sample_weight(backend):
    x, y = toy_data(n=12, seed=5)
    table = {0: 1.0, 1: 3.0, 2: 0.5}
    a, b = course_model(backend, seed=1), course_model(backend, seed=1)
    for model in (a, b):
        model.compile(nn.optimizers.SGD(0.1), "sparse_categorical_crossentropy", ["accuracy"])
    ha = a.fit(x, y, epochs=2, batch_size=5, class_weight=table, verbose=0)
    hb = b.fit(x, y, epochs=2, batch_size=5, sample_weight=np.vectorize(table.get)(y),
               verbose=0)
    assert_same_weights(a, b)
    assert ha.history == hb.history
    # One-hot targets pick their class by argmax.
    c = course_model(backend, seed=1)
    c.compile(nn.optimizers.SGD(0.1), "categorical_crossentropy", ["accuracy"])
    c.fit(x, nn.datasets.to_categorical(y, 3), epochs=2, batch_size=5, class_weight=table,
          verbose=0)
    for u, v in zip(a.get_weights(), c.get_weights()):
        assert_close(u, v, np.float32)


def test_class_weight_scales_the_loss_by_hand():
    model = nn.Sequential([nn.layers.Dense(2, input_dim=1, activation="softmax")],
                          dtype="float64")
    model.set_weights([np.array([[1.0, -1.0]]), np.array([0.0, 0.0])])
    x, y = np.array([[0.5], [-1.0]]), np.array([0, 1])
    model.compile("sgd", "sparse_categorical_crossentropy")
    P = softmax(x @ np.array([[1.0, -1.0]]))
    losses = -np.log(P[[0, 1], y])
    got = model.test_on_batch(x, y)
    assert got == pytest.approx(losses.mean(), rel=1e-12)
    weighted = model.train_on_batch(x, y, class_weight={0: 4.0, 1: 1.0})
    assert weighted == pytest.approx((4 * losses[0] + losses[1]) / 2, rel=1e-12)


def test_verbose_zero_prints_nothing(capsys, backend):
    x, y = toy_data()
    model = course_model(backend)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    model.evaluate(x, y)
    model.predict(x)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_one_shows_a_progress_bar(capsys):
    x, y = toy_data(n=12)
    model = course_model()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=2, batch_size=4, verbose=1)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "3/3" in text                     # steps per epoch
    assert re.search(r"loss: \d\.\d{4}", text) and re.search(r"accuracy: \d\.\d{4}", text)


def test_accuracy_follows_keras_for_one_output_and_mse(backend):
    """"accuracy" with one output column is binary accuracy whatever the loss (Keras's
    rule); counted as categorical it would be 1.0 for any prediction."""
    x, y = nn.datasets.make_xor()
    model = nn.Sequential([nn.layers.Dense(1, input_dim=2, activation="sigmoid")],
                          backend=backend, dtype="float64")
    model.set_weights([np.array([[1.0], [1.0]]), np.array([-0.5])])
    model.compile("sgd", "mse", ["accuracy"])
    # sigmoid(-0.5), sigmoid(0.5), sigmoid(0.5), sigmoid(1.5): > 0.5 for rows 2, 3, 4, and
    # the labels are 0, 1, 1, 0: three of four right.
    P = 1 / (1 + np.exp(-np.array([-0.5, 0.5, 0.5, 1.5])))
    loss, accuracy = model.evaluate(x, y)
    assert accuracy == pytest.approx(np.mean((P > 0.5) == y)) == 0.75
    assert loss == pytest.approx(np.mean((P - y) ** 2), rel=1e-12)


def test_dropout_is_off_and_batch_norm_uses_moving_statistics_in_predict(backend):
    model = nn.Sequential([nn.layers.Dense(3, input_dim=2),
                           nn.layers.BatchNormalization(epsilon=0.01),
                           nn.layers.Dropout(0.5)], backend=backend, dtype="float64")
    W, b = np.array([[1.0, -2.0, 0.5], [0.25, 1.0, -1.0]]), np.array([0.1, 0.2, 0.3])
    gamma, beta = np.array([2.0, 1.0, 0.5]), np.array([0.0, -1.0, 1.0])
    mean, var = np.array([0.5, -0.5, 0.0]), np.array([4.0, 1.0, 0.25])
    model.set_weights([W, b, gamma, beta, mean, var])
    x = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 0.0]])
    expected = gamma * (x @ W + b - mean) / np.sqrt(var + 0.01) + beta
    assert_close(model.predict(x), expected, np.float64)
    assert_close(model.predict(x), model.predict(x), np.float64)
    state = model.layers[2].rng.bit_generator.state
    model.predict(x)
    assert model.layers[2].rng.bit_generator.state == state   # no mask drawn


def test_regularization_adds_to_the_loss_and_the_gradient(backend):
    W, b = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([0.1, -0.1])
    dense = nn.layers.Dense(2, input_dim=2, kernel_regularizer=nn.regularizers.L2(0.1),
                            bias_regularizer=nn.regularizers.L1(0.2))
    model = nn.Sequential([dense], backend=backend, dtype="float64")
    model.set_weights([W, b])
    x, y = np.array([[1.0, -1.0], [0.5, 2.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    P = x @ W + b
    penalty = 0.1 * np.sum(W ** 2) + 0.2 * np.sum(np.abs(b))
    model.compile(nn.optimizers.SGD(0.1), "mse")
    assert model.test_on_batch(x, y) == pytest.approx(np.mean((P - y) ** 2) + penalty,
                                                      rel=1e-12)
    dP = 2 * (P - y) / P.size
    model.train_on_batch(x, y)
    assert_close(model.get_weights()[0], W - 0.1 * (x.T @ dP + 0.2 * W), np.float64)
    assert_close(model.get_weights()[1], b - 0.1 * (dP.sum(axis=0) + 0.2 * np.sign(b)),
                 np.float64)


def test_divergence_warns_once():
    x = np.array([[1e3, -1e3], [2e3, 1e3]])
    model = nn.Sequential([nn.layers.Dense(1, input_dim=2)], seed=0, dtype="float64")
    model.compile(nn.optimizers.SGD(1e10), "mse")
    with pytest.warns(RuntimeWarning, match="diverged") as record:
        with np.errstate(all="ignore"):
            history = model.fit(x, np.ones(2), epochs=30, batch_size=1, verbose=0)
    assert not math.isfinite(history.history["loss"][-1])
    assert sum("diverged" in str(w.message) for w in record) == 1


# --------------------------------------------------------------------------- by hand
def test_one_training_step_by_hand_mse(backend, dtype):
    """Dense(3, tanh) - Dense(2, linear), MSE, one SGD step: the chain rule in NumPy (in
    float64; a float32 model matches it to float32's tolerance)."""
    W1 = np.array([[0.2, -0.4, 0.1], [0.5, 0.3, -0.6]])
    b1 = np.array([0.01, -0.02, 0.03])
    W2 = np.array([[0.7, -0.1], [-0.3, 0.4], [0.2, 0.9]])
    b2 = np.array([0.05, -0.05])
    X = np.array([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.25], [0.0, 1.0]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5], [0.2, -0.3]])
    n, d = Y.shape
    lr = 0.1

    # Forward.
    Z1 = X @ W1 + b1
    A1 = np.tanh(Z1)
    P = A1 @ W2 + b2
    loss = np.sum((P - Y) ** 2) / (n * d)
    # Backward: dL/dP, then each layer's dW = X^T dZ, db = sum dZ, dX = dZ W^T.
    dP = 2 * (P - Y) / (n * d)
    dW2, db2 = A1.T @ dP, dP.sum(axis=0)
    dA1 = dP @ W2.T
    dZ1 = dA1 * (1 - A1 ** 2)             # tanh' from its output
    dW1, db1 = X.T @ dZ1, dZ1.sum(axis=0)
    expected = [W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2]

    model = nn.Sequential([nn.layers.Dense(3, input_dim=2, activation="tanh"),
                           nn.layers.Dense(2)], backend=backend, dtype=dtype)
    model.set_weights([W1, b1, W2, b2])
    model.compile(nn.optimizers.SGD(learning_rate=lr), "mse")
    value = model.train_on_batch(X, Y)
    assert value == pytest.approx(loss, rel=TOL[dtype][0])
    for got, want in zip(model.get_weights(), expected):
        assert got.dtype == dtype
        assert_close(got, want.astype(dtype), dtype)


def test_one_training_step_by_hand_softmax_crossentropy_momentum(backend):
    """Dense(3, relu) - Dense(3, softmax), categorical cross-entropy, SGD with momentum for
    two steps: dL/dZ2 = (P - T) / n, the fused gradient."""
    W1 = np.array([[0.3, -0.2, 0.4], [-0.5, 0.6, 0.1]])
    b1 = np.array([0.1, 0.0, -0.1])
    W2 = np.array([[0.2, -0.3, 0.5], [0.1, 0.4, -0.2], [-0.6, 0.3, 0.2]])
    b2 = np.array([0.0, 0.1, -0.1])
    X = np.array([[1.0, 0.5], [-0.5, 1.5], [2.0, -1.0]])
    T = np.eye(3)[[2, 0, 1]]
    lr, mu = 0.5, 0.9
    weights = [W1, b1, W2, b2]
    velocity = [np.zeros_like(w) for w in weights]
    for _ in range(2):
        W1, b1, W2, b2 = weights
        Z1 = X @ W1 + b1
        A1 = np.maximum(Z1, 0)
        P = softmax(A1 @ W2 + b2)
        dZ2 = (P - T) / len(X)
        dA1 = dZ2 @ W2.T
        dZ1 = dA1 * (Z1 > 0)
        grads = [X.T @ dZ1, dZ1.sum(axis=0), A1.T @ dZ2, dZ2.sum(axis=0)]
        velocity = [mu * v - lr * g for v, g in zip(velocity, grads)]
        weights = [w + v for w, v in zip(weights, velocity)]

    model = nn.Sequential([nn.layers.Dense(3, input_dim=2, activation="relu"),
                           nn.layers.Dense(3, activation="softmax")],
                          backend=backend, dtype="float64")
    model.set_weights([np.array(w) for w in (
        [[0.3, -0.2, 0.4], [-0.5, 0.6, 0.1]], [0.1, 0.0, -0.1],
        [[0.2, -0.3, 0.5], [0.1, 0.4, -0.2], [-0.6, 0.3, 0.2]], [0.0, 0.1, -0.1])])
    model.compile(nn.optimizers.SGD(lr, momentum=mu), "categorical_crossentropy")
    model.train_on_batch(X, T)
    model.train_on_batch(X, T)
    for got, want in zip(model.get_weights(), weights):
        assert_close(got, want, np.float64)


@pytest.mark.parametrize("output, loss, logits_loss, make_y", [
    ("softmax", "categorical_crossentropy",
     nn.losses.CategoricalCrossentropy(from_logits=True),
     lambda y: nn.datasets.to_categorical(y, 3)),
    ("softmax", "sparse_categorical_crossentropy",
     nn.losses.SparseCategoricalCrossentropy(from_logits=True), lambda y: y),
    ("sigmoid", "binary_crossentropy", nn.losses.BinaryCrossentropy(from_logits=True),
     lambda y: nn.datasets.to_categorical(y, 3)),
])
def test_fused_output_equals_logits_loss_and_unfused_chain(backend, output, loss,
                                                           logits_loss, make_y):
    x, labels = toy_data(n=9, dtype=np.float64)
    y = make_y(labels)

    def net(last_activation, extra=None):
        layers = [nn.layers.Dense(5, input_dim=4, activation="tanh"),
                  nn.layers.Dense(3, activation=last_activation)]
        if extra:
            layers.append(nn.layers.Activation(extra))
        return nn.Sequential(layers, seed=3, backend=backend, dtype="float64")

    fused = net(output)
    logits = net("linear")
    unfused = net("linear", extra=output)   # activation layer, then the loss on probabilities
    for model, model_loss in ((fused, loss), (logits, logits_loss), (unfused, loss)):
        model.compile(nn.optimizers.SGD(0.2), model_loss)
    assert_same_weights(fused, logits)
    for _ in range(5):
        lf = fused.train_on_batch(x, y)
        ll = logits.train_on_batch(x, y)
        lu = unfused.train_on_batch(x, y)
        assert lf == pytest.approx(ll, rel=1e-12)
        # The unfused chain clips probabilities at 1e-7 and divides by them: equal only
        # to the rounding of that longer path (probabilities here are far from the clip).
        assert lu == pytest.approx(lf, rel=1e-9)
    for a, b, c in zip(fused.get_weights(), logits.get_weights(), unfused.get_weights()):
        assert_close(a, b, np.float64)
        np.testing.assert_allclose(c, a, rtol=1e-9, atol=1e-11)
    assert_close(fused.predict(x), {"softmax": softmax, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}
                 [output](logits.predict(x)), np.float64)


# --------------------------------------------------------------------------- integration
XOR_OPTIMIZERS = {
    "sgd_momentum": lambda: nn.optimizers.SGD(0.5, momentum=0.9),
    "adam": lambda: nn.optimizers.Adam(0.05),
    "rmsprop": lambda: nn.optimizers.RMSprop(0.02),
    "adagrad": lambda: nn.optimizers.Adagrad(0.3),
    "adamw": lambda: nn.optimizers.AdamW(0.05),
}


@pytest.mark.parametrize("name", list(XOR_OPTIMIZERS))
def test_xor_is_learned(backend, name):
    x, y = nn.datasets.make_xor()
    model = nn.Sequential([nn.layers.Dense(8, input_dim=2, activation="tanh"),
                           nn.layers.Dense(1, activation="sigmoid")], seed=0, backend=backend)
    model.compile(XOR_OPTIMIZERS[name](), "binary_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=300, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < 0.05
    assert model.evaluate(x, y)[1] == 1.0
    np.testing.assert_array_equal((model.predict(x)[:, 0] > 0.5).astype(int), y)


def test_iris_reaches_ninety_percent(backend):
    x_train, x_test, y_train, y_test = iris_split(seed=0)
    model = course_model(backend, seed=0)
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x_train, y_train, epochs=40, batch_size=8, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test)
    assert accuracy >= 0.9
    assert np.mean(model.predict(x_test).argmax(axis=1) == y_test) == pytest.approx(accuracy)


def test_mnist_subset_reaches_ninety_five_percent():
    folder = SHARED_DATA / "mnist"
    if not folder.is_dir():
        pytest.skip(f"MNIST files not found in {folder}")
    if not nn.backends.native_available():
        pytest.skip("the native extension is not built (numpy alone is too slow here)")
    try:
        images, labels = nn.datasets.load_mnist(folder, kind="test")
    except FileNotFoundError as exc:
        pytest.skip(f"MNIST test files missing: {exc}")
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    model = nn.Sequential([nn.layers.Dense(256, input_dim=784, activation="relu"),
                           nn.layers.Dense(128, activation="relu"),
                           nn.layers.Dense(10, activation="softmax")],
                          seed=0, backend="native")
    model.compile(nn.optimizers.Adam(2e-3), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x[:8000], labels[:8000], epochs=3, batch_size=100, verbose=0)
    loss, accuracy = model.evaluate(x[8000:], labels[8000:])
    assert accuracy >= 0.95, f"test accuracy {accuracy:.4f}"


# --------------------------------------------------------------------------- determinism
def noisy_model(backend, seed):
    """Shuffle, Dropout and BatchNormalization all draw on or carry state."""
    return nn.Sequential([nn.layers.Dense(16, input_dim=4, activation="relu"),
                          nn.layers.BatchNormalization(),
                          nn.layers.Dropout(0.3),
                          nn.layers.Dense(3, activation="softmax")],
                         seed=seed, backend=backend)


def train_noisy(backend, seed) -> nn.Sequential:
    x, y = toy_data(n=40, seed=9)
    model = noisy_model(backend, seed)
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=3, batch_size=8, shuffle=True, verbose=0)
    return model


DETERMINISM_SCRIPT = """
import hashlib, sys
sys.path.insert(0, {tests!r}); sys.path.insert(0, {root!r})
import test_models
model = test_models.train_noisy({backend!r}, 123)
print(hashlib.sha256(test_models.weights_bytes(model)).hexdigest())
"""


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_same_seed_same_bits(backend_name):
    a, b = train_noisy(backend_name, 123), train_noisy(backend_name, 123)
    assert_same_weights(a, b)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    c = train_noisy(backend_name, 124)
    assert weights_bytes(c) != weights_bytes(a)
    for u, v in zip(a.get_weights(), c.get_weights()):
        if u.size > 3:  # the large arrays: seeds give really different weights
            assert not np.allclose(u, v)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_same_seed_same_bits_in_a_fresh_process(backend_name):
    script = DETERMINISM_SCRIPT.format(tests=str(ROOT / "tests"), root=str(ROOT),
                                       backend=backend_name)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    here = hashlib.sha256(weights_bytes(train_noisy(backend_name, 123))).hexdigest()
    assert result.stdout.strip() == here


BACKEND_OPTIMIZERS = {
    "sgd": lambda: nn.optimizers.SGD(0.1),
    "momentum": lambda: nn.optimizers.SGD(0.1, momentum=0.9),
    "nesterov": lambda: nn.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adagrad": lambda: nn.optimizers.Adagrad(0.1),
    "rmsprop": lambda: nn.optimizers.RMSprop(0.01),
    "rmsprop_momentum": lambda: nn.optimizers.RMSprop(0.01, momentum=0.5),
    "rmsprop_centered": lambda: nn.optimizers.RMSprop(0.01, centered=True),
    "adam": lambda: nn.optimizers.Adam(0.01),
    "amsgrad": lambda: nn.optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: nn.optimizers.AdamW(0.01, weight_decay=0.1),
}
# float64: conftest's per-op tolerance holds even after 20 steps (measured drift
# <= 5e-16 absolute, ~3e-13 relative on the smallest weights): each step feeds the last
# step's weights through ~10 ops, but at 16 digits the sum-order differences of the two
# backends stay far below 1e-12.
# float32: looser than one op's (1e-5, 1e-6). The same few-ulp differences (~6e-8) are
# fed back 20 times, and Adam/RMSprop divide by sqrt(v), which turns a relative error in a
# small gradient into the same relative error in the step; measured drift is up to
# 5e-7 absolute. (1e-4, 1e-5) leaves a margin of 20x and is still far below what any
# wrong formula gives (a step of size lr = 1e-2).
DRIFT_TOL = {np.dtype(np.float64): TOL[np.dtype(np.float64)],
             np.dtype(np.float32): (1e-4, 1e-5)}


@pytest.mark.skipif(not nn.backends.native_available(), reason="native backend not built")
@pytest.mark.parametrize("name", list(BACKEND_OPTIMIZERS))
def test_native_and_numpy_agree_after_twenty_steps(name, dtype):
    x, y = toy_data(n=32, seed=4, dtype=dtype)
    models = []
    for backend_name in ("numpy", "native"):
        model = nn.Sequential([nn.layers.Dense(16, input_dim=4, activation="tanh"),
                               nn.layers.Dense(8, activation="sigmoid"),
                               nn.layers.Dense(3, activation="softmax")],
                              seed=8, backend=backend_name, dtype=dtype)
        model.compile(BACKEND_OPTIMIZERS[name](), "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=5, batch_size=8, verbose=0)  # 4 steps per epoch
        assert model.optimizer.iterations == 20
        models.append(model)
    numpy_model, native_model = models
    rtol, atol = DRIFT_TOL[dtype]
    for a, b in zip(native_model.get_weights(), numpy_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    for sa, sb in zip(native_model.optimizer.slots, numpy_model.optimizer.slots):
        for key in sa:
            np.testing.assert_allclose(sa[key], sb[key], rtol=rtol, atol=atol)
    # And training did move the weights (the comparison is not of two untouched copies).
    fresh = nn.Sequential.from_config(numpy_model.get_config())
    assert not np.allclose(fresh.get_weights()[0], numpy_model.get_weights()[0])


# --------------------------------------------------------------------------- refusals
@pytest.fixture
def trained():
    """A compiled model one step into training (so optimizer slots exist), and its data."""
    x, y = toy_data(n=10)
    model = nn.Sequential([nn.layers.Dense(6, input_dim=4, activation="relu"),
                           nn.layers.Dropout(0.2),
                           nn.layers.Dense(3, activation="softmax")], seed=0)
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)
    assert model.optimizer.iterations == 1 and model.optimizer.slots is not None
    return model, x, y


def _bad_x(x, kind):
    return {
        "features": x[:, :3],
        "1-D": x[:, 0],
        "3-D": x[:, :, None],
        "nan": np.where(np.arange(4) == 2, np.nan, x),
        "inf": np.where(np.arange(4) == 1, np.inf, x),
        "complex": x.astype(np.complex64),
        "object": x.astype(object),
        "string": x.astype(str),
        "empty": x[:0],
        "text": "1,2,3,4",
        "ragged": [[1, 2, 3, 4], [1, 2]],
    }[kind]


X_REFUSALS = ["features", "1-D", "3-D", "nan", "inf", "complex", "object", "string",
              "empty", "text", "ragged"]


@pytest.mark.parametrize("method", ["fit", "train_on_batch", "evaluate", "test_on_batch",
                                    "predict"])
@pytest.mark.parametrize("kind", X_REFUSALS)
def test_bad_x_is_refused_and_changes_nothing(trained, method, kind):
    model, x, y = trained
    before = snapshot(model)
    bad = _bad_x(x, kind)
    call = getattr(model, method)
    with pytest.raises((ValueError, TypeError), match=r"\bx\b"):
        if method == "predict":
            call(bad)
        elif method == "fit":
            call(bad, y, epochs=1, verbose=0)
        else:
            call(bad, y)
    assert_unchanged(model, before)


Y_REFUSALS = {
    "out of range": lambda y: np.where(np.arange(10) == 3, 3, y),
    "negative": lambda y: np.where(np.arange(10) == 3, -1, y),
    "non-integer": lambda y: y + 0.5,
    "nan": lambda y: np.where(np.arange(10) == 3, np.nan, y),
    "inf": lambda y: np.where(np.arange(10) == 3, np.inf, y),
    "too short": lambda y: y[:9],
    "too long": lambda y: np.concatenate([y, y[:1]]),
    "2 columns": lambda y: np.stack([y, y], axis=1),
    "strings": lambda y: y.astype(str),
    "complex": lambda y: y.astype(np.complex128),
    "3-D": lambda y: y[:, None, None],
    "empty": lambda y: y[:0],
}


@pytest.mark.parametrize("method", ["fit", "train_on_batch", "evaluate", "test_on_batch"])
@pytest.mark.parametrize("kind", list(Y_REFUSALS))
def test_bad_sparse_labels_are_refused(trained, method, kind):
    model, x, y = trained
    before = snapshot(model)
    with pytest.raises((ValueError, TypeError), match=r"\by\b"):
        if method == "fit":
            model.fit(x, Y_REFUSALS[kind](y), epochs=1, verbose=0)
        else:
            getattr(model, method)(x, Y_REFUSALS[kind](y))
    assert_unchanged(model, before)


@pytest.mark.parametrize("loss, make_bad", [
    ("categorical_crossentropy", lambda y: nn.datasets.to_categorical(y, 4)),     # width
    ("categorical_crossentropy", lambda y: nn.datasets.to_categorical(y, 3)[:, :2]),
    ("categorical_crossentropy", lambda y: 2 * nn.datasets.to_categorical(y, 3)),  # not [0,1]
    ("categorical_crossentropy", lambda y: y),                                     # labels
    ("mse", lambda y: np.ones((10, 2))),
    ("mse", lambda y: np.ones((9, 3))),
])
def test_bad_dense_targets_are_refused(trained, loss, make_bad):
    model, x, y = trained
    model.compile(nn.optimizers.Adam(0.01), loss)
    model.fit(x, np.eye(3)[y], epochs=1, verbose=0)
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"\by\b"):
        model.fit(x, make_bad(y), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"\by\b"):
        model.train_on_batch(x, make_bad(y))
    assert_unchanged(model, before)


FIT_REFUSALS = [
    ("batch_size", dict(batch_size=0)),
    ("batch_size", dict(batch_size=-4)),
    ("batch_size", dict(batch_size=2.5)),
    ("batch_size", dict(batch_size="32")),
    ("epochs", dict(epochs=-1)),
    ("epochs", dict(epochs=1.5)),
    ("epochs", dict(epochs=True)),
    ("initial_epoch", dict(initial_epoch=-1)),
    ("validation_split", dict(validation_split=1.0)),
    ("validation_split", dict(validation_split=-0.1)),
    ("validation_split", dict(validation_split=float("nan"))),
    ("validation_split", dict(validation_split="0.2")),
    ("validation_split", dict(validation_split=1e-17)),    # floor(10 (1 - 1e-17)) = 10 rows
    ("validation_split", dict(validation_split=0.99)),     # no training row
    ("validation_data", dict(validation_data=[1, 2, 3, 4])),
    ("validation_data", dict(validation_data=np.ones((2, 4)))),
    ("validation_data", dict(validation_data=(np.ones((2, 3)), np.zeros(2)))),
    ("validation_data", dict(validation_data=(np.ones((2, 4)), np.full(2, 7)))),
    ("sample_weight", dict(sample_weight=np.ones(9))),
    ("sample_weight", dict(sample_weight=-np.ones(10))),
    ("sample_weight", dict(sample_weight=np.full(10, np.nan))),
    ("sample_weight", dict(sample_weight=np.ones((10, 1)))),
    ("sample_weight", dict(sample_weight=np.ones(10, np.complex64))),
    ("sample_weight", dict(sample_weight="ones")),
    ("class_weight", dict(class_weight=[1.0, 2.0, 3.0])),
    ("class_weight", dict(class_weight={0: 1.0, 1: -2.0, 2: 1.0})),
    ("class_weight", dict(class_weight={0: 1.0, 1: float("nan"), 2: 1.0})),
    ("class_weight", dict(class_weight={0: 1.0, 1: 2.0})),              # class 2 missing
    ("class_weight", dict(class_weight={"a": 1.0, 1: 1.0, 2: 1.0})),
    ("class_weight", dict(class_weight={0: "x", 1: 1.0, 2: 1.0})),
    ("class_weight", dict(class_weight={-1: 1.0, 0: 1.0, 1: 1.0, 2: 1.0})),
    ("callbacks", dict(callbacks=["early_stopping"])),
    ("verbose", dict(verbose=-1)),
]


@pytest.mark.parametrize("argument, kwargs", FIT_REFUSALS,
                         ids=[f"{a}-{i}" for i, (a, _) in enumerate(FIT_REFUSALS)])
def test_bad_fit_arguments_are_refused(trained, argument, kwargs):
    model, x, y = trained
    before = snapshot(model)
    with pytest.raises((ValueError, TypeError), match=argument):
        model.fit(x, y, **{"epochs": 1, "verbose": 0, **kwargs})
    assert_unchanged(model, before)


@pytest.mark.parametrize("argument, kwargs", [
    ("batch_size", dict(batch_size=0)),
    ("sample_weight", dict(sample_weight=np.ones(3))),
])
def test_bad_evaluate_arguments_are_refused(trained, argument, kwargs):
    model, x, y = trained
    before = snapshot(model)
    with pytest.raises((ValueError, TypeError), match=argument):
        model.evaluate(x, y, **kwargs)
    with pytest.raises((ValueError, TypeError), match="batch_size"):
        model.predict(x, batch_size=0)
    assert_unchanged(model, before)


def test_train_on_batch_refusals_do_not_step(trained):
    model, x, y = trained
    before = snapshot(model)
    for kwargs, argument in ((dict(sample_weight=np.ones(4)), "sample_weight"),
                             (dict(class_weight={0: 1.0}), "class_weight"),
                             (dict(sample_weight=np.full(10, np.inf)), "sample_weight")):
        with pytest.raises((ValueError, TypeError), match=argument):
            model.train_on_batch(x, y, **kwargs)
    assert_unchanged(model, before)


def test_fit_before_compile():
    x, y = toy_data()
    model = course_model()
    before = snapshot(model)
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y),
                 lambda: model.train_on_batch(x, y), lambda: model.test_on_batch(x, y)):
        with pytest.raises(nn.NotCompiledError, match="compile") as info:
            call()
        assert isinstance(info.value, ValueError)
    assert_unchanged(model, before)
    assert model.predict(x).shape == (12, 3)   # inference needs no compile


def test_refusals_leave_an_unbuilt_model_unbuilt():
    model = nn.Sequential([nn.layers.Dense(4), nn.layers.Dense(2, activation="softmax")],
                          seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    before = snapshot(model)
    with pytest.raises(ValueError, match="x"):
        model.fit(np.full((3, 5), np.nan), [0, 1, 0], verbose=0)
    with pytest.raises(ValueError, match="y"):
        model.fit(np.ones((3, 5)), [0, 1, 2], verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(np.ones((3, 5)), [0, 1, 0], batch_size=0, verbose=0)
    assert_unchanged(model, before)
    assert not model.built


@pytest.mark.parametrize("kwargs, argument", [
    (dict(optimizer="adamax"), "optimizer"),
    (dict(optimizer=42), "optimizer"),
    (dict(loss="cross_entropy"), "loss"),
    (dict(loss=None), "loss"),
    (dict(loss=3.0), "loss"),
    (dict(metrics=["precision_at_k"]), "metric"),
    (dict(metrics=[3]), "metric"),
])
def test_bad_compile_is_refused_and_keeps_the_old_settings(trained, kwargs, argument):
    model, x, y = trained
    before = snapshot(model)
    with pytest.raises((ValueError, TypeError), match=argument):
        model.compile(**{"optimizer": "sgd", "loss": "mse", **kwargs})
    assert_unchanged(model, before)
    assert model.loss.name == "sparse_categorical_crossentropy"
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)  # still trains as compiled
    assert model.optimizer.iterations == 2


@pytest.mark.parametrize("kwargs, argument", [
    (dict(activation="swish2"), "activation"),
    (dict(activation=3), "activation"),
    (dict(units=0), "units"),
    (dict(units=2.0), "units"),
    (dict(kernel_initializer="golden"), "initializer"),
    (dict(kernel_regularizer="l3"), "regularizer"),
])
def test_bad_layer_arguments(kwargs, argument):
    with pytest.raises((ValueError, TypeError), match=argument):
        nn.layers.Dense(**{"units": 3, **kwargs})


@pytest.mark.parametrize("kwargs, argument", [
    (dict(dtype="float16"), "dtype"), (dict(dtype="int32"), "dtype"),
    (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"),
    (dict(backend="cuda"), "backend"),
])
def test_bad_model_arguments(kwargs, argument):
    with pytest.raises((ValueError, TypeError), match=argument):
        nn.Sequential([nn.layers.Dense(2, input_dim=2)], **kwargs)


# --------------------------------------------------------------------------- shared layers, aliases
def test_a_layer_serves_one_model():
    """Adding one unbuilt layer to two models used to work, and building the second
    re-initialised the first one's weights."""
    shared = nn.layers.Dense(3, name="shared")
    first = nn.Sequential([shared], name="first")
    with pytest.raises(ValueError, match="'shared' already belongs to model 'first'"):
        nn.Sequential([shared])
    second = nn.Sequential()
    with pytest.raises(ValueError, match="already belongs"):
        second.add(shared)
    assert second.layers == []
    first.build(2)
    kernel = shared.kernel.copy()
    with pytest.raises(ValueError, match="already belongs to this model"):
        first.add(shared)
    assert np.array_equal(shared.kernel, kernel) and len(first.layers) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_weights_with_views_of_the_models_own_weights(backend):
    """Swapping two layers' kernels with views of them: applied one by one, the second
    assignment read what the first had already overwritten."""
    model = nn.Sequential([nn.layers.Dense(3, input_dim=3), nn.layers.Dense(3),
                           nn.layers.BatchNormalization()], seed=0, backend=backend)
    first, second, bn = model.layers
    bn.moving_mean[...] = [1.0, 2.0, 3.0]
    expected = [second.kernel.copy(), second.bias.copy(), first.kernel.copy(),
                first.bias.copy(), bn.gamma.copy(), bn.beta.copy(), bn.moving_variance.copy(),
                bn.moving_mean.copy()]
    model.set_weights([second.kernel, second.bias, first.kernel, first.bias, bn.gamma,
                       bn.beta, bn.moving_variance, bn.moving_mean])
    for got, want in zip(model.get_weights(), expected):
        assert np.array_equal(got, want)


# --------------------------------------------------------------------------- layer_outputs
def test_layer_outputs_are_every_layers_inference_output_as_owned_copies(backend):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 3)).astype(np.float32)
    model = nn.Sequential([nn.layers.Dense(5, input_dim=3, activation="relu"),
                           nn.layers.Dropout(0.5), nn.layers.BatchNormalization(),
                           nn.layers.Dense(2, activation="softmax")], seed=0,
                          backend=backend.name)
    outputs = model.layer_outputs(x)
    assert [o.shape for o in outputs] == [(7, 5), (7, 5), (7, 5), (7, 2)]
    first = model.layers[0]
    np.testing.assert_allclose(outputs[0], np.maximum(x @ first.kernel + first.bias, 0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(outputs[1], outputs[0])  # dropout is off at inference
    np.testing.assert_array_equal(outputs[-1], model.predict(x))
    again = model.layer_outputs(x[:3])  # the layers' buffers are reused: copies stay put
    np.testing.assert_array_equal(outputs[-1], model.predict(x))
    assert again[-1].shape == (3, 2)
