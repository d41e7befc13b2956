# GEMM for row-major arrays: the only place nncore calls sgemm/dgemm.
#
# The routines are those of scipy-openblas64, the OpenBLAS built for Python packaging that
# nncore declares as a dependency and links at build time (csrc/blas.h); ILP64, so every
# size is a 64-bit integer.
#
# BLAS is column-major: a row-major (r, c) array is, to BLAS, its (c, r) transpose. So the
# row-major product ``C = op(A) @ op(B)`` is computed as the column-major product
# ``C^T = op(B)^T @ op(A)^T``: the operands swap places and each keeps its own transpose
# flag. This swap is done here and nowhere else (as scikit-learn's _cython_blas.pyx).

cdef extern from "blas.h" nogil:
    void sgemm "scipy_sgemm_64_"(const char *, const char *, const int64_t *,
                                 const int64_t *, const int64_t *, const float *,
                                 const float *, const int64_t *, const float *,
                                 const int64_t *, const float *, float *, const int64_t *)
    void dgemm "scipy_dgemm_64_"(const char *, const char *, const int64_t *,
                                 const int64_t *, const int64_t *, const double *,
                                 const double *, const int64_t *, const double *,
                                 const int64_t *, const double *, double *, const int64_t *)
    void sgemv "scipy_sgemv_64_"(const char *, const int64_t *, const int64_t *,
                                 const float *, const float *, const int64_t *,
                                 const float *, const int64_t *, const float *, float *,
                                 const int64_t *)
    void dgemv "scipy_dgemv_64_"(const char *, const int64_t *, const int64_t *,
                                 const double *, const double *, const int64_t *,
                                 const double *, const int64_t *, const double *, double *,
                                 const int64_t *)
    char *openblas_get_corename "scipy_openblas_get_corename64_"()


cdef str blas_name():
    """The BLAS the GEMMs call: ``scipy-openblas64 <version> (<kernel>)``, the kernel
    being the one OpenBLAS picked for this CPU when it was loaded."""
    from importlib.metadata import version
    kernel = (<bytes>openblas_get_corename()).decode("ascii", "replace").strip()
    return f"scipy-openblas64 {version('scipy-openblas64')} ({kernel})"


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
    cdef int64_t M8 = M, N8 = N, K8 = K
    cdef int64_t lda = M if trans_a else K
    cdef int64_t ldb = K if trans_b else N
    cdef int64_t ldc = N
    # Column-major view: C^T (N, M) = op(B)^T (N, K) @ op(A)^T (K, M). Fortran takes every
    # argument by address.
    if floating is float:
        sgemm(&tb, &ta, &N8, &M8, &K8, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)
    else:
        dgemm(&tb, &ta, &N8, &M8, &K8, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)


cdef inline void gemv_row(bint trans_b, int N, int K, floating alpha, const floating *a,
                          const floating *B, floating beta, floating *c) noexcept nogil:
    """``c = alpha * a @ op(B) + beta * c`` for one contiguous row ``a`` (K,) and ``c`` (N,).

    Row-major ``B`` (K, N) is the column-major (N, K) matrix ``B^T``, so ``a @ B`` is
    ``gemv('N')`` on it; row-major ``B`` (N, K) read transposed is ``gemv('T')``.
    """
    cdef char trans = b"T" if trans_b else b"N"
    cdef int64_t rows = K if trans_b else N
    cdef int64_t cols = N if trans_b else K
    cdef int64_t inc = 1
    if floating is float:
        sgemv(&trans, &rows, &cols, &alpha, B, &rows, a, &inc, &beta, c, &inc)
    else:
        dgemv(&trans, &rows, &cols, &alpha, B, &rows, a, &inc, &beta, c, &inc)
