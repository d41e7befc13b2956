"""The model's fast training step equals the op-by-op path, and allocates nothing once warm.

``Sequential`` trains on a flat parameter buffer and calls the backend's kernels
directly. Here the same steps are replayed through the public, validated backend ops,
one weight array at a time (the slow, obviously-right path), on each backend, for every
optimizer, several activations and every loss.
"""
import tracemalloc

import numpy as np
import pytest

import nncore as nn
from conftest import BACKENDS, assert_close

OPTIMIZERS = {
    "sgd": (lambda: nn.optimizers.SGD(0.1), "sgd_update", {"learning_rate": 0.1}, ()),
    "momentum": (lambda: nn.optimizers.SGD(0.1, momentum=0.9), "sgd_update",
                 {"learning_rate": 0.1, "momentum": 0.9}, ("velocity",)),
    "nesterov": (lambda: nn.optimizers.SGD(0.1, momentum=0.9, nesterov=True), "sgd_update",
                 {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, ("velocity",)),
    "adagrad": (lambda: nn.optimizers.Adagrad(0.1), "adagrad_update",
                {"learning_rate": 0.1}, ("accumulator",)),
    "rmsprop": (lambda: nn.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
                "rmsprop_update", {"learning_rate": 0.01, "momentum": 0.5, "centered": True},
                ("velocity", "momentum_buffer", "average_gradient")),
    "adam": (lambda: nn.optimizers.Adam(0.01), "adam_update", {"learning_rate": 0.01},
             ("m", "v")),
    "amsgrad": (lambda: nn.optimizers.Adam(0.01, amsgrad=True), "adam_update",
                {"learning_rate": 0.01, "amsgrad": True}, ("m", "v", "vhat")),
    "adamw": (lambda: nn.optimizers.AdamW(0.01, weight_decay=0.1), "adam_update",
              {"learning_rate": 0.01, "weight_decay": 0.1}, ("m", "v", "vhat")),
}
# (hidden activations, output activation, loss, fused into logits by the model)
HEADS = [
    (("relu", "tanh"), "softmax", "sparse_categorical_crossentropy", True),
    (("sigmoid", "elu"), "softmax", "categorical_crossentropy", True),
    (("leaky_relu", "gelu"), "sigmoid", "binary_crossentropy", True),
    (("softplus", "relu"), "linear", "mse", False),
    (("tanh", "linear"), "linear", "huber", False),
    (("relu", "sigmoid"), "linear", "mae", False),
]


def _data(rng, loss, units, n=7):
    x = rng.normal(size=(n, 5))
    if loss == "sparse_categorical_crossentropy":
        return x, rng.integers(0, units, n)
    if loss == "categorical_crossentropy":
        return x, np.eye(units)[rng.integers(0, units, n)]
    if loss == "binary_crossentropy":
        return x, rng.integers(0, 2, (n, units)).astype(float)
    return x, rng.normal(size=(n, units))


def _reference_steps(ops, weights, acts, loss, fused, x, y, opt, steps, dtype):
    """The same training, through public ops only, one array at a time."""
    _, update, kwargs, slot_names = OPTIMIZERS[opt]
    W = [w.astype(dtype).copy() for w in weights]
    # Keras starts Adagrad's accumulator at initial_accumulator_value = 0.1.
    slots = [{s: np.full_like(w, 0.1 if s == "accumulator" else 0.0) for s in slot_names}
             for w in W]
    x = x.astype(dtype)
    y = y if loss == "sparse_categorical_crossentropy" else y.astype(dtype)
    for step in range(1, steps + 1):
        cache, A = [], x
        for i, act in enumerate(acts):
            Z, Y = ops.dense_forward(A, W[2 * i], W[2 * i + 1], act)
            cache.append((A, Z, Y))
            A = Y
        out = cache[-1][1] if fused else A
        _, dA = ops.loss_and_grad(loss, y, out, from_logits=fused)
        grads = [None] * len(W)
        for i in reversed(range(len(acts))):
            A_in, Z, Y = cache[i]
            act = "linear" if (fused and i == len(acts) - 1) else acts[i]
            dA, grads[2 * i], grads[2 * i + 1] = ops.dense_backward(
                dA, A_in, W[2 * i], Z, Y, act, need_dX=i > 0)
        for w, g, s in zip(W, grads, slots):
            extra = {"step": step} if update == "adam_update" else {}
            state = [s.get(k) for k in slot_names]
            getattr(ops, update)(w, g, *state, **kwargs, **extra)
    return W


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("head", HEADS, ids=[h[2] for h in HEADS])
def test_fast_step_equals_op_by_op_path(backend_name, opt, head):
    hidden, out_act, loss, fused = head
    units = 1 if loss == "binary_crossentropy" else 3
    rng = np.random.default_rng(7)
    x, y = _data(rng, loss, units)
    model = nn.Sequential([nn.layers.Dense(6, input_dim=5, activation=hidden[0]),
                           nn.layers.Dense(4, activation=hidden[1]),
                           nn.layers.Dense(units, activation=out_act)],
                          seed=3, backend=backend_name, dtype="float64")
    model.compile(OPTIMIZERS[opt][0](), loss)
    start = model.get_weights()
    for _ in range(3):
        model.train_on_batch(x, y)
    expected = _reference_steps(nn.get_backend(backend_name), start,
                                list(hidden) + [out_act], nn.losses.get(loss).name, fused,
                                x, y, opt, 3, np.float64)
    for got, want in zip(model.get_weights(), expected):
        assert_close(got, want, np.float64)


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_fast_step_native_equals_numpy_float32(native_ops, opt):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 5)).astype(np.float32), rng.integers(0, 3, 16)
    weights = {}
    for name in ("native", "numpy"):
        model = nn.Sequential([nn.layers.Dense(8, input_dim=5, activation="relu"),
                               nn.layers.Dense(3, activation="softmax")], seed=0, backend=name)
        model.compile(OPTIMIZERS[opt][0](), "sparse_categorical_crossentropy")
        for _ in range(20):
            model.train_on_batch(x, y)
        weights[name] = model.get_weights()
    for a, b in zip(weights["native"], weights["numpy"]):
        # 20 steps compound float32 rounding differences of the two summation orders;
        # the weights are O(1), so 1e-4 absolute is ~1000 ulps of slack over 20 steps.
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_parameters_live_in_one_flat_buffer():
    model = nn.Sequential([nn.layers.Dense(4, input_dim=3, activation="relu"),
                           nn.layers.Dense(2)], seed=0)
    flat = model._flat
    assert flat.size == model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    for layer in model.layers:
        for p in layer.params:
            assert np.shares_memory(p, flat)
    model.layers[0].kernel[0, 0] = 42.0  # the layer's array is the buffer itself
    assert flat[0] == 42.0


def test_frozen_layers_are_not_updated_and_runs_split():
    model = nn.Sequential([nn.layers.Dense(4, input_dim=3), nn.layers.Dense(4),
                           nn.layers.Dense(2)], seed=0)
    model.compile(nn.optimizers.Adam(0.1), "mse")
    model.layers[1].trainable = False
    frozen = [w.copy() for w in model.layers[1].get_weights()]
    x, y = np.ones((5, 3)), np.zeros((5, 2))
    model.train_on_batch(x, y)
    assert model._trainable_runs() == ((0, 16), (36, 46))
    for before, after in zip(frozen, model.layers[1].get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.array_equal(model.layers[0].get_weights()[0], model.layers[2].kernel[:3, :2])


def test_warm_training_step_allocates_no_arrays(native_ops):
    """A steady-state step of fit's inner loop allocates nothing of array size.

    tracemalloc's peak over many steps is compared with the smallest batch-sized array
    of this step, the 256 x 10 float32 logits (10,240 bytes). The Cython wrappers do
    create small transient objects (a memoryview per array argument, ~150 bytes each,
    about 5 KB alive at the peak); any array the step allocated would exceed the bound.
    """
    rng = np.random.default_rng(0)
    x = rng.random((256, 784), dtype=np.float32)
    y = rng.integers(0, 10, 256)
    model = nn.Sequential([nn.layers.Dense(256, input_dim=784, activation="relu"),
                           nn.layers.Dense(128, activation="relu"),
                           nn.layers.Dense(10, activation="softmax")], seed=0)
    model.compile(nn.optimizers.Adam(), "sparse_categorical_crossentropy")
    X, Y, sw = model._prepare(x, y)
    for _ in range(3):
        model._train_step(X, Y, sw)
    smallest_array = 256 * 10 * 4
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(50):
            model._train_step(X, Y, sw)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base < smallest_array, f"a warm step allocated {peak - base} bytes at peak"
    assert current - base < smallest_array, f"{current - base} bytes stayed after 50 steps"


def test_native_dense_stacks_train_through_the_compiled_plan(native_ops):
    dense = nn.Sequential([nn.layers.Dense(4, input_dim=3, activation="relu"),
                           nn.layers.Dense(2, activation="softmax")], seed=0)
    dense.compile("adam", "sparse_categorical_crossentropy")
    assert type(dense._dense_plan()).__module__ == "nncore.backends.native._kernels"
    mixed = nn.Sequential([nn.layers.Dense(4, input_dim=3), nn.layers.Dropout(0.5),
                           nn.layers.Dense(2)], seed=0)
    mixed.compile("adam", "mse")
    assert mixed._dense_plan() is None
    numpy_model = nn.Sequential([nn.layers.Dense(2, input_dim=3)], seed=0, backend="numpy")
    numpy_model.compile("sgd", "mse")
    # The numpy backend's plan is the readable definition of the compiled one.
    assert type(numpy_model._dense_plan()).__module__ == "nncore.backends.numpy_backend.plan"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("head", HEADS, ids=[h[2] for h in HEADS])
@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_plan_is_bit_identical_to_the_layer_path(backend, monkeypatch, dtype, head):
    """The plan calls the same kernels in the same order as the layers do, on either
    backend."""
    hidden, out_act, loss, _ = head
    units = 1 if loss == "binary_crossentropy" else 3
    x, y = _data(np.random.default_rng(5), loss, units, n=9)
    sw = np.linspace(0.5, 1.5, 9)
    weights = {}
    for path in ("plan", "layers"):
        model = nn.Sequential([nn.layers.Dense(6, input_dim=5, activation=hidden[0]),
                               nn.layers.Dense(4, activation=hidden[1],
                                               kernel_regularizer="l2"),
                               nn.layers.Dense(units, activation=out_act, use_bias=False)],
                              seed=2, dtype=dtype, backend=backend)
        model.compile(nn.optimizers.Adam(0.01), loss)
        if path == "layers":
            monkeypatch.setattr(model, "_dense_plan", lambda: None)
        losses = [model.train_on_batch(x, y, sample_weight=sw) for _ in range(3)]
        weights[path] = (losses, model.get_weights())
    assert weights["plan"][0] == weights["layers"][0]
    for a, b in zip(weights["plan"][1], weights["layers"][1]):
        np.testing.assert_array_equal(a, b)


def test_stacks_deeper_than_a_plan_train_layer_by_layer(native_ops):
    from nncore.backends.native import _kernels

    depth = _kernels.MAX_PLAN_LAYERS + 1
    model = nn.Sequential([nn.layers.Dense(2, input_dim=2)] +
                          [nn.layers.Dense(2) for _ in range(depth - 1)], seed=0)
    model.compile(nn.optimizers.SGD(0.01), "mse")
    assert model._dense_plan() is None
    loss = model.train_on_batch(np.ones((3, 2)), np.zeros((3, 2)))
    assert np.isfinite(loss)
