"""The dense layer ``Y = act(X @ W + b)`` and its backward on both backends: against its
definition, native against numpy, finite differences, zero sizes, scratch and output
arrays, and argument checks."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nncore import backends
from nncore.backends.base import ACTIVATION_CODES, ACTIVATIONS

from conftest import FD_ATOL, FD_RTOL, assert_close, numerical_grad

#: (n, k, m): batch, input features, units; batch 1 and odd sizes.
SHAPES = [(1, 1, 1), (1, 3, 17), (3, 17, 257), (17, 257, 3), (257, 17, 1)]


def _layer(n, k, m, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, k)).astype(dtype)
    W = (rng.standard_normal((k, m)) / np.sqrt(max(k, 1))).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    dY = rng.standard_normal((n, m)).astype(dtype)
    return X, W, b, dY


def _scale(A, B):
    """Largest sum of |terms| in the entries of A @ B: the size of a GEMM's rounding error
    (the two backends may sum in another order), as conftest's ``scale``."""
    return max(float((np.abs(A).astype(np.float64) @ np.abs(B)).max(initial=0.0)), 1.0)


# --------------------------------------------------------------------------- forward
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_forward_is_gemm_plus_bias_then_activation(backend, numpy_ops, name, dtype, shape):
    X, W, b, _ = _layer(*shape, dtype)
    Z, Y = backend.dense_forward(X, W, b, name)
    Z_ref = X @ W + b
    scale = _scale(X, W) + np.abs(b).max()
    assert Z.dtype == Y.dtype == dtype and Z.shape == Y.shape == Z_ref.shape
    assert_close(Z, Z_ref, dtype, scale=scale)
    # act is at most 1.13-Lipschitz (gelu), so Z's error bounds Y's.
    assert_close(Y, numpy_ops.activation(name, Z_ref), dtype, scale=scale)
    if name == "linear":
        assert Y is Z


def test_forward_without_bias(backend, dtype):
    X, W, _, _ = _layer(4, 5, 3, dtype)
    Z, Y = backend.dense_forward(X, W, None, "relu")
    assert_close(Z, X @ W, dtype, scale=_scale(X, W))
    assert_close(Y, np.maximum(X @ W, 0), dtype, scale=_scale(X, W))


def test_forward_writes_into_given_outputs(backend, dtype):
    X, W, b, _ = _layer(4, 5, 3, dtype)
    out_Z, out_Y = np.full((4, 3), np.nan, dtype), np.full((4, 3), np.nan, dtype)
    Z, Y = backend.dense_forward(X, W, b, "tanh", out_Z=out_Z, out_Y=out_Y)
    assert Z is out_Z and Y is out_Y
    assert_close(Y, np.tanh(Z), dtype)
    Z, Y = backend.dense_forward(X, W, b, "linear", out_Y=out_Y)  # linear into its own Y
    assert Y is out_Y and Z is not Y
    np.testing.assert_array_equal(Y, Z)


# --------------------------------------------------------------------------- native == numpy
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_native_matches_numpy(native_ops, numpy_ops, name, dtype, shape):
    X, W, b, dY = _layer(*shape, dtype, seed=len(name))
    Z_ref, Y_ref = numpy_ops.dense_forward(X, W, b, name)
    Z, Y = native_ops.dense_forward(X, W, b, name)
    scale = _scale(X, W) + np.abs(b).max()
    assert_close(Z, Z_ref, dtype, scale=scale)
    assert_close(Y, Y_ref, dtype, scale=scale)

    # Backward from the same (Z, Y): only the backward kernels are compared.
    dX_ref, dW_ref, db_ref = numpy_ops.dense_backward(dY, X, W, Z_ref, Y_ref, name)
    dX, dW, db = native_ops.dense_backward(dY, X, W, Z_ref, Y_ref, name)
    dZ = numpy_ops.activation_backward(name, dY, Z_ref, Y_ref)
    assert_close(dW, dW_ref, dtype, scale=_scale(X.T, dZ))
    assert_close(db, db_ref, dtype, scale=_scale(np.ones((1, len(dZ))), dZ))
    assert_close(dX, dX_ref, dtype, scale=_scale(dZ, W.T))


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_backward_matches_finite_differences(backend, name):
    """dX, dW, db of L = sum(G * Y) against central differences, in float64."""
    X, W, b, G = _layer(3, 4, 5, np.float64, seed=2)
    Z, Y = backend.dense_forward(X, W, b, name)
    # The check is only valid away from the kinks at z = 0 of step, relu and leaky_relu:
    # a step of h = 1e-6 in X, W or b moves Z by at most ~1e-5 here.
    assert np.abs(Z).min() > 1e-3

    def loss():
        return float(np.sum(G * backend.dense_forward(X, W, b, name)[1]))

    dX, dW, db = backend.dense_backward(G, X, W, Z, Y, name)
    np.testing.assert_allclose(dX, numerical_grad(loss, X), rtol=FD_RTOL, atol=FD_ATOL)
    np.testing.assert_allclose(dW, numerical_grad(loss, W), rtol=FD_RTOL, atol=FD_ATOL)
    np.testing.assert_allclose(db, numerical_grad(loss, b), rtol=FD_RTOL, atol=FD_ATOL)


def test_backward_by_hand(backend, dtype):
    """One sample, two inputs, one sigmoid unit, worked out by hand."""
    X = np.array([[1.0, 2.0]], dtype)
    W = np.array([[0.5], [-0.25]], dtype)
    b = np.array([0.0], dtype)
    Z, Y = backend.dense_forward(X, W, b, "sigmoid")  # z = 0.5 - 0.5 = 0, y = 0.5
    np.testing.assert_allclose(Z, [[0.0]], atol=1e-7)
    np.testing.assert_allclose(Y, [[0.5]])
    # dZ = dY * y (1 - y) = 2 * 0.25 = 0.5; dW = x^T dZ; db = dZ; dX = dZ W^T.
    dX, dW, db = backend.dense_backward(np.array([[2.0]], dtype), X, W, Z, Y, "sigmoid")
    np.testing.assert_allclose(dW, [[0.5], [1.0]])
    np.testing.assert_allclose(db, [0.5])
    np.testing.assert_allclose(dX, [[0.25, -0.125]])


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize("name", ["relu", "softmax", "linear"])
def test_no_bias_no_dX_and_dY_as_scratch(backend, name, dtype):
    X, W, b, dY = _layer(6, 5, 4, dtype, seed=3)
    Z, Y = backend.dense_forward(X, W, b, name)
    dX_ref, dW_ref, db_ref = backend.dense_backward(dY, X, W, Z, Y, name)
    dZ_ref = backend.activation_backward(name, dY, Z, Y)

    dX, dW, db = backend.dense_backward(dY, X, W, Z, Y, name, has_bias=False, need_dX=False)
    assert dX is None and db is None
    assert_close(dW, dW_ref, dtype)

    scratch = dY.copy()
    out_dW, out_db, out_dX = (np.full(a.shape, np.nan, dtype) for a in (W, b, X))
    dX, dW, db = backend.dense_backward(scratch, X, W, Z, Y, name, out_dW=out_dW,
                                        out_db=out_db, out_dX=out_dX, work_dZ=scratch)
    assert dX is out_dX and dW is out_dW and db is out_db
    assert_close(dW, dW_ref, dtype)
    assert_close(db, db_ref, dtype)
    assert_close(dX, dX_ref, dtype)
    assert_close(scratch, dZ_ref, dtype)  # the scratch now holds dZ


@pytest.mark.parametrize("n,k,m", [(0, 3, 4), (2, 0, 4), (2, 3, 0), (0, 0, 0), (0, 3, 0)])
@pytest.mark.parametrize("name", ["linear", "relu", "softmax"])
def test_zero_sizes(backend, numpy_ops, name, n, k, m, dtype):
    X, W, b, dY = _layer(n, k, m, dtype)
    nan = np.nan
    out_Z, out_Y = np.full((n, m), nan, dtype), np.full((n, m), nan, dtype)
    Z, Y = backend.dense_forward(X, W, b, name, out_Z=out_Z, out_Y=out_Y)
    # k = 0: a sum of no terms is 0, so Z is b on every row.
    np.testing.assert_array_equal(Z, np.broadcast_to(b, (n, m)))
    assert_close(Y, numpy_ops.activation(name, np.broadcast_to(b, (n, m)).copy()), dtype)

    out_dW, out_db = np.full((k, m), nan, dtype), np.full(m, nan, dtype)
    out_dX = np.full((n, k), nan, dtype)
    dX, dW, db = backend.dense_backward(dY, X, W, Z, Y, name, out_dW=out_dW,
                                        out_db=out_db, out_dX=out_dX)
    dZ = numpy_ops.activation_backward(name, dY, Z, Y)
    np.testing.assert_array_equal(dW, np.zeros((k, m)))  # n = 0 or k = 0 or m = 0
    assert_close(db, dZ.sum(axis=0), dtype)  # zeros when n = 0
    assert_close(dX, dZ @ W.T, dtype)  # zeros when m = 0


# --------------------------------------------------------------------------- large inputs
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_large_magnitudes(backend, numpy_ops, name, dtype):
    X, W, b, dY = _layer(8, 6, 5, dtype, seed=4)
    X *= 1000  # |Z| in the thousands: exp(z) overflows in either dtype
    Z, Y = backend.dense_forward(X, W, b, name)
    dX, dW, db = backend.dense_backward(dY, X, W, Z, Y, name)
    assert np.abs(Z).max() > 1000
    for arr in (Z, Y, dX, dW, db):
        assert np.isfinite(arr).all()
    if name == "sigmoid":
        assert Y.min() >= 0 and Y.max() <= 1
    if name == "softmax":
        assert_close(Y.sum(axis=1), np.ones(len(Y)), dtype)


# --------------------------------------------------------------------------- memory
def test_non_contiguous_inputs_are_copied(backend, dtype):
    X, W, b, dY = _layer(5, 6, 4, dtype, seed=5)
    Xs = np.zeros((5, 12), dtype)[:, ::2]
    Xs[...] = X
    Ws, bs, dYs = np.asfortranarray(W), np.zeros(8, dtype)[::2], np.asfortranarray(dY)
    bs[...] = b
    Z, Y = backend.dense_forward(X, W, b, "elu")
    Zs, Ys = backend.dense_forward(Xs, Ws, bs, "elu")
    assert_close(Zs, Z, dtype)
    assert_close(Ys, Y, dtype)
    grads = backend.dense_backward(dY, X, W, Z, Y, "elu")
    for got, want in zip(backend.dense_backward(dYs, Xs, Ws, np.asfortranarray(Z),
                                                np.asfortranarray(Y), "elu"), grads):
        assert_close(got, want, dtype)
    np.testing.assert_array_equal(Xs, X)


# --------------------------------------------------------------------------- refusals
def test_wrong_dtypes_are_refused(backend):
    X, W, b, dY = _layer(3, 4, 2, np.float64)
    Z, Y = backend.dense_forward(X, W, b, "relu")
    for bad in (np.int64, np.float16):
        with pytest.raises(TypeError):
            backend.dense_forward(X.astype(bad), W.astype(bad), None, "relu")
    with pytest.raises(TypeError):
        backend.dense_forward(X.astype(np.float32), W, b, "relu")
    with pytest.raises(TypeError):
        backend.dense_forward(X, W, b.astype(np.float32), "relu")
    with pytest.raises(TypeError):
        backend.dense_backward(dY.astype(np.float32), X, W, Z, Y, "relu")
    with pytest.raises(TypeError):
        backend.dense_backward(dY, X, W.astype(np.float32), Z, Y, "relu")


def test_bad_output_arrays_are_refused(backend):
    X, W, b, dY = _layer(3, 4, 2, np.float64)
    Z, Y = backend.dense_forward(X, W, b, "relu")
    bad_shape, bad_dtype = np.empty((2, 3)), np.empty((3, 2), np.float32)
    strided = np.empty((3, 4))[:, ::2]
    read_only = np.empty((3, 2))
    read_only.flags.writeable = False
    for name in ("out_Z", "out_Y"):
        for bad, error in ((bad_shape, ValueError), (bad_dtype, TypeError),
                           (strided, ValueError), (read_only, ValueError)):
            with pytest.raises(error):
                backend.dense_forward(X, W, b, "relu", **{name: bad})
    good = {"out_dW": (4, 2), "out_db": (2,), "out_dX": (3, 4), "work_dZ": (3, 2)}
    for name, shape in good.items():
        wrong_shape = np.empty(shape[::-1] if len(shape) == 2 else (3,))
        with pytest.raises(ValueError):
            backend.dense_backward(dY, X, W, Z, Y, "relu", **{name: wrong_shape})
        with pytest.raises(TypeError):
            backend.dense_backward(dY, X, W, Z, Y, "relu",
                                   **{name: np.empty(shape, np.float32)})
        strided = np.empty(shape + (2,))[..., 0]
        with pytest.raises(ValueError):
            backend.dense_backward(dY, X, W, Z, Y, "relu", **{name: strided})
    with pytest.raises(ValueError):  # dW would overwrite W, which dX still needs
        backend.dense_backward(dY, X, W, Z, Y, "relu", out_dW=W)


def test_bad_shapes_are_refused(backend):
    X, W, b, dY = _layer(3, 4, 2, np.float64)
    Z, Y = backend.dense_forward(X, W, b, "relu")
    with pytest.raises(ValueError):
        backend.dense_forward(X, W.T.copy(), None, "relu")
    with pytest.raises(ValueError):
        backend.dense_forward(X, W, np.ones(3), "relu")
    with pytest.raises(ValueError):
        backend.dense_forward(X[0], W, b, "relu")
    with pytest.raises(ValueError):
        backend.dense_backward(dY[:2], X, W, Z, Y, "relu")


def test_native_kernels_refuse_what_they_cannot_read(native_ops):
    """Called directly, without the public checks: refused, never misread."""
    from nncore.backends.native import _kernels

    relu = ACTIVATION_CODES["relu"]
    X, W, b, dY = _layer(3, 4, 2, np.float64)
    Z, Y = np.empty((3, 2)), np.empty((3, 2))
    with pytest.raises(TypeError):  # no float32/float64 signature matches
        _kernels.dense_forward(X.astype(int), W.astype(int), None, relu, 0.0, Z.astype(int),
                       Y.astype(int))
    # Cython's fused dispatch picks float64 from X, then refuses the float32 buffer.
    with pytest.raises((TypeError, ValueError)):
        _kernels.dense_forward(X, W, b.astype(np.float32), relu, 0.0, Z, Y)
    with pytest.raises((TypeError, ValueError)):
        _kernels.dense_forward(X, W, None, relu, 0.0, Z, Y.astype(np.float32))
    with pytest.raises(ValueError):
        _kernels.dense_forward(X, W[:3], None, relu, 0.0, Z, Y)
    with pytest.raises(ValueError):
        _kernels.dense_forward(X, W, np.ones(3), relu, 0.0, Z, Y)
    with pytest.raises(ValueError):
        _kernels.dense_forward(X, W, None, relu, 0.0, Z, np.empty((3, 4))[:, ::2])
    with pytest.raises(ValueError):
        _kernels.dense_forward(X, W, None, len(ACTIVATIONS), 0.0, Z, Y)
    dZ, dW, db, dX = np.empty((3, 2)), np.empty((4, 2)), np.empty(2), np.empty((3, 4))
    _kernels.dense_forward(X, W, b, relu, 0.0, Z, Y)
    with pytest.raises(ValueError):
        _kernels.dense_backward(dY, X, W, Z, Y, relu, 0.0, dZ, dW, db, np.empty((4, 3)))
    with pytest.raises(ValueError):
        _kernels.dense_backward(dY, X, W, Z, Y, relu, 0.0, dZ, dW, np.empty(3), dX)
    with pytest.raises((TypeError, ValueError)):
        _kernels.dense_backward(dY, X, W, Z, Y, relu, 0.0, dZ, dW.astype(np.float32), db, dX)


# --------------------------------------------------------------------------- which BLAS
native_only = pytest.mark.skipif(not backends.native_available(),
                                 reason="the native backend is not built")


@native_only
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc/self/maps")
def test_gemm_calls_the_declared_scipy_openblas64():
    """The GEMMs run in the scipy-openblas64 package's own library (linked at build time,
    loaded from the installed package), never in a BLAS found among loaded libraries."""
    import scipy_openblas64
    from nncore.backends.native import _kernels

    lib_dir = os.path.realpath(scipy_openblas64.get_lib_dir())
    maps = Path("/proc/self/maps").read_text()
    mapped = {os.path.realpath(line.split()[-1]) for line in maps.splitlines()
              if "libscipy_openblas64_.so" in line}
    assert mapped and all(os.path.dirname(p) == lib_dir for p in mapped), mapped
    assert _kernels.BLAS.startswith(f"scipy-openblas64 {scipy_openblas64.__version__} ("), \
        _kernels.BLAS


@native_only
def test_the_blas_thread_pool_is_controlled_by_threadpoolctl():
    """threadpoolctl sees the library and limits its threads; results do not change."""
    import threadpoolctl
    from nncore.backends.native import _kernels

    entries = [e for e in threadpoolctl.threadpool_info()
               if "libscipy_openblas64_.so" in os.path.basename(e["filepath"])]
    assert len(entries) == 1, entries
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 300)).astype(np.float32)
    w = rng.standard_normal((300, 200)).astype(np.float32)
    code = ACTIVATION_CODES["linear"]

    def product():
        z = np.empty((64, 200), np.float32)
        _kernels.dense_forward(x, w, None, code, 0.0, z, z)
        return z

    before = product()
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        inside = [e for e in threadpoolctl.threadpool_info()
                  if e["filepath"] == entries[0]["filepath"]]
        assert inside[0]["num_threads"] == 1
        # Another thread count splits the sums differently: equal to rounding.
        np.testing.assert_allclose(product(), before, rtol=1e-5, atol=1e-4)


@native_only
@pytest.mark.skipif(shutil.which("nm") is None, reason="needs nm (binutils) to list symbols")
def test_the_extension_exports_its_init_function_only():
    """One extension module, linked once, exporting PyInit__kernels and nothing of the C
    kernels (-fvisibility=hidden and csrc/exports.map)."""
    from nncore.backends.native import _kernels

    out = subprocess.run(["nm", "-D", "--defined-only", _kernels.__file__],
                         capture_output=True, text=True, check=True).stdout
    assert [line.split()[-1] for line in out.splitlines()] == ["PyInit__kernels"]
