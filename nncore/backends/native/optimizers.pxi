# Fused optimizer updates (csrc/optimizers.c): the names, arguments and semantics of
# nncore.backends.numpy_backend.optimizers. Flat arrays of one dtype (the parameter's)
# updated in place, optional state None; each update is one pass over memory with
# subnormals flushed to zero (csrc/simd.h).

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


def sgd(w, g, v, double lr, double momentum, bint nesterov, double wd):
    """``w -= lr * g``, or with ``v``: ``v = momentum * v - lr * g; w += v`` (Nesterov
    ``w += momentum * v - lr * g``); decoupled weight decay first."""
    cdef Arrays h
    cdef char *pw
    cdef char *pg
    cdef char *pv
    cdef Py_ssize_t n
    h.count = 0
    try:
        pw = first(&h, w, 1, True, "param")
        n = h.view[0].shape[0]
        pg = take(&h, g, 1, n, 0, False, "grad")
        pv = take_optional(&h, v, 1, n, 0, True, "velocity")
        with nogil:
            if h.itemsize == 4:
                nnc_sgd_f32(n, <float *>pw, <float *>pg, <float *>pv, lr, momentum,
                            nesterov, wd)
            else:
                nnc_sgd_f64(n, <double *>pw, <double *>pg, <double *>pv, lr, momentum,
                            nesterov, wd)
    finally:
        release_all(&h)


def adagrad(w, g, acc not None, double lr, double eps, double wd):
    """``acc += g**2; w -= lr * g / sqrt(acc + eps)``; decoupled weight decay first."""
    cdef Arrays h
    cdef char *pw
    cdef char *pg
    cdef char *pacc
    cdef Py_ssize_t n
    h.count = 0
    try:
        pw = first(&h, w, 1, True, "param")
        n = h.view[0].shape[0]
        pg = take(&h, g, 1, n, 0, False, "grad")
        pacc = take(&h, acc, 1, n, 0, True, "accumulator")
        with nogil:
            if h.itemsize == 4:
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
    cdef Arrays h
    cdef char *pw
    cdef char *pg
    cdef char *pv
    cdef char *pmom
    cdef char *pavg
    cdef Py_ssize_t n
    h.count = 0
    try:
        pw = first(&h, w, 1, True, "param")
        n = h.view[0].shape[0]
        pg = take(&h, g, 1, n, 0, False, "grad")
        pv = take(&h, v, 1, n, 0, True, "velocity")
        pmom = take_optional(&h, mom, 1, n, 0, True, "momentum_buffer")
        pavg = take_optional(&h, avg, 1, n, 0, True, "average_gradient")
        with nogil:
            if h.itemsize == 4:
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
    cdef Arrays h
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
        pw = first(&h, w, 1, True, "param")
        n = h.view[0].shape[0]
        pg = take(&h, g, 1, n, 0, False, "grad")
        pm = take(&h, m, 1, n, 0, True, "m")
        pv = take(&h, v, 1, n, 0, True, "v")
        pvhat = take_optional(&h, vhat, 1, n, 0, True, "vhat")
        with nogil:
            if h.itemsize == 4:
                nnc_adam_f32(n, <float *>pw, <float *>pg, <float *>pm, <float *>pv,
                             <float *>pvhat, lr, beta_1, beta_2, eps, step, wd)
            else:
                nnc_adam_f64(n, <double *>pw, <double *>pg, <double *>pm, <double *>pv,
                             <double *>pvhat, lr, beta_1, beta_2, eps, step, wd)
    finally:
        release_all(&h)
