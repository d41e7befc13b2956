# distutils: sources = csrc/optimizers.c
"""Fused optimizer updates (csrc/optimizers.c) for the native backend.

Same names, arguments and semantics as nncore.backends.numpy_backend.optimizers: flat
arrays of one dtype updated in place, optional state None. Each update is one pass over
memory with the GIL released and subnormals flushed to zero (csrc/simd.h). The typed
memoryviews refuse a wrong dtype, a non-contiguous or a read-only array; lengths are
checked here, so C never reads out of bounds.
"""
from cython cimport floating

from nncore.backends.native._checks cimport check_vector
from libc.stddef cimport ptrdiff_t

cdef extern from "optimizers.h" nogil:
    void nnc_sgd_f32(ptrdiff_t n, float *w, const float *g, float *v, double lr,
                     double momentum, int nesterov, double wd)
    void nnc_sgd_f64(ptrdiff_t n, double *w, const double *g, double *v, double lr,
                     double momentum, int nesterov, double wd)
    void nnc_adagrad_f32(ptrdiff_t n, float *w, const float *g, float *acc, double lr,
                         double eps, double wd)
    void nnc_adagrad_f64(ptrdiff_t n, double *w, const double *g, double *acc, double lr,
                         double eps, double wd)
    void nnc_rmsprop_f32(ptrdiff_t n, float *w, const float *g, float *v, float *mom,
                         float *avg, double lr, double rho, double momentum, double eps,
                         double wd)
    void nnc_rmsprop_f64(ptrdiff_t n, double *w, const double *g, double *v, double *mom,
                         double *avg, double lr, double rho, double momentum, double eps,
                         double wd)
    void nnc_adam_f32(ptrdiff_t n, float *w, const float *g, float *m, float *v,
                      float *vhat, double lr, double beta_1, double beta_2, double eps,
                      long long step, double wd)
    void nnc_adam_f64(ptrdiff_t n, double *w, const double *g, double *m, double *v,
                      double *vhat, double lr, double beta_1, double beta_2, double eps,
                      long long step, double wd)


def sgd(floating[::1] w, const floating[::1] g, floating[::1] v, double lr,
        double momentum, bint nesterov, double wd):
    """``w -= lr * g``, or with ``v``: ``v = momentum * v - lr * g; w += v`` (Nesterov
    ``w += momentum * v - lr * g``); decoupled weight decay first."""
    cdef Py_ssize_t n = w.shape[0]
    cdef floating *pv = NULL
    check_vector(w, n, "param")
    check_vector(g, n, "grad")
    if v is not None:
        check_vector(v, n, "velocity")
        pv = &v[0]
    with nogil:
        if floating is float:
            nnc_sgd_f32(n, &w[0], &g[0], pv, lr, momentum, nesterov, wd)
        else:
            nnc_sgd_f64(n, &w[0], &g[0], pv, lr, momentum, nesterov, wd)


def adagrad(floating[::1] w, const floating[::1] g, floating[::1] acc not None,
            double lr, double eps, double wd):
    """``acc += g**2; w -= lr * g / sqrt(acc + eps)``; decoupled weight decay first."""
    cdef Py_ssize_t n = w.shape[0]
    check_vector(w, n, "param")
    check_vector(g, n, "grad")
    check_vector(acc, n, "accumulator")
    with nogil:
        if floating is float:
            nnc_adagrad_f32(n, &w[0], &g[0], &acc[0], lr, eps, wd)
        else:
            nnc_adagrad_f64(n, &w[0], &g[0], &acc[0], lr, eps, wd)


def rmsprop(floating[::1] w, const floating[::1] g, floating[::1] v not None,
            floating[::1] mom, floating[::1] avg, double lr, double rho, double momentum,
            double eps, double wd):
    """RMSprop: ``v = rho v + (1 - rho) g**2``, centered with ``avg``, momentum with
    ``mom`` (see csrc/optimizers.h); decoupled weight decay first."""
    cdef Py_ssize_t n = w.shape[0]
    cdef floating *pmom = NULL
    cdef floating *pavg = NULL
    check_vector(w, n, "param")
    check_vector(g, n, "grad")
    check_vector(v, n, "velocity")
    if mom is not None:
        check_vector(mom, n, "momentum_buffer")
        pmom = &mom[0]
    if avg is not None:
        check_vector(avg, n, "average_gradient")
        pavg = &avg[0]
    with nogil:
        if floating is float:
            nnc_rmsprop_f32(n, &w[0], &g[0], &v[0], pmom, pavg, lr, rho, momentum, eps, wd)
        else:
            nnc_rmsprop_f64(n, &w[0], &g[0], &v[0], pmom, pavg, lr, rho, momentum, eps, wd)


def adam(floating[::1] w, const floating[::1] g, floating[::1] m not None,
         floating[::1] v not None, floating[::1] vhat, double lr, double beta_1,
         double beta_2, double eps, long long step, double wd):
    """Adam at step ``step`` (from 1), AMSGrad with ``vhat``, AdamW with ``wd`` > 0;
    ``alpha = lr * sqrt(1 - beta_2**step) / (1 - beta_1**step)`` is computed once in C
    in double."""
    cdef Py_ssize_t n = w.shape[0]
    cdef floating *pvhat = NULL
    check_vector(w, n, "param")
    check_vector(g, n, "grad")
    check_vector(m, n, "m")
    check_vector(v, n, "v")
    if vhat is not None:
        check_vector(vhat, n, "vhat")
        pvhat = &vhat[0]
    with nogil:
        if floating is float:
            nnc_adam_f32(n, &w[0], &g[0], &m[0], &v[0], pvhat, lr, beta_1, beta_2, eps,
                         step, wd)
        else:
            nnc_adam_f64(n, &w[0], &g[0], &m[0], &v[0], pvhat, lr, beta_1, beta_2, eps,
                         step, wd)
