# distutils: sources = csrc/normalization.c
"""Native batch normalization kernels: Cython wrappers over csrc/normalization.c.

Same signatures and semantics as nncore/backends/numpy_backend/normalization.py, the
reference they are tested against. Typed memoryviews refuse a wrong dtype or a
non-contiguous (or, for the arrays written, read-only) array before any C code runs;
shapes are checked here too, so even a direct call cannot make C read or write out of
bounds. The GIL is released inside the kernels.
"""
from cython cimport floating

from nncore.backends.native._checks cimport check_matrix, check_vector
from libc.stddef cimport ptrdiff_t

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


def batch_norm_forward(const floating[:, ::1] X, const floating[::1] gamma,
                       const floating[::1] beta, floating[::1] moving_mean,
                       floating[::1] moving_variance, bint training, double momentum,
                       double eps, floating[:, ::1] Y, floating[:, ::1] xhat,
                       floating[::1] inv_std) -> None:
    """Batch normalization of X (n, d) over its rows into Y, xhat (n, d), inv_std (d,).

    Training uses the batch mean and biased variance and updates ``moving = momentum *
    moving + (1 - momentum) * batch`` in place; inference uses the moving statistics.
    ``inv_std = 1 / sqrt(var + eps)``, ``xhat = (X - mean) * inv_std``,
    ``Y = gamma * xhat + beta``.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    # The mean and variance of no rows are 0 / 0: the moving statistics would turn NaN.
    if training and n == 0:
        raise ValueError("X must hold at least one row to compute batch statistics.")
    check_matrix(X, n, d, "X")
    check_vector(gamma, d, "gamma")
    check_vector(beta, d, "beta")
    check_vector(moving_mean, d, "moving_mean")
    check_vector(moving_variance, d, "moving_variance")
    check_vector(inv_std, d, "inv_std")
    check_matrix(Y, n, d, "Y")
    check_matrix(xhat, n, d, "xhat")
    with nogil:
        if floating is float:
            nnc_batch_norm_forward_f32(n, d, &X[0, 0], &gamma[0], &beta[0], &moving_mean[0],
                                       &moving_variance[0], training, momentum, eps,
                                       &Y[0, 0], &xhat[0, 0], &inv_std[0])
        else:
            nnc_batch_norm_forward_f64(n, d, &X[0, 0], &gamma[0], &beta[0], &moving_mean[0],
                                       &moving_variance[0], training, momentum, eps,
                                       &Y[0, 0], &xhat[0, 0], &inv_std[0])


def batch_norm_backward(const floating[:, ::1] dY, const floating[:, ::1] xhat,
                        const floating[::1] gamma, const floating[::1] inv_std,
                        floating[:, ::1] dX, floating[::1] dgamma,
                        floating[::1] dbeta) -> None:
    """``dbeta = sum(dY)``, ``dgamma = sum(dY * xhat)`` over rows and
    ``dX = gamma * inv_std / n * (n * dY - dbeta - xhat * dgamma)``; dX may be dY."""
    cdef Py_ssize_t n = dY.shape[0], d = dY.shape[1]
    check_matrix(dY, n, d, "dY")
    check_matrix(xhat, n, d, "xhat")
    check_vector(gamma, d, "gamma")
    check_vector(inv_std, d, "inv_std")
    check_matrix(dX, n, d, "dX")
    check_vector(dgamma, d, "dgamma")
    check_vector(dbeta, d, "dbeta")
    with nogil:
        if floating is float:
            nnc_batch_norm_backward_f32(n, d, &dY[0, 0], &xhat[0, 0], &gamma[0],
                                        &inv_std[0], &dX[0, 0], &dgamma[0], &dbeta[0])
        else:
            nnc_batch_norm_backward_f64(n, d, &dY[0, 0], &xhat[0, 0], &gamma[0],
                                        &inv_std[0], &dX[0, 0], &dgamma[0], &dbeta[0])
