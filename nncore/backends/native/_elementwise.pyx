# distutils: sources = csrc/elementwise.c
"""Elementwise helpers (csrc/elementwise.c) for the native backend: regularization,
dropout masks, clipping.

Same names, arguments and semantics as nncore.backends.numpy_backend.elementwise; flat
arrays, the GIL released in C, reductions accumulated in double.
"""
from cython cimport floating

from nncore.backends.native._checks cimport check_vector
from libc.stddef cimport ptrdiff_t

cdef extern from "elementwise.h" nogil:
    double nnc_regularization_loss_f32(ptrdiff_t n, const float *w, double l1, double l2)
    double nnc_regularization_loss_f64(ptrdiff_t n, const double *w, double l1, double l2)
    void nnc_regularization_grad_f32(ptrdiff_t n, const float *w, float *g, double l1,
                                     double l2)
    void nnc_regularization_grad_f64(ptrdiff_t n, const double *w, double *g, double l1,
                                     double l2)
    void nnc_dropout_mask_f32(ptrdiff_t n, float *u, double rate)
    void nnc_dropout_mask_f64(ptrdiff_t n, double *u, double rate)
    void nnc_clip_by_value_f32(ptrdiff_t n, float *g, double c)
    void nnc_clip_by_value_f64(ptrdiff_t n, double *g, double c)
    double nnc_sum_squares_f32(ptrdiff_t n, const float *g)
    double nnc_sum_squares_f64(ptrdiff_t n, const double *g)
    void nnc_scale_f32(ptrdiff_t n, float *g, double factor)
    void nnc_scale_f64(ptrdiff_t n, double *g, double factor)


def regularization_loss(const floating[::1] w, double l1, double l2) -> float:
    """``l1 * sum(|w|) + l2 * sum(w**2)``, accumulated in double."""
    cdef double value
    check_vector(w, w.shape[0], "w")
    with nogil:
        if floating is float:
            value = nnc_regularization_loss_f32(w.shape[0], &w[0], l1, l2)
        else:
            value = nnc_regularization_loss_f64(w.shape[0], &w[0], l1, l2)
    return value


def regularization_grad(const floating[::1] w, floating[::1] g, double l1, double l2):
    """``g += l1 * sign(w) + 2 * l2 * w`` in place."""
    check_vector(w, w.shape[0], "w")
    check_vector(g, w.shape[0], "g")
    with nogil:
        if floating is float:
            nnc_regularization_grad_f32(w.shape[0], &w[0], &g[0], l1, l2)
        else:
            nnc_regularization_grad_f64(w.shape[0], &w[0], &g[0], l1, l2)


def dropout_mask(floating[::1] u, double rate):
    """Uniforms ``u`` in [0, 1) become ``1 / (1 - rate)`` where ``u >= rate``, else 0."""
    check_vector(u, u.shape[0], "u")
    with nogil:
        if floating is float:
            nnc_dropout_mask_f32(u.shape[0], &u[0], rate)
        else:
            nnc_dropout_mask_f64(u.shape[0], &u[0], rate)


def clip_by_value(floating[::1] g, double clipvalue):
    """Clip ``g`` to [-clipvalue, clipvalue] in place (NaN stays NaN)."""
    check_vector(g, g.shape[0], "g")
    with nogil:
        if floating is float:
            nnc_clip_by_value_f32(g.shape[0], &g[0], clipvalue)
        else:
            nnc_clip_by_value_f64(g.shape[0], &g[0], clipvalue)


def sum_squares(const floating[::1] g) -> float:
    """``sum(g**2)`` accumulated in double."""
    check_vector(g, g.shape[0], "g")
    cdef double value
    with nogil:
        if floating is float:
            value = nnc_sum_squares_f32(g.shape[0], &g[0])
        else:
            value = nnc_sum_squares_f64(g.shape[0], &g[0])
    return value


def scale(floating[::1] g, double factor):
    """``g *= factor`` in place."""
    check_vector(g, g.shape[0], "g")
    with nogil:
        if floating is float:
            nnc_scale_f32(g.shape[0], &g[0], factor)
        else:
            nnc_scale_f64(g.shape[0], &g[0], factor)
