# How every kernel takes its arrays: through the buffer protocol, each checked (item type
# and size, rank, shape, C-contiguity, alignment, native byte order, writability) before
# the GIL is released, so that no call, even one bypassing nncore.backends.base, can make
# C read or write out of bounds or through a misaligned pointer (np.frombuffer(...,
# offset=1) gives a C-contiguous array whose elements straddle words). Every buffer stays
# acquired until C returns: the exporter then refuses to free or move the memory (a
# memoryview's release() or a bytearray's resize raises BufferError), so another thread
# cannot pull it from under C running without the GIL.
#
# The buffer protocol rather than typed memoryviews: a memoryview is a Python object
# made per array per call, and a training step makes many calls. A kernel's float32 or
# float64 variant is chosen by the item size of its first array, which every other float
# array of the call must share.

cdef enum:
    MAX_ARRAYS = 12  # the most arrays one kernel takes (dense backward: 10)


cdef struct Arrays:
    # The buffers one call holds, released together by release_all. Start with count = 0.
    Py_buffer view[MAX_ARRAYS]
    int count
    Py_ssize_t itemsize  # of the first float array: 4 (float32) or 8 (float64)


cdef inline char type_letter(const Py_buffer *view) noexcept:
    """The struct-module letter of a buffer's items ('f', 'd', 'l', 'q'...), after any
    byte-order mark; "B" (refused by every caller) for items stored in the other byte
    order, which C would misread. Read in C: checking a buffer allocates no object."""
    if view.format == NULL:
        return b"B"
    cdef size_t length = strlen(view.format)
    if length == 0:
        return b"B"
    cdef int one = 1
    cdef char foreign = b">" if (<char *>&one)[0] == 1 else b"<"
    if view.format[0] == foreign or (view.format[0] == b"!" and foreign == b">"):
        return b"B"
    return view.format[length - 1]


cdef inline int acquire(object a, Py_buffer *view, bint writable, str name) except -1:
    """Get the C-contiguous buffer of ``a`` (writable if asked); ValueError otherwise.
    The caller releases it."""
    cdef int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (PyBUF_WRITABLE if writable else 0)
    try:
        PyObject_GetBuffer(a, view, flags)
    except (BufferError, ValueError) as exc:  # numpy says ValueError when not contiguous
        raise ValueError(f"{name} must be a C-contiguous{' writeable' if writable else ''} "
                         f"array ({exc}).") from None
    return 0


cdef inline int check_view(const Py_buffer *view, Py_ssize_t itemsize, char kind, int ndim,
                           Py_ssize_t rows, Py_ssize_t cols, str name) except -1:
    """Refuse a buffer that is not of the given item kind ('f' float, 'i' int64) and size,
    rank and shape (``rows`` < 0: any shape of that rank; ``cols`` < 0: any number of
    columns), or that is misaligned. Each message names the array and what it must be."""
    cdef char letter = type_letter(view)
    good_kind = (letter == b"f" or letter == b"d") if kind == b"f" else \
        (letter == b"l" or letter == b"q")
    if not good_kind or view.itemsize != itemsize:
        raise TypeError(f"{name} must have dtype "
                        f"{'int64' if kind == b'i' else 'float%d' % (8 * itemsize)}.")
    if view.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D.")
    if rows >= 0 and (view.shape[0] != rows or
                      (ndim == 2 and cols >= 0 and view.shape[1] != cols)):
        want = f"({rows},)" if ndim == 1 else f"({rows}, {cols if cols >= 0 else 'm'})"
        got = tuple(view.shape[i] for i in range(view.ndim))
        raise ValueError(f"{name} must have shape {want}. Received: {name}.shape={got}")
    if <uintptr_t>view.buf % itemsize:
        raise ValueError(f"{name} must be aligned to its items.")
    return 0


cdef inline char *hold(object a, Py_buffer *view, Py_ssize_t itemsize, char kind, int ndim,
                       Py_ssize_t rows, Py_ssize_t cols, bint writable,
                       str name) except NULL:
    """Acquire the buffer of ``a`` into ``view`` and check it (:func:`check_view`);
    return its data pointer. On success the buffer stays acquired until the caller's
    PyBuffer_Release (harmless on a view whose ``obj`` is NULL, so a caller may start
    views zeroed and release them all in one ``finally``); on failure nothing does."""
    acquire(a, view, writable, name)
    try:
        check_view(view, itemsize, kind, ndim, rows, cols, name)
    except BaseException:
        PyBuffer_Release(view)
        raise
    return <char *>view.buf


cdef inline char *first(Arrays *h, object a, int ndim, bint writable,
                        str name) except NULL:
    """Take the float32 or float64 array of rank ``ndim`` (any shape) whose item size the
    call's other float arrays must have; its shape is then ``h.view[0].shape``."""
    cdef Py_buffer *view = &h.view[h.count]
    acquire(a, view, writable, name)
    try:
        letter = type_letter(view)
        if not ((letter == b"f" and view.itemsize == 4) or
                (letter == b"d" and view.itemsize == 8)):
            raise TypeError(f"{name} must have dtype float32 or float64.")
        check_view(view, view.itemsize, b"f", ndim, -1, -1, name)
    except BaseException:
        PyBuffer_Release(view)
        raise
    h.itemsize = view.itemsize
    h.count += 1
    return <char *>view.buf


cdef inline char *take(Arrays *h, object a, int ndim, Py_ssize_t rows, Py_ssize_t cols,
                       bint writable, str name) except NULL:
    """Take one more float array of the first one's dtype, shaped (rows, cols) or, with
    ``ndim`` 1, (rows,)."""
    cdef char *data = hold(a, &h.view[h.count], h.itemsize, b"f", ndim, rows, cols,
                           writable, name)
    h.count += 1
    return data


cdef inline char *take_optional(Arrays *h, object a, int ndim, Py_ssize_t rows,
                                Py_ssize_t cols, bint writable, str name) except? NULL:
    """:func:`take`, or NULL for None (an optional output or state)."""
    return NULL if a is None else take(h, a, ndim, rows, cols, writable, name)


cdef inline const int64_t *take_labels(Arrays *h, object a, Py_ssize_t n,
                                       str name) except NULL:
    """Take (n,) int64 class labels."""
    cdef char *data = hold(a, &h.view[h.count], 8, b"i", 1, n, 0, False, name)
    h.count += 1
    return <const int64_t *>data


cdef inline void release_all(Arrays *h) noexcept:
    cdef int i
    for i in range(h.count):
        PyBuffer_Release(&h.view[i])
    h.count = 0
