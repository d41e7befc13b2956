"""Checks shared by the native wrappers, run before the GIL is released so that no call,
even one bypassing nncore.backends.base, can make C read or write out of bounds or
through a misaligned pointer (typed memoryviews check dtype and strides, not alignment:
np.frombuffer(..., offset=1) gives a C-contiguous array whose elements straddle words,
which C may not load as floats)."""
from cython cimport floating


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
