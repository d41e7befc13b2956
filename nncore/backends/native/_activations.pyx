# distutils: sources = csrc/activations.c
# cython: boundscheck=False, wraparound=False, initializedcheck=False
"""Native activation kernels: Cython wrappers over csrc/activations.c.

Same signatures and semantics as nncore/backends/numpy_backend/activations.py, the
reference they are tested against. Typed memoryviews refuse a wrong dtype (TypeError) or a
non-contiguous array before any C code runs; shapes are checked here too, so even a direct
call cannot make C read or write out of bounds. The GIL is released inside the kernels.
"""
# The kernels pass &A[0, 0] even for an empty array: with boundscheck off that is
# just its data pointer, which C never dereferences when a size is 0.
from cython cimport floating

from nncore.backends.native._checks cimport check_matrix, check_vector

cdef extern from "activations.h" nogil:
    enum nnc_activation:
        NNC_NUM_ACTIVATIONS
    void nnc_activation_forward_f32(int code, Py_ssize_t n, Py_ssize_t d, const float *Z,
                                    float *Y, double alpha)
    void nnc_activation_forward_f64(int code, Py_ssize_t n, Py_ssize_t d, const double *Z,
                                    double *Y, double alpha)
    void nnc_activation_backward_f32(int code, Py_ssize_t n, Py_ssize_t d, const float *dY,
                                     const float *Z, const float *Y, float *dZ,
                                     double alpha)
    void nnc_activation_backward_f64(int code, Py_ssize_t n, Py_ssize_t d,
                                     const double *dY, const double *Z, const double *Y,
                                     double *dZ, double alpha)

#: How many activations C knows: len(codes.ACTIVATIONS), as both come from that table.
NUM_ACTIVATIONS = NNC_NUM_ACTIVATIONS


cdef int check_code(int code) except -1:
    if code < 0 or code >= NNC_NUM_ACTIVATIONS:
        raise ValueError(f"Unknown activation code. Received: code={code}")
    return 0


def forward(int code, const floating[:, ::1] Z, floating[:, ::1] Y, double alpha) -> None:
    """``Y = act(Z)`` for the activation ``code``; Z and Y (n, d), Y may be Z."""
    check_code(code)
    cdef Py_ssize_t n = Z.shape[0], d = Z.shape[1]
    check_matrix(Z, n, d, "Z")
    check_matrix(Y, n, d, "Y")
    with nogil:
        if floating is float:
            nnc_activation_forward_f32(code, n, d, &Z[0, 0], &Y[0, 0], alpha)
        else:
            nnc_activation_forward_f64(code, n, d, &Z[0, 0], &Y[0, 0], alpha)


def backward(int code, const floating[:, ::1] dY, const floating[:, ::1] Z,
             const floating[:, ::1] Y, double alpha, floating[:, ::1] dZ) -> None:
    """``dZ = dY * act'(Z)`` (softmax: row-wise Jacobian-vector product); dZ may be dY."""
    check_code(code)
    cdef Py_ssize_t n = dY.shape[0], d = dY.shape[1]
    check_matrix(dY, n, d, "dY")
    check_matrix(Z, n, d, "Z")
    check_matrix(Y, n, d, "Y")
    check_matrix(dZ, n, d, "dZ")
    with nogil:
        if floating is float:
            nnc_activation_backward_f32(code, n, d, &dY[0, 0], &Z[0, 0], &Y[0, 0],
                                        &dZ[0, 0], alpha)
        else:
            nnc_activation_backward_f64(code, n, d, &dY[0, 0], &Z[0, 0], &Y[0, 0],
                                        &dZ[0, 0], alpha)
