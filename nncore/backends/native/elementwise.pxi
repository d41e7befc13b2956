# Elementwise kernels (csrc/elementwise.c): regularization, dropout masks, clipping, with
# the semantics of nncore.backends.numpy_backend.elementwise; flat arrays, reductions
# accumulated in double.

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


def regularization_loss(w, double l1, double l2) -> float:
    """``l1 * sum(|w|) + l2 * sum(w**2)``, accumulated in double."""
    cdef Arrays h
    cdef char *pw
    cdef double value
    h.count = 0
    try:
        pw = first(&h, w, 1, False, "w")
        with nogil:
            if h.itemsize == 4:
                value = nnc_regularization_loss_f32(h.view[0].shape[0], <float *>pw, l1, l2)
            else:
                value = nnc_regularization_loss_f64(h.view[0].shape[0], <double *>pw, l1,
                                                    l2)
    finally:
        release_all(&h)
    return value


def regularization_grad(w, g, double l1, double l2) -> None:
    """``g += l1 * sign(w) + 2 * l2 * w`` in place."""
    cdef Arrays h
    cdef char *pw
    cdef char *pg
    h.count = 0
    try:
        pw = first(&h, w, 1, False, "w")
        pg = take(&h, g, 1, h.view[0].shape[0], 0, True, "g")
        with nogil:
            if h.itemsize == 4:
                nnc_regularization_grad_f32(h.view[0].shape[0], <float *>pw, <float *>pg,
                                            l1, l2)
            else:
                nnc_regularization_grad_f64(h.view[0].shape[0], <double *>pw, <double *>pg,
                                            l1, l2)
    finally:
        release_all(&h)


def dropout_mask(u, double rate) -> None:
    """Uniforms ``u`` in [0, 1) become ``1 / (1 - rate)`` where ``u >= rate``, else 0."""
    cdef Arrays h
    cdef char *pu
    h.count = 0
    try:
        pu = first(&h, u, 1, True, "u")
        with nogil:
            if h.itemsize == 4:
                nnc_dropout_mask_f32(h.view[0].shape[0], <float *>pu, rate)
            else:
                nnc_dropout_mask_f64(h.view[0].shape[0], <double *>pu, rate)
    finally:
        release_all(&h)


def clip_by_value(g, double clipvalue) -> None:
    """Clip ``g`` to [-clipvalue, clipvalue] in place (NaN stays NaN)."""
    cdef Arrays h
    cdef char *pg
    h.count = 0
    try:
        pg = first(&h, g, 1, True, "g")
        with nogil:
            if h.itemsize == 4:
                nnc_clip_by_value_f32(h.view[0].shape[0], <float *>pg, clipvalue)
            else:
                nnc_clip_by_value_f64(h.view[0].shape[0], <double *>pg, clipvalue)
    finally:
        release_all(&h)


def sum_squares(g) -> float:
    """``sum(g**2)`` accumulated in double."""
    cdef Arrays h
    cdef char *pg
    cdef double value
    h.count = 0
    try:
        pg = first(&h, g, 1, False, "g")
        with nogil:
            if h.itemsize == 4:
                value = nnc_sum_squares_f32(h.view[0].shape[0], <float *>pg)
            else:
                value = nnc_sum_squares_f64(h.view[0].shape[0], <double *>pg)
    finally:
        release_all(&h)
    return value


def scale(g, double factor) -> None:
    """``g *= factor`` in place."""
    cdef Arrays h
    cdef char *pg
    h.count = 0
    try:
        pg = first(&h, g, 1, True, "g")
        with nogil:
            if h.itemsize == 4:
                nnc_scale_f32(h.view[0].shape[0], <float *>pg, factor)
            else:
                nnc_scale_f64(h.view[0].shape[0], <double *>pg, factor)
    finally:
        release_all(&h)
