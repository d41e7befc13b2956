/* Elementwise helpers (see elementwise.h).
 *
 * The float and double kernels share one body: this file includes itself once per type,
 * with REAL and NAME(f) (which appends _f32 or _f64) defined; the body below the #else is
 * that template.
 */
#ifndef REAL

#include <math.h>

#include "elementwise.h"

/* Sums are kept in LANES double partial sums: the compiler may then vectorise them
 * without -ffast-math (each lane is still summed in order), and the error grows more
 * slowly than with one running sum. */
#define LANES 8

#define REAL float
#define NAME(f) f##_f32
#include "elementwise.c"
#undef REAL
#undef NAME

#define REAL double
#define NAME(f) f##_f64
#include "elementwise.c"
#undef REAL
#undef NAME

#else /* the template, instantiated above for each REAL */

NNC_SIMD_DISPATCH
double NAME(nnc_regularization_loss)(ptrdiff_t n, const REAL *restrict w, double l1,
                                     double l2)
{
    double abs_sum[LANES] = {0}, square_sum[LANES] = {0};
    ptrdiff_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            const double x = (double)w[i + k];
            abs_sum[k] += fabs(x);
            square_sum[k] += x * x;
        }
    for (; i < n; i++) {
        const double x = (double)w[i];
        abs_sum[0] += fabs(x);
        square_sum[0] += x * x;
    }
    double a = 0.0, s = 0.0;
    for (int k = 0; k < LANES; k++) {
        a += abs_sum[k];
        s += square_sum[k];
    }
    return l1 * a + l2 * s;
}

NNC_SIMD_DISPATCH
void NAME(nnc_regularization_grad)(ptrdiff_t n, const REAL *restrict w, REAL *restrict g,
                                   double l1, double l2)
{
    const REAL a = (REAL)l1, b = (REAL)(2.0 * l2);
    for (ptrdiff_t i = 0; i < n; i++) {
        const REAL x = w[i];
        /* sign(0) = 0 is a subgradient of |x|; a NaN x still gives NaN through b * x
         * (0 * NaN is NaN), as with numpy.sign */
        const REAL sign = (REAL)(x > 0) - (REAL)(x < 0);
        g[i] += a * sign + b * x;
    }
}

NNC_SIMD_DISPATCH
void NAME(nnc_dropout_mask)(ptrdiff_t n, REAL *restrict u, double rate)
{
    /* compared in REAL, as numpy compares a float32 array with a Python float */
    const REAL threshold = (REAL)rate, keep = (REAL)(1.0 / (1.0 - rate));
    for (ptrdiff_t i = 0; i < n; i++)
        u[i] = u[i] >= threshold ? keep : (REAL)0;
}

NNC_SIMD_DISPATCH
void NAME(nnc_clip_by_value)(ptrdiff_t n, REAL *restrict g, double c)
{
    const REAL hi = (REAL)c, lo = -hi;
    for (ptrdiff_t i = 0; i < n; i++) {
        const REAL x = g[i];
        /* comparisons with NaN are false, so NaN passes through */
        g[i] = x < lo ? lo : (x > hi ? hi : x);
    }
}

NNC_SIMD_DISPATCH
double NAME(nnc_sum_squares)(ptrdiff_t n, const REAL *restrict g)
{
    double partial[LANES] = {0};
    ptrdiff_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            const double x = (double)g[i + k];
            partial[k] += x * x;
        }
    for (; i < n; i++) {
        const double x = (double)g[i];
        partial[0] += x * x;
    }
    double s = 0.0;
    for (int k = 0; k < LANES; k++)
        s += partial[k];
    return s;
}

NNC_SIMD_DISPATCH
void NAME(nnc_scale)(ptrdiff_t n, REAL *restrict g, double factor)
{
    const REAL f = (REAL)factor;
    for (ptrdiff_t i = 0; i < n; i++)
        g[i] *= f;
}

#endif /* REAL */
