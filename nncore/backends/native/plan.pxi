# A compiled training step for a stack of Dense layers.
#
# Forward propagation through every layer, the loss and its gradient, and backpropagation
# through every layer run in one call with the GIL released, on pointers taken once: for a
# small network the per-layer Python calls of the generic path cost more than its
# arithmetic. The arithmetic is the same kernels' (dense.pxi, csrc/losses.c), in the
# same order, so the results are bit-identical to the layer-by-layer path.
#
# A plan points into arrays it did not make, so it keeps every one of their buffers
# acquired for its whole life: the arrays stay alive whatever the caller does with its
# lists, and their exporters refuse to free or move the memory (BufferError). It runs one
# step at a time, refuses to be copied or pickled, and a refused ``__init__`` leaves it
# unusable rather than half-built.

cdef enum:
    MAX_LAYERS = 64
    # W, b, dW, db of each layer: the buffers a plan holds.
    MAX_HELD = 4 * MAX_LAYERS
    # dW, db, Z, Y, dX of each layer and dP: the memory a step writes.
    MAX_WRITTEN = 5 * MAX_LAYERS + 1

#: The deepest stack a plan takes; deeper models train layer by layer.
MAX_PLAN_LAYERS = MAX_LAYERS

# The names of what a step writes, for the error of an input that overlaps one.
_WRITTEN_NAMES = ("dW", "db", "Z", "Y", "dX", "dP")

cdef class DensePlan:
    """The training step of Dense layers ``Y_i = act_i(Y_{i-1} @ W_i + b_i)`` and a loss,
    compiled: the parameters and the computation are those of its definition,
    ``nncore.backends.numpy_backend.plan.DensePlan``, which the tests hold it to.

    Every array is checked as the public kernels check theirs (dtype, shape,
    C-contiguity, alignment, native byte order) and the gradients may share no memory
    with the weights or each other.
    """

    cdef int L, loss_code, from_logits, fused, float32
    # ready: built and checked; busy: a step (or __init__) is running, in some thread.
    cdef bint ready, busy
    cdef double param
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
    cdef Py_buffer held[MAX_HELD]
    cdef int nheld
    # The byte ranges [lo, hi) a step writes (the gradients', then the workspace's), with
    # what each is (an index of _WRITTEN_NAMES) and its layer, to refuse inputs in them.
    cdef const char *lo[MAX_WRITTEN]
    cdef const char *hi[MAX_WRITTEN]
    cdef int what[MAX_WRITTEN]
    cdef int layer[MAX_WRITTEN]
    cdef int ngrads, nwritten
    cdef object dtype, work, output, names  # names: of the held buffers, for errors

    def __init__(self, list weights, list grads, list codes, list alphas, int loss_code,
                 bint from_logits, double param, bint fused):
        self._enter()
        try:
            # Unusable from here until every check has passed: a refused call leaves no
            # half-built plan behind (its old buffers are let go first).
            self.ready = False
            self._release()
            try:
                self._build(weights, grads, codes, alphas, loss_code, from_logits, param,
                            fused)
            except BaseException:
                self._release()
                raise
            self.ready = True
        finally:
            self.busy = False

    def __dealloc__(self):
        self._release_buffers()

    cdef int _enter(self) except -1:
        """Mark the plan busy, or refuse: the GIL is held from the test to the set, so two
        threads cannot both pass, and a step releases it only once it owns the plan."""
        if self.busy:
            raise RuntimeError("This DensePlan is in use by another thread: a plan runs one "
                               "step at a time (give each thread its own model).")
        self.busy = True
        return 0

    cdef void _release_buffers(self) noexcept:
        cdef int i
        for i in range(self.nheld):
            PyBuffer_Release(&self.held[i])
        self.nheld = 0

    cdef void _release(self) noexcept:
        """Let go of everything the plan holds: the buffers, then the workspace."""
        self._release_buffers()
        self.names = []
        self.ngrads = self.nwritten = 0
        self.n = -1
        self.work = self.output = None

    cdef char *_hold(self, object a, int ndim, Py_ssize_t rows, Py_ssize_t cols,
                     bint writable, str name) except NULL:
        """Acquire ``a`` for the plan's life (released by _release)."""
        cdef char *data = hold(a, &self.held[self.nheld], self.itemsize, b"f", ndim, rows,
                               cols, writable, name)
        self.nheld += 1
        self.names.append(name)
        return data

    cdef int _build(self, list weights, list grads, list codes, list alphas, int loss_code,
                    bint from_logits, double param, bint fused) except -1:
        cdef int i, j, L = len(weights)
        cdef Py_buffer *view
        if not 0 < L <= MAX_LAYERS or not (len(grads) == len(codes) == len(alphas) == L):
            raise ValueError(f"weights, grads, codes and alphas must hold one entry per "
                             f"layer (1 to {MAX_LAYERS}).")
        if not 0 <= loss_code < NNC_LOSS_COUNT:
            raise ValueError(f"Unknown loss code {loss_code}.")
        check_loss_param(loss_code, param)
        try:
            layers = [(W, b, dW, db) for (W, b), (dW, db) in zip(weights, grads)]
        except (TypeError, ValueError):
            raise TypeError("weights and grads must hold (W, b) and (dW, db) pairs.") from None
        dtype = np.asarray(layers[0][0]).dtype
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"weights must be float32 or float64. Received: {dtype}")
        self.dtype, self.itemsize, self.float32 = dtype, dtype.itemsize, dtype == np.float32
        self.L = L
        written = []  # the indices in self.held of the gradients
        for i in range(L):
            W, b, dW, db = layers[i]
            if not 0 <= codes[i] < NNC_NUM_ACTIVATIONS:
                raise ValueError(f"Unknown activation code {codes[i]}.")
            self.code[i], self.alpha[i] = codes[i], alphas[i]
            self.W[i] = self._hold(W, 2, -1, -1, False, f"weights[{i}] W")
            view = &self.held[self.nheld - 1]
            if view.shape[0] > INT_MAX or view.shape[1] > INT_MAX:  # BLAS takes int sizes
                raise ValueError(f"weights[{i}] must be a 2-D kernel below 2**31 per side.")
            self.k[i], self.m[i] = view.shape[0], view.shape[1]
            if i and self.k[i] != self.m[i - 1]:
                raise ValueError(f"weights[{i}] must have {self.m[i - 1]} rows.")
            if (b is None) != (db is None):
                raise ValueError("b and db must both be given or both be None.")
            self.b[i] = NULL if b is None else \
                self._hold(b, 1, self.m[i], 0, False, f"weights[{i}] b")
            self.dW[i] = self._hold(dW, 2, self.k[i], self.m[i], True, f"grads[{i}] dW")
            self._written(0, i)
            written.append(self.nheld - 1)
            if db is not None:
                self.db[i] = self._hold(db, 1, self.m[i], 0, True, f"grads[{i}] db")
                self._written(1, i)
                written.append(self.nheld - 1)
            else:
                self.db[i] = NULL
        # A gradient written over a weight (or another gradient) would feed the rest of
        # the step wrong numbers.
        for j in written:
            for i in range(self.nheld):
                view = &self.held[i]
                if i != j and _overlap(<char *>view.buf, view.len, <char *>self.held[j].buf,
                                       <char *>self.held[j].buf + self.held[j].len):
                    raise ValueError(f"{self.names[j]} must not share memory with "
                                     f"{self.names[i]}.")
        self.ngrads = self.nwritten
        self.loss_code, self.from_logits, self.param = loss_code, from_logits, param
        self.fused = fused
        self.n = -1
        self.work = {}
        return 0

    cdef void _written(self, int what, int layer) noexcept:
        """Record the last held buffer as memory a step writes."""
        cdef Py_buffer *view = &self.held[self.nheld - 1]
        self._range(<char *>view.buf, view.len, what, layer)

    cdef void _range(self, const char *data, Py_ssize_t size, int what,
                     int layer) noexcept:
        self.lo[self.nwritten], self.hi[self.nwritten] = data, data + size
        self.what[self.nwritten], self.layer[self.nwritten] = what, layer
        self.nwritten += 1

    cdef str _name(self, int j):
        return f"the plan's {_WRITTEN_NAMES[self.what[j]]}[{self.layer[j]}]"

    cdef int _workspace(self, Py_ssize_t n) except -1:
        """Point Z, Y, dX and dP at this batch size's arrays (made once per size)."""
        cdef int i
        if n == self.n:
            return 0
        # Invalid until repointed: clearing below frees the arrays the pointers are in.
        self.n = -1
        self.nwritten = self.ngrads
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
            self.Z[i] = self._array(Z, 2, i)
            self.Y[i] = self._array(Y, 3, i)
            self.dX[i] = NULL if dX is None else self._array(dX, 4, i)
        self.dP = self._array(arrays[self.L], 5, self.L - 1)
        self.output = arrays[self.L - 1][1]
        self.n = n
        return 0

    cdef char *_array(self, object a, int what, int layer):
        """The data pointer of a workspace array, recorded as written memory."""
        cdef char *data = <char *><uintptr_t>a.__array_interface__["data"][0]
        self._range(data, a.nbytes, what, layer)
        return data

    cdef int _refuse_overlap(self, const Py_buffer *view, str name) except -1:
        cdef int j
        for j in range(self.nwritten):
            if _overlap(<char *>view.buf, view.len, self.lo[j], self.hi[j]):
                raise ValueError(f"{name} must not share memory with {self._name(j)}, "
                                 f"which the step writes (the returned output is reused "
                                 f"by the next step: pass a copy).")
        return 0

    def train_step(self, X, T, sw):
        """Forward, loss and backward for the batch ``X`` (n, k_0) with targets ``T``
        ((n,) int64 labels for sparse cross-entropy, else (n, m_last) of the weights'
        dtype) and sample weights ``sw`` ((n,) or None). Writes every gradient; returns
        ``(loss, Y)`` with ``Y`` the last layer's output (reused by the next step)."""
        cdef Py_ssize_t n, d
        cdef char *x
        cdef char *t = NULL
        cdef const int64_t *labels = NULL
        cdef char *w
        cdef double value
        cdef int i
        cdef Arrays h  # held until C returns
        if not self.ready:
            raise RuntimeError("This DensePlan was never built or its last __init__ was "
                               "refused; make a new one.")
        self._enter()
        h.count = 0
        h.itemsize = self.itemsize
        try:
            x = take(&h, X, 2, -1, -1, False, "X")
            n, d = h.view[0].shape[0], self.m[self.L - 1]
            if h.view[0].shape[1] != self.k[0]:
                raise ValueError(f"X must have shape (n, {self.k[0]}).")
            if n < 1:
                raise ValueError("X must hold at least one row.")
            if self.loss_code == NNC_LOSS_SCCE:
                labels = take_labels(&h, T, n, "T")
                check_labels(labels, n, d, "T labels")
            else:
                t = take(&h, T, 2, n, d, False, "T")
            w = take_optional(&h, sw, 1, n, 0, False, "sw")
            self._workspace(n)
            for i, name in enumerate(("X", "T", "sw")[:h.count]):
                self._refuse_overlap(&h.view[i], name)
            with nogil:
                if self.float32:
                    value = _run(self, n, <const float *>x, <const float *>t, labels,
                                 <const float *>w)
                else:
                    value = _run(self, n, <const double *>x, <const double *>t, labels,
                                 <const double *>w)
        finally:
            release_all(&h)
            self.busy = False
        return value, self.output

    # A plan's pointers lead into the model's buffers: a copy would point into the
    # original's (or, once it is freed, into nothing).
    def __reduce_ex__(self, protocol):
        raise TypeError(_NO_COPY)

    def __reduce__(self):
        raise TypeError(_NO_COPY)

    def __copy__(self):
        raise TypeError(_NO_COPY)

    def __deepcopy__(self, memo):
        raise TypeError(_NO_COPY)


_NO_COPY = ("DensePlan holds pointers into the model's buffers and cannot be copied or "
            "pickled; copy the model instead.")


cdef inline bint _overlap(const char *data, Py_ssize_t size, const char *lo,
                          const char *hi) noexcept nogil:
    """Whether [data, data + size) and [lo, hi) share a byte (empty ranges share none)."""
    return size > 0 and lo < hi and data < hi and lo < data + size


cdef double _run(DensePlan p, Py_ssize_t n, const floating *X, const floating *T,
                 const int64_t *labels, const floating *sw) noexcept nogil:
    cdef int i, L = p.L, code
    cdef const floating *A = X
    cdef floating *dA
    cdef double value
    for i in range(L):
        forward_layer(p.code[i], p.alpha[i], n, p.k[i], p.m[i], A, <floating *>p.W[i],
                      <floating *>p.b[i], <floating *>p.Z[i], <floating *>p.Y[i])
        A = <floating *>p.Y[i]
    # Fused: the loss takes the logits Z, its gradient (p - y) / n is dL/dZ directly.
    A = <floating *>(p.Z[L - 1] if p.fused else p.Y[L - 1])
    if floating is float:
        value = nnc_loss_f32(p.loss_code, n, p.m[L - 1], T, labels, A, sw,
                             <float *>p.dP, p.from_logits or p.fused, p.param)
    else:
        value = nnc_loss_f64(p.loss_code, n, p.m[L - 1], T, labels, A, sw,
                             <double *>p.dP, p.from_logits or p.fused, p.param)
    dA = <floating *>p.dP
    for i in range(L - 1, -1, -1):
        code = NNC_LINEAR if (p.fused and i == L - 1) else p.code[i]
        A = X if i == 0 else <floating *>p.Y[i - 1]
        # dZ overwrites dA in place, as the layer path's work_dZ=dY does.
        backward_layer(code, p.alpha[i], n, p.k[i], p.m[i], dA, A, <floating *>p.W[i],
                       <floating *>p.Z[i], <floating *>p.Y[i], dA, <floating *>p.dW[i],
                       <floating *>p.db[i], <floating *>p.dX[i])
        dA = <floating *>p.dX[i]
    return value
