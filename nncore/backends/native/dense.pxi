# Dense-layer kernels: one BLAS GEMM plus one fused C pass each way, the semantics of
# nncore/backends/numpy_backend/dense.py. forward_layer and backward_layer, on raw
# pointers with the GIL released, serve both the kernels below and the compiled step
# (plan.pxi); their callers check shapes.


cdef inline void forward_layer(int code, double alpha, Py_ssize_t n, Py_ssize_t k,
                               Py_ssize_t m, const floating *X, const floating *W,
                               const floating *b, floating *Z, floating *Y) noexcept nogil:
    """``Z = X @ W`` (one GEMM), then ``Z += b; Y = act(Z)`` in one pass; b may be NULL."""
    gemm(False, False, <int>n, <int>m, <int>k, <floating>1, X, W, <floating>0, Z)
    if floating is float:
        nnc_bias_activation_f32(code, n, m, Z, b, Y, alpha)
    else:
        nnc_bias_activation_f64(code, n, m, Z, b, Y, alpha)


cdef inline void backward_layer(int code, double alpha, Py_ssize_t n, Py_ssize_t k,
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


cdef int check_dense(int code, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m) except -1:
    check_activation(code)
    if n > INT_MAX or k > INT_MAX or m > INT_MAX:  # gemm takes int sizes
        raise ValueError(f"Each dimension must be below 2**31 for BLAS. Received: "
                         f"n={n}, k={k}, m={m}")
    return 0


def dense_forward(X, W, b, int code, double alpha, Z, Y) -> None:
    """``Z = X @ W + b`` (b may be None), ``Y = act(Z)``; X (n, k), W (k, m), b (m,),
    Z and Y (n, m); Y may be Z. The GIL is released from the GEMM to the last pass."""
    cdef Arrays h
    cdef char *x
    cdef char *w
    cdef char *pb
    cdef char *z
    cdef char *y
    cdef Py_ssize_t n, k, m
    h.count = 0
    try:
        x = first(&h, X, 2, False, "X")
        n, k = h.view[0].shape[0], h.view[0].shape[1]
        w = take(&h, W, 2, k, -1, False, "W")
        m = h.view[1].shape[1]
        check_dense(code, n, k, m)
        pb = take_optional(&h, b, 1, m, 0, False, "b")
        z = take(&h, Z, 2, n, m, True, "Z")
        y = take(&h, Y, 2, n, m, True, "Y")
        with nogil:
            if h.itemsize == 4:
                forward_layer(code, alpha, n, k, m, <const float *>x, <const float *>w,
                              <const float *>pb, <float *>z, <float *>y)
            else:
                forward_layer(code, alpha, n, k, m, <const double *>x, <const double *>w,
                              <const double *>pb, <double *>z, <double *>y)
    finally:
        release_all(&h)


def dense_backward(dY, X, W, Z, Y, int code, double alpha, dZ, dW, db, dX) -> None:
    """``dZ = dY * act'(Z)``, ``dW = X.T @ dZ``, ``db = dZ.sum(0)``, ``dX = dZ @ W.T``.

    dZ (n, m) is scratch and may be dY; db and dX may be None (not computed).
    """
    cdef Arrays h
    cdef char *x
    cdef char *w
    cdef char *dy
    cdef char *z
    cdef char *y
    cdef char *dz
    cdef char *dw
    cdef char *pdb
    cdef char *dx
    cdef Py_ssize_t n, k, m
    h.count = 0
    try:
        x = first(&h, X, 2, False, "X")
        n, k = h.view[0].shape[0], h.view[0].shape[1]
        w = take(&h, W, 2, k, -1, False, "W")
        m = h.view[1].shape[1]
        check_dense(code, n, k, m)
        dy = take(&h, dY, 2, n, m, False, "dY")
        z = take(&h, Z, 2, n, m, False, "Z")
        y = take(&h, Y, 2, n, m, False, "Y")
        dz = take(&h, dZ, 2, n, m, True, "dZ")
        dw = take(&h, dW, 2, k, m, True, "dW")
        pdb = take_optional(&h, db, 1, m, 0, True, "db")
        dx = take_optional(&h, dX, 2, n, k, True, "dX")
        with nogil:
            if h.itemsize == 4:
                backward_layer(code, alpha, n, k, m, <const float *>dy, <const float *>x,
                               <const float *>w, <const float *>z, <const float *>y,
                               <float *>dz, <float *>dw, <float *>pdb, <float *>dx)
            else:
                backward_layer(code, alpha, n, k, m, <const double *>dy,
                               <const double *>x, <const double *>w, <const double *>z,
                               <const double *>y, <double *>dz, <double *>dw,
                               <double *>pdb, <double *>dx)
    finally:
        release_all(&h)
