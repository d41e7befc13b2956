/* Elementwise helpers on flat arrays: L1/L2 regularization, inverted-dropout masks,
 * gradient clipping. Each takes the length n and raw pointers; arrays must not overlap
 * unless stated. Reductions accumulate in double; scalars arrive in double and are rounded
 * once to the arrays' type. The formulas are those of nncore/backends/numpy_backend/
 * elementwise.py, the reference these kernels are tested against.
 */
#ifndef NNCORE_ELEMENTWISE_H
#define NNCORE_ELEMENTWISE_H

#include <stddef.h>

#include "simd.h" /* NNC_SIMD_DISPATCH */

#ifdef __cplusplus
extern "C" {
#endif

/* l1 * sum|w| + l2 * sum w^2 */
double nnc_regularization_loss_f32(ptrdiff_t n, const float *w, double l1, double l2);
double nnc_regularization_loss_f64(ptrdiff_t n, const double *w, double l1, double l2);

/* g += l1 * sign(w) + 2 * l2 * w */
void nnc_regularization_grad_f32(ptrdiff_t n, const float *w, float *g, double l1, double l2);
void nnc_regularization_grad_f64(ptrdiff_t n, const double *w, double *g, double l1,
                                 double l2);

/* u = 1 / (1 - rate) where u >= rate, else 0 (u holds uniforms in [0, 1)) */
void nnc_dropout_mask_f32(ptrdiff_t n, float *u, double rate);
void nnc_dropout_mask_f64(ptrdiff_t n, double *u, double rate);

/* g = min(max(g, -c), c); NaN stays NaN */
void nnc_clip_by_value_f32(ptrdiff_t n, float *g, double c);
void nnc_clip_by_value_f64(ptrdiff_t n, double *g, double c);

/* sum g^2 */
double nnc_sum_squares_f32(ptrdiff_t n, const float *g);
double nnc_sum_squares_f64(ptrdiff_t n, const double *g);

/* g *= factor */
void nnc_scale_f32(ptrdiff_t n, float *g, double factor);
void nnc_scale_f64(ptrdiff_t n, double *g, double factor);

#ifdef __cplusplus
}
#endif

#endif /* NNCORE_ELEMENTWISE_H */
