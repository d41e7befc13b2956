"""Shape checks shared by the native wrappers, run before the GIL is released so that no
call, even one bypassing nncore.backends.base, can make C read or write out of bounds."""
from cython cimport floating


cdef inline int check_matrix(const floating[:, ::1] a, Py_ssize_t rows, Py_ssize_t cols,
                             str name) except -1:
    if a.shape[0] != rows or a.shape[1] != cols:
        raise ValueError(f"{name} must have shape ({rows}, {cols}). Received: "
                         f"{name}.shape=({a.shape[0]}, {a.shape[1]})")
    return 0


cdef inline int check_vector(const floating[::1] a, Py_ssize_t length, str name) except -1:
    if a.shape[0] != length:
        raise ValueError(f"{name} must have shape ({length},). Received: "
                         f"{name}.shape=({a.shape[0]},)")
    return 0
