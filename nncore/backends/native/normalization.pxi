# Batch normalization kernels (csrc/normalization.c): the semantics of
# nncore/backends/numpy_backend/normalization.py, the reference they are tested against.

cdef extern from "normalization.h" nogil:
    void nnc_batch_norm_forward_f32(ptrdiff_t n, ptrdiff_t d, const float *X,
                                    const float *gamma, const float *beta,
                                    float *moving_mean, float *moving_variance,
                                    int training, double momentum, double eps, float *Y,
                                    float *xhat, float *inv_std)
    void nnc_batch_norm_forward_f64(ptrdiff_t n, ptrdiff_t d, const double *X,
                                    const double *gamma, const double *beta,
                                    double *moving_mean, double *moving_variance,
                                    int training, double momentum, double eps, double *Y,
                                    double *xhat, double *inv_std)
    void nnc_batch_norm_backward_f32(ptrdiff_t n, ptrdiff_t d, const float *dY,
                                     const float *xhat, const float *gamma,
                                     const float *inv_std, float *dX, float *dgamma,
                                     float *dbeta)
    void nnc_batch_norm_backward_f64(ptrdiff_t n, ptrdiff_t d, const double *dY,
                                     const double *xhat, const double *gamma,
                                     const double *inv_std, double *dX, double *dgamma,
                                     double *dbeta)


def batch_norm_forward(X, gamma, beta, moving_mean, moving_variance, bint training,
                       double momentum, double eps, Y, xhat, inv_std) -> None:
    """Batch normalization of X (n, d) over its rows into Y, xhat (n, d), inv_std (d,).

    Training uses the batch mean and biased variance and updates ``moving = momentum *
    moving + (1 - momentum) * batch`` in place; inference uses the moving statistics.
    ``inv_std = 1 / sqrt(var + eps)``, ``xhat = (X - mean) * inv_std``,
    ``Y = gamma * xhat + beta``.
    """
    cdef Arrays h
    cdef char *x
    cdef char *g
    cdef char *b
    cdef char *mean
    cdef char *var
    cdef char *y
    cdef char *xh
    cdef char *inv
    cdef Py_ssize_t n, d
    h.count = 0
    try:
        x = first(&h, X, 2, False, "X")
        n, d = h.view[0].shape[0], h.view[0].shape[1]
        # The mean and variance of no rows are 0 / 0: the moving statistics would turn NaN.
        if training and n == 0:
            raise ValueError("X must hold at least one row to compute batch statistics.")
        g = take(&h, gamma, 1, d, 0, False, "gamma")
        b = take(&h, beta, 1, d, 0, False, "beta")
        mean = take(&h, moving_mean, 1, d, 0, True, "moving_mean")
        var = take(&h, moving_variance, 1, d, 0, True, "moving_variance")
        y = take(&h, Y, 2, n, d, True, "Y")
        xh = take(&h, xhat, 2, n, d, True, "xhat")
        inv = take(&h, inv_std, 1, d, 0, True, "inv_std")
        with nogil:
            if h.itemsize == 4:
                nnc_batch_norm_forward_f32(n, d, <float *>x, <float *>g, <float *>b,
                                           <float *>mean, <float *>var, training, momentum,
                                           eps, <float *>y, <float *>xh, <float *>inv)
            else:
                nnc_batch_norm_forward_f64(n, d, <double *>x, <double *>g, <double *>b,
                                           <double *>mean, <double *>var, training,
                                           momentum, eps, <double *>y, <double *>xh,
                                           <double *>inv)
    finally:
        release_all(&h)


def batch_norm_backward(dY, xhat, gamma, inv_std, dX, dgamma, dbeta) -> None:
    """``dbeta = sum(dY)``, ``dgamma = sum(dY * xhat)`` over rows and
    ``dX = gamma * inv_std / n * (n * dY - dbeta - xhat * dgamma)``; dX may be dY."""
    cdef Arrays h
    cdef char *dy
    cdef char *xh
    cdef char *g
    cdef char *inv
    cdef char *dx
    cdef char *dg
    cdef char *db
    cdef Py_ssize_t n, d
    h.count = 0
    try:
        dy = first(&h, dY, 2, False, "dY")
        n, d = h.view[0].shape[0], h.view[0].shape[1]
        xh = take(&h, xhat, 2, n, d, False, "xhat")
        g = take(&h, gamma, 1, d, 0, False, "gamma")
        inv = take(&h, inv_std, 1, d, 0, False, "inv_std")
        dx = take(&h, dX, 2, n, d, True, "dX")
        dg = take(&h, dgamma, 1, d, 0, True, "dgamma")
        db = take(&h, dbeta, 1, d, 0, True, "dbeta")
        with nogil:
            if h.itemsize == 4:
                nnc_batch_norm_backward_f32(n, d, <float *>dy, <float *>xh, <float *>g,
                                            <float *>inv, <float *>dx, <float *>dg,
                                            <float *>db)
            else:
                nnc_batch_norm_backward_f64(n, d, <double *>dy, <double *>xh, <double *>g,
                                            <double *>inv, <double *>dx, <double *>dg,
                                            <double *>db)
    finally:
        release_all(&h)
