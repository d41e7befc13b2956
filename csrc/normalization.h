/* Batch normalization (Ioffe & Szegedy, 2015) over the rows of a row-major (n, d) matrix,
 * with the semantics of keras.layers.BatchNormalization (Keras 3) and of
 * nncore/backends/numpy_backend/normalization.py, the reference these kernels are tested
 * against.
 *
 * Forward, training (per column j, over the n rows):
 *   mean = sum(x) / n,  var = sum((x - mean)^2) / n      (biased, accumulated in double)
 *   moving_mean     = momentum * moving_mean     + (1 - momentum) * mean      (in place)
 *   moving_variance = momentum * moving_variance + (1 - momentum) * var       (in place)
 *   inv_std = 1 / sqrt(var + eps),  xhat = (x - mean) * inv_std,  y = gamma * xhat + beta
 * Forward, inference: the same with mean = moving_mean, var = moving_variance, which are
 * only read.
 *
 * Backward (of training mode; per column, over the n rows):
 *   dbeta = sum(dy),  dgamma = sum(dy * xhat)                (accumulated in double)
 *   dx = gamma * inv_std / n * (n * dy - dbeta - xhat * dgamma)
 *
 * Aliasing: dX may be dY (every column sum is complete before dX is written). No other
 * pair of arrays may overlap. Scalars arrive in double; per-element arithmetic is done in
 * double and rounded once to the arrays' type. Nothing is allocated: columns are processed
 * in blocks whose statistics live on the stack.
 */
#ifndef NNCORE_NORMALIZATION_H
#define NNCORE_NORMALIZATION_H

#include <stddef.h>

#include "simd.h" /* NNC_SIMD_DISPATCH */

#ifdef __cplusplus
extern "C" {
#endif

/* X, Y, xhat (n, d); gamma, beta, moving_mean, moving_variance, inv_std (d,).
 * training != 0 uses and updates the batch statistics; 0 uses the moving ones. */
void nnc_batch_norm_forward_f32(ptrdiff_t n, ptrdiff_t d, const float *X,
                                const float *gamma, const float *beta, float *moving_mean,
                                float *moving_variance, int training, double momentum,
                                double eps, float *Y, float *xhat, float *inv_std);
void nnc_batch_norm_forward_f64(ptrdiff_t n, ptrdiff_t d, const double *X,
                                const double *gamma, const double *beta,
                                double *moving_mean, double *moving_variance, int training,
                                double momentum, double eps, double *Y, double *xhat,
                                double *inv_std);

/* dY, xhat, dX (n, d); gamma, inv_std, dgamma, dbeta (d,); dX may be dY. */
void nnc_batch_norm_backward_f32(ptrdiff_t n, ptrdiff_t d, const float *dY,
                                 const float *xhat, const float *gamma, const float *inv_std,
                                 float *dX, float *dgamma, float *dbeta);
void nnc_batch_norm_backward_f64(ptrdiff_t n, ptrdiff_t d, const double *dY,
                                 const double *xhat, const double *gamma,
                                 const double *inv_std, double *dX, double *dgamma,
                                 double *dbeta);

#ifdef __cplusplus
}
#endif

#endif /* NNCORE_NORMALIZATION_H */
