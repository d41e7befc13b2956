# distutils: sources = csrc/activations.c csrc/losses.c csrc/blas.c
# cython: boundscheck=False, wraparound=False, initializedcheck=False
"""A compiled training step for a stack of Dense layers.

Forward propagation through every layer, the loss and its gradient, and backpropagation
through every layer run in one call with the GIL released, on pointers taken once: for a
small network the per-layer Python calls of the generic path cost more than its
arithmetic. The arithmetic is the same kernels' (``_dense_core``, csrc/losses.c), in the
same order, so the results are bit-identical to the layer-by-layer path.
"""
from cython cimport floating
from libc.limits cimport INT_MAX
from libc.stdint cimport int64_t, uintptr_t

import numpy as np

from nncore.backends.native._blas cimport find_blas
from nncore.backends.native._checks cimport buffer_data
from nncore.backends.native._loss_core cimport (
    NNC_LOSS_COUNT, NNC_LOSS_SCCE, check_labels, nnc_loss_f32, nnc_loss_f64,
)
from nncore.backends.native._dense_core cimport (
    NNC_LINEAR, NNC_NUM_ACTIVATIONS, dense_backward, dense_forward,
)

cdef enum:
    MAX_LAYERS = 64

#: The deepest stack a plan takes; deeper models train layer by layer.
MAX_PLAN_LAYERS = MAX_LAYERS

find_blas()


cdef class DensePlan:
    """The training step of Dense layers ``Y_i = act_i(Y_{i-1} @ W_i + b_i)`` and a loss.

    Parameters
    ----------
    weights : list of (W, b or None); W (k_i, m_i) with k_{i+1} = m_i.
    grads : list of (dW, db or None), the same shapes: written by each step.
    codes, alphas : the activation code and alpha of each layer.
    loss_code, from_logits, delta : as the loss kernel takes them.
    fused : the loss is taken on the last layer's pre-activation Z (softmax or sigmoid
        with cross-entropy), whose activation backward is then skipped.
    """

    cdef int L, loss_code, from_logits, fused, float32
    cdef double delta
    cdef Py_ssize_t itemsize, n
    cdef Py_ssize_t k[MAX_LAYERS]
    cdef Py_ssize_t m[MAX_LAYERS]
    cdef int code[MAX_LAYERS]
    cdef double alpha[MAX_LAYERS]
    cdef char *W[MAX_LAYERS]
    cdef char *b[MAX_LAYERS]
    cdef char *dW[MAX_LAYERS]
    cdef char *db[MAX_LAYERS]
    cdef char *Z[MAX_LAYERS]
    cdef char *Y[MAX_LAYERS]
    cdef char *dX[MAX_LAYERS]
    cdef char *dP
    cdef object dtype, keep, work, output

    def __init__(self, list weights, list grads, list codes, list alphas, int loss_code,
                 bint from_logits, double delta, bint fused):
        cdef int i
        self.L = len(weights)
        if not 0 < self.L <= MAX_LAYERS or not (len(grads) == len(codes) == len(alphas)
                                                == self.L):
            raise ValueError(f"weights, grads, codes and alphas must hold one entry per "
                             f"layer (1 to {MAX_LAYERS}).")
        if not 0 <= loss_code < NNC_LOSS_COUNT:
            raise ValueError(f"Unknown loss code {loss_code}.")
        self.dtype = np.dtype(weights[0][0].dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError("weights must be float32 or float64.")
        self.itemsize = self.dtype.itemsize
        self.float32 = self.dtype == np.float32
        self.keep = [weights, grads]
        for i in range(self.L):
            W, b = weights[i]
            dW, db = grads[i]
            if W.ndim != 2 or W.shape[0] > INT_MAX or W.shape[1] > INT_MAX:
                raise ValueError(f"weights[{i}] must be a 2-D kernel below 2**31 per side.")
            self.k[i], self.m[i] = W.shape[0], W.shape[1]
            if i and self.k[i] != self.m[i - 1]:
                raise ValueError(f"weights[{i}] must have {self.m[i - 1]} rows.")
            if not 0 <= codes[i] < NNC_NUM_ACTIVATIONS:
                raise ValueError(f"Unknown activation code {codes[i]}.")
            self.code[i], self.alpha[i] = codes[i], alphas[i]
            self.W[i] = buffer_data(W, self.itemsize, b"f", 2, self.k[i], self.m[i], False, "W")
            self.dW[i] = buffer_data(dW, self.itemsize, b"f", 2, self.k[i], self.m[i], True, "dW")
            if (b is None) != (db is None):
                raise ValueError("b and db must both be given or both be None.")
            self.b[i] = NULL if b is None else buffer_data(b, self.itemsize, b"f", 1, self.m[i],
                                                    0, False, "b")
            self.db[i] = NULL if db is None else buffer_data(db, self.itemsize, b"f", 1,
                                                      self.m[i], 0, True, "db")
        self.loss_code, self.from_logits, self.delta = loss_code, from_logits, delta
        self.fused = fused
        self.n = -1
        self.work = {}

    cdef int _workspace(self, Py_ssize_t n) except -1:
        """Point Z, Y, dX and dP at this batch size's arrays (made once per size)."""
        cdef int i
        if n == self.n:
            return 0
        arrays = self.work.get(n)
        if arrays is None:
            if len(self.work) > 8:  # many batch sizes: keep memory bounded
                self.work.clear()
            arrays = []
            for i in range(self.L):
                Z = np.empty((n, self.m[i]), self.dtype)
                Y = Z if self.code[i] == NNC_LINEAR else np.empty_like(Z)
                dX = np.empty((n, self.k[i]), self.dtype) if i else None
                arrays.append((Z, Y, dX))
            arrays.append(np.empty((n, self.m[self.L - 1]), self.dtype))
            self.work[n] = arrays
        for i in range(self.L):
            Z, Y, dX = arrays[i]
            self.Z[i] = <char *><uintptr_t>Z.__array_interface__["data"][0]
            self.Y[i] = <char *><uintptr_t>Y.__array_interface__["data"][0]
            self.dX[i] = NULL if dX is None else \
                <char *><uintptr_t>dX.__array_interface__["data"][0]
        self.dP = <char *><uintptr_t>arrays[self.L][0].__array_interface__["data"][0] \
            if n else NULL
        self.output = arrays[self.L - 1][1]
        self.n = n
        return 0

    def train_step(self, X, T, sw):
        """Forward, loss and backward for the batch ``X`` (n, k_0) with targets ``T``
        ((n,) int64 labels for sparse cross-entropy, else (n, m_last) of the weights'
        dtype) and sample weights ``sw`` ((n,) or None). Writes every gradient; returns
        ``(loss, Y)`` with ``Y`` the last layer's output (reused by the next step)."""
        cdef Py_ssize_t n = len(X), d = self.m[self.L - 1]
        cdef char *x = buffer_data(X, self.itemsize, b"f", 2, n, self.k[0], False, "X")
        cdef char *t = NULL
        cdef const int64_t *labels = NULL
        cdef char *w = NULL
        cdef double value
        if n < 1:
            raise ValueError("X must hold at least one row.")
        if self.loss_code == NNC_LOSS_SCCE:
            labels = <const int64_t *>buffer_data(T, 8, b"i", 1, n, 0, False, "T")
            check_labels(labels, n, d, "T labels")
        else:
            t = buffer_data(T, self.itemsize, b"f", 2, n, d, False, "T")
        if sw is not None:
            w = buffer_data(sw, self.itemsize, b"f", 1, n, 0, False, "sw")
        self._workspace(n)
        with nogil:
            if self.float32:
                value = _run(self, n, <const float *>x, <const float *>t, labels,
                             <const float *>w)
            else:
                value = _run(self, n, <const double *>x, <const double *>t, labels,
                             <const double *>w)
        return value, self.output


cdef double _run(DensePlan p, Py_ssize_t n, const floating *X, const floating *T,
                 const int64_t *labels, const floating *sw) noexcept nogil:
    cdef int i, L = p.L, code
    cdef const floating *A = X
    cdef floating *dA
    cdef double value
    for i in range(L):
        dense_forward(p.code[i], p.alpha[i], n, p.k[i], p.m[i], A, <floating *>p.W[i],
                      <floating *>p.b[i], <floating *>p.Z[i], <floating *>p.Y[i])
        A = <floating *>p.Y[i]
    # Fused: the loss takes the logits Z, its gradient (p - y) / n is dL/dZ directly.
    A = <floating *>(p.Z[L - 1] if p.fused else p.Y[L - 1])
    if floating is float:
        value = nnc_loss_f32(p.loss_code, n, p.m[L - 1], T, labels, A, sw,
                             <float *>p.dP, p.from_logits or p.fused, p.delta)
    else:
        value = nnc_loss_f64(p.loss_code, n, p.m[L - 1], T, labels, A, sw,
                             <double *>p.dP, p.from_logits or p.fused, p.delta)
    dA = <floating *>p.dP
    for i in range(L - 1, -1, -1):
        code = NNC_LINEAR if (p.fused and i == L - 1) else p.code[i]
        A = X if i == 0 else <floating *>p.Y[i - 1]
        # dZ overwrites dA in place, as the layer path's work_dZ=dY does.
        dense_backward(code, p.alpha[i], n, p.k[i], p.m[i], dA, A, <floating *>p.W[i],
                       <floating *>p.Z[i], <floating *>p.Y[i], dA, <floating *>p.dW[i],
                       <floating *>p.db[i], <floating *>p.dX[i])
        dA = <floating *>p.dX[i]
    return value
