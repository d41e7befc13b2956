# distutils: sources = csrc/optimizers.c
"""Fused optimizer updates (csrc/optimizers.c) for the native backend.

Same names, arguments and semantics as nncore.backends.numpy_backend.optimizers: flat
arrays of one dtype updated in place, optional state None. Each update is one pass over
memory with the GIL released and subnormals flushed to zero (csrc/simd.h). Arrays are
taken through the buffer protocol (no Python object is made per call): a wrong dtype, a
non-contiguous, read-only or misaligned array is refused, and lengths are checked here,
so C never reads out of bounds.
"""
from libc.stddef cimport ptrdiff_t

from nncore.backends.native._checks cimport buffer_data, float_vector

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


cdef inline char *vector(object a, Py_ssize_t itemsize, Py_ssize_t n, bint writable,
                         str name) except NULL:
    return buffer_data(a, itemsize, b"f", 1, n, 0, writable, name)


def sgd(w, g, v, double lr, double momentum, bint nesterov, double wd):
    """``w -= lr * g``, or with ``v``: ``v = momentum * v - lr * g; w += v`` (Nesterov
    ``w += momentum * v - lr * g``); decoupled weight decay first."""
    cdef Py_ssize_t n, size
    cdef char *pw = float_vector(w, &n, &size, True, "param")
    cdef char *pg = vector(g, size, n, False, "grad")
    cdef char *pv = vector(v, size, n, True, "velocity") if v is not None else NULL
    with nogil:
        if size == 4:
            nnc_sgd_f32(n, <float *>pw, <float *>pg, <float *>pv, lr, momentum, nesterov,
                        wd)
        else:
            nnc_sgd_f64(n, <double *>pw, <double *>pg, <double *>pv, lr, momentum, nesterov,
                        wd)


def adagrad(w, g, acc not None, double lr, double eps, double wd):
    """``acc += g**2; w -= lr * g / sqrt(acc + eps)``; decoupled weight decay first."""
    cdef Py_ssize_t n, size
    cdef char *pw = float_vector(w, &n, &size, True, "param")
    cdef char *pg = vector(g, size, n, False, "grad")
    cdef char *pacc = vector(acc, size, n, True, "accumulator")
    with nogil:
        if size == 4:
            nnc_adagrad_f32(n, <float *>pw, <float *>pg, <float *>pacc, lr, eps, wd)
        else:
            nnc_adagrad_f64(n, <double *>pw, <double *>pg, <double *>pacc, lr, eps, wd)


def rmsprop(w, g, v not None, mom, avg, double lr, double rho, double momentum,
            double eps, double wd):
    """RMSprop: ``v = rho v + (1 - rho) g**2``, centered with ``avg``, momentum with
    ``mom`` (see csrc/optimizers.h); decoupled weight decay first."""
    cdef Py_ssize_t n, size
    cdef char *pw = float_vector(w, &n, &size, True, "param")
    cdef char *pg = vector(g, size, n, False, "grad")
    cdef char *pv = vector(v, size, n, True, "velocity")
    cdef char *pmom = vector(mom, size, n, True, "momentum_buffer") if mom is not None \
        else NULL
    cdef char *pavg = vector(avg, size, n, True, "average_gradient") if avg is not None \
        else NULL
    with nogil:
        if size == 4:
            nnc_rmsprop_f32(n, <float *>pw, <float *>pg, <float *>pv, <float *>pmom,
                            <float *>pavg, lr, rho, momentum, eps, wd)
        else:
            nnc_rmsprop_f64(n, <double *>pw, <double *>pg, <double *>pv, <double *>pmom,
                            <double *>pavg, lr, rho, momentum, eps, wd)


def adam(w, g, m not None, v not None, vhat, double lr, double beta_1, double beta_2,
         double eps, long long step, double wd):
    """Adam at step ``step`` (from 1), AMSGrad with ``vhat``, AdamW with ``wd`` > 0;
    ``alpha = lr * sqrt(1 - beta_2**step) / (1 - beta_1**step)`` is computed once in C
    in double."""
    cdef Py_ssize_t n, size
    cdef char *pw = float_vector(w, &n, &size, True, "param")
    cdef char *pg = vector(g, size, n, False, "grad")
    cdef char *pm = vector(m, size, n, True, "m")
    cdef char *pv = vector(v, size, n, True, "v")
    cdef char *pvhat = vector(vhat, size, n, True, "vhat") if vhat is not None else NULL
    with nogil:
        if size == 4:
            nnc_adam_f32(n, <float *>pw, <float *>pg, <float *>pm, <float *>pv,
                         <float *>pvhat, lr, beta_1, beta_2, eps, step, wd)
        else:
            nnc_adam_f64(n, <double *>pw, <double *>pg, <double *>pm, <double *>pv,
                         <double *>pvhat, lr, beta_1, beta_2, eps, step, wd)
