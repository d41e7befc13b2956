"""The C loss kernel (csrc/losses.h), for the loss wrapper and the compiled step."""
from libc.stdint cimport int64_t

cdef extern from "losses.h" nogil:
    enum nnc_loss_code:  # csrc/codes.h, written from nncore/backends/codes.py
        NNC_LOSS_SCCE
        NNC_LOSS_COUNT

    double nnc_loss_f32(int code, Py_ssize_t n, Py_ssize_t d, const float *T,
                        const int64_t *labels, const float *P, const float *sw, float *dP,
                        int from_logits, double delta)
    double nnc_loss_f64(int code, Py_ssize_t n, Py_ssize_t d, const double *T,
                        const int64_t *labels, const double *P, const double *sw,
                        double *dP, int from_logits, double delta)


cdef inline int check_labels(const int64_t *labels, Py_ssize_t n, Py_ssize_t d,
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
