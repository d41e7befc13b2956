/* Which BLAS nncore's GEMM and GEMV call.
 *
 * NumPy 2's wheels carry their own OpenBLAS, built for 64-bit integers with every symbol
 * renamed (scipy_sgemm_64_), and it is already loaded once numpy is imported. When that
 * library (or another ILP64 OpenBLAS with the plain 64_ suffix) is in the process,
 * nncore calls it: on this kind of machine its small GEMMs ran 10-40% faster than those
 * of the OpenBLAS SciPy ships, and it is also the library the benchmark's GEMM-only
 * bound (numpy.matmul) runs on. Otherwise these pointers stay NULL and the kernels call
 * scipy.linalg.cython_blas as before.
 *
 * Found through dl_iterate_phdr, which lists the libraries already loaded: nothing new
 * is loaded and no path is guessed. Where there is no dl_iterate_phdr (it is in glibc,
 * musl and the BSDs), the search finds nothing.
 */
#ifndef NNCORE_BLAS_H
#define NNCORE_BLAS_H

#include <stdint.h>

/* The Fortran calling convention of the reference BLAS, with 64-bit integers. */
typedef void (*nnc_sgemm64_fn)(const char *transa, const char *transb, const int64_t *m,
                               const int64_t *n, const int64_t *k, const float *alpha,
                               const float *a, const int64_t *lda, const float *b,
                               const int64_t *ldb, const float *beta, float *c,
                               const int64_t *ldc);
typedef void (*nnc_dgemm64_fn)(const char *transa, const char *transb, const int64_t *m,
                               const int64_t *n, const int64_t *k, const double *alpha,
                               const double *a, const int64_t *lda, const double *b,
                               const int64_t *ldb, const double *beta, double *c,
                               const int64_t *ldc);
typedef void (*nnc_sgemv64_fn)(const char *trans, const int64_t *m, const int64_t *n,
                               const float *alpha, const float *a, const int64_t *lda,
                               const float *x, const int64_t *incx, const float *beta,
                               float *y, const int64_t *incy);
typedef void (*nnc_dgemv64_fn)(const char *trans, const int64_t *m, const int64_t *n,
                               const double *alpha, const double *a, const int64_t *lda,
                               const double *x, const int64_t *incx, const double *beta,
                               double *y, const int64_t *incy);

typedef struct {
    nnc_sgemm64_fn sgemm;
    nnc_dgemm64_fn dgemm;
    nnc_sgemv64_fn sgemv;
    nnc_dgemv64_fn dgemv;
    char path[1024]; /* the library's file, "" when none was found */
} nnc_blas64_t;

/* All four pointers or none. Filled by nnc_blas64_find(). */
extern nnc_blas64_t nnc_blas64;

/* Look once for a loaded ILP64 BLAS; returns 1 when found. Call with the GIL held (at
 * module import), so no two threads run it at once. */
int nnc_blas64_find(void);

#endif /* NNCORE_BLAS_H */
