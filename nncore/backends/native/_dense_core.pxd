"""One dense layer each way, on raw pointers with the GIL released: used by the dense
kernels (_dense.pyx) and by the compiled training step (_plan.pyx). Callers check shapes."""
from cython cimport floating

from nncore.backends.native._blas cimport gemm

cdef extern from "activations.h" nogil:
    enum:
        NNC_NUM_ACTIVATIONS
        NNC_LINEAR
    void nnc_bias_activation_f32(int code, Py_ssize_t n, Py_ssize_t m, float *Z,
                                 const float *b, float *Y, double alpha)
    void nnc_bias_activation_f64(int code, Py_ssize_t n, Py_ssize_t m, double *Z,
                                 const double *b, double *Y, double alpha)
    void nnc_activation_backward_colsum_f32(int code, Py_ssize_t n, Py_ssize_t m,
                                            const float *dY, const float *Z,
                                            const float *Y, float *dZ, float *db,
                                            double alpha)
    void nnc_activation_backward_colsum_f64(int code, Py_ssize_t n, Py_ssize_t m,
                                            const double *dY, const double *Z,
                                            const double *Y, double *dZ, double *db,
                                            double alpha)


cdef inline void dense_forward(int code, double alpha, Py_ssize_t n, Py_ssize_t k,
                               Py_ssize_t m, const floating *X, const floating *W,
                               const floating *b, floating *Z, floating *Y) noexcept nogil:
    """``Z = X @ W`` (one GEMM), then ``Z += b; Y = act(Z)`` in one pass; b may be NULL."""
    gemm(False, False, <int>n, <int>m, <int>k, <floating>1, X, W, <floating>0, Z)
    if floating is float:
        nnc_bias_activation_f32(code, n, m, Z, b, Y, alpha)
    else:
        nnc_bias_activation_f64(code, n, m, Z, b, Y, alpha)


cdef inline void dense_backward(int code, double alpha, Py_ssize_t n, Py_ssize_t k,
                                Py_ssize_t m, const floating *dY, const floating *X,
                                const floating *W, const floating *Z, const floating *Y,
                                floating *dZ, floating *dW, floating *db,
                                floating *dX) noexcept nogil:
    """``dZ = dY * act'(Z)`` and ``db = dZ.sum(0)`` in one pass (dZ may be dY, db NULL),
    then ``dW = X.T @ dZ`` and, unless dX is NULL, ``dX = dZ @ W.T``."""
    if floating is float:
        nnc_activation_backward_colsum_f32(code, n, m, dY, Z, Y, dZ, db, alpha)
    else:
        nnc_activation_backward_colsum_f64(code, n, m, dY, Z, Y, dZ, db, alpha)
    gemm(True, False, <int>k, <int>m, <int>n, <floating>1, X, dZ, <floating>0, dW)
    if dX != NULL:
        gemm(False, True, <int>n, <int>k, <int>m, <floating>1, dZ, W, <floating>0, dX)
