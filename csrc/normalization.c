/* Batch normalization forward and backward (see normalization.h for the formulas).
 *
 * The float and double kernels share one body: this file includes itself once per type,
 * with REAL and NAME(f) (which appends _f32 or _f64) defined; the body below the #else is
 * that template.
 *
 * The statistics are per column but the matrix is row-major, so every pass walks the rows
 * and updates a short vector of per-column accumulators (contiguous, so it vectorises).
 * Columns go in blocks of NNC_BN_BLOCK: the accumulators then fit on the stack (nothing
 * to allocate, nothing that can fail) and a block of X read by the first pass is often
 * still in cache for the next ones.
 */
#ifndef REAL

#include <math.h>

#include "normalization.h"

#define NNC_BN_BLOCK 256

#define REAL float
#define NAME(f) f##_f32
#include "normalization.c"
#undef REAL
#undef NAME

#define REAL double
#define NAME(f) f##_f64
#include "normalization.c"
#undef REAL
#undef NAME

#else /* the template, instantiated above for each REAL */

/* Mean and biased variance of the w columns starting at X (row stride d), in two passes:
 * subtracting the mean before squaring keeps the variance accurate when the spread is
 * small next to the mean, where sum(x^2)/n - mean^2 would cancel. */
NNC_SIMD_DISPATCH
static void NAME(block_moments)(ptrdiff_t n, ptrdiff_t d, ptrdiff_t w, const REAL *X,
                                double *restrict mean, double *restrict var)
{
    for (ptrdiff_t j = 0; j < w; j++)
        mean[j] = var[j] = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const REAL *x = X + i * d;
        for (ptrdiff_t j = 0; j < w; j++)
            mean[j] += x[j];
    }
    for (ptrdiff_t j = 0; j < w; j++)
        mean[j] /= (double)n;
    for (ptrdiff_t i = 0; i < n; i++) {
        const REAL *x = X + i * d;
        for (ptrdiff_t j = 0; j < w; j++) {
            const double t = x[j] - mean[j];
            var[j] += t * t;
        }
    }
    for (ptrdiff_t j = 0; j < w; j++)
        var[j] /= (double)n;
}

/* xhat = (x - mean) * inv, y = g * xhat + b over w columns of every row. */
NNC_SIMD_DISPATCH
static void NAME(block_normalize)(ptrdiff_t n, ptrdiff_t d, ptrdiff_t w, const REAL *X,
                                  const double *restrict mean, const double *restrict inv,
                                  const double *restrict g, const double *restrict b,
                                  REAL *Y, REAL *xhat)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        const REAL *x = X + i * d;
        REAL *y = Y + i * d, *xh = xhat + i * d;
        for (ptrdiff_t j = 0; j < w; j++) {
            const double t = (x[j] - mean[j]) * inv[j];
            xh[j] = (REAL)t;
            y[j] = (REAL)(g[j] * t + b[j]);
        }
    }
}

void NAME(nnc_batch_norm_forward)(ptrdiff_t n, ptrdiff_t d, const REAL *X,
                                  const REAL *gamma, const REAL *beta, REAL *moving_mean,
                                  REAL *moving_variance, int training, double momentum,
                                  double eps, REAL *Y, REAL *xhat, REAL *inv_std)
{
    double mean[NNC_BN_BLOCK], inv[NNC_BN_BLOCK], g[NNC_BN_BLOCK], b[NNC_BN_BLOCK];
    for (ptrdiff_t j0 = 0; j0 < d; j0 += NNC_BN_BLOCK) {
        const ptrdiff_t w = d - j0 < NNC_BN_BLOCK ? d - j0 : NNC_BN_BLOCK;
        REAL *mm = moving_mean + j0, *mv = moving_variance + j0;
        if (training) {
            NAME(block_moments)(n, d, w, X + j0, mean, inv);
            for (ptrdiff_t j = 0; j < w; j++) {
                mm[j] = (REAL)(momentum * mm[j] + (1.0 - momentum) * mean[j]);
                mv[j] = (REAL)(momentum * mv[j] + (1.0 - momentum) * inv[j]);
                inv[j] = 1.0 / sqrt(inv[j] + eps);
            }
        } else {
            for (ptrdiff_t j = 0; j < w; j++) {
                mean[j] = mm[j];
                inv[j] = 1.0 / sqrt(mv[j] + eps);
            }
        }
        /* gamma and beta are read only now, after the moving statistics are written, in
         * the order of the NumPy reference. */
        for (ptrdiff_t j = 0; j < w; j++) {
            inv_std[j0 + j] = (REAL)inv[j];
            g[j] = gamma[j0 + j];
            b[j] = beta[j0 + j];
        }
        NAME(block_normalize)(n, d, w, X + j0, mean, inv, g, b, Y + j0, xhat + j0);
    }
}

/* sdy = sum(dy), sdyx = sum(dy * xhat) over the rows, for w columns. */
NNC_SIMD_DISPATCH
static void NAME(block_grad_sums)(ptrdiff_t n, ptrdiff_t d, ptrdiff_t w, const REAL *dY,
                                  const REAL *xhat, double *restrict sdy,
                                  double *restrict sdyx)
{
    for (ptrdiff_t j = 0; j < w; j++)
        sdy[j] = sdyx[j] = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const REAL *dy = dY + i * d, *xh = xhat + i * d;
        for (ptrdiff_t j = 0; j < w; j++) {
            sdy[j] += dy[j];
            sdyx[j] += (double)dy[j] * xh[j];
        }
    }
}

/* dx = a * (n * dy - sdy - xhat * sdyx) over w columns; dX may be dY, element for
 * element, since each dy is read before the dx at the same place is written. */
NNC_SIMD_DISPATCH
static void NAME(block_grad_input)(ptrdiff_t n, ptrdiff_t d, ptrdiff_t w, const REAL *dY,
                                   const REAL *xhat, const double *restrict a,
                                   const double *restrict sdy, const double *restrict sdyx,
                                   REAL *dX)
{
    const double nn = (double)n;
    for (ptrdiff_t i = 0; i < n; i++) {
        const REAL *dy = dY + i * d, *xh = xhat + i * d;
        REAL *dx = dX + i * d;
        for (ptrdiff_t j = 0; j < w; j++)
            dx[j] = (REAL)(a[j] * (nn * dy[j] - sdy[j] - xh[j] * sdyx[j]));
    }
}

void NAME(nnc_batch_norm_backward)(ptrdiff_t n, ptrdiff_t d, const REAL *dY,
                                   const REAL *xhat, const REAL *gamma, const REAL *inv_std,
                                   REAL *dX, REAL *dgamma, REAL *dbeta)
{
    double sdy[NNC_BN_BLOCK], sdyx[NNC_BN_BLOCK], a[NNC_BN_BLOCK];
    for (ptrdiff_t j0 = 0; j0 < d; j0 += NNC_BN_BLOCK) {
        const ptrdiff_t w = d - j0 < NNC_BN_BLOCK ? d - j0 : NNC_BN_BLOCK;
        /* The sums cover every row of the block before any dX of it is written: dX may
         * be dY. */
        NAME(block_grad_sums)(n, d, w, dY + j0, xhat + j0, sdy, sdyx);
        for (ptrdiff_t j = 0; j < w; j++) {
            dbeta[j0 + j] = (REAL)sdy[j];
            dgamma[j0 + j] = (REAL)sdyx[j];
            a[j] = (double)gamma[j0 + j] * inv_std[j0 + j] / (double)n;
        }
        NAME(block_grad_input)(n, d, w, dY + j0, xhat + j0, a, sdy, sdyx, dX + j0);
    }
}

#endif /* REAL */
