"""Checks shared by the native wrappers, run before the GIL is released so that no call,
even one bypassing nncore.backends.base, can make C read or write out of bounds or
through a misaligned pointer (typed memoryviews check dtype and strides, not alignment:
np.frombuffer(..., offset=1) gives a C-contiguous array whose elements straddle words,
which C may not load as floats)."""
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE
from cpython.buffer cimport PyBuffer_Release, PyObject_GetBuffer
from cython cimport floating
from libc.stdint cimport uintptr_t
from libc.string cimport strlen


cdef inline int check_aligned(const void *data, size_t itemsize, str name) except -1:
    if <size_t>data % itemsize:
        raise ValueError(f"{name} must be aligned to its {itemsize}-byte items "
                         "(numpy's flags.aligned); copy it with np.require(a, "
                         "requirements='A').")
    return 0


cdef inline int check_matrix(const floating[:, ::1] a, Py_ssize_t rows, Py_ssize_t cols,
                             str name) except -1:
    if a.shape[0] != rows or a.shape[1] != cols:
        raise ValueError(f"{name} must have shape ({rows}, {cols}). Received: "
                         f"{name}.shape=({a.shape[0]}, {a.shape[1]})")
    return check_aligned(&a[0, 0], sizeof(floating), name)


cdef inline int check_vector(const floating[::1] a, Py_ssize_t length, str name) except -1:
    if a.shape[0] != length:
        raise ValueError(f"{name} must have shape ({length},). Received: "
                         f"{name}.shape=({a.shape[0]},)")
    return check_aligned(&a[0], sizeof(floating), name)


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
    rank and shape (``rows`` < 0: any shape of that rank), or that is misaligned."""
    cdef char letter = type_letter(view)
    good_kind = (letter == b"f" or letter == b"d") if kind == b"f" else \
        (letter == b"l" or letter == b"q")
    if not good_kind or view.itemsize != itemsize:
        raise TypeError(f"{name} must have dtype "
                        f"{'int64' if kind == b'i' else 'float%d' % (8 * itemsize)}.")
    if view.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D.")
    if rows >= 0 and (view.shape[0] != rows or (ndim == 2 and view.shape[1] != cols)):
        want = f"({rows},)" if ndim == 1 else f"({rows}, {cols})"
        raise ValueError(f"{name} must have shape {want}.")
    if <uintptr_t>view.buf % itemsize:
        raise ValueError(f"{name} must be aligned to its items.")
    return 0


cdef inline char *hold(object a, Py_buffer *view, Py_ssize_t itemsize, char kind, int ndim,
                       Py_ssize_t rows, Py_ssize_t cols, bint writable,
                       str name) except NULL:
    """Acquire the buffer of ``a`` into ``view`` and check it (:func:`check_view`);
    return its data pointer. On success the buffer STAYS acquired until the caller's
    PyBuffer_Release (harmless on a view whose ``obj`` is NULL, so callers start every
    view at NULL and release them all in one ``finally``): while it is held, the exporter
    refuses to free or move the memory (a memoryview's release() and a bytearray's
    resize raise BufferError), so another thread cannot pull it from under C running
    without the GIL. On failure nothing stays acquired.

    The buffer protocol instead of a typed memoryview: a memoryview is a Python object
    made on every call, and a training step calls these wrappers many times."""
    acquire(a, view, writable, name)
    try:
        check_view(view, itemsize, kind, ndim, rows, cols, name)
    except BaseException:
        PyBuffer_Release(view)
        raise
    return <char *>view.buf


cdef inline char *hold_float_vector(object a, Py_buffer *view, bint writable,
                                    str name) except NULL:
    """:func:`hold` for a 1-D aligned float32 or float64 buffer of any length: the first
    argument of a kernel, whose item size (``view.itemsize``) and length
    (``view.shape[0]``) the others must then match."""
    acquire(a, view, writable, name)
    try:
        letter = type_letter(view)
        if not ((letter == b"f" and view.itemsize == 4) or
                (letter == b"d" and view.itemsize == 8)):
            raise TypeError(f"{name} must have dtype float32 or float64.")
        check_view(view, view.itemsize, b"f", 1, -1, -1, name)
    except BaseException:
        PyBuffer_Release(view)
        raise
    return <char *>view.buf
