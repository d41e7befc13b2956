"""Batch normalization on both backends: native against the NumPy oracle, values worked out
by hand, finite-difference gradients, in-place moving statistics, and refused arguments."""
import math

import numpy as np
import pytest

from conftest import FD_ATOL, FD_RTOL, assert_close, numerical_grad

SHAPES = [(1, 3), (17, 5), (257, 33), (3, 1), (9, 517)]  # 517 columns: 3 blocks of the C loop
EPS = 1e-3


def _data(shape, dtype, seed=0, loc=0.5, spread=2.0):
    """X (n, d) and gamma, beta, moving_mean, moving_variance (d,) of one dtype."""
    rng = np.random.default_rng(seed)
    n, d = shape
    X = (loc + spread * rng.standard_normal((n, d))).astype(dtype)
    gamma = (1.0 + 0.5 * rng.standard_normal(d)).astype(dtype)
    beta = rng.standard_normal(d).astype(dtype)
    moving_mean = rng.standard_normal(d).astype(dtype)
    moving_variance = (0.5 + rng.random(d)).astype(dtype)
    return X, gamma, beta, moving_mean, moving_variance


def _forward(ops, X, gamma, beta, moving_mean, moving_variance, training, momentum=0.9):
    """Forward on copies of the moving statistics; returns (Y, xhat, inv_std, mm, mv)."""
    mm, mv = moving_mean.copy(), moving_variance.copy()
    Y, xhat, inv_std = ops.batch_norm_forward(X, gamma, beta, mm, mv, training=training,
                                              momentum=momentum, epsilon=EPS)
    return Y, xhat, inv_std, mm, mv


# Scales for assert_close. NumPy reduces a float32 column (axis 0) by adding the rows one
# at a time, so its sums carry about sqrt(n) ulps of their largest partial sum (n |x|);
# the C kernels accumulate in double. The bounds below are those terms, not tuned values.
def _mean_scale(X, inv_std):
    """The largest term of xhat = (X - mean) * inv_std, the mean's rounding included."""
    n = X.shape[0]
    return max(1.0, math.sqrt(n) * float(np.abs(X).max() * np.abs(inv_std).max()))


def _dx_scale(dY, xhat, gamma, inv_std):
    """The largest term of gamma * inv_std / n * (n dY - dbeta - xhat dgamma), with the
    sums dbeta and dgamma counted by the magnitude of what they add."""
    n = dY.shape[0]
    terms = (n * np.abs(dY).max() + np.abs(dY).sum(axis=0).max()
             + np.abs(xhat).max() * np.abs(dY * xhat).sum(axis=0).max())
    return float(np.abs(gamma * inv_std).max() * terms / n)


# --------------------------------------------------------------------------- native == numpy
@pytest.mark.parametrize("loc, spread", [(0.5, 2.0), (-3e3, 50.0)],
                         ids=["unit", "large"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_native_matches_numpy(native_ops, numpy_ops, dtype, shape, training, loc,
                                      spread):
    args = _data(shape, dtype, loc=loc, spread=spread)
    Y, xhat, inv_std, mm, mv = _forward(native_ops, *args, training)
    Y0, xhat0, inv_std0, mm0, mv0 = _forward(numpy_ops, *args, training)
    for arr in (Y, xhat, inv_std, mm, mv):
        assert arr.dtype == dtype and arr.flags.c_contiguous
    scale = _mean_scale(args[0], inv_std0)
    assert_close(xhat, xhat0, dtype, scale)
    assert_close(Y, Y0, dtype, scale * float(np.abs(args[1]).max()))
    assert_close(inv_std, inv_std0, dtype)
    assert_close(mm, mm0, dtype, scale)
    assert_close(mv, mv0, dtype)
    if not training:
        np.testing.assert_array_equal(mm, args[3])
        np.testing.assert_array_equal(mv, args[4])


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_backward_native_matches_numpy(native_ops, numpy_ops, dtype, shape):
    X, gamma, beta, mm, mv = _data(shape, dtype)
    _, xhat, inv_std, _, _ = _forward(numpy_ops, X, gamma, beta, mm, mv, True)
    dY = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    dX, dgamma, dbeta = native_ops.batch_norm_backward(dY, xhat, gamma, inv_std)
    dX0, dgamma0, dbeta0 = numpy_ops.batch_norm_backward(dY, xhat, gamma, inv_std)
    assert_close(dX, dX0, dtype, _dx_scale(dY, xhat, gamma, inv_std))
    assert_close(dgamma, dgamma0, dtype, float(np.abs(dY * xhat).sum(axis=0).max()))
    assert_close(dbeta, dbeta0, dtype, float(np.abs(dY).sum(axis=0).max()))


def test_moving_statistics_follow_numpy_over_steps(native_ops, numpy_ops, dtype):
    """Five training steps on different batches, momentum 0 (batch only) to 1 (frozen)."""
    _, gamma, beta, mm, mv = _data((17, 5), dtype)
    state = {ops.name: (mm.copy(), mv.copy()) for ops in (native_ops, numpy_ops)}
    for step, momentum in enumerate([0.99, 0.0, 0.5, 1.0, 0.9]):
        X = _data((17, 5), dtype, seed=10 + step)[0]
        for ops in (native_ops, numpy_ops):
            ops.batch_norm_forward(X, gamma, beta, *state[ops.name], training=True,
                                   momentum=momentum, epsilon=EPS)
        scale = _mean_scale(X, np.ones(1))
        assert_close(state["native"][0], state["numpy"][0], dtype, scale)
        assert_close(state["native"][1], state["numpy"][1], dtype)
        if momentum == 0.0:  # the batch's own statistics, Keras's biased variance
            assert_close(state["native"][0], X.astype(np.float64).mean(axis=0), dtype,
                         scale)
            assert_close(state["native"][1], X.astype(np.float64).var(axis=0), dtype)


def test_float32_keeps_the_digits_of_float64(native_ops, numpy_ops):
    """Native float32 sums in double: on data far from zero it matches the float64 oracle
    to float32 precision, where NumPy's float32 row-by-row sums lose digits."""
    X, gamma, beta, mm, mv = _data((257, 33), np.float32, loc=1e3, spread=1.0)
    Y, xhat, inv_std, mm32, mv32 = _forward(native_ops, X, gamma, beta, mm, mv, True)
    ref = _forward(numpy_ops, *(a.astype(np.float64) for a in (X, gamma, beta, mm, mv)),
                   True)
    for got, want in zip((Y, xhat, inv_std, mm32, mv32), ref):
        assert_close(got, want, np.float32)


@pytest.mark.parametrize("shape", [(17, 5), (9, 517)], ids=str)
def test_dX_may_be_dY(backend, dtype, shape):
    X, gamma, beta, mm, mv = _data(shape, dtype)
    _, xhat, inv_std, _, _ = _forward(backend, X, gamma, beta, mm, mv, True)
    dY = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    dX, dgamma, dbeta = backend.batch_norm_backward(dY, xhat, gamma, inv_std)
    inplace = dY.copy()
    dX2, dgamma2, dbeta2 = backend.batch_norm_backward(inplace, xhat, gamma, inv_std,
                                                       out_dX=inplace)
    assert dX2 is inplace
    np.testing.assert_array_equal(dX2, dX)
    np.testing.assert_array_equal(dgamma2, dgamma)
    np.testing.assert_array_equal(dbeta2, dbeta)


def test_outputs_are_written_in_place(backend, dtype):
    X, gamma, beta, mm, mv = _data((17, 5), dtype)
    out, out_xhat, out_inv = (np.empty((17, 5), dtype), np.empty((17, 5), dtype),
                              np.empty(5, dtype))
    Y, xhat, inv_std = backend.batch_norm_forward(
        X, gamma, beta, mm, mv, training=True, epsilon=EPS, out=out, out_xhat=out_xhat,
        out_inv_std=out_inv)
    assert Y is out and xhat is out_xhat and inv_std is out_inv
    dY = np.ones((17, 5), dtype)
    buffers = np.empty((17, 5), dtype), np.empty(5, dtype), np.empty(5, dtype)
    grads = backend.batch_norm_backward(dY, xhat, gamma, inv_std, out_dX=buffers[0],
                                        out_dgamma=buffers[1], out_dbeta=buffers[2])
    assert all(g is b for g, b in zip(grads, buffers))


def test_non_contiguous_inputs_are_copied(backend, dtype):
    X, gamma, beta, mm, mv = _data((17, 5), dtype)
    wide = np.zeros((17, 10), dtype)
    wide[:, ::2] = X
    strided = [np.repeat(v, 2)[::2] for v in (gamma, beta)]
    assert not wide[:, ::2].flags.c_contiguous and not strided[0].flags.c_contiguous
    for training in (True, False):
        want = _forward(backend, X, gamma, beta, mm, mv, training)
        got = _forward(backend, wide[:, ::2], *strided, mm, mv, training)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    dY = np.random.default_rng(3).standard_normal((17, 10)).astype(dtype)
    xhat, inv_std = want[1], want[2]
    want = backend.batch_norm_backward(np.ascontiguousarray(dY[:, 1::2]), xhat, gamma,
                                       inv_std)
    got = backend.batch_norm_backward(dY[:, 1::2], xhat.T.copy().T, strided[0], inv_std)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


# --------------------------------------------------------------------------- by hand
def test_forward_by_hand(backend, dtype):
    X = np.array([[1.0, 2.0], [3.0, 6.0]], dtype)
    gamma, beta = np.array([2.0, 0.5], dtype), np.array([0.0, 1.0], dtype)
    mm, mv = np.zeros(2, dtype), np.ones(2, dtype)
    Y, xhat, inv_std = backend.batch_norm_forward(X, gamma, beta, mm, mv, training=True,
                                                  momentum=0.9, epsilon=EPS)
    # mean [2, 4]; biased var [1, 4]; xhat = (X - mean) / sqrt(var + eps) = +-1 / sqrt(1 +
    # eps / var): two rows always sit one (almost) standard deviation either side.
    var = np.array([1.0, 4.0])
    s = 1.0 / np.sqrt(1.0 + EPS / var)
    assert_close(inv_std, (1.0 / np.sqrt(var + EPS)).astype(dtype))
    assert_close(xhat, np.array([[-s[0], -s[1]], [s[0], s[1]]], dtype))
    assert_close(Y, np.array([[-2 * s[0], 1 - 0.5 * s[1]], [2 * s[0], 1 + 0.5 * s[1]]],
                             dtype))
    # moving = 0.9 * moving + 0.1 * batch
    assert_close(mm, np.array([0.2, 0.4], dtype))
    assert_close(mv, np.array([1.0, 1.3], dtype))

    # Inference uses those moving statistics: xhat = (X - [0.2, 0.4]) / sqrt([1, 1.3] + eps)
    mm_before = mm.copy()
    Y, xhat, inv_std = backend.batch_norm_forward(X, gamma, beta, mm, mv, training=False,
                                                  epsilon=EPS)
    inv = 1.0 / np.sqrt(np.array([1.0, 1.3]) + EPS)
    want = (np.array([[1.0, 2.0], [3.0, 6.0]]) - [0.2, 0.4]) * inv
    assert_close(inv_std, inv.astype(dtype))
    assert_close(xhat, want.astype(dtype))
    assert_close(Y, (want * [2.0, 0.5] + [0.0, 1.0]).astype(dtype))
    np.testing.assert_array_equal(mm, mm_before)  # unchanged


def test_backward_by_hand(backend, dtype):
    X = np.array([[1.0, 2.0], [3.0, 6.0]], dtype)
    gamma = np.array([2.0, 0.5], dtype)
    _, xhat, inv_std, _, _ = _forward(backend, X, gamma, np.zeros(2, dtype),
                                      np.zeros(2, dtype), np.ones(2, dtype), True)
    dY = np.array([[1.0, 0.5], [0.0, -0.5]], dtype)
    dX, dgamma, dbeta = backend.batch_norm_backward(dY, xhat, gamma, inv_std)
    s = 1.0 / np.sqrt(1.0 + EPS / np.array([1.0, 4.0]))  # |xhat| per column
    assert_close(dbeta, np.array([1.0, 0.0], dtype))
    assert_close(dgamma, np.array([-s[0], -s[1]], dtype))  # sum(dY * xhat)
    # With two rows xhat is +-s whatever X is, so X's gradient is only what eps leaves:
    # gamma * inv_std / 2 * (2 dY - dbeta - xhat dgamma) = +-gamma * inv_std / 2 (1 - s^2).
    inv = 1.0 / np.sqrt(np.array([1.0, 4.0]) + EPS)
    half = np.array([2.0, 0.5]) * inv / 2 * (1 - s**2)
    # The float32 result is 1 - s^2 ~ eps after cancellation of O(1) terms: gamma * inv_std
    # is the scale of those terms.
    assert_close(dX, np.array([half, -half], dtype), dtype, scale=2.0)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("shape", [(1, 3), (4, 3), (7, 2)], ids=str)
def test_gradients_by_finite_differences(backend, shape):
    """d/d(X, gamma, beta) of f = sum(G * Y) in training mode, in float64."""
    X, gamma, beta, mm, mv = _data(shape, np.float64, seed=4)
    G = np.random.default_rng(5).standard_normal(shape)

    def f():
        Y = _forward(backend, X, gamma, beta, mm, mv, True)[0]
        return float(np.sum(G * Y))

    _, xhat, inv_std, _, _ = _forward(backend, X, gamma, beta, mm, mv, True)
    dX, dgamma, dbeta = backend.batch_norm_backward(G, xhat, gamma, inv_std)
    for grad, param in ((dX, X), (dgamma, gamma), (dbeta, beta)):
        np.testing.assert_allclose(grad, numerical_grad(f, param), rtol=FD_RTOL,
                                   atol=FD_ATOL)


# --------------------------------------------------------------------------- inference
def test_inference_leaves_moving_statistics_bit_identical(backend, dtype):
    X, gamma, beta, mm, mv = _data((17, 5), dtype)
    mm_before, mv_before = mm.copy(), mv.copy()
    for rows in (17, 0):  # an empty batch is allowed at inference
        Y, _, inv_std = backend.batch_norm_forward(X[:rows], gamma, beta, mm, mv,
                                                   training=False, epsilon=EPS)
        assert Y.shape == (rows, 5)
        assert mm.tobytes() == mm_before.tobytes() and mv.tobytes() == mv_before.tobytes()
        assert_close(inv_std, (1.0 / np.sqrt(mv.astype(np.float64) + EPS)).astype(dtype))


# --------------------------------------------------------------------------- refusals
def _bad_forward_cases(dtype):
    """(label, arguments changed, expected exception) for batch_norm_forward."""
    other = np.float64 if dtype == np.float32 else np.float32
    wide = np.ones(10, dtype)
    read_only = np.ones(5, dtype)
    read_only.flags.writeable = False
    return [
        ("X 1-D", {"X": np.ones(5, dtype)}, ValueError),
        ("X int", {"X": np.ones((4, 5), np.int64)}, TypeError),
        ("X list", {"X": [[1.0] * 5] * 4}, TypeError),
        ("X float16", {"X": np.ones((4, 5), np.float16)}, TypeError),
        ("gamma shape", {"gamma": np.ones(4, dtype)}, ValueError),
        ("beta dtype", {"beta": np.ones(5, other)}, TypeError),
        ("beta int", {"beta": np.ones(5, np.int32)}, TypeError),
        ("moving_mean shape", {"moving_mean": np.ones(6, dtype)}, ValueError),
        ("moving_mean dtype", {"moving_mean": np.ones(5, other)}, TypeError),
        ("moving_mean int", {"moving_mean": np.ones(5, np.int64)}, TypeError),
        ("moving_variance strided", {"moving_variance": wide[::2]}, ValueError),
        ("moving_variance read-only", {"moving_variance": read_only}, ValueError),
        ("epsilon 0", {"epsilon": 0.0}, ValueError),
        ("epsilon negative", {"epsilon": -1e-3}, ValueError),
        ("epsilon nan", {"epsilon": float("nan")}, ValueError),
        ("momentum negative", {"momentum": -0.1}, ValueError),
        ("momentum above 1", {"momentum": 1.5}, ValueError),
        ("momentum nan", {"momentum": float("nan")}, ValueError),
        ("momentum string", {"momentum": "0.9"}, TypeError),
        ("empty training batch", {"X": np.ones((0, 5), dtype)}, ValueError),
        ("out shape", {"out": np.empty((4, 4), dtype)}, ValueError),
        ("out_xhat dtype", {"out_xhat": np.empty((4, 5), other)}, TypeError),
        ("out_inv_std shape", {"out_inv_std": np.empty(4, dtype)}, ValueError),
    ]


@pytest.mark.parametrize("label", [case[0] for case in _bad_forward_cases(np.float32)])
def test_forward_refusals_leave_moving_statistics_unchanged(backend, dtype, label):
    changes, error = {case[0]: case[1:] for case in _bad_forward_cases(dtype)}[label]
    X, gamma, beta, mm, mv = _data((4, 5), dtype)
    kwargs = dict(X=X, gamma=gamma, beta=beta, moving_mean=mm, moving_variance=mv,
                  training=True, momentum=0.9, epsilon=EPS)
    kwargs.update(changes)
    before = [kwargs[k].copy() for k in ("moving_mean", "moving_variance")]
    with pytest.raises(error):
        backend.batch_norm_forward(**kwargs)
    for name, old in zip(("moving_mean", "moving_variance"), before):
        np.testing.assert_array_equal(kwargs[name], old, err_msg=label)


def test_forward_refuses_outputs_overlapping_inputs(backend, dtype):
    X, gamma, beta, mm, mv = _data((4, 5), dtype)
    before = mm.copy(), mv.copy()
    with pytest.raises(ValueError, match="share memory"):
        backend.batch_norm_forward(X, gamma, beta, mm, mv, training=True, out=X)
    with pytest.raises(ValueError, match="share memory"):
        backend.batch_norm_forward(X, gamma, beta, mm, mv, training=True, out_inv_std=mv)
    np.testing.assert_array_equal(mm, before[0])
    np.testing.assert_array_equal(mv, before[1])


def test_backward_refusals(backend, dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    dY, xhat = np.ones((4, 5), dtype), np.zeros((4, 5), dtype)
    gamma, inv_std = np.ones(5, dtype), np.ones(5, dtype)
    with pytest.raises(ValueError):
        backend.batch_norm_backward(dY, xhat[:3], gamma, inv_std)
    with pytest.raises(ValueError):
        backend.batch_norm_backward(dY, xhat, gamma[:4], inv_std)
    with pytest.raises(ValueError):
        backend.batch_norm_backward(dY[0], xhat, gamma, inv_std)
    with pytest.raises(TypeError):
        backend.batch_norm_backward(dY, xhat.astype(other), gamma, inv_std)
    with pytest.raises(TypeError):
        backend.batch_norm_backward(dY.astype(np.int64), xhat, gamma, inv_std)
    with pytest.raises(TypeError):
        backend.batch_norm_backward(dY, xhat, gamma, inv_std, out_dgamma=np.empty(5, other))
    with pytest.raises(ValueError, match="share memory"):
        backend.batch_norm_backward(dY, xhat, gamma, inv_std, out_dX=xhat)
    with pytest.raises(ValueError, match="share memory"):
        backend.batch_norm_backward(dY, xhat, gamma, inv_std, out_dbeta=inv_std)


def test_native_kernels_refuse_what_they_cannot_read(native_ops, dtype):
    """Called directly, past the public checks, the Cython layer still refuses a wrong
    dtype, stride or length before C runs, so nothing is misread or overrun."""
    other = np.float64 if dtype == np.float32 else np.float32
    X, gamma, beta, mm, mv = _data((4, 5), dtype)
    Y, xhat, inv_std = np.empty((4, 5), dtype), np.empty((4, 5), dtype), np.empty(5, dtype)
    kernel = type(native_ops)._batch_norm_forward
    before = mm.copy(), mv.copy()
    for bad in (dict(moving_mean=mm.astype(other)), dict(gamma=np.ones(4, dtype)),
                dict(moving_variance=np.ones(10, dtype)[::2]), dict(Y=np.empty((3, 5), dtype)),
                dict(X=np.ones((4, 10), dtype)[:, ::2]), dict(X=X.astype(np.int64))):
        args = dict(X=X, gamma=gamma, beta=beta, moving_mean=mm, moving_variance=mv,
                    training=True, momentum=0.9, eps=EPS, Y=Y, xhat=xhat, inv_std=inv_std)
        args.update(bad)
        with pytest.raises((TypeError, ValueError)):
            kernel(*args.values())
        np.testing.assert_array_equal(mm, before[0])
        np.testing.assert_array_equal(mv, before[1])
    backward = type(native_ops)._batch_norm_backward
    dX, dg, db = np.empty((4, 5), dtype), np.empty(5, dtype), np.empty(5, dtype)
    with pytest.raises(ValueError):
        backward(Y, xhat, gamma, inv_std, np.empty((4, 6), dtype), dg, db)
    with pytest.raises((TypeError, ValueError)):
        backward(Y, xhat, gamma, inv_std.astype(other), dX, dg, db)
