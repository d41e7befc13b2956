"""Shared fixtures: every backend, both dtypes, and the tolerance table the tests use.

Tolerances (chosen, not tuned until green):
- native vs numpy, float32: rtol 1e-5, atol 1e-6 * scale. The two backends may sum in a
  different order (BLAS blocking, C loops vs NumPy pairwise sums); float32 carries ~7
  digits, so a few ulps of the largest term is the honest bound.
- native vs numpy, float64: rtol 1e-12, atol 1e-12 * scale, for the same reason at ~16
  digits.
- finite differences (float64, central, h = 1e-6): rtol 1e-6, atol 1e-8; the truncation
  error is O(h**2) ~ 1e-12 and the rounding error O(eps / h) ~ 1e-10 relative.
``scale`` is the magnitude of the largest term of a sum, passed by tests of large inputs.
"""
from __future__ import annotations

import os
from pathlib import Path

# scikit-learn's estimator checks include array-API ones that run only when scipy was
# loaded with this set (else they skip): set before anything imports scipy.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nncore import backends  # noqa: E402

BACKENDS = [name for name in backends.NAMES
            if name != "native" or backends.native_available()]
DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): (1e-5, 1e-6), np.dtype(np.float64): (1e-12, 1e-12)}
FD_STEP, FD_RTOL, FD_ATOL = 1e-6, 1e-6, 1e-8

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def assert_close(actual, expected, dtype=None, scale: float = 1.0) -> None:
    """Compare two results of the same op with the tolerance of their dtype."""
    dtype = np.dtype(dtype if dtype is not None else np.asarray(expected).dtype)
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale)


def numerical_grad(f, x: np.ndarray, h: float = FD_STEP) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x`` (in place)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


@pytest.fixture(params=BACKENDS)
def backend(request):
    return backends.get_backend(request.param)


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture
def numpy_ops():
    return backends.get_backend("numpy")


@pytest.fixture
def native_ops():
    if not backends.native_available():
        pytest.skip("the native extension is not built")
    return backends.get_backend("native")
