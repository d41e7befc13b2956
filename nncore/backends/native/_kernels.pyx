# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""nncore's compiled kernels: one extension module over the C in csrc/.

Each kernel has the name, arguments and semantics of the NumPy backend's definition
(``nncore.backends.numpy_backend``), which the tests hold it to; ``NativeBackend``
replaces the NumPy kernels with these. Every array is checked before the GIL is
released (checks.pxi), so even a direct call cannot make C read or write out of bounds.
The GEMMs call scipy-openblas64 (blas.pxi); ``BLAS`` names it and the kernel it runs.

The kernels are grouped in the included files, one per group; they are compiled
together, so the C of csrc/ is compiled and linked once.
"""
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE
from cpython.buffer cimport PyBuffer_Release, PyObject_GetBuffer
from cython cimport floating
from libc.limits cimport INT_MAX
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t, uintptr_t
from libc.string cimport strlen

import numpy as np

include "checks.pxi"
include "blas.pxi"
include "activations.pxi"
include "dense.pxi"
include "losses.pxi"
include "normalization.pxi"
include "elementwise.pxi"
include "optimizers.pxi"
include "plan.pxi"

#: The BLAS library the GEMMs call, with its version and the kernel it picked.
BLAS = blas_name()
