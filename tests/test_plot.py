"""nncore.plot draws what it computes: the curves are the NumPy definitions, the colored
plane is the model's prediction, the history curves are the logs (matplotlib's Agg
backend; matplotlib is in the test extra)."""
import numpy as np
import pytest

import nncore as nn

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is nncore's plot extra")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_activation_curves_are_the_definitions_and_their_derivatives():
    x = np.linspace(-4, 4, 81)
    value_ax, derivative_ax = nn.plot.activations(["sigmoid", "leaky_relu", "swish"], x=x)
    assert [line.get_label() for line in value_ax.lines] == ["sigmoid", "leaky_relu", "silu"]
    sigmoid = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(value_ax.lines[0].get_ydata(), sigmoid, rtol=1e-12)
    np.testing.assert_allclose(derivative_ax.lines[0].get_ydata(), sigmoid * (1 - sigmoid),
                               rtol=1e-12)
    np.testing.assert_allclose(derivative_ax.lines[1].get_ydata(), np.where(x > 0, 1, 0.2))
    everything, _ = nn.plot.activations()
    assert "softmax" not in [line.get_label() for line in everything.lines]


def test_decision_boundary_colors_the_plane_by_the_models_class():
    x, y = nn.datasets.make_xor()
    model = nn.Sequential([nn.layers.Dense(4, input_dim=2, activation="tanh"),
                           nn.layers.Dense(1, activation="sigmoid")], seed=1)
    model.compile(nn.optimizers.Adam(0.05), "binary_crossentropy")
    model.fit(x, y, epochs=300, batch_size=4, verbose=0)
    ax = nn.plot.decision_boundary(model, x, y, resolution=41, padding=0.0)
    (contour,) = [c for c in ax.collections if hasattr(c, "get_array")][:1]
    assert ax.get_xlim()[0] <= 0 and ax.get_xlim()[1] >= 1
    # The plane's class at the four samples is the model's: XOR.
    np.testing.assert_array_equal(nn.plot.predicted_classes(model.predict(x)), [0, 1, 1, 0])
    assert contour is not None
    with pytest.raises(ValueError, match="2 features"):
        nn.plot.decision_boundary(model, np.zeros((3, 3)))


def test_decision_boundary_of_a_softmax_model_takes_the_largest_output():
    P = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    np.testing.assert_array_equal(nn.plot.predicted_classes(P), [1, 0])


def test_history_plots_the_loss_curves():
    history = nn.callbacks.History()
    for epoch, (loss, val) in enumerate([(1.0, 1.1), (0.6, 0.8), (0.4, 0.7)]):
        history.on_epoch_end(epoch, {"loss": loss, "val_loss": val, "accuracy": 0.5})
    ax = nn.plot.history(history)
    assert [line.get_label() for line in ax.lines] == ["loss", "val_loss"]
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [1.1, 0.8, 0.7])


def test_gradients_plots_each_layers_norm_on_a_log_scale():
    x, y = nn.datasets.make_xor()
    model = nn.Sequential([nn.layers.Dense(4, input_dim=2, activation="sigmoid"),
                           nn.layers.Dense(1, activation="sigmoid")], seed=1)
    model.compile("adam", "binary_crossentropy")
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[nn.callbacks.GradientMonitor()])
    ax = nn.plot.gradients(history)
    assert [line.get_label() for line in ax.lines] == ["dense", "dense_1"]
    assert ax.get_yscale() == "log"
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), history.history["grad_norm/dense"])
    with pytest.raises(ValueError, match="GradientMonitor"):
        nn.plot.gradients(nn.callbacks.History())
