"""Activations forward and backward on both backends: native against numpy (the oracle),
hand-computed and course golden values, finite differences, large inputs, aliasing and
argument checks."""
import warnings

import numpy as np
import pytest

from nncore.backends.base import ACTIVATION_CODES, ACTIVATIONS, DEFAULT_ALPHA

from conftest import FD_ATOL, FD_RTOL, TOL, assert_close, numerical_grad

SHAPES = [(1, 1), (1, 3), (3, 17), (17, 257), (257, 1)]
#: Every activation but step (flat, with a jump at 0), with non-default alphas as well.
DIFFERENTIABLE = [(name, None) for name in ACTIVATIONS if name != "step"] + [
    ("leaky_relu", 0.05), ("elu", 0.5)]


def _random(shape, dtype, seed=0, scale=3.0):
    """Pre-activations Z (spread over the interesting range) and an upstream gradient dY."""
    rng = np.random.default_rng(seed)
    Z = (scale * rng.standard_normal(shape)).astype(dtype)
    dY = rng.standard_normal(shape).astype(dtype)
    return Z, dY


# --------------------------------------------------------------------------- native == numpy
def test_native_activation_codes_match_the_interface(native_ops):
    """C's enums are written from nncore/backends/codes.py at build time; the compiled
    count, and the header of a checkout, show it."""
    from pathlib import Path

    from nncore.backends import codes
    from nncore.backends.native import _kernels

    assert _kernels.NUM_ACTIVATIONS == len(ACTIVATION_CODES) == len(codes.ACTIVATIONS)
    header = Path(codes.__file__).resolve().parents[2] / "csrc" / "codes.h"
    if header.exists():  # a checkout, built
        assert header.read_text() == codes.c_header()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_native_matches_numpy(native_ops, numpy_ops, name, dtype, shape):
    Z, dY = _random(shape, dtype, seed=len(name))
    Y_ref = numpy_ops.activation(name, Z)
    assert_close(native_ops.activation(name, Z), Y_ref, dtype)
    # Backward from the same (Z, Y), so only the backward kernels are compared.
    dZ_ref = numpy_ops.activation_backward(name, dY, Z, Y_ref)
    dZ = native_ops.activation_backward(name, dY, Z, Y_ref)
    # dZ = dY * act'(Z): its rounding error scales with |dY|, not with |dZ|.
    assert_close(dZ, dZ_ref, dtype, scale=np.abs(dY).max())


@pytest.mark.parametrize("name,alpha", [("leaky_relu", 0.01), ("leaky_relu", 1.5),
                                        ("elu", 0.3), ("elu", 2.0)])
def test_native_matches_numpy_with_alpha(native_ops, numpy_ops, name, alpha, dtype):
    Z, dY = _random((7, 9), dtype)
    Y_ref = numpy_ops.activation(name, Z, alpha=alpha)
    assert_close(native_ops.activation(name, Z, alpha=alpha), Y_ref, dtype)
    assert_close(native_ops.activation_backward(name, dY, Z, Y_ref, alpha=alpha),
                 numpy_ops.activation_backward(name, dY, Z, Y_ref, alpha=alpha), dtype,
                 scale=np.abs(dY).max())


# --------------------------------------------------------------------------- golden values
Z_GOLDEN = [-2.0, 0.0, 1.5]
#: act(z) and act'(z) at Z_GOLDEN, worked out from the formulas (9 significant digits).
GOLDEN = {
    "linear": ([-2.0, 0.0, 1.5], [1.0, 1.0, 1.0]),
    "step": ([0.0, 0.0, 1.0], [0.0, 0.0, 0.0]),
    "sigmoid": ([0.119202922, 0.5, 0.817574476], [0.104993585, 0.25, 0.149146452]),
    "tanh": ([-0.96402758, 0.0, 0.905148254], [0.0706508249, 1.0, 0.180706639]),
    "relu": ([0.0, 0.0, 1.5], [0.0, 0.0, 1.0]),
    "leaky_relu": ([-0.4, 0.0, 1.5], [0.2, 0.2, 1.0]),
    # elu at 0 takes the z <= 0 branch: derivative y + alpha = 1, continuous for alpha 1.
    "elu": ([-0.864664717, 0.0, 1.5], [0.135335283, 1.0, 1.0]),
    "gelu": ([-0.0455002639, 0.0, 1.3997892], [-0.0852318011, 0.5, 1.12746919]),
    "softplus": ([0.126928011, 0.693147181, 1.70141328], [0.119202922, 0.5, 0.817574476]),
    # selu at 0 takes the z <= 0 branch, as elu: derivative scale * alpha.
    "selu": ([-1.52016647, 0.0, 1.57605148], [0.237932872, 1.75809934, 1.05070099]),
    "silu": ([-0.238405844, 0.0, 1.22636171], [-0.0907842488, 0.5, 1.04129415]),
    "mish": ([-0.252501483, 0.0, 1.40337827], [-0.108355092, 0.6, 1.08848799]),
    "relu6": ([0.0, 0.0, 1.5], [0.0, 0.0, 1.0]),
    "hard_sigmoid": ([0.166666667, 0.5, 0.75], [0.166666667, 0.166666667, 0.166666667]),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_hand_computed_values(backend, name, dtype):
    Z = np.array([Z_GOLDEN], dtype=dtype)
    Y = backend.activation(name, Z)
    dZ = backend.activation_backward(name, np.ones_like(Z), Z, Y)
    forward, derivative = GOLDEN[name]
    # The constants carry 9 digits; float32 results carry about 7.
    rtol = max(TOL[np.dtype(dtype)][0], 1e-8)
    np.testing.assert_allclose(Y[0], forward, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(dZ[0], derivative, rtol=rtol, atol=1e-12)


def test_course_softmax_table(backend, dtype):
    Z = np.array([[1, 2, 0], [-1, 0, 1], [-10, 0, 10]], dtype=dtype)
    # The course's table to 4 significant digits. It prints 0.0900 and 2.06e-9, with 3
    # digits; to 4 they are 0.09003 (exp(-2) / (1 + e**-1 + e**-2)) and 2.061e-9
    # (exp(-20) / (1 + e**-10 + e**-20)); 0.99995 is given with 5.
    expected = [[0.2447, 0.6652, 0.09003],
                [0.09003, 0.2447, 0.6652],
                [2.061e-9, 4.540e-5, 0.99995]]
    # 4 significant digits: the rounding error is at most half a unit of the 4th digit,
    # relative 0.5e-3 for a leading digit of 1 (the worst case).
    np.testing.assert_allclose(backend.activation("softmax", Z), expected, rtol=5e-4, atol=0)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name,alpha", DIFFERENTIABLE)
def test_backward_matches_finite_differences(backend, name, alpha):
    rng = np.random.default_rng(1)
    # |z| in [0.2, 2]: the central difference never straddles relu's or leaky_relu's kink
    # at 0, or elu's (when alpha != 1).
    Z = rng.choice([-1.0, 1.0], size=(3, 5)) * rng.uniform(0.2, 2.0, size=(3, 5))
    G = rng.standard_normal((3, 5))

    def loss():
        return float(np.sum(G * backend.activation(name, Z, alpha=alpha)))

    Y = backend.activation(name, Z, alpha=alpha)
    dZ = backend.activation_backward(name, G, Z, Y, alpha=alpha)
    np.testing.assert_allclose(dZ, numerical_grad(loss, Z), rtol=FD_RTOL, atol=FD_ATOL)


def test_step_has_zero_gradient(backend, dtype):
    Z, dY = _random((4, 6), dtype)
    Y = backend.activation("step", Z)
    np.testing.assert_array_equal(Y, (Z > 0).astype(dtype))
    np.testing.assert_array_equal(backend.activation_backward("step", dY, Z, Y), 0)


# --------------------------------------------------------------------------- large inputs
def _large(dtype):
    """Rows mixing huge, overflow-threshold and ordinary values (exp overflows past 88 in
    float32 and 709 in float64)."""
    Z, _ = _random((6, 24), dtype, seed=3)
    Z[0, :8] = [1e4, -1e4, 1e3, -1e3, 710, -710, 89, -89]
    Z[1, :] = 1e4
    Z[2, :] = -1e4
    Z[3, ::2] = -1e4
    Z[4, :3] = [1e4, -1e4, 0]
    return Z


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_large_magnitudes_stay_finite(backend, name, dtype):
    Z = _large(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning either
        Y = backend.activation(name, Z)
        dY = np.ones_like(Z)
        dZ = backend.activation_backward(name, dY, Z, Y)
    assert np.isfinite(Y).all() and np.isfinite(dZ).all()
    if name == "sigmoid":
        assert Y.min() >= 0 and Y.max() <= 1
        assert Y[0, 0] == 1 and Y[0, 1] == 0
    if name == "tanh":
        assert Y.min() >= -1 and Y.max() <= 1
    if name == "softplus":
        assert Y.min() >= 0 and Y[0, 0] == Z[0, 0]
    if name == "softmax":
        assert Y.min() >= 0 and Y.max() <= 1
        assert_close(Y.sum(axis=1), np.ones(len(Y)), dtype)
        np.testing.assert_array_equal(Y[4, :3], [1, 0, 0])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_native_matches_numpy_on_large_magnitudes(native_ops, numpy_ops, name, dtype):
    Z = _large(dtype)
    _, dY = _random(Z.shape, dtype, seed=4)
    Y_ref = numpy_ops.activation(name, Z)
    assert_close(native_ops.activation(name, Z), Y_ref, dtype)
    assert_close(native_ops.activation_backward(name, dY, Z, Y_ref),
                 numpy_ops.activation_backward(name, dY, Z, Y_ref), dtype,
                 scale=np.abs(dY).max())


#: Native float32 GELU against its float64 definition, in float32 ulps of the exact value.
#: Forward: one final rounding (0.5 ulp) plus erfc's double-precision error (~1e-16
#: relative), so 1 ulp. Backward dZ = dY * gelu'(Z): gelu' rounded to float, then the
#: product rounded, so 2 ulps. A float argument to erfc (the old kernel) cost ~150 ulps at
#: z = -12: erfc(x) ~ exp(-x**2) turns a relative rounding e of x into 2 x**2 e.
GELU_F32_ULPS = {"forward": 1.0, "backward": 2.0}


def _ulps(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in units of the float32 spacing at ``exact`` (float64)."""
    return np.abs(got.astype(np.float64) - exact) / np.spacing(np.abs(exact).astype(np.float32))


def test_native_gelu_float32_tail_is_accurate(native_ops, numpy_ops):
    """The far negative tail (z in [-12, -3], where GELU is down to ~1e-32), and the rest
    of the range, within GELU_F32_ULPS of numpy's float64 definition."""
    Z = np.concatenate([np.linspace(-12, -3, 4001), np.linspace(-3, 6, 901)]).astype(
        np.float32).reshape(1, -1)
    dY = np.random.default_rng(0).uniform(0.5, 2.0, Z.shape).astype(np.float32)
    Z64 = Z.astype(np.float64)
    Y64 = numpy_ops.activation("gelu", Z64)
    dZ64 = numpy_ops.activation_backward("gelu", dY.astype(np.float64), Z64, Y64)
    nonzero = Z != 0  # gelu(0) = 0 exactly, where a relative ulp has no meaning
    forward = _ulps(native_ops.activation("gelu", Z), Y64)[nonzero]
    backward = _ulps(native_ops.activation_backward("gelu", dY, Z, Y64.astype(np.float32)),
                     dZ64)
    assert forward.max() <= GELU_F32_ULPS["forward"], \
        f"forward off by {forward.max():.1f} ulps at z={Z[nonzero][forward.argmax()]}"
    assert backward.max() <= GELU_F32_ULPS["backward"], \
        f"backward off by {backward.max():.1f} ulps at z={Z.ravel()[backward.argmax()]}"


# --------------------------------------------------------------------------- memory
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_in_place(backend, name, dtype):
    Z, dY = _random((5, 17), dtype, seed=5)
    Y = backend.activation(name, Z)
    dZ = backend.activation_backward(name, dY, Z, Y)

    Z_inout = Z.copy()
    assert backend.activation(name, Z_inout, out=Z_inout) is Z_inout
    assert_close(Z_inout, Y, dtype)
    dY_inout = dY.copy()
    assert backend.activation_backward(name, dY_inout, Z, Y, out=dY_inout) is dY_inout
    assert_close(dY_inout, dZ, dtype, scale=np.abs(dY).max())


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_non_contiguous_inputs_are_copied(backend, name, dtype):
    big, dbig = _random((6, 34), dtype, seed=6)
    Z, dY = big[:, ::2], np.asfortranarray(dbig[:, 1::2])
    Z_before = Z.copy()
    Y = backend.activation(name, Z)
    assert_close(Y, backend.activation(name, np.ascontiguousarray(Z)), dtype)
    Y_strided = np.zeros((6, 34), dtype)[:, ::2]
    Y_strided[...] = Y
    dZ = backend.activation_backward(name, dY, Z, Y_strided)
    assert_close(dZ, backend.activation_backward(name, np.ascontiguousarray(dY),
                                                 np.ascontiguousarray(Z), Y), dtype)
    np.testing.assert_array_equal(Z, Z_before)


def test_other_shapes(backend, dtype):
    Z, _ = _random((2, 3, 4), dtype, seed=7)
    Y = backend.activation("softmax", Z)
    assert Y.shape == (2, 3, 4)
    assert_close(Y.reshape(6, 4), backend.activation("softmax", Z.reshape(6, 4)), dtype)
    assert_close(backend.activation("tanh", Z[0, 0]), np.tanh(Z[0, 0]), dtype)
    for shape in [(0, 5), (4, 0), (0, 0)]:
        for name in ("softmax", "relu"):
            Y = backend.activation(name, np.ones(shape, dtype))
            dZ = backend.activation_backward(name, Y, Y, Y.copy())
            assert Y.shape == dZ.shape == shape and Y.dtype == dZ.dtype == dtype


# --------------------------------------------------------------------------- refusals
def test_wrong_dtypes_are_refused(backend):
    Z = np.ones((2, 3))
    for bad in (Z.astype(np.int64), Z.astype(np.float16), Z.astype(np.complex128)):
        with pytest.raises(TypeError):
            backend.activation("relu", bad)
    with pytest.raises(TypeError):
        backend.activation("relu", [[1.0, 2.0]])
    with pytest.raises(TypeError):
        backend.activation("relu", Z, out=np.empty((2, 3), np.float32))
    Z32 = Z.astype(np.float32)
    with pytest.raises(TypeError):
        backend.activation_backward("relu", Z32, Z, Z32)
    with pytest.raises(TypeError):
        backend.activation_backward("relu", Z, Z, Z.astype(np.int32))
    with pytest.raises(TypeError):
        backend.activation_backward("relu", Z32, Z32, Z32, out=np.empty((2, 3)))


def test_bad_outputs_and_shapes_are_refused(backend):
    Z = np.ones((2, 3))
    with pytest.raises(ValueError):
        backend.activation("relu", Z, out=np.empty((3, 2)))
    with pytest.raises(ValueError):
        backend.activation("relu", Z, out=np.empty((2, 6))[:, ::2])
    read_only = np.empty((2, 3))
    read_only.flags.writeable = False
    with pytest.raises(ValueError):
        backend.activation("relu", Z, out=read_only)
    with pytest.raises(ValueError):
        backend.activation_backward("relu", Z, Z, np.ones((2, 4)))
    with pytest.raises(ValueError):
        backend.activation_backward("relu", Z, Z, Z.copy(), out=Z)  # out is Z: still read
    with pytest.raises(ValueError):
        backend.activation("maxout", Z)
    with pytest.raises(ValueError):
        backend.activation("leaky_relu", Z, alpha=float("nan"))


def test_native_kernels_refuse_what_they_cannot_read(native_ops):
    """Called directly, without the public checks: refused, never misread."""
    from nncore.backends.native import _kernels

    relu = ACTIVATION_CODES["relu"]
    Z = np.ones((2, 3))
    with pytest.raises(TypeError):  # no float32/float64 signature matches
        _kernels.activation_forward(relu, Z.astype(np.int64), Z.astype(np.int64), 0.0)
    # Cython's fused dispatch picks float64 from Z, then refuses the other buffer.
    with pytest.raises((TypeError, ValueError)):
        _kernels.activation_forward(relu, Z, Z.astype(np.float32), 0.0)
    with pytest.raises((TypeError, ValueError)):
        _kernels.activation_forward(relu, Z, Z.astype(np.float16), 0.0)
    with pytest.raises((TypeError, ValueError)):
        _kernels.activation_backward(relu, Z, Z, Z, 0.0, Z.astype(np.float32))
    with pytest.raises(ValueError):
        _kernels.activation_forward(relu, Z, np.empty((3, 2)), 0.0)
    with pytest.raises(ValueError):
        _kernels.activation_forward(relu, Z, np.empty((2, 6))[:, ::2], 0.0)
    with pytest.raises(ValueError):
        _kernels.activation_backward(relu, Z, Z, np.ones((2, 4)), 0.0, np.empty((2, 3)))
    with pytest.raises(ValueError):
        _kernels.activation_forward(len(ACTIVATIONS), Z, np.empty((2, 3)), 0.0)
    with pytest.raises(ValueError):
        _kernels.activation_forward(-1, Z, np.empty((2, 3)), 0.0)


def test_default_alphas_are_keras(backend):
    Z = np.array([[-1.0]])
    assert DEFAULT_ALPHA == {"leaky_relu": 0.2, "elu": 1.0}
    np.testing.assert_allclose(backend.activation("leaky_relu", Z), [[-0.2]])
    np.testing.assert_allclose(backend.activation("elu", Z), [[np.expm1(-1.0)]])
