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


cdef inline char *buffer_data(object a, Py_ssize_t itemsize, char kind, int ndim,
                              Py_ssize_t rows, Py_ssize_t cols, bint writable,
                              str name) except NULL:
    """The data pointer of ``a``, a C-contiguous aligned array of the given item kind
    ('f' float, 'i' int64), rank and shape; ValueError/TypeError otherwise.

    The buffer protocol instead of a typed memoryview: a memoryview is a Python object
    made on every call, and a training step calls these wrappers many times."""
    cdef Py_buffer view
    cdef char letter
    acquire(a, &view, writable, name)
    try:
        letter = type_letter(&view)
        good_kind = (letter == b"f" or letter == b"d") if kind == b"f" else \
            (letter == b"l" or letter == b"q")
        if not good_kind or view.itemsize != itemsize:
            raise TypeError(f"{name} must have dtype "
                            f"{'int64' if kind == b'i' else 'float%d' % (8 * itemsize)}.")
        if view.ndim != ndim or view.shape[0] != rows or \
                (ndim == 2 and view.shape[1] != cols):
            want = f"({rows},)" if ndim == 1 else f"({rows}, {cols})"
            raise ValueError(f"{name} must have shape {want}.")
        if <uintptr_t>view.buf % itemsize:
            raise ValueError(f"{name} must be aligned to its items.")
        return <char *>view.buf
    finally:
        PyBuffer_Release(&view)


cdef inline char *float_vector(object a, Py_ssize_t *length, Py_ssize_t *itemsize,
                               bint writable, str name) except NULL:
    """The data pointer, length and item size (4 or 8) of ``a``, a 1-D aligned float32 or
    float64 buffer: the first argument of a kernel, whose dtype and length the others
    must then match (checked with :func:`buffer_data`)."""
    cdef Py_buffer view
    acquire(a, &view, writable, name)
    try:
        letter = type_letter(&view)
        if not ((letter == b"f" and view.itemsize == 4) or
                (letter == b"d" and view.itemsize == 8)):
            raise TypeError(f"{name} must have dtype float32 or float64.")
        if view.ndim != 1:
            raise ValueError(f"{name} must be 1-D.")
        if <uintptr_t>view.buf % view.itemsize:
            raise ValueError(f"{name} must be aligned to its items.")
        length[0], itemsize[0] = view.shape[0], view.itemsize
        return <char *>view.buf
    finally:
        PyBuffer_Release(&view)
