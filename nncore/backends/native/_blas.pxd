# cython: language_level=3, boundscheck=False, wraparound=False
"""GEMM for row-major arrays: the only place nncore calls sgemm/dgemm.

The routines are NumPy's own ILP64 OpenBLAS when it is loaded (csrc/blas.h says why and
how it is found), else ``scipy.linalg.cython_blas``, the Fortran routines of the BLAS
scipy ships with (no linking of our own either way). A module that cimports this one
calls ``find_blas()`` once when it is imported.

BLAS is column-major: a row-major (r, c) array is, to BLAS, its (c, r) transpose. So the
row-major product ``C = op(A) @ op(B)`` is computed as the column-major product
``C^T = op(B)^T @ op(A)^T``: the operands swap places and each keeps its own transpose
flag. This swap is done here and nowhere else (as scikit-learn's _cython_blas.pyx).
"""
from cython cimport floating
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv

cdef extern from "blas.h" nogil:
    ctypedef void (*nnc_sgemm64_fn)(const char *, const char *, const int64_t *,
                                    const int64_t *, const int64_t *, const float *,
                                    const float *, const int64_t *, const float *,
                                    const int64_t *, const float *, float *, const int64_t *)
    ctypedef void (*nnc_dgemm64_fn)(const char *, const char *, const int64_t *,
                                    const int64_t *, const int64_t *, const double *,
                                    const double *, const int64_t *, const double *,
                                    const int64_t *, const double *, double *,
                                    const int64_t *)
    ctypedef void (*nnc_sgemv64_fn)(const char *, const int64_t *, const int64_t *,
                                    const float *, const float *, const int64_t *,
                                    const float *, const int64_t *, const float *, float *,
                                    const int64_t *)
    ctypedef void (*nnc_dgemv64_fn)(const char *, const int64_t *, const int64_t *,
                                    const double *, const double *, const int64_t *,
                                    const double *, const int64_t *, const double *,
                                    double *, const int64_t *)
    ctypedef struct nnc_blas64_t:
        nnc_sgemm64_fn sgemm
        nnc_dgemm64_fn dgemm
        nnc_sgemv64_fn sgemv
        nnc_dgemv64_fn dgemv
        char path[1024]
    nnc_blas64_t nnc_blas64
    int nnc_blas64_find()


cdef inline str find_blas():
    """Pick the BLAS (once per module) and name it: the library file NumPy's OpenBLAS was
    loaded from, or "scipy.linalg.cython_blas", which the environment variable
    ``NNCORE_BLAS=scipy`` also asks for."""
    import os
    if os.environ.get("NNCORE_BLAS", "").strip().lower() != "scipy" and nnc_blas64_find():
        return os.path.realpath((<bytes>nnc_blas64.path).decode("utf-8", "replace"))
    return "scipy.linalg.cython_blas"


cdef inline void gemm(bint trans_a, bint trans_b, int M, int N, int K, floating alpha,
                      const floating *A, const floating *B, floating beta,
                      floating *C) noexcept nogil:
    """``C = alpha * op(A) @ op(B) + beta * C`` on C-contiguous row-major arrays.

    ``C`` is (M, N) and ``op(A) @ op(B)`` multiplies (M, K) by (K, N), where ``op(A)`` is
    ``A`` (M, K), or ``A.T`` when ``trans_a`` (then ``A`` is stored (K, M)); likewise ``B``.
    Leading dimensions are the row lengths of the stored arrays. A product with no
    element (M or N = 0) does nothing, and K = 0 (a sum of no terms) gives
    ``C = beta * C`` without calling BLAS, which would refuse a leading dimension of 0.
    With ``beta = 0``, ``C`` is only written (NaN or garbage in it do not propagate).
    """
    cdef Py_ssize_t i
    if M == 0 or N == 0:
        return
    if K == 0:
        for i in range(<Py_ssize_t>M * N):
            C[i] = 0 if beta == 0 else beta * C[i]
        return
    cdef char ta = b"T" if trans_a else b"N"
    cdef char tb = b"T" if trans_b else b"N"
    if M == 1:
        # One row (a single-sample predict): a matrix-vector product. GEMM would still
        # run its blocking and packing machinery for a 1 x K operand.
        gemv_row(trans_b, N, K, alpha, A, B, beta, C)
        return
    cdef int lda = M if trans_a else K
    cdef int ldb = K if trans_b else N
    cdef int ldc = N
    cdef int64_t M8 = M, N8 = N, K8 = K, lda8 = lda, ldb8 = ldb, ldc8 = ldc
    # Column-major view: C^T (N, M) = op(B)^T (N, K) @ op(A)^T (K, M). Fortran takes every
    # argument by address; BLAS never writes A or B, so dropping const is safe.
    if nnc_blas64.sgemm != NULL:
        if floating is float:
            nnc_blas64.sgemm(&tb, &ta, &N8, &M8, &K8, &alpha, B, &ldb8, A, &lda8, &beta, C,
                             &ldc8)
        else:
            nnc_blas64.dgemm(&tb, &ta, &N8, &M8, &K8, &alpha, B, &ldb8, A, &lda8, &beta, C,
                             &ldc8)
    elif floating is float:
        sgemm(&tb, &ta, &N, &M, &K, &alpha, <float *>B, &ldb, <float *>A, &lda, &beta,
              C, &ldc)
    else:
        dgemm(&tb, &ta, &N, &M, &K, &alpha, <double *>B, &ldb, <double *>A, &lda, &beta,
              C, &ldc)


cdef inline void gemv_row(bint trans_b, int N, int K, floating alpha, const floating *a,
                          const floating *B, floating beta, floating *c) noexcept nogil:
    """``c = alpha * a @ op(B) + beta * c`` for one contiguous row ``a`` (K,) and ``c`` (N,).

    Row-major ``B`` (K, N) is the column-major (N, K) matrix ``B^T``, so ``a @ B`` is
    ``gemv('N')`` on it; row-major ``B`` (N, K) read transposed is ``gemv('T')``.
    """
    cdef char trans = b"T" if trans_b else b"N"
    cdef int rows = K if trans_b else N
    cdef int cols = N if trans_b else K
    cdef int inc = 1
    cdef int64_t rows8 = rows, cols8 = cols, inc8 = 1
    if nnc_blas64.sgemv != NULL:
        if floating is float:
            nnc_blas64.sgemv(&trans, &rows8, &cols8, &alpha, B, &rows8, a, &inc8, &beta, c,
                             &inc8)
        else:
            nnc_blas64.dgemv(&trans, &rows8, &cols8, &alpha, B, &rows8, a, &inc8, &beta, c,
                             &inc8)
    elif floating is float:
        sgemv(&trans, &rows, &cols, &alpha, <float *>B, &rows, <float *>a, &inc, &beta, c,
              &inc)
    else:
        dgemv(&trans, &rows, &cols, &alpha, <double *>B, &rows, <double *>a, &inc, &beta, c,
              &inc)
