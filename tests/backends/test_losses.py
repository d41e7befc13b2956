"""Losses on both backends: native == numpy, hand-computed values (Keras 3's documented
examples among them), finite-difference gradients, extreme logits, label forms and the
checks of the public API."""
import numpy as np
import pytest

from conftest import FD_ATOL, FD_RTOL, assert_close, numerical_grad
from nncore.backends.base import LOSS_CODES

# Every loss, and every from_logits variant of it.
VARIANTS = [
    ("mean_squared_error", False), ("mean_absolute_error", False), ("huber", False),
    ("binary_crossentropy", False), ("binary_crossentropy", True),
    ("categorical_crossentropy", False), ("categorical_crossentropy", True),
    ("sparse_categorical_crossentropy", False), ("sparse_categorical_crossentropy", True),
    ("hinge", False), ("kl_divergence", False), ("poisson", False), ("log_cosh", False),
]
VARIANT_IDS = [name + ("-logits" if logits else "") for name, logits in VARIANTS]
SHAPES = [(1, 1), (1, 3), (3, 17), (17, 257), (257, 3), (257, 1)]
LOGIT_LOSSES = ["binary_crossentropy", "categorical_crossentropy",
                "sparse_categorical_crossentropy"]


def make_data(name, from_logits, n, d, dtype, rng):
    """(y_true, y_pred) of the kind each loss takes, with the awkward cases mixed in:
    exact 0 and 1 probabilities (the clip), zero errors (MAE's kink), huge logits."""
    if name == "sparse_categorical_crossentropy":
        T = rng.integers(0, d, size=n)
    elif name == "categorical_crossentropy":
        T = np.eye(d, dtype=dtype)[rng.integers(0, d, size=n)]
        T[::2] = rng.uniform(0, 1, size=T[::2].shape)  # soft, unnormalised targets too
    elif name == "binary_crossentropy":
        T = rng.uniform(0, 1, size=(n, d)).astype(dtype)
        T[::3] = np.round(T[::3])
    elif name == "hinge":
        T = rng.choice([-1.0, 1.0], size=(n, d)).astype(dtype)
    elif name in ("kl_divergence", "poisson"):
        T = rng.uniform(0, 2 if name == "poisson" else 1, size=(n, d)).astype(dtype)
        T.flat[::4] = 0.0  # KL's clip of t at eps, Poisson's zero counts
    else:
        T = rng.normal(size=(n, d)).astype(dtype)
    if from_logits:
        P = (rng.normal(size=(n, d)) * 4).astype(dtype)
        P.flat[::11] = 60.0  # saturates exp and sigmoid in float32
    elif name in LOGIT_LOSSES or name in ("kl_divergence", "poisson"):
        P = rng.uniform(0, 1, size=(n, d)).astype(dtype)
        P.flat[1::7] = 0.0
        P.flat[3::7] = 1.0
        P[:, 0] = np.maximum(P[:, 0], 0.5)  # no all-zero row: its row sum would be 0
    else:
        P = (T + rng.normal(size=(n, d)) * 1.5).astype(dtype)
        P.flat[::5] = T.flat[::5]  # e == 0
    return T, P


def one_hot(labels, d, dtype):
    return np.eye(d, dtype=dtype)[labels]


# --------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name,from_logits", VARIANTS, ids=VARIANT_IDS)
def test_native_matches_numpy(numpy_ops, native_ops, dtype, name, from_logits, shape,
                              weighted):
    n, d = shape
    rng = np.random.default_rng([n, d, VARIANTS.index((name, from_logits))])
    T, P = make_data(name, from_logits, n, d, dtype, rng)
    sw = rng.uniform(0, 2, size=n).astype(dtype) if weighted else None
    kw = dict(from_logits=from_logits, delta=0.7, sample_weight=sw)
    value, grad = numpy_ops.loss_and_grad(name, T, P, **kw)
    native_value, native_grad = native_ops.loss_and_grad(name, T, P, **kw)
    assert isinstance(native_value, float) and isinstance(value, float)
    assert native_grad.dtype == grad.dtype == dtype
    assert_close(native_value, value, dtype)
    assert_close(native_grad, grad, dtype)
    # The value-only path computes the same number.
    assert_close(native_ops.loss(name, T, P, **kw), value, dtype)
    assert_close(numpy_ops.loss(name, T, P, **kw), value, dtype)


def test_sparse_equals_categorical_with_one_hot_labels(backend, dtype):
    rng = np.random.default_rng(3)
    n, d = 17, 5
    labels = rng.integers(0, d, size=n)
    sw = rng.uniform(0, 2, size=n)
    for from_logits, P in ((True, rng.normal(size=(n, d)) * 3),
                           (False, rng.uniform(0.01, 1, size=(n, d)))):
        P = P.astype(dtype)
        sparse = backend.loss_and_grad("sparse_categorical_crossentropy", labels, P,
                                       from_logits=from_logits, sample_weight=sw)
        dense = backend.loss_and_grad("categorical_crossentropy", one_hot(labels, d, dtype),
                                      P, from_logits=from_logits, sample_weight=sw)
        assert_close(sparse[0], dense[0], dtype)
        assert_close(sparse[1], dense[1], dtype)


# --------------------------------------------------------------------------- by hand
# The examples of the Keras 3 loss docstrings, recomputed here from the formulas.
Y_TRUE = [[0.0, 1.0], [0.0, 0.0]]
Y_PRED = [[0.6, 0.4], [0.4, 0.6]]


def test_regression_losses_by_hand(backend, dtype):
    T = np.array(Y_TRUE, dtype)
    P = np.array([[1.0, 1.0], [1.0, 0.0]], dtype)
    value, grad = backend.loss_and_grad("mean_squared_error", T, P)
    assert isinstance(value, float)
    assert value == 0.5  # rows (1 + 0) / 2 and (1 + 0) / 2
    np.testing.assert_array_equal(grad, [[0.5, 0.0], [0.5, 0.0]])  # 2 e / (n d)
    assert backend.loss("mse", T, P) == 0.5
    assert backend.loss("mean_absolute_error", T, P) == 0.5
    value, grad = backend.loss_and_grad("mae", T, P)
    np.testing.assert_array_equal(grad, [[0.25, 0.0], [0.25, 0.0]])  # sign(0) = 0
    # sum_i w_i loss_i / n, divided by n and not by the sum of the weights.
    assert_close(backend.loss("mse", T, P, sample_weight=[0.7, 0.3]), 0.25, dtype)
    assert_close(backend.loss("mse", T, P, sample_weight=np.array([2, 0])), 0.5, dtype)


def test_huber_by_hand(backend, dtype):
    T, P = np.array(Y_TRUE, dtype), np.array(Y_PRED, dtype)
    # |e| = .6, .6, .4, .6, all within delta = 1: mean of e**2 / 2.
    assert_close(backend.loss("huber", T, P), (0.18 + 0.13) / 2, dtype)
    # delta = 0.5: the three errors of 0.6 are on the linear branch, 0.5 * 0.6 - 0.125.
    expected = ((0.175 + 0.175) / 2 + (0.08 + 0.175) / 2) / 2
    value, grad = backend.loss_and_grad("huber_loss", T, P, delta=0.5)
    assert_close(value, expected, dtype)
    assert_close(grad, np.array([[0.5, -0.5], [0.4, 0.5]], dtype) / 4, dtype)


def test_binary_crossentropy_by_hand(backend, dtype):
    T, P = np.array(Y_TRUE, dtype), np.array(Y_PRED, dtype)
    expected = (-(np.log(0.4) + np.log(0.4)) / 2 - (np.log(0.6) + np.log(0.4)) / 2) / 2
    assert_close(backend.loss("binary_crossentropy", T, P), expected, dtype)  # ~0.815
    # Keras's from_logits example: mean softplus(z) - z t, here through logaddexp.
    t = np.array([[0.0, 1.0, 0.0, 0.0]])
    z = np.array([[-18.6, 0.51, 2.94, -12.8]])
    expected = np.mean(np.logaddexp(0, z) - z * t)  # ~0.865
    assert_close(backend.loss("binary_crossentropy", t.astype(dtype), z.astype(dtype),
                              from_logits=True), expected, dtype)
    t = np.array([[1.0, 0.0]], dtype)
    value, grad = backend.loss_and_grad("binary_crossentropy", t, np.zeros((1, 2), dtype),
                                        from_logits=True)
    assert_close(value, np.log(2), dtype)
    np.testing.assert_array_equal(grad, [[-0.25, 0.25]])  # (sigmoid(0) - t) / (n d)


def test_binary_crossentropy_clips_probabilities(backend, dtype):
    # Both predictions certain and wrong: each log is taken at the clip, which is done
    # in the array's dtype as in Keras (1 - 1e-7 rounds to 1 - 2**-23 in float32).
    T = np.array([[1.0, 0.0]], dtype)
    P = np.array([[0.0, 1.0]], dtype)
    low, high = dtype.type(1e-7), dtype.type(1 - 1e-7)
    expected = -(np.log(np.float64(low)) + np.log(1 - np.float64(high))) / 2
    value, grad = backend.loss_and_grad("binary_crossentropy", T, P)
    assert_close(value, expected, dtype)
    assert np.all(np.isfinite(grad)) and grad[0, 0] < 0 < grad[0, 1]


def test_categorical_crossentropy_by_hand(backend, dtype):
    T = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype)
    P = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]], dtype)
    assert_close(backend.loss("categorical_crossentropy", T[:1], P[:1]), -np.log(0.95),
                 dtype)
    expected = (-np.log(0.95) - np.log(0.1)) / 2  # ~1.177
    assert_close(backend.loss("categorical_crossentropy", T, P), expected, dtype)
    assert_close(backend.loss("sparse_categorical_crossentropy", [1, 2], P), expected,
                 dtype)
    # Scores are divided by their row sum first: 3 / (1 + 3).
    scores, t = np.array([[1.0, 3.0]], dtype), np.array([[0.0, 1.0]], dtype)
    assert_close(backend.loss("categorical_crossentropy", t, scores), -np.log(0.75), dtype)
    # softmax([0, log 3]) = [1/4, 3/4].
    logits = np.array([[0.0, np.log(3.0)]], dtype)
    value, grad = backend.loss_and_grad("categorical_crossentropy", t, logits,
                                        from_logits=True)
    assert_close(value, -np.log(0.75), dtype)
    assert_close(grad, np.array([[0.25, -0.25]], dtype), dtype)
    assert_close(backend.loss("sparse_categorical_crossentropy", [1], logits,
                              from_logits=True), -np.log(0.75), dtype)


def test_softmax_crossentropy_gradient_is_softmax_minus_labels_over_n(backend, dtype):
    rng = np.random.default_rng(5)
    n, d = 17, 10
    Z = rng.normal(size=(n, d)) * 5
    labels = rng.integers(0, d, size=n)
    Y = one_hot(labels, d, np.float64)
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    expected = (E / E.sum(axis=1, keepdims=True) - Y) / n
    Z = Z.astype(dtype)
    _, grad = backend.loss_and_grad("categorical_crossentropy", Y.astype(dtype), Z,
                                    from_logits=True)
    assert_close(grad, expected.astype(dtype), dtype)
    _, grad = backend.loss_and_grad("sparse_categorical_crossentropy", labels, Z,
                                    from_logits=True)
    assert_close(grad, expected.astype(dtype), dtype)


@pytest.mark.parametrize("name", LOGIT_LOSSES)
def test_huge_logits_give_finite_loss_and_gradient(backend, dtype, name):
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], dtype)
    if name == "binary_crossentropy":
        T = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype)
        # Per element max(z, 0) - z t + log1p(exp(-|z|)): 0, 0, log 2 | 1e4, 1e4, 5e3.
        expected = (np.log(2) / 3 + 2.5e4 / 3) / 2
        expected_grad = np.array([[0.0, 0.0, -0.5], [-1.0, 1.0, 1.0]]) / 6
    else:
        T = one_hot([1, 0], 3, dtype)
        expected = 2e4  # logsumexp(z) - z_label = 1e4 + 1e4 in both rows
        expected_grad = np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0]]) / 2
        if name == "sparse_categorical_crossentropy":
            T = np.array([1, 0])
    value, grad = backend.loss_and_grad(name, T, Z, from_logits=True)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert_close(value, expected, dtype)
    assert_close(grad, expected_grad.astype(dtype), dtype)


@pytest.mark.parametrize("name,from_logits", VARIANTS, ids=VARIANT_IDS)
def test_nan_in_y_pred_propagates(backend, dtype, name, from_logits):
    rng = np.random.default_rng(9)
    T, P = make_data(name, from_logits, 3, 4, dtype, rng)
    P[1, 2] = np.nan
    value, grad = backend.loss_and_grad(name, T, P, from_logits=from_logits)
    assert np.isnan(value)
    assert np.isnan(grad[1, 2]) and np.all(np.isfinite(grad[[0, 2]]))


# --------------------------------------------------------------------------- gradients
def fd_data(name, from_logits, n, d, rng):
    """float64 points where every loss is smooth: probabilities well inside the clip
    range, MAE and Huber errors at least 0.2 away from 0 and from delta = 0.8, hinge
    margins away from 0."""
    if from_logits:
        P = rng.normal(size=(n, d)) * 2
    elif name in LOGIT_LOSSES:
        P = rng.uniform(0.05, 0.95, size=(n, d))
    if name == "sparse_categorical_crossentropy":
        return rng.integers(0, d, size=n), P
    if name in LOGIT_LOSSES:
        return rng.uniform(0, 1, size=(n, d)), P  # soft targets: the general formula
    if name in ("kl_divergence", "poisson"):
        return rng.uniform(0.05, 0.95, size=(n, d)), rng.uniform(0.05, 0.95, size=(n, d))
    if name == "hinge":  # margins 1 - t p at least 0.2 away from the kink at 0
        T = rng.choice([-1.0, 1.0], size=(n, d))
        return T, T * rng.choice([-1.0, 1.0], (n, d)) * rng.uniform(0.2, 0.8, (n, d))
    T = rng.normal(size=(n, d))
    size = np.where(rng.random((n, d)) < 0.5, rng.uniform(0.2, 0.6, (n, d)),
                    rng.uniform(1.0, 2.0, (n, d)))
    return T, T + size * rng.choice([-1.0, 1.0], size=(n, d))


@pytest.mark.parametrize("name,from_logits", VARIANTS, ids=VARIANT_IDS)
def test_gradient_matches_finite_differences(backend, name, from_logits):
    rng = np.random.default_rng(11)
    n, d = 3, 5
    T, P = fd_data(name, from_logits, n, d, rng)
    kw = dict(from_logits=from_logits, delta=0.8, sample_weight=rng.uniform(0.5, 2, n))
    _, grad = backend.loss_and_grad(name, T, P, **kw)
    numeric = numerical_grad(lambda: backend.loss(name, T, P, **kw), P)
    np.testing.assert_allclose(grad, numeric, rtol=FD_RTOL, atol=FD_ATOL)


# --------------------------------------------------------------------------- inputs
def test_sparse_labels_in_every_accepted_form(backend, dtype):
    rng = np.random.default_rng(2)
    n, d = 17, 4
    P = rng.normal(size=(n, d)).astype(dtype)
    labels = rng.integers(0, d, size=n)
    expected = backend.loss_and_grad("sparse_categorical_crossentropy", labels, P,
                                     from_logits=True)
    for form in (labels.astype(np.int32), labels.astype(np.uint8), labels.astype(dtype),
                 labels.astype(np.float64), labels[:, None], labels.tolist()):
        value, grad = backend.loss_and_grad("sparse_categorical_crossentropy", form, P,
                                            from_logits=True)
        assert value == expected[0]
        np.testing.assert_array_equal(grad, expected[1])


def test_non_contiguous_inputs_are_copied(backend, dtype):
    rng = np.random.default_rng(4)
    wide = rng.normal(size=(9, 14)).astype(dtype)
    labels = np.repeat(rng.integers(0, 7, size=9), 2)
    for name in ("mean_squared_error", "categorical_crossentropy"):
        T = np.abs(rng.normal(size=(14, 9)).astype(dtype)).T  # Fortran order
        P = np.abs(wide)[:, ::2]  # strided
        sw = rng.uniform(0, 2, size=18).astype(dtype)[::2]
        expected = backend.loss_and_grad(name, np.ascontiguousarray(T[:, :7]),
                                         np.ascontiguousarray(P),
                                         sample_weight=np.ascontiguousarray(sw))
        value, grad = backend.loss_and_grad(name, T[:, :7], P, sample_weight=sw)
        assert value == expected[0]
        np.testing.assert_array_equal(grad, expected[1])
    Z = wide[:, 1::2]
    expected = backend.loss("sparse_categorical_crossentropy", labels[::2].copy(),
                            Z.copy(), from_logits=True)
    assert backend.loss("sparse_categorical_crossentropy", labels[::2], Z,
                        from_logits=True) == expected


@pytest.mark.parametrize("bad_dtype", [np.int32, np.int64, np.float16, np.complex128])
def test_y_pred_of_other_dtypes_is_refused(backend, bad_dtype):
    P = np.ones((2, 3), dtype=bad_dtype)
    T = np.ones((2, 3))
    with pytest.raises(TypeError, match="y_pred"):
        backend.loss("mean_squared_error", T, P)
    with pytest.raises(TypeError, match="y_pred"):
        backend.loss_and_grad("sparse_categorical_crossentropy", [0, 1], P)
    with pytest.raises(TypeError, match="y_pred"):
        backend.loss("mse", T, P.tolist())


def test_bad_arguments_are_refused_with_their_name(backend, dtype):
    P = np.full((3, 4), 0.25, dtype)
    T = np.eye(4, dtype=dtype)[:3]
    scce = "sparse_categorical_crossentropy"
    for labels in ([0, 1, 4], [0, -1, 2], [[0, 1, 2]], [0, 1], [0.0, 1.5, 2.0],
                   [0, 1, np.nan]):
        with pytest.raises(ValueError, match="y_true"):
            backend.loss(scce, labels, P)
    with pytest.raises(TypeError, match="y_true"):
        backend.loss(scce, np.array(["0", "1", "2"]), P)
    with pytest.raises(ValueError, match="y_true"):  # one-hot of the wrong width
        backend.loss("categorical_crossentropy", np.eye(5, dtype=dtype)[:3], P)
    with pytest.raises(ValueError, match="y_true"):
        backend.loss("mean_squared_error", T[:, 0], P)
    with pytest.raises(ValueError, match="y_true"):
        backend.loss("binary_crossentropy", T.T, P)
    with pytest.raises(TypeError, match="y_true"):
        backend.loss("mean_squared_error", T.astype(str), P)
    for weights in (np.ones(4), np.ones((3, 1)), 1.0):
        with pytest.raises(ValueError, match="sample_weight"):
            backend.loss("mean_squared_error", T, P, sample_weight=weights)
    for name in ("mean_squared_error", "mae", "huber"):
        with pytest.raises(ValueError, match="from_logits"):
            backend.loss(name, T, P, from_logits=True)
    with pytest.raises(TypeError, match="from_logits"):
        backend.loss("binary_crossentropy", T, P, from_logits="yes")
    with pytest.raises(ValueError, match="loss"):
        backend.loss("cross_entropy", T, P)
    with pytest.raises(TypeError, match="loss"):
        backend.loss(LOSS_CODES["huber"], T, P)
    for delta in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="delta"):
            backend.loss("huber", T, P, delta=delta)
    with pytest.raises(ValueError, match="y_pred"):
        backend.loss("mean_squared_error", T[0], P[0])
    with pytest.raises(ValueError, match="y_pred"):
        backend.loss("mean_squared_error", T[:0], P[:0])
    with pytest.raises(TypeError, match="out"):
        backend.loss_and_grad("mse", T, P, out=np.empty((3, 4), np.float16))
    with pytest.raises(ValueError, match="out"):
        backend.loss_and_grad("mse", T, P, out=np.empty((4, 3), dtype))


def test_native_kernel_refuses_what_it_would_misread(native_ops):
    """Called directly, the Cython kernel checks dtypes, strides and label range itself."""
    kernel = type(native_ops)._loss  # nncore.backends.native._kernels.loss

    P = np.full((2, 3), 0.5, np.float32)
    T = np.ones((2, 3), np.float32)
    mse = LOSS_CODES["mean_squared_error"]
    scce = LOSS_CODES["sparse_categorical_crossentropy"]
    assert kernel(mse, T, P, False, 1.0, None, None) == 0.25
    with pytest.raises(TypeError):  # T of the other dtype
        kernel(mse, T.astype(np.float64), P, False, 1.0, None, None)
    with pytest.raises(ValueError):  # gradient output not contiguous
        kernel(mse, T, P, False, 1.0, None, np.empty((2, 6), np.float32)[:, ::2])
    with pytest.raises(ValueError):  # T of the wrong shape
        kernel(mse, np.ones((3, 2), np.float32), P, False, 1.0, None, None)
    with pytest.raises(ValueError):  # weights of the wrong length
        kernel(mse, T, P, False, 1.0, np.ones(3, np.float32), None)
    with pytest.raises(TypeError):  # labels of a narrower integer type
        kernel(scce, np.array([0, 1], np.int32), P, False, 1.0, None, None)
    with pytest.raises(ValueError):  # a label past the last column
        kernel(scce, np.array([0, 3]), P, False, 1.0, None, None)
    with pytest.raises(ValueError):
        kernel(len(LOSS_CODES), T, P, False, 1.0, None, None)
    with pytest.raises(TypeError):
        kernel(mse, T, P.astype(np.float16), False, 1.0, None, None)
