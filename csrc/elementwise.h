/* Elementwise helpers on flat arrays: L1/L2 regularization, inverted-dropout masks,
 * gradient clipping. Each takes the length n and raw pointers; arrays must not overlap
 * unless stated. Reductions accumulate in double; scalars arrive in double and are rounded
 * once to the arrays' type. The formulas are those of nncore/backends/numpy_backend/
 * elementwise.py, the reference these kernels are tested against.
 */
#ifndef NNCORE_ELEMENTWISE_H
#define NNCORE_ELEMENTWISE_H

#include <limits.h> /* defines __GLIBC__ on glibc, which target_clones' ifunc needs */
#include <stddef.h>

/* NNC_SIMD_DISPATCH: compile a hot loop twice, for AVX2 and for the baseline (SSE2 on
 * x86-64), and pick one when the library loads (GCC target_clones, resolved through a
 * glibc ifunc by CPU feature), so the build stays portable (no -march=native). These
 * loops are bound by memory and by sqrt/divide throughput: the fused Adam over 235,146
 * float32 runs ~160 us baseline, ~85 us AVX2, and no faster with FMA too. FMA is left
 * out on purpose: it would contract a * b + c into one rounding only in the AVX2 clone,
 * so the results would depend on the CPU; without it both clones round every operation
 * as NumPy does. (Not "arch=haswell": GCC tests that by CPU model, which AMD chips with
 * AVX2 fail.) Other compilers and targets get the baseline loop only. */
#ifndef NNC_SIMD_DISPATCH
#  if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8 && \
      defined(__x86_64__) && defined(__GLIBC__)
#    define NNC_SIMD_DISPATCH __attribute__((target_clones("avx2", "default")))
#  else
#    define NNC_SIMD_DISPATCH
#  endif
#endif

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
