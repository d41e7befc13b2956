# distutils: sources = csrc/optimizers.c
"""Fused optimizer updates (csrc/optimizers.c) for the native backend.

Same names, arguments and semantics as nncore.backends.numpy_backend.optimizers: flat
arrays of one dtype updated in place, optional state None. Each update is one pass over
memory with the GIL released and subnormals flushed to zero (csrc/simd.h). Arrays are
taken through the buffer protocol (no Python object is made per call): a wrong dtype, a
non-contiguous, read-only or misaligned array is refused, and lengths are checked here,
so C never reads out of bounds. Every buffer stays acquired until C returns, so another
thread cannot free or move it meanwhile (its release or resize raises BufferError).
"""
from cpython.buffer cimport PyBuffer_Release
from libc.stddef cimport ptrdiff_t

from nncore.backends.native._checks cimport hold, hold_float_vector

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


cdef enum:
    MAX_BUFFERS = 5  # param, grad and up to three slots (rmsprop's, adam's)


cdef struct Held:
    # The buffers of one call, each released in release_all (a NULL obj is never taken).
    Py_buffer view[MAX_BUFFERS]
    int count


cdef inline char *param(Held *h, object w) except NULL:
    """Hold the parameter, whose dtype and length the other arrays must match."""
    cdef char *data = hold_float_vector(w, &h.view[0], True, "param")
    h.count = 1
    return data


cdef inline char *vector(Held *h, object a, bint writable, str name) except NULL:
    """Hold one more array of the parameter's dtype and length."""
    cdef char *data = hold(a, &h.view[h.count], h.view[0].itemsize, b"f", 1,
                           h.view[0].shape[0], 0, writable, name)
    h.count += 1
    return data


cdef inline char *optional(Held *h, object a, str name) except? NULL:
    """:func:`vector` for optional state written in place; NULL for None."""
    return NULL if a is None else vector(h, a, True, name)


cdef inline void release_all(Held *h) noexcept:
    cdef int i
    for i in range(h.count):
        PyBuffer_Release(&h.view[i])
    h.count = 0


def sgd(w, g, v, double lr, double momentum, bint nesterov, double wd):
    """``w -= lr * g``, or with ``v``: ``v = momentum * v - lr * g; w += v`` (Nesterov
    ``w += momentum * v - lr * g``); decoupled weight decay first."""
    cdef Held h
    cdef char *pw
    cdef char *pg
    cdef char *pv
    cdef Py_ssize_t n
    h.count = 0
    try:
        pw = param(&h, w)
        pg = vector(&h, g, False, "grad")
        pv = optional(&h, v, "velocity")
        n = h.view[0].shape[0]
        with nogil:
            if h.view[0].itemsize == 4:
                nnc_sgd_f32(n, <float *>pw, <float *>pg, <float *>pv, lr, momentum,
                            nesterov, wd)
            else:
                nnc_sgd_f64(n, <double *>pw, <double *>pg, <double *>pv, lr, momentum,
                            nesterov, wd)
    finally:
        release_all(&h)


def adagrad(w, g, acc not None, double lr, double eps, double wd):
    """``acc += g**2; w -= lr * g / sqrt(acc + eps)``; decoupled weight decay first."""
    cdef Held h
    cdef char *pw
    cdef char *pg
    cdef char *pacc
    cdef Py_ssize_t n
    h.count = 0
    try:
        pw = param(&h, w)
        pg = vector(&h, g, False, "grad")
        pacc = vector(&h, acc, True, "accumulator")
        n = h.view[0].shape[0]
        with nogil:
            if h.view[0].itemsize == 4:
                nnc_adagrad_f32(n, <float *>pw, <float *>pg, <float *>pacc, lr, eps, wd)
            else:
                nnc_adagrad_f64(n, <double *>pw, <double *>pg, <double *>pacc, lr, eps,
                                wd)
    finally:
        release_all(&h)


def rmsprop(w, g, v not None, mom, avg, double lr, double rho, double momentum,
            double eps, double wd):
    """RMSprop: ``v = rho v + (1 - rho) g**2``, centered with ``avg``, momentum with
    ``mom`` (see csrc/optimizers.h); decoupled weight decay first."""
    cdef Held h
    cdef char *pw
    cdef char *pg
    cdef char *pv
    cdef char *pmom
    cdef char *pavg
    cdef Py_ssize_t n
    h.count = 0
    try:
        pw = param(&h, w)
        pg = vector(&h, g, False, "grad")
        pv = vector(&h, v, True, "velocity")
        pmom = optional(&h, mom, "momentum_buffer")
        pavg = optional(&h, avg, "average_gradient")
        n = h.view[0].shape[0]
        with nogil:
            if h.view[0].itemsize == 4:
                nnc_rmsprop_f32(n, <float *>pw, <float *>pg, <float *>pv, <float *>pmom,
                                <float *>pavg, lr, rho, momentum, eps, wd)
            else:
                nnc_rmsprop_f64(n, <double *>pw, <double *>pg, <double *>pv,
                                <double *>pmom, <double *>pavg, lr, rho, momentum, eps, wd)
    finally:
        release_all(&h)


def adam(w, g, m not None, v not None, vhat, double lr, double beta_1, double beta_2,
         double eps, long long step, double wd):
    """Adam at step ``step`` (from 1), AMSGrad with ``vhat``, AdamW with ``wd`` > 0;
    ``alpha = lr * sqrt(1 - beta_2**step) / (1 - beta_1**step)`` is computed once in C
    in double."""
    cdef Held h
    cdef char *pw
    cdef char *pg
    cdef char *pm
    cdef char *pv
    cdef char *pvhat
    cdef Py_ssize_t n
    # At step 0 the bias correction divides 0 by 0: every weight would turn NaN.
    if step < 1:
        raise ValueError(f"step must be >= 1. Received: step={step}")
    h.count = 0
    try:
        pw = param(&h, w)
        pg = vector(&h, g, False, "grad")
        pm = vector(&h, m, True, "m")
        pv = vector(&h, v, True, "v")
        pvhat = optional(&h, vhat, "vhat")
        n = h.view[0].shape[0]
        with nogil:
            if h.view[0].itemsize == 4:
                nnc_adam_f32(n, <float *>pw, <float *>pg, <float *>pm, <float *>pv,
                             <float *>pvhat, lr, beta_1, beta_2, eps, step, wd)
            else:
                nnc_adam_f64(n, <double *>pw, <double *>pg, <double *>pm, <double *>pv,
                             <double *>pvhat, lr, beta_1, beta_2, eps, step, wd)
    finally:
        release_all(&h)
