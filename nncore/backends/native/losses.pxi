# The loss kernel (csrc/losses.c, one row-by-row pass): the semantics of
# nncore.backends.numpy_backend.losses.loss.

cdef extern from "losses.h" nogil:
    enum nnc_loss_code:  # csrc/codes.h, written from nncore/backends/codes.py
        NNC_LOSS_HUBER
        NNC_LOSS_BCE
        NNC_LOSS_CCE
        NNC_LOSS_SCCE
        NNC_LOSS_COUNT

    double nnc_loss_f32(int code, Py_ssize_t n, Py_ssize_t d, const float *T,
                        const int64_t *labels, const float *P, const float *sw, float *dP,
                        int from_logits, double param)
    double nnc_loss_f64(int code, Py_ssize_t n, Py_ssize_t d, const double *T,
                        const int64_t *labels, const double *P, const double *sw,
                        double *dP, int from_logits, double param)


cdef int check_labels(const int64_t *labels, Py_ssize_t n, Py_ssize_t d,
                      str name) except -1:
    """Refuse a class label outside [0, d): the kernel indexes a row with it."""
    cdef Py_ssize_t i
    cdef bint bad = False
    with nogil:
        for i in range(n):
            if labels[i] < 0 or labels[i] >= d:
                bad = True
                break
    if bad:
        raise ValueError(f"{name} must be in [0, {d}).")
    return 0


cdef int check_loss_param(int code, double param) except -1:
    """Refuse a parameter the loss cannot take, as the public loss checks it: Huber's
    delta > 0, a cross-entropy's label smoothing in [0, 1]."""
    if code == NNC_LOSS_HUBER and not param > 0:
        raise ValueError(f"delta must be > 0. Received: delta={param}")
    if (code == NNC_LOSS_BCE or code == NNC_LOSS_CCE) and not 0 <= param <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1]. Received: "
                         f"label_smoothing={param}")
    return 0


def loss(int code, T, P, bint from_logits, double param, sw, dP) -> float:
    """The batch loss of ``code`` (see csrc/losses.h); its gradient into ``dP`` if given.
    ``param`` is Huber's delta or a cross-entropy's label smoothing.

    P is (n, d); T is (n, d) of P's dtype, or (n,) int64 labels in [0, d) for the sparse
    loss; sw is (n,) of P's dtype or None; dP is (n, d) of P's dtype or None.
    """
    cdef Arrays h
    cdef char *p
    cdef char *t = NULL
    cdef const int64_t *labels = NULL
    cdef char *w
    cdef char *g
    cdef Py_ssize_t n, d
    cdef double value
    if code < 0 or code >= NNC_LOSS_COUNT:
        raise ValueError(f"Unknown loss code {code}.")
    check_loss_param(code, param)
    h.count = 0
    try:
        p = first(&h, P, 2, False, "P")
        n, d = h.view[0].shape[0], h.view[0].shape[1]
        if n < 1 or d < 1:
            raise ValueError(f"y_pred must hold at least one row and one column. "
                             f"Received: y_pred.shape={(n, d)}")
        if code == NNC_LOSS_SCCE:
            labels = take_labels(&h, T, n, "labels")
            check_labels(labels, n, d, "labels")
        else:
            t = take(&h, T, 2, n, d, False, "T")
        w = take_optional(&h, sw, 1, n, 0, False, "sw")
        g = take_optional(&h, dP, 2, n, d, True, "dP")
        with nogil:
            if h.itemsize == 4:
                value = nnc_loss_f32(code, n, d, <const float *>t, labels,
                                     <const float *>p, <const float *>w, <float *>g,
                                     from_logits, param)
            else:
                value = nnc_loss_f64(code, n, d, <const double *>t, labels,
                                     <const double *>p, <const double *>w, <double *>g,
                                     from_logits, param)
    finally:
        release_all(&h)
    return value
