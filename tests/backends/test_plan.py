"""The native compiled training step (nncore.backends.native._kernels.DensePlan) refuses what would
make C read or write out of bounds, and computes the layer-by-layer result."""
import numpy as np
import pytest

from nncore.backends.base import ACTIVATION_CODES, LOSS_CODES


@pytest.fixture
def plan_and_arrays(native_ops):
    rng = np.random.default_rng(0)
    W1, b1 = rng.normal(size=(3, 4)).astype(np.float32), np.zeros(4, np.float32)
    W2 = rng.normal(size=(4, 2)).astype(np.float32)
    grads = [(np.empty_like(W1), np.empty_like(b1)), (np.empty_like(W2), None)]
    plan = native_ops.dense_plan([(W1, b1), (W2, None)], grads,
                                 [ACTIVATION_CODES["relu"], ACTIVATION_CODES["softmax"]],
                                 [0.0, 0.0], LOSS_CODES["sparse_categorical_crossentropy"],
                                 False, 1.0, True)
    return plan, (W1, b1, W2), grads


def test_plan_equals_the_backend_ops(plan_and_arrays, native_ops):
    plan, (W1, b1, W2), grads = plan_and_arrays
    X = np.arange(15, dtype=np.float32).reshape(5, 3) / 10
    labels = np.array([0, 1, 1, 0, 1])
    value, P = plan.train_step(X, labels, None)
    Z1, Y1 = native_ops.dense_forward(X, W1, b1, "relu")
    Z2, Y2 = native_ops.dense_forward(Y1, W2, None, "softmax")
    expected, dZ2 = native_ops.loss_and_grad("sparse_categorical_crossentropy", labels, Z2,
                                             from_logits=True)
    dY1, dW2, _ = native_ops.dense_backward(dZ2, Y1, W2, Z2, Y2, "linear", has_bias=False)
    _, dW1, db1 = native_ops.dense_backward(dY1, X, W1, Z1, Y1, "relu", need_dX=False)
    assert value == expected
    np.testing.assert_array_equal(P, Y2)
    for got, want in zip([grads[0][0], grads[0][1], grads[1][0]], [dW1, db1, dW2]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("X, T, sw, error", [
    (np.ones((5, 4), np.float32), np.zeros(5, np.int64), None, ValueError),   # width
    (np.ones((5, 3), np.float64), np.zeros(5, np.int64), None, TypeError),    # dtype
    (np.ones((3, 5), np.float32).T, np.zeros(5, np.int64), None, ValueError),  # strides
    (np.ones((5, 3), np.float32), np.zeros(4, np.int64), None, ValueError),   # labels
    (np.ones((5, 3), np.float32), np.full(5, 2, np.int64), None, ValueError),  # range
    (np.ones((5, 3), np.float32), np.zeros(5, np.int32), None, TypeError),    # int32
    (np.ones((5, 3), np.float32), np.zeros(5, np.int64), np.ones(4, np.float32), ValueError),
    (np.ones((0, 3), np.float32), np.zeros(0, np.int64), None, ValueError),   # empty
    ([[1.0, 2.0, 3.0]], [0], None, TypeError),                                # lists
    # the other byte order: the right values, stored so that C would misread them
    (np.ones((5, 3), np.float32).astype(">f4"), np.zeros(5, np.int64), None, TypeError),
    (np.ones((5, 3), np.float32), np.zeros(5, ">i8"), None, TypeError),
    (np.ones((5, 3), np.float32), np.zeros(5, np.int64), np.ones(5, ">f4"), TypeError),
])
def test_plan_refuses_bad_arrays_and_writes_nothing(plan_and_arrays, X, T, sw, error):
    plan, _, grads = plan_and_arrays
    before = [g.copy() for pair in grads for g in pair if g is not None]
    with pytest.raises(error):
        plan.train_step(X, T, sw)
    after = [g for pair in grads for g in pair if g is not None]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_plan_refuses_inconsistent_layers(native_ops):
    W1, W2 = np.ones((3, 4), np.float32), np.ones((5, 2), np.float32)
    g = [(np.ones_like(W1), None), (np.ones_like(W2), None)]
    with pytest.raises(ValueError, match="rows"):
        native_ops.dense_plan([(W1, None), (W2, None)], g, [0, 0], [0.0, 0.0], 0, False,
                              1.0, False)
    with pytest.raises(ValueError, match="activation"):
        native_ops.dense_plan([(W1, None)], g[:1], [99], [0.0], 0, False, 1.0, False)
    with pytest.raises(ValueError, match="dW"):
        native_ops.dense_plan([(W1, None)], [(np.ones((4, 3), np.float32), None)], [0],
                              [0.0], 0, False, 1.0, False)
    with pytest.raises(ValueError, match="delta"):
        native_ops.dense_plan([(W1, None)], g[:1], [0], [0.0], LOSS_CODES["huber"], False,
                              0.0, False)
