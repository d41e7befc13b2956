"""Every public op of the Backend interface (nncore/backends/base.py) refuses an output,
or an array it updates in place, that shares memory with another argument (issue 14,
item 3): the kernels read some of their inputs after writing outputs, so an alias gives
wrong numbers without an error. Each case must raise a ValueError naming both
arguments. The exact in-place forms the ops document (activation ``out=Z``,
``out=dY``, ``work_dZ=dY``, batch norm ``out_dX=dY``) stay allowed."""
import numpy as np
import pytest

N = 4  # every dimension: square arrays, so any two 2-D arguments could be the same one


def _a(dtype, shape=(N, N), seed=0, low=0.1, high=0.9):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def _shifted(dtype, shape=(N, N)):
    """Two arrays of ``shape`` in one buffer, the second one row (or element) later."""
    buf = _a(dtype, (shape[0] + 1,) + shape[1:])
    return buf[:-1], buf[1:]


CASES = {}


def case(f):
    """Register a case: f(ops, dtype) returns (the aliased call, the two names)."""
    CASES[f.__name__] = f
    return f


@case
def activation_out_shifted_over_Z(ops, dt):
    Z, out = _shifted(dt)
    return lambda: ops.activation("relu", Z, out=out), ("out", "Z")


@case
def activation_backward_out_is_Z(ops, dt):
    dY, Z = _a(dt), _a(dt, seed=1)
    return lambda: ops.activation_backward("tanh", dY, Z, np.tanh(Z), out=Z), ("out", "Z")


@case
def activation_backward_out_is_Y(ops, dt):
    dY, Z = _a(dt), _a(dt, seed=1)
    Y = np.tanh(Z)
    return lambda: ops.activation_backward("tanh", dY, Z, Y, out=Y), ("out", "Y")


@case
def dense_forward_Z_is_W(ops, dt):
    X, W = _a(dt), _a(dt, seed=1)
    return lambda: ops.dense_forward(X, W, None, "relu", out_Z=W), ("out_Z", "W")


@case
def dense_forward_Z_shifted_over_X(ops, dt):
    X, Z = _shifted(dt)
    return lambda: ops.dense_forward(X, _a(dt, seed=1), out_Z=Z), ("out_Z", "X")


@case
def dense_forward_Y_is_X(ops, dt):
    X = _a(dt)
    return lambda: ops.dense_forward(X, _a(dt, seed=1), None, "relu", out_Y=X), \
        ("out_Y", "X")


@case
def dense_forward_Y_in_b(ops, dt):
    b = np.zeros(N * N, dt)
    return lambda: ops.dense_forward(_a(dt), _a(dt, seed=1), b[:N], "relu",
                                     out_Y=b.reshape(N, N)), ("out_Y", "b")


def _backward_args(dt):
    X, W, dY = _a(dt), _a(dt, seed=1), _a(dt, seed=2)
    Z = X @ W
    return dY, X, W, Z, np.tanh(Z)


@case
def dense_backward_dW_is_W(ops, dt):
    args = _backward_args(dt)
    return lambda: ops.dense_backward(*args, "tanh", out_dW=args[2]), ("out_dW", "W")


@case
def dense_backward_dX_is_X(ops, dt):
    args = _backward_args(dt)
    return lambda: ops.dense_backward(*args, "tanh", out_dX=args[1]), ("out_dX", "X")


@case
def dense_backward_dZ_is_Z(ops, dt):
    args = _backward_args(dt)
    return lambda: ops.dense_backward(*args, "tanh", work_dZ=args[3]), ("work_dZ", "Z")


@case
def dense_backward_db_in_dW(ops, dt):
    args = _backward_args(dt)
    dW = np.zeros((N, N), dt)
    return lambda: ops.dense_backward(*args, "tanh", out_dW=dW, out_db=dW.reshape(-1)[1:N + 1]), \
        ("out_db", "out_dW")


@case
def loss_grad_is_y_pred(ops, dt):
    P = _a(dt)
    return lambda: ops.loss_and_grad("mse", _a(dt, seed=1), P, out=P), ("out", "y_pred")


@case
def loss_grad_shifted_over_y_true(ops, dt):
    T, out = _shifted(dt)
    return lambda: ops.loss_and_grad("mse", T, _a(dt, seed=1), out=out), ("out", "y_true")


def _bn_args(dt):
    return _a(dt), np.ones(N, dt), np.zeros(N, dt), np.zeros(N, dt), np.ones(N, dt)


@case
def batch_norm_out_is_X(ops, dt):
    args = _bn_args(dt)
    return lambda: ops.batch_norm_forward(*args, training=True, out=args[0]), ("out", "X")


@case
def batch_norm_moving_mean_is_gamma(ops, dt):
    X, gamma, beta, _, var = _bn_args(dt)
    return lambda: ops.batch_norm_forward(X, gamma, beta, gamma, var, training=True), \
        ("moving_mean", "gamma")


@case
def batch_norm_inv_std_is_moving_variance(ops, dt):
    args = _bn_args(dt)
    return lambda: ops.batch_norm_forward(*args, training=True, out_inv_std=args[4]), \
        ("out_inv_std", "moving_variance")


def _bn_backward_args(dt):
    return _a(dt), _a(dt, seed=1) - 0.5, np.ones(N, dt), np.ones(N, dt)


@case
def batch_norm_backward_dgamma_is_gamma(ops, dt):
    args = _bn_backward_args(dt)
    return lambda: ops.batch_norm_backward(*args, out_dgamma=args[2]), ("out_dgamma", "gamma")


@case
def batch_norm_backward_dX_is_xhat(ops, dt):
    args = _bn_backward_args(dt)
    return lambda: ops.batch_norm_backward(*args, out_dX=args[1]), ("out_dX", "xhat")


@case
def sgd_velocity_is_param(ops, dt):
    w = _a(dt, (N,))
    return lambda: ops.sgd_update(w, _a(dt, (N,), 1), w, learning_rate=0.1, momentum=0.9), \
        ("velocity", "param")


@case
def sgd_grad_is_param(ops, dt):
    w = _a(dt, (N,))
    return lambda: ops.sgd_update(w, w, learning_rate=0.1), ("param", "grad")


@case
def adagrad_accumulator_is_grad(ops, dt):
    g = _a(dt, (N,), 1)
    return lambda: ops.adagrad_update(_a(dt, (N,)), g, g, learning_rate=0.1), \
        ("accumulator", "grad")


@case
def rmsprop_momentum_is_velocity(ops, dt):
    v = np.zeros(N, dt)
    return lambda: ops.rmsprop_update(_a(dt, (N,)), _a(dt, (N,), 1), v, v,
                                      learning_rate=0.1, momentum=0.9), \
        ("momentum_buffer", "velocity")


@case
def adam_m_is_v(ops, dt):
    m = np.zeros(N, dt)
    return lambda: ops.adam_update(_a(dt, (N,)), _a(dt, (N,), 1), m, m, step=1,
                                   learning_rate=0.1), ("v", "m")


@case
def adam_vhat_shifted_over_param(ops, dt):
    w, vhat = _shifted(dt, (N,))
    return lambda: ops.adam_update(w, _a(dt, (N,), 1), np.zeros(N, dt), np.zeros(N, dt),
                                   vhat, step=1, learning_rate=0.1, amsgrad=True), \
        ("vhat", "param")


@case
def regularization_grad_dW_is_W(ops, dt):
    W = _a(dt)
    return lambda: ops.add_regularization_grad(W, W, l2=0.1), ("dW", "W")


@case
def global_norm_clip_same_array_twice(ops, dt):
    g = _a(dt) * 10
    return lambda: ops.clip_by_global_norm([_a(dt, seed=1), g, g], 1.0), \
        ("grads[2]", "grads[1]")


@case
def global_norm_clip_overlapping_views(ops, dt):
    buf = _a(dt, (3 * N,)) * 10
    return lambda: ops.clip_by_global_norm([buf[N:], buf[:N + 1]], 1.0), \
        ("grads[1]", "grads[0]")


@pytest.mark.parametrize("name", list(CASES))
def test_aliased_arguments_are_refused(backend, dtype, name):
    from nncore.backends import get_backend
    ops = get_backend(backend)
    call, (first, second) = CASES[name](ops, np.dtype(dtype))
    with pytest.raises(ValueError, match="must not share memory with") as info:
        call()
    message = str(info.value)
    assert first in message and second in message, message


def test_documented_in_place_forms_stay_allowed(backend, dtype):
    from nncore.backends import get_backend
    ops = get_backend(backend)
    Z = _a(dtype) - 0.5
    want = np.maximum(Z, 0)
    np.testing.assert_array_equal(ops.activation("relu", Z, out=Z), want)
    dY = _a(dtype)
    want = dY * (1 - np.tanh(Z) ** 2)
    got = ops.activation_backward("tanh", dY, Z, np.tanh(Z), out=dY)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    g = [_a(dtype, seed=1), _a(dtype, seed=2)]
    ops.clip_by_global_norm(g, 0.5)  # distinct arrays are fine
    assert np.isclose(ops.global_norm(g), 0.5, rtol=1e-5)
