# distutils: sources = csrc/losses.c
"""Native loss kernels: Cython wrapper over csrc/losses.c (one row-by-row pass, nogil).

The semantics are those of :func:`nncore.backends.numpy_backend.losses.loss`.
"""
from cython cimport floating

from nncore.backends.native._checks cimport check_aligned, check_matrix, check_vector
from libc.stdint cimport int64_t

from nncore.backends.native._loss_core cimport (
    NNC_LOSS_COUNT, NNC_LOSS_SCCE, check_labels, nnc_loss_f32, nnc_loss_f64,
)


def loss(int code, object T, const floating[:, ::1] P, bint from_logits, double delta,
         object sw, object dP) -> float:
    """The batch loss of ``code`` (see csrc/losses.h); its gradient into ``dP`` if given.

    T is (n, d) of P's dtype, or (n,) int64 labels in [0, d) for the sparse loss; sw is
    (n,) of P's dtype or None; dP is (n, d) of P's dtype or None. The typed memoryviews
    refuse a wrong dtype or a non-contiguous array, and the shapes are checked here, so
    the C kernel never reads or writes out of bounds.
    """
    cdef Py_ssize_t n = P.shape[0], d = P.shape[1]
    cdef const floating[:, ::1] T2
    cdef const int64_t[::1] labels
    cdef const floating[::1] W
    cdef floating[:, ::1] G
    cdef const floating *t_ptr = NULL
    cdef const int64_t *l_ptr = NULL
    cdef const floating *w_ptr = NULL
    cdef floating *g_ptr = NULL
    cdef double value

    check_matrix(P, n, d, "P")
    if code < 0 or code >= NNC_LOSS_COUNT:
        raise ValueError(f"Unknown loss code {code}.")
    if n < 1 or d < 1:
        raise ValueError(f"y_pred must hold at least one row and one column. "
                         f"Received: y_pred.shape={(n, d)}")
    if code == NNC_LOSS_SCCE:
        labels = T
        if labels.shape[0] != n:
            raise ValueError(f"labels must have shape ({n},). Received: {labels.shape[0]}")
        check_aligned(&labels[0], sizeof(int64_t), "labels")
        check_labels(&labels[0], n, d, "labels")
        l_ptr = &labels[0]
    else:
        T2 = T
        check_matrix(T2, n, d, "T")
        t_ptr = &T2[0, 0]
    if sw is not None:
        W = sw
        check_vector(W, n, "sw")
        w_ptr = &W[0]
    if dP is not None:
        G = dP
        check_matrix(G, n, d, "dP")
        g_ptr = &G[0, 0]

    with nogil:
        if floating is float:
            value = nnc_loss_f32(code, n, d, t_ptr, l_ptr, &P[0, 0], w_ptr, g_ptr,
                                 from_logits, delta)
        else:
            value = nnc_loss_f64(code, n, d, t_ptr, l_ptr, &P[0, 0], w_ptr, g_ptr,
                                 from_logits, delta)
    return value
