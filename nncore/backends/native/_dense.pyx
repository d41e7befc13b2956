# distutils: sources = csrc/activations.c csrc/blas.c
# cython: boundscheck=False, wraparound=False, initializedcheck=False
"""Native dense-layer kernels: one BLAS GEMM plus one fused C pass each way.

Forward: ``Z = X @ W`` (GEMM), then ``Z += b; Y = act(Z)`` in one pass over Z.
Backward: ``dZ = dY * act'(Z)`` and ``db = dZ.sum(0)`` in one pass, then the GEMMs
``dW = X.T @ dZ`` and ``dX = dZ @ W.T`` (skipped when dX is None).
Same signatures and semantics as nncore/backends/numpy_backend/dense.py, the reference
they are tested against. The GIL is released from the first GEMM to the last pass.
"""
# The kernels pass &A[0, 0] even for an empty array: with boundscheck off that is
# just its data pointer, which C never dereferences when a size is 0.
from cython cimport floating

from nncore.backends.native._blas cimport find_blas
from nncore.backends.native._checks cimport check_matrix, check_vector
from libc.limits cimport INT_MAX

from nncore.backends.native._dense_core cimport (
    NNC_NUM_ACTIVATIONS, dense_backward, dense_forward,
)

#: The BLAS library the GEMMs of this module call.
BLAS = find_blas()


cdef int check_sizes(int code, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m) except -1:
    if code < 0 or code >= NNC_NUM_ACTIVATIONS:
        raise ValueError(f"Unknown activation code. Received: code={code}")
    if n > INT_MAX or k > INT_MAX or m > INT_MAX:  # scipy's BLAS takes 32-bit sizes
        raise ValueError(f"Each dimension must be below 2**31 for BLAS. Received: "
                         f"n={n}, k={k}, m={m}")
    return 0


def forward(const floating[:, ::1] X, const floating[:, ::1] W,
            const floating[::1] b, int code, double alpha, floating[:, ::1] Z,
            floating[:, ::1] Y) -> None:
    """``Z = X @ W + b`` (b may be None), ``Y = act(Z)``; X (n, k), W (k, m), b (m,),
    Z and Y (n, m); Y may be Z."""
    cdef Py_ssize_t n = X.shape[0], k = X.shape[1], m = W.shape[1]
    check_sizes(code, n, k, m)
    check_matrix(X, n, k, "X")
    check_matrix(W, k, m, "W")
    check_matrix(Z, n, m, "Z")
    check_matrix(Y, n, m, "Y")
    cdef const floating *b_ptr = NULL
    if b is not None:
        check_vector(b, m, "b")
        b_ptr = &b[0]
    with nogil:
        dense_forward(code, alpha, n, k, m, &X[0, 0], &W[0, 0], b_ptr, &Z[0, 0], &Y[0, 0])


def backward(const floating[:, ::1] dY, const floating[:, ::1] X,
             const floating[:, ::1] W, const floating[:, ::1] Z, const floating[:, ::1] Y,
             int code, double alpha, floating[:, ::1] dZ, floating[:, ::1] dW,
             floating[::1] db, floating[:, ::1] dX) -> None:
    """``dZ = dY * act'(Z)``, ``dW = X.T @ dZ``, ``db = dZ.sum(0)``, ``dX = dZ @ W.T``.

    dZ (n, m) is scratch and may be dY; db and dX may be None (not computed).
    """
    cdef Py_ssize_t n = X.shape[0], k = X.shape[1], m = W.shape[1]
    check_sizes(code, n, k, m)
    check_matrix(X, n, k, "X")
    check_matrix(W, k, m, "W")
    check_matrix(dY, n, m, "dY")
    check_matrix(Z, n, m, "Z")
    check_matrix(Y, n, m, "Y")
    check_matrix(dZ, n, m, "dZ")
    check_matrix(dW, k, m, "dW")
    cdef floating *db_ptr = NULL
    cdef bint need_dX = dX is not None
    if db is not None:
        check_vector(db, m, "db")
        db_ptr = &db[0]
    if need_dX:
        check_matrix(dX, n, k, "dX")
    cdef floating *dX_ptr = &dX[0, 0] if need_dX else NULL
    with nogil:
        dense_backward(code, alpha, n, k, m, &dY[0, 0], &X[0, 0], &W[0, 0], &Z[0, 0],
                       &Y[0, 0], &dZ[0, 0], &dW[0, 0], db_ptr, dX_ptr)
