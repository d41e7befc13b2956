"""nncore.finite_differences: central differences in float64 accept a right gradient and refuse a
wrong one, naming what was checked."""
import numpy as np
import pytest

from nncore.finite_differences import check_gradient, numerical_gradient, relative_error


def test_numerical_gradient_of_a_known_function():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    expected = np.cos(x ** 2) * 2 * x  # d/dx sin(x**2)
    np.testing.assert_allclose(numerical_gradient(lambda x: float(np.sin(x ** 2).sum()), x),
                               expected, rtol=1e-8)
    assert x[0, 0] == 0.3  # restored


def test_check_gradient_accepts_the_right_gradient_and_refuses_a_wrong_one():
    x = np.linspace(-2, 2, 6).reshape(2, 3)
    f = lambda x: float(np.sum(np.tanh(x)))  # noqa: E731
    assert check_gradient("tanh", f, lambda x: 1 - np.tanh(x) ** 2, x) < 1e-8
    with pytest.raises(ValueError, match="The gradient of tanh does not match"):
        check_gradient("tanh", f, lambda x: 1 - np.tanh(x), x)
    with pytest.raises(ValueError, match="must have the shape of its input"):
        check_gradient("tanh", f, lambda x: np.ones(3), x)
    with pytest.raises(ValueError, match="does not match"):
        check_gradient("tanh", f, lambda x: np.full(x.shape, np.nan), x)


def test_relative_error_is_absolute_for_small_derivatives():
    assert relative_error(np.array([1e-9]), np.array([0.0])) == 1e-9
    assert relative_error(np.array([101.0]), np.array([100.0])) == pytest.approx(0.01)


# --------------------------------------------------------------------------- gradcheck
import nncore as nn  # noqa: E402


def _every_layer_model(backend):
    return nn.Sequential([
        nn.layers.Dense(5, input_dim=3, activation="tanh",
                        kernel_regularizer=nn.regularizers.L1L2(0.01, 0.02)),
        nn.layers.BatchNormalization(),
        nn.layers.Dropout(0.3),
        nn.layers.Dense(4, activation=nn.layers.LeakyReLU(0.1), use_bias=False),
        nn.layers.Activation("softplus"),
        nn.layers.Dense(3, activation="softmax")], seed=2, backend=backend)


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_gradcheck_finds_every_layer_right(backend):
    if backend == "native" and not nn.backends.native_available():
        pytest.skip("the native extension is not built")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 3, 6)
    model = _every_layer_model(backend)
    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.get_weights()
    errors = nn.gradcheck(model, x, y, sample_weight=rng.uniform(0.5, 2, 6))
    assert set(errors) == {"dense", "batch_normalization", "dense_1", "dense_2"}
    assert max(errors.values()) < 1e-6, errors  # float64 central differences: ~1e-9
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # the model itself is untouched


def test_gradcheck_catches_a_wrong_backward(monkeypatch):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    model = nn.Sequential([nn.layers.Dense(4, input_dim=3, activation="tanh"),
                           nn.layers.Activation("sigmoid"), nn.layers.Dense(2)],
                          seed=0, backend="numpy")
    model.compile("sgd", "mse")
    right = nn.gradcheck(model, x, y)
    original = nn.layers.Activation.backward

    def halved(self, dY, need_dX):  # a chain-rule mistake in one layer
        dX = original(self, dY, need_dX)
        return None if dX is None else dX * 0.5

    monkeypatch.setattr(nn.layers.Activation, "backward", halved)
    wrong = nn.gradcheck(model, x, y)
    assert wrong["dense"] > 1e-3 > 1e-6 > right["dense"]
    assert wrong["dense_1"] < 1e-6  # the layers after the mistake are still right
    with pytest.raises(TypeError, match="compiled Sequential"):
        nn.gradcheck(nn.Sequential([nn.layers.Dense(1, input_dim=2)]), x[:, :2], y)
