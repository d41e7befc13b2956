"""Weight penalties (nncore.regularizers): their values and gradients through the backend,
and their effect on a model: the reported loss includes the penalty, the step follows its
gradient, and training with L2 keeps weights smaller."""
import numpy as np
import pytest

import nncore as nn
from nncore import regularizers
from nncore.regularizers import L1, L1L2, L2

from conftest import FD_ATOL, FD_RTOL, assert_close, numerical_grad

#: sum |W| = 3.5 and sum W**2 = 1 + 4 + 0.25 = 5.25, by hand.
W_HAND = [[1.0, -2.0], [0.5, 0.0]]


# --------------------------------------------------------------------------- objects
def test_keras_defaults_and_lookup_by_name():
    assert (L1().l1, L1().l2) == (0.01, 0.0)
    assert (L2().l1, L2().l2) == (0.0, 0.01)
    assert (L1L2().l1, L1L2().l2) == (0.0, 0.0)
    for name, (l1, l2) in {"l1": (0.01, 0.0), "L2": (0.0, 0.01),
                           "l1_l2": (0.01, 0.01)}.items():
        reg = regularizers.get(name)
        assert isinstance(reg, L1L2) and (reg.l1, reg.l2) == (l1, l2)
    reg = L1L2(0.3, 0.4)
    assert regularizers.get(reg) is reg
    assert regularizers.get(None) is None
    assert repr(reg) == "L1L2(l1=0.3, l2=0.4)"


def test_serialize_round_trip():
    reg = L1L2(l1=0.25, l2=0.125)
    again = regularizers.get(regularizers.serialize(reg))
    assert (again.l1, again.l2) == (0.25, 0.125)
    assert regularizers.serialize(None) is None


@pytest.mark.parametrize("bad, exc", [("l3", ValueError), ("", ValueError), (0.01, ValueError),
                                      ({"l1": -1.0}, ValueError), ({"l4": 1.0}, TypeError)])
def test_unknown_or_bad_regularizers_are_refused(bad, exc):
    with pytest.raises(exc):
        regularizers.get(bad)


def test_negative_or_non_numeric_factors_are_refused_with_their_name():
    with pytest.raises(ValueError, match="l1"):
        L1(-0.1)
    with pytest.raises(ValueError, match="l2"):
        L2(float("nan"))
    with pytest.raises(TypeError, match="l2"):
        L2("0.1")


# --------------------------------------------------------------------------- backend values
@pytest.mark.parametrize("reg, value", [(L1(0.1), 0.35), (L2(0.01), 0.0525),
                                        (L1L2(0.1, 0.01), 0.4025), (L1L2(), 0.0)], ids=repr)
def test_penalty_values_by_hand(backend, dtype, reg, value):
    W = np.array(W_HAND, dtype=dtype)
    got = backend.regularization_loss(W, l1=reg.l1, l2=reg.l2)
    assert isinstance(got, float)
    assert_close(got, value, dtype)


@pytest.mark.parametrize("reg", [L1(0.1), L2(0.01), L1L2(0.1, 0.01)], ids=repr)
def test_penalty_gradient_by_hand(backend, dtype, reg):
    W = np.array(W_HAND, dtype=dtype)
    dW = np.full_like(W, 0.5)
    backend.add_regularization_grad(W, dW, l1=reg.l1, l2=reg.l2)
    # l1 * sign(W) + 2 * l2 * W, added to what was there; sign(0) = 0 (a subgradient).
    expected = 0.5 + reg.l1 * np.sign(W_HAND) + 2 * reg.l2 * np.array(W_HAND)
    assert_close(dW, expected, dtype)


def test_penalty_gradient_matches_finite_differences(backend):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 3))  # no zero entries: |w| is differentiable there
    reg = L1L2(0.3, 0.7)
    dW = np.zeros_like(W)
    backend.add_regularization_grad(W, dW, l1=reg.l1, l2=reg.l2)
    numeric = numerical_grad(lambda: backend.regularization_loss(W, l1=reg.l1, l2=reg.l2), W)
    np.testing.assert_allclose(dW, numeric, rtol=FD_RTOL, atol=FD_ATOL)


# --------------------------------------------------------------------------- in a model
def _model(backend, dtype, **dense_kwargs):
    model = nn.Sequential([nn.layers.Dense(2, input_dim=3, **dense_kwargs)], seed=0,
                          backend=backend, dtype=dtype)
    model.compile(nn.optimizers.SGD(learning_rate=0.1), "mse")
    W = np.array([[0.5, -1.0], [0.25, 0.0], [-0.75, 2.0]])
    b = np.array([0.1, -0.2])
    model.set_weights([W, b])
    return model, W, b


X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0], [0.0, 0.0, 1.0], [2.0, -1.0, 1.0]])
Y = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [-1.0, 2.0]])


@pytest.mark.parametrize("kernel_regularizer, bias_regularizer, penalty", [
    # sum W**2 = 0.25 + 1 + 0.0625 + 0 + 0.5625 + 4 = 5.875; sum |W| = 4.5;
    # sum b**2 = 0.05; sum |b| = 0.3.
    (L2(0.1), None, 0.1 * 5.875),
    ("l2", None, 0.01 * 5.875),
    (L1(0.2), None, 0.2 * 4.5),
    (L1L2(0.2, 0.1), L2(1.0), 0.2 * 4.5 + 0.1 * 5.875 + 1.0 * 0.05),
    (None, L1(0.5), 0.5 * 0.3),
])
def test_evaluate_reports_the_data_loss_plus_the_penalty(backend, dtype, kernel_regularizer,
                                                         bias_regularizer, penalty):
    model, W, b = _model(backend, dtype, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer)
    data_loss = np.mean((X @ W + b - Y) ** 2)
    loss = model.evaluate(X, Y, batch_size=2)  # two batches: the penalty counts once
    assert_close(loss, data_loss + penalty, dtype, scale=10.0)
    plain, _, _ = _model(backend, dtype)
    assert_close(loss - plain.evaluate(X, Y), penalty, dtype, scale=10.0)


def test_one_step_follows_the_penalised_gradient(backend, dtype):
    model, W, b = _model(backend, dtype, kernel_regularizer=L1L2(0.05, 0.1))
    loss = model.train_on_batch(X, Y)
    E = X @ W + b - Y
    n, d = E.shape
    dW = X.T @ (2 * E / (n * d)) + 0.05 * np.sign(W) + 2 * 0.1 * W
    db = (2 * E / (n * d)).sum(axis=0)  # no bias regularizer: plain gradient
    new_W, new_b = model.get_weights()
    assert_close(loss, np.mean(E ** 2) + 0.05 * 4.5 + 0.1 * 5.875, dtype, scale=10.0)
    assert_close(new_W, W - 0.1 * dW, dtype, scale=10.0)
    assert_close(new_b, b - 0.1 * db, dtype, scale=10.0)


def test_model_gradient_with_penalty_matches_finite_differences(backend):
    rng = np.random.default_rng(1)
    model = nn.Sequential([
        nn.layers.Dense(4, input_dim=3, activation="tanh", kernel_regularizer=L1L2(0.02, 0.3),
                        bias_regularizer=L2(0.2)),
        nn.layers.Dense(2, kernel_regularizer=L2(0.5))], seed=3, backend=backend,
        dtype="float64")
    model.compile(nn.optimizers.SGD(learning_rate=1.0), "mse")
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    weights = model.get_weights()
    numeric = []
    for w in weights:
        def f(w=w):
            model.set_weights(weights)
            return model.evaluate(x, y, batch_size=5)
        numeric.append(numerical_grad(f, w))
    model.set_weights(weights)
    model.train_on_batch(x, y)  # SGD with lr 1: w_new = w - grad
    for old, new, num in zip(weights, model.get_weights(), numeric):
        np.testing.assert_allclose(old - new, num, rtol=FD_RTOL, atol=FD_ATOL)


def test_training_with_l2_converges_to_ridge_regression_and_shrinks_weights(backend):
    # A linear model without bias trained on mse + l2 * |W|**2 has a closed-form optimum,
    # ridge regression: W = (X.T X / n + l2 I)^-1 X.T y / n (the gradient
    # 2 X.T (X W - y) / n + 2 l2 W vanishes there). Full-batch SGD with lr 0.1 contracts
    # the error by at least 1 - 0.2 * lambda_min(X.T X / n) ~ 0.93 per step here, so 400
    # steps bring it far below the 1e-6 asked.
    rng = np.random.default_rng(0)
    n, k, l2 = 64, 10, 0.5
    x = rng.standard_normal((n, k))
    y = x @ rng.standard_normal((k, 1)) * 3.0 + 0.1 * rng.standard_normal((n, 1))

    def trained(reg):
        model = nn.Sequential([nn.layers.Dense(1, input_dim=k, use_bias=False,
                                               kernel_regularizer=reg)],
                              seed=5, backend=backend, dtype="float64")
        model.compile(nn.optimizers.SGD(0.1), "mse")
        model.fit(x, y, epochs=400, batch_size=n, verbose=0)
        return model.get_weights()[0]

    ridge = np.linalg.solve(x.T @ x / n + l2 * np.eye(k), x.T @ y / n)
    least_squares = np.linalg.lstsq(x, y, rcond=None)[0]
    plain, penalised = trained(None), trained(L2(l2))
    np.testing.assert_allclose(penalised, ridge, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(plain, least_squares, rtol=1e-6, atol=1e-9)
    assert np.linalg.norm(penalised) < 0.9 * np.linalg.norm(plain)


def test_regularizers_survive_a_layer_config_round_trip():
    layer = nn.layers.Dense(3, kernel_regularizer=L1L2(0.1, 0.2), bias_regularizer="l1")
    again = nn.layers.deserialize(nn.layers.serialize(layer))
    assert (again.kernel_regularizer.l1, again.kernel_regularizer.l2) == (0.1, 0.2)
    assert (again.bias_regularizer.l1, again.bias_regularizer.l2) == (0.01, 0.0)
