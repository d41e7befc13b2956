/* Activations on row-major (n, d) matrices: forward, backward, and the two fused passes
 * of a dense layer (bias + activation after the forward GEMM; activation backward +
 * column sums for db before the backward GEMMs).
 *
 * The formulas are those of nncore/backends/numpy_backend/activations.py, the reference
 * these kernels are tested against (Keras 3 conventions):
 *
 *   code  name        forward y                          backward dz = dy * ...
 *   0     linear      z                                  1
 *   1     step        1 if z > 0 else 0                  0
 *   2     sigmoid     1 / (1 + exp(-z))  (two branches)  y (1 - y)
 *   3     tanh        tanh z                             1 - y^2
 *   4     relu        max(z, 0)                          1 if z > 0 else 0
 *   5     leaky_relu  z if z > 0 else alpha z            1 if z > 0 else alpha
 *   6     elu         z if z > 0 else alpha expm1(z)     1 if z > 0 else y + alpha
 *   7     gelu        z Phi(z), Phi(z) = erfc(-z/sqrt2)/2   Phi(z) + z phi(z)
 *   8     softplus    max(z, 0) + log1p(exp(-|z|))       sigmoid(z)
 *   9     softmax     exp(z - max z) / sum, per row      dz = y (dy - sum(dy y)), per row
 *   10    selu        S z if z > 0 else S A expm1(z)     S if z > 0 else y + S A
 *                     (S = 1.0507009873554805, A = 1.6732632423543772)
 *   11    silu        z sigmoid(z)  (swish)              s (1 + z (1 - s)), s = sigmoid(z)
 *   12    mish        z tanh(softplus(z))                t + z (1 - t^2) sigmoid(z)
 *   13    relu6       min(max(z, 0), 6)                  1 if 0 < z < 6 else 0
 *   14    hard_sigmoid  relu6(z + 3) / 6                 1/6 if -3 < z < 3 else 0
 *
 * Aliasing: y may be z (in place) and dz may be dy; every other pair of arrays must not
 * overlap. An unknown code leaves the outputs unwritten (callers check the code).
 * The per-element arithmetic is done in the arrays' type; softmax's row sums accumulate
 * in double.
 */
#ifndef NNCORE_ACTIVATIONS_H
#define NNCORE_ACTIVATIONS_H

#include <stddef.h>

#include "simd.h" /* NNC_SIMD_DISPATCH */

#include "codes.h" /* the codes, written from nncore/backends/codes.py */

#ifdef __cplusplus
extern "C" {
#endif

/* Y = act(Z), Z and Y (n, d); Y may be Z. */
void nnc_activation_forward_f32(int code, ptrdiff_t n, ptrdiff_t d, const float *Z,
                                float *Y, double alpha);
void nnc_activation_forward_f64(int code, ptrdiff_t n, ptrdiff_t d, const double *Z,
                                double *Y, double alpha);

/* dZ = dY * act'(Z) (softmax: the row-wise Jacobian-vector product), all (n, d);
 * dZ may be dY. */
void nnc_activation_backward_f32(int code, ptrdiff_t n, ptrdiff_t d, const float *dY,
                                 const float *Z, const float *Y, float *dZ, double alpha);
void nnc_activation_backward_f64(int code, ptrdiff_t n, ptrdiff_t d, const double *dY,
                                 const double *Z, const double *Y, double *dZ,
                                 double alpha);

/* Dense forward after the GEMM Z = X W: Z += b (each row, in place; b may be NULL), then
 * Y = act(Z), row by row while the row is in cache. Z and Y (n, m), b (m,); Y may be Z. */
void nnc_bias_activation_f32(int code, ptrdiff_t n, ptrdiff_t m, float *Z, const float *b,
                             float *Y, double alpha);
void nnc_bias_activation_f64(int code, ptrdiff_t n, ptrdiff_t m, double *Z,
                             const double *b, double *Y, double alpha);

/* Dense backward before the GEMMs: dZ = dY * act'(Z) as nnc_activation_backward, and
 * db = sum of the rows of dZ (when db is not NULL), in the same pass. db (m,). */
void nnc_activation_backward_colsum_f32(int code, ptrdiff_t n, ptrdiff_t m, const float *dY,
                                        const float *Z, const float *Y, float *dZ,
                                        float *db, double alpha);
void nnc_activation_backward_colsum_f64(int code, ptrdiff_t n, ptrdiff_t m,
                                        const double *dY, const double *Z, const double *Y,
                                        double *dZ, double *db, double alpha);

#ifdef __cplusplus
}
#endif

#endif /* NNCORE_ACTIVATIONS_H */
