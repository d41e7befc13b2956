"""nncore.activations against Keras 3 (on PyTorch, float64): every activation Keras has,
its values and its gradient (torch.autograd through Keras's op), on both backends.

The oracle tests skip, with the reason, when keras or torch is not installed."""
import os

import numpy as np
import pytest

import nncore as nn
from nncore.backends.base import ACTIVATIONS

os.environ.setdefault("KERAS_BACKEND", "torch")

#: nncore's name -> Keras 3's: every activation but the perceptron's step, which Keras
#: does not have. swish is silu's other name in both libraries.
KERAS_NAMES = {name: name for name in ACTIVATIONS if name != "step"} | {"swish": "swish"}


def _keras():
    pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras runs on another backend in this process")
    return keras


def _inputs():
    """(4, 50) values in [-8, 8] and the exact kinks of relu, relu6, hard_sigmoid. Below
    |z| = 20: PyTorch's softplus (and so its mish) returns z itself past 20, which is
    1e-9 off; inside it the two agree to rounding."""
    rng = np.random.default_rng(0)
    Z = rng.uniform(-8, 8, size=(4, 50))
    Z[0, :6] = [0.0, 6.0, -3.0, 3.0, -1e-3, 1e-3]
    return Z


def _keras_values_and_gradient(keras, name, Z, G):
    import torch

    z = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    y = keras.activations.get(name)(z)
    (y * torch.tensor(G)).sum().backward()
    return y.detach().numpy(), z.grad.numpy()


@pytest.mark.parametrize("name", sorted(KERAS_NAMES))
def test_activation_values_and_gradients_match_keras(backend, name):
    keras = _keras()
    Z = _inputs()
    G = np.random.default_rng(1).standard_normal(Z.shape)
    y_keras, dz_keras = _keras_values_and_gradient(keras, KERAS_NAMES[name], Z, G)
    with nn.use_backend(backend.name):
        y = getattr(nn.activations, name)(Z)
    canonical = nn.activations.get(name)
    dz = backend.activation_backward(canonical, G, Z, y)
    # float64 on both sides; the formulas differ only in rounding, except PyTorch's GELU,
    # (1 + erf(z / sqrt 2)) / 2, which cancels in the left tail where nncore's erfc form
    # does not: hence the absolute floor, 1e-13 (values there are below 1e-14).
    np.testing.assert_allclose(y, y_keras, rtol=1e-12, atol=1e-13)
    kinks = np.zeros(Z.shape, bool)
    kinks[0, :4] = True  # relu6, hard_sigmoid: the one-sided conventions may differ there
    # PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32 even in float64
    # (0.1666666716..., 3e-8 above 1/6); nncore's is 1/6 in the array's type.
    rtol = 3.5e-8 if name == "hard_sigmoid" else 1e-12
    np.testing.assert_allclose(dz[~kinks], dz_keras[~kinks], rtol=rtol, atol=1e-13)


@pytest.mark.parametrize("name", ["relu", "relu6", "hard_sigmoid", "leaky_relu"])
def test_gradients_at_the_kinks_match_keras(backend, name):
    """At z = 0 (and 6, and +-3) nncore takes the derivative PyTorch's Keras takes."""
    keras = _keras()
    Z = np.array([[0.0, 6.0, -3.0, 3.0]])
    G = np.ones_like(Z)
    _, dz_keras = _keras_values_and_gradient(keras, name, Z, G)
    y = backend.activation(name, Z)
    dz = backend.activation_backward(name, G, Z, y)
    np.testing.assert_array_equal(dz == 0, dz_keras == 0)  # which side of each kink
    np.testing.assert_allclose(dz, dz_keras, rtol=3.5e-8)  # torch's float32 1/6, as above


def test_swish_is_silu():
    assert nn.activations.get("swish") == "silu"
    assert nn.activations.get(nn.activations.swish) == "silu"
    x = np.linspace(-4, 4, 9)
    np.testing.assert_array_equal(nn.activations.swish(x), nn.activations.silu(x))


# --------------------------------------------------------------------------- your own
def _tanh_pair():
    return (lambda x: np.tanh(x), lambda x: 1 - np.tanh(x) ** 2)


def _classifier(backend, hidden, extra=()):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((24, 3))
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Sequential([nn.layers.Dense(5, input_dim=3, activation=hidden), *extra,
                           nn.layers.Dense(2, activation="softmax")], seed=0,
                          dtype="float64", backend=backend.name)
    model.compile(nn.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    return model.get_weights()


def test_a_custom_activation_trains_as_the_built_in_it_restates(backend):
    class MyTanh(nn.activations.CustomActivation):
        def call(self, x):
            return np.tanh(x)

        def gradient(self, x):
            return 1 - np.tanh(x) ** 2

    reference = _classifier(backend, "tanh")
    for hidden, extra in ((_tanh_pair(), ()), (MyTanh(), ()),
                          (None, (nn.layers.Activation(MyTanh()),))):
        for a, b in zip(_classifier(backend, hidden, extra), reference):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_a_wrong_custom_derivative_is_refused_when_the_layer_is_made():
    with pytest.raises(ValueError, match=r"gradient of activation 'cube' does not match"):
        nn.layers.Dense(3, activation=nn.activations.CustomActivation(
            lambda x: x ** 3, lambda x: 2 * x ** 2, name="cube"))
    with pytest.raises(ValueError, match="built-in activation"):
        nn.activations.CustomActivation(np.tanh, np.cosh, name="tanh")
    with pytest.raises(ValueError, match="must return an array of its input's shape"):
        nn.layers.Dense(3, activation=(lambda x: x.sum(), lambda x: x))


def test_a_model_with_a_custom_activation_is_not_stored_but_its_weights_are(tmp_path):
    model = nn.Sequential([nn.layers.Dense(3, input_dim=2, activation=_tanh_pair())], seed=0)
    with pytest.raises(TypeError, match="activations of your own"):
        model.save(tmp_path / "m.nnc")
    model.save_weights(tmp_path / "m.weights.nnc")
    twin = nn.Sequential([nn.layers.Dense(3, input_dim=2, activation=_tanh_pair())], seed=9)
    twin.load_weights(tmp_path / "m.weights.nnc")
    x = np.ones((2, 2), np.float32)
    np.testing.assert_array_equal(twin.predict(x), model.predict(x))
