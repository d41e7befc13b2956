# cython: language_level=3, boundscheck=False, wraparound=False
"""GEMM for row-major arrays through scipy's BLAS: the only place nncore calls sgemm/dgemm.

``scipy.linalg.cython_blas`` exposes the Fortran routines of the BLAS scipy ships with
(no linking of our own; the function pointers are fetched when scipy is imported). BLAS
is column-major: a row-major (r, c) array is, to BLAS, its (c, r) transpose. So the
row-major product ``C = op(A) @ op(B)`` is computed as the column-major product
``C^T = op(B)^T @ op(A)^T``: the operands swap places and each keeps its own transpose
flag. This swap is done here and nowhere else (as scikit-learn's _cython_blas.pyx).
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv


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
    # Column-major view: C^T (N, M) = op(B)^T (N, K) @ op(A)^T (K, M). Fortran takes every
    # argument by address; BLAS never writes A or B, so dropping const is safe.
    if floating is float:
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
    if floating is float:
        sgemv(&trans, &rows, &cols, &alpha, <float *>B, &rows, <float *>a, &inc, &beta, c,
              &inc)
    else:
        dgemv(&trans, &rows, &cols, &alpha, <double *>B, &rows, <double *>a, &inc, &beta, c,
              &inc)
