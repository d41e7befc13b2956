# Activation kernels (csrc/activations.c): the semantics of
# nncore/backends/numpy_backend/activations.py, the reference they are tested against.

cdef extern from "activations.h" nogil:
    enum:
        NNC_NUM_ACTIVATIONS
        NNC_LINEAR
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

#: How many activations C knows: len(codes.ACTIVATIONS), as both come from that table.
NUM_ACTIVATIONS = NNC_NUM_ACTIVATIONS


cdef int check_activation(int code) except -1:
    if code < 0 or code >= NNC_NUM_ACTIVATIONS:
        raise ValueError(f"Unknown activation code. Received: code={code}")
    return 0


def activation_forward(int code, Z, Y, double alpha) -> None:
    """``Y = act(Z)`` for the activation ``code``; Z and Y (n, d), Y may be Z."""
    cdef Arrays h
    cdef char *z
    cdef char *y
    cdef Py_ssize_t n, d
    check_activation(code)
    h.count = 0
    try:
        z = first(&h, Z, 2, False, "Z")
        n, d = h.view[0].shape[0], h.view[0].shape[1]
        y = take(&h, Y, 2, n, d, True, "Y")
        with nogil:
            if h.itemsize == 4:
                nnc_activation_forward_f32(code, n, d, <float *>z, <float *>y, alpha)
            else:
                nnc_activation_forward_f64(code, n, d, <double *>z, <double *>y, alpha)
    finally:
        release_all(&h)


def activation_backward(int code, dY, Z, Y, double alpha, dZ) -> None:
    """``dZ = dY * act'(Z)`` (softmax: row-wise Jacobian-vector product); dZ may be dY."""
    cdef Arrays h
    cdef char *dy
    cdef char *z
    cdef char *y
    cdef char *dz
    cdef Py_ssize_t n, d
    check_activation(code)
    h.count = 0
    try:
        dy = first(&h, dY, 2, False, "dY")
        n, d = h.view[0].shape[0], h.view[0].shape[1]
        z = take(&h, Z, 2, n, d, False, "Z")
        y = take(&h, Y, 2, n, d, False, "Y")
        dz = take(&h, dZ, 2, n, d, True, "dZ")
        with nogil:
            if h.itemsize == 4:
                nnc_activation_backward_f32(code, n, d, <float *>dy, <float *>z,
                                            <float *>y, <float *>dz, alpha)
            else:
                nnc_activation_backward_f64(code, n, d, <double *>dy, <double *>z,
                                            <double *>y, <double *>dz, alpha)
    finally:
        release_all(&h)
