"""Elementwise helpers: L1/L2 regularization (value and gradient), dropout masks, and
gradient clipping by value, by norm and by global norm, on both backends."""
import numpy as np
import pytest

from conftest import FD_ATOL, FD_RTOL, assert_close, numerical_grad

SIZES = [1, 3, 17, 257]


# --------------------------------------------------------------------------- regularization
def test_regularization_loss_by_hand(backend, dtype):
    W = np.array([[1.0, -2.0], [0.5, 0.0]], dtype)
    # l1 * (1 + 2 + 0.5 + 0) + l2 * (1 + 4 + 0.25 + 0) = 0.01 * 3.5 + 0.1 * 5.25 = 0.56
    assert_close(backend.regularization_loss(W, l1=0.01, l2=0.1), 0.56, dtype)
    assert_close(backend.regularization_loss(W, l1=0.01), 0.035, dtype)
    assert_close(backend.regularization_loss(W, l2=0.1), 0.525, dtype)
    assert backend.regularization_loss(W) == 0.0


def test_add_regularization_grad_by_hand(backend, dtype):
    W = np.array([[1.0, -2.0], [0.5, 0.0]], dtype)
    dW = np.full((2, 2), 0.25, dtype)
    out = backend.add_regularization_grad(W, dW, l1=0.01, l2=0.1)
    assert out is dW
    # dW += 0.01 sign(W) + 0.2 W; sign(0) = 0
    assert_close(dW, np.array([[0.25 + 0.01 + 0.2, 0.25 - 0.01 - 0.4],
                               [0.25 + 0.01 + 0.1, 0.25]], dtype))


def test_regularization_grad_matches_finite_differences(backend):
    rng = np.random.default_rng(3)
    W = rng.uniform(0.1, 2.0, (4, 3)) * rng.choice([-1.0, 1.0], (4, 3))  # |W| >= 0.1:
    # L1 is not differentiable at 0, so every point is kept far from it (h is 1e-6)
    expected = numerical_grad(lambda: backend.regularization_loss(W, l1=0.03, l2=0.2), W)
    dW = backend.add_regularization_grad(W, np.zeros_like(W), l1=0.03, l2=0.2)
    np.testing.assert_allclose(dW, expected, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("size", SIZES)
def test_regularization_native_matches_numpy(numpy_ops, native_ops, dtype, size):
    rng = np.random.default_rng(size)
    W = (rng.standard_normal((size, 2)) * 1e3).astype(dtype)
    W_strided = np.repeat(W, 2, axis=0)[::2]  # not contiguous: copied, same result
    value = numpy_ops.regularization_loss(W, l1=0.01, l2=0.001)
    for ops in (native_ops, numpy_ops):
        # both sum in double: only the order of the terms differs
        assert_close(ops.regularization_loss(W_strided, l1=0.01, l2=0.001), value,
                     np.float64)
    dW0 = rng.standard_normal((size, 2)).astype(dtype)
    ref = numpy_ops.add_regularization_grad(W, dW0.copy(), l1=0.01, l2=0.001)
    nat = native_ops.add_regularization_grad(W_strided, dW0.copy(), l1=0.01, l2=0.001)
    assert_close(nat, ref, dtype, scale=float(np.max(np.abs(ref))))


def test_regularization_loss_sums_in_double(backend):
    W = np.full(1000, 1e20, np.float32)  # each square overflows float32, the sum does not
    big = float(np.float32(1e20))  # 1.0000000200408773e20
    assert_close(backend.regularization_loss(W, l2=1.0), 1000 * big**2, np.float64)
    assert_close(backend.regularization_loss(W, l1=1.0), 1000 * big, np.float64)


def test_regularization_refuses_bad_arguments(backend, dtype):
    W = np.ones((2, 3), dtype)
    dW = np.zeros((2, 3), dtype)
    with pytest.raises(ValueError):
        backend.regularization_loss(W, l1=-0.1)
    with pytest.raises(ValueError):
        backend.regularization_loss(W, l2=float("nan"))
    with pytest.raises(TypeError):
        backend.regularization_loss(W.astype(np.int32), l1=0.1)
    with pytest.raises(TypeError):
        backend.add_regularization_grad(W, dW.astype(np.float16), l1=0.1)
    with pytest.raises(TypeError):  # mixed float dtypes are never converted
        backend.add_regularization_grad(W.astype(np.float64 if dtype == np.float32
                                                 else np.float32), dW, l1=0.1)
    with pytest.raises(ValueError):
        backend.add_regularization_grad(W, dW[:, :2], l1=0.1)
    with pytest.raises(ValueError):  # dW is written in place: a copy would be lost
        backend.add_regularization_grad(W, np.zeros((3, 2), dtype).T, l1=0.1)
    with pytest.raises(ValueError):
        backend.add_regularization_grad(W, W, l1=0.1)  # overlaps W
    assert not dW.any() and (W == 1).all()


# --------------------------------------------------------------------------- dropout
def test_dropout_mask_by_formula(backend, dtype):
    rate = 0.3
    mask = backend.dropout_mask((7, 5), rate, np.random.default_rng(42), dtype=dtype)
    u = np.random.default_rng(42).random((7, 5), dtype=dtype)
    np.testing.assert_array_equal(mask, np.where(u >= dtype.type(rate),
                                                 dtype.type(1 / (1 - rate)), 0))
    assert mask.dtype == dtype and mask.shape == (7, 5)


def test_dropout_mask_same_seed_same_mask_on_both_backends(numpy_ops, native_ops, dtype):
    for shape in [(1,), (3, 17), (257, 3), (0, 4)]:
        a = numpy_ops.dropout_mask(shape, 0.5, np.random.default_rng(5), dtype=dtype)
        b = native_ops.dropout_mask(shape, 0.5, np.random.default_rng(5), dtype=dtype)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_dropout_mask_statistics(backend, dtype, rate):
    n = 200_000
    mask = backend.dropout_mask((n,), rate, np.random.default_rng(0), dtype=dtype)
    zeros = np.mean(mask == 0)
    # the count of zeros is binomial: 6 standard deviations is a bound no seed should cross
    assert abs(zeros - rate) < 6 * np.sqrt(rate * (1 - rate) / n)
    kept = mask[mask != 0]
    np.testing.assert_array_equal(kept, dtype.type(1 / (1 - rate)))
    assert abs(mask.mean(dtype=np.float64) - 1.0) < 0.02  # expectation kept


def test_dropout_mask_rate_zero_keeps_all_and_rate_one_is_refused(backend, dtype):
    mask = backend.dropout_mask((4, 3), 0.0, np.random.default_rng(1), dtype=dtype)
    np.testing.assert_array_equal(mask, np.ones((4, 3), dtype))
    for bad in (1.0, 1.5, -0.1, float("nan")):
        rng = np.random.default_rng(1)
        with pytest.raises(ValueError):
            backend.dropout_mask((4, 3), bad, rng, dtype=dtype)
        # refused before drawing: the generator's stream is untouched
        assert rng.random() == np.random.default_rng(1).random()


def test_dropout_mask_out_and_refusals(backend, dtype):
    out = np.empty((3, 4), dtype)
    mask = backend.dropout_mask((3, 4), 0.25, np.random.default_rng(2), dtype=dtype, out=out)
    assert mask is out
    np.testing.assert_array_equal(
        out, backend.dropout_mask((3, 4), 0.25, np.random.default_rng(2), dtype=dtype))
    with pytest.raises(TypeError):
        backend.dropout_mask((3,), 0.5, 0)  # a seed is not a Generator
    with pytest.raises(TypeError):
        backend.dropout_mask((3,), 0.5, np.random.default_rng(0), dtype=np.int32)
    with pytest.raises(ValueError):
        backend.dropout_mask((3, 4), 0.5, np.random.default_rng(0), dtype=dtype,
                             out=np.empty((4, 3), dtype))


# --------------------------------------------------------------------------- clipping
@pytest.mark.parametrize("size", SIZES)
def test_clip_by_value(backend, dtype, size):
    rng = np.random.default_rng(size)
    g = (rng.standard_normal((size, 3)) * 2).astype(dtype)
    expected = np.minimum(np.maximum(g, -dtype.type(0.5)), dtype.type(0.5))
    out = backend.clip_by_value(g, 0.5)
    assert out is g
    np.testing.assert_array_equal(g, expected)


def test_clip_by_value_keeps_nan_and_refuses_copies(backend, dtype):
    g = np.array([np.nan, np.inf, -np.inf, 0.25], dtype)
    backend.clip_by_value(g, 1.0)
    np.testing.assert_array_equal(g, np.array([np.nan, 1.0, -1.0, 0.25], dtype))
    strided = np.arange(8, dtype=dtype)[::2]
    with pytest.raises(ValueError):  # in place: a copy would be clipped and lost
        backend.clip_by_value(strided, 1.0)
    readonly = np.arange(4, dtype=dtype)
    readonly.flags.writeable = False
    with pytest.raises(ValueError):
        backend.clip_by_value(readonly, 1.0)
    with pytest.raises(TypeError):
        backend.clip_by_value(np.arange(4), 1.0)
    with pytest.raises(ValueError):
        backend.clip_by_value(np.arange(4, dtype=dtype), -1.0)
    np.testing.assert_array_equal(strided, [0, 2, 4, 6])


@pytest.mark.parametrize("size", SIZES)
def test_clip_by_norm_above_scales_to_clipnorm(backend, dtype, size):
    rng = np.random.default_rng(size + 100)
    g = (rng.standard_normal((size, 2)) * 10).astype(dtype)
    norm = np.sqrt(np.sum(g.astype(np.float64) ** 2))
    clipnorm = norm / 3
    expected = g * dtype.type(clipnorm / norm)
    assert_close(backend.clip_by_norm(g, clipnorm), norm, np.float64)
    assert_close(g, expected, dtype)
    assert_close(np.sqrt(np.sum(g.astype(np.float64) ** 2)), clipnorm, dtype)


def test_clip_by_norm_below_is_untouched(backend, dtype):
    g = np.array([[3.0, -4.0]], dtype)  # norm 5
    before = g.copy()
    assert backend.clip_by_norm(g, 5.5) == 5.0
    assert g.tobytes() == before.tobytes()


def test_clip_by_global_norm(backend, dtype):
    grads = [np.array([[3.0, 0.0], [0.0, 4.0]], dtype), np.array([12.0], dtype)]
    # global norm sqrt(9 + 16 + 144) = 13; clip to 6.5 halves everything
    assert backend.global_norm(grads) == 13.0
    assert backend.clip_by_global_norm(grads, 6.5) == 13.0
    assert_close(grads[0], np.array([[1.5, 0.0], [0.0, 2.0]], dtype))
    assert_close(grads[1], np.array([6.0], dtype))
    assert_close(backend.global_norm(grads), 6.5, dtype)
    before = [g.copy() for g in grads]
    assert_close(backend.clip_by_global_norm(grads, 100.0), 6.5, dtype)
    assert all(g.tobytes() == b.tobytes() for g, b in zip(grads, before))


@pytest.mark.parametrize("size", SIZES)
def test_clipping_native_matches_numpy(numpy_ops, native_ops, dtype, size):
    rng = np.random.default_rng(size + 7)
    base = [(rng.standard_normal(shape) * 1e4).astype(dtype)
            for shape in [(size,), (size, 3), (2, size)]]
    expected_norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in base))
    results = {}
    for ops in (numpy_ops, native_ops):
        grads = [g.copy() for g in base]
        assert_close(ops.global_norm(grads), expected_norm, np.float64)
        norm = ops.clip_by_global_norm(grads, 1.0)
        single = base[1].copy()
        ops.clip_by_norm(single, 0.5)
        by_value = base[2].copy()
        ops.clip_by_value(by_value, 3e3)
        results[ops.name] = norm, grads, single, by_value
    (n_ref, g_ref, s_ref, v_ref), (n_nat, g_nat, s_nat, v_nat) = results.values()
    assert_close(n_nat, n_ref, np.float64)
    for a, b in zip(g_nat + [s_nat], g_ref + [s_ref]):
        assert_close(a, b, dtype)
    np.testing.assert_array_equal(v_nat, v_ref)


def test_global_norm_sums_in_double(backend):
    grads = [np.full(4, 1e20, np.float32), np.full((2, 2), -1e20, np.float32)]
    big = float(np.float32(1e20))
    assert_close(backend.global_norm(grads), np.sqrt(8) * big, np.float64)
    assert_close(backend.clip_by_global_norm(grads, 1.0), np.sqrt(8) * big, np.float64)
    assert_close(grads[0], np.full(4, 1 / np.sqrt(8), np.float32))


def test_clip_by_norm_refusals_change_nothing(backend, dtype):
    g = np.array([3.0, 4.0], dtype)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            backend.clip_by_norm(g, bad)
    with pytest.raises(ValueError):
        backend.clip_by_global_norm([g, np.arange(6, dtype=dtype)[::2]], 1.0)
    with pytest.raises(TypeError):
        backend.clip_by_global_norm([g, [1.0, 2.0]], 1.0)
    np.testing.assert_array_equal(g, [3.0, 4.0])
