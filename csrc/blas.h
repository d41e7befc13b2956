/* The BLAS nncore's GEMM and GEMV call: scipy-openblas64, an OpenBLAS built for Python
 * packaging (PyPI `scipy-openblas64`), declared in pyproject.toml and linked at build
 * time. setup.py takes this header's include directory and the library from the
 * package; nncore/backends/native/__init__.py loads the library from the installed
 * package before the extension modules (nothing is searched for).
 *
 * The library is ILP64 (64-bit integers) and renames every symbol scipy_<name>64_, so it
 * cannot clash with another BLAS in the process (NumPy's own bundled copy, scipy's).
 * Chosen by measurement: benchmarks/README.md ("Which BLAS").
 */
#ifndef NNCORE_BLAS_H
#define NNCORE_BLAS_H

#include <stdint.h>
#include <openblas_config.h> /* scipy-openblas64's: blasint is the library's integer */

#ifndef OPENBLAS_USE64BITINT
#error "nncore links the ILP64 scipy-openblas64; this openblas_config.h is not ILP64"
#endif
_Static_assert(sizeof(blasint) == sizeof(int64_t), "scipy-openblas64 takes 64-bit integers");

/* The Fortran calling convention of the reference BLAS: every argument by address. */
void scipy_sgemm_64_(const char *transa, const char *transb, const int64_t *m,
                     const int64_t *n, const int64_t *k, const float *alpha, const float *a,
                     const int64_t *lda, const float *b, const int64_t *ldb,
                     const float *beta, float *c, const int64_t *ldc);
void scipy_dgemm_64_(const char *transa, const char *transb, const int64_t *m,
                     const int64_t *n, const int64_t *k, const double *alpha,
                     const double *a, const int64_t *lda, const double *b,
                     const int64_t *ldb, const double *beta, double *c, const int64_t *ldc);
void scipy_sgemv_64_(const char *trans, const int64_t *m, const int64_t *n,
                     const float *alpha, const float *a, const int64_t *lda, const float *x,
                     const int64_t *incx, const float *beta, float *y, const int64_t *incy);
void scipy_dgemv_64_(const char *trans, const int64_t *m, const int64_t *n,
                     const double *alpha, const double *a, const int64_t *lda,
                     const double *x, const int64_t *incx, const double *beta, double *y,
                     const int64_t *incy);

/* OpenBLAS's own API: the kernel it picked at load time and its thread pool. */
char *scipy_openblas_get_corename64_(void);
char *scipy_openblas_get_config64_(void);
int scipy_openblas_get_num_threads64_(void);

#endif /* NNCORE_BLAS_H */
