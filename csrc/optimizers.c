/* Fused optimizer updates (see optimizers.h for the formulas).
 *
 * The float and double kernels share one body: this file includes itself once per type,
 * with REAL, SQRT and NAME(f) (which appends _f32 or _f64) defined; the body below the
 * #else is that template. Loop-invariant choices (weight decay on, optional state given)
 * are tested inside the loops in the plain way; GCC -O3 unswitches them, so each variant
 * runs as its own vectorised loop. Subnormals are flushed to zero during each update
 * (simd.h says why).
 */
#ifndef REAL

#include <math.h>

#include "optimizers.h"
#include "simd.h"

#define REAL float
#define SQRT sqrtf
#define NAME(f) f##_f32
#include "optimizers.c"
#undef REAL
#undef SQRT
#undef NAME

#define REAL double
#define SQRT sqrt
#define NAME(f) f##_f64
#include "optimizers.c"
#undef REAL
#undef SQRT
#undef NAME

#else /* the template, instantiated above for each REAL */

NNC_SIMD_DISPATCH
void NAME(nnc_sgd)(ptrdiff_t n, REAL *restrict w, const REAL *restrict g,
                   REAL *restrict v, double lr, double momentum, int nesterov, double wd)
{
    const unsigned int fp_mode = nnc_flush_subnormals();
    const int decay = wd > 0.0;
    const REAL decay_rate = (REAL)(lr * wd), rate = (REAL)lr, mu = (REAL)momentum;
    for (ptrdiff_t i = 0; i < n; i++) {
        REAL wi = w[i];
        if (decay)
            wi -= decay_rate * wi;
        if (v == NULL) {
            wi -= rate * g[i];
        } else {
            const REAL vi = mu * v[i] - rate * g[i];
            v[i] = vi;
            wi += nesterov ? mu * vi - rate * g[i] : vi;
        }
        w[i] = wi;
    }
    nnc_restore_fp(fp_mode);
}

NNC_SIMD_DISPATCH
void NAME(nnc_adagrad)(ptrdiff_t n, REAL *restrict w, const REAL *restrict g,
                       REAL *restrict acc, double lr, double eps, double wd)
{
    const unsigned int fp_mode = nnc_flush_subnormals();
    const int decay = wd > 0.0;
    const REAL decay_rate = (REAL)(lr * wd), rate = (REAL)lr, epsilon = (REAL)eps;
    for (ptrdiff_t i = 0; i < n; i++) {
        REAL wi = w[i];
        if (decay)
            wi -= decay_rate * wi;
        const REAL gi = g[i], ai = acc[i] + gi * gi;
        acc[i] = ai;
        w[i] = wi - rate * gi / SQRT(ai + epsilon);
    }
    nnc_restore_fp(fp_mode);
}

NNC_SIMD_DISPATCH
void NAME(nnc_rmsprop)(ptrdiff_t n, REAL *restrict w, const REAL *restrict g,
                       REAL *restrict v, REAL *restrict mom, REAL *restrict avg, double lr,
                       double rho, double momentum, double eps, double wd)
{
    const unsigned int fp_mode = nnc_flush_subnormals();
    const int decay = wd > 0.0;
    const REAL decay_rate = (REAL)(lr * wd), rate = (REAL)lr, r = (REAL)rho,
               one_minus_r = (REAL)(1.0 - rho), mu = (REAL)momentum, epsilon = (REAL)eps;
    for (ptrdiff_t i = 0; i < n; i++) {
        REAL wi = w[i];
        if (decay)
            wi -= decay_rate * wi;
        const REAL gi = g[i], vi = r * v[i] + one_minus_r * (gi * gi);
        v[i] = vi;
        REAL denominator;
        if (avg == NULL) {
            denominator = vi + epsilon;
        } else {
            const REAL ai = r * avg[i] + one_minus_r * gi;
            avg[i] = ai;
            denominator = vi - ai * ai + epsilon;
        }
        const REAL step = rate * gi / SQRT(denominator);
        if (mom == NULL) {
            wi -= step;
        } else {
            const REAL mi = mu * mom[i] + step;
            mom[i] = mi;
            wi -= mi;
        }
        w[i] = wi;
    }
    nnc_restore_fp(fp_mode);
}

NNC_SIMD_DISPATCH
void NAME(nnc_adam)(ptrdiff_t n, REAL *restrict w, const REAL *restrict g, REAL *restrict m,
                    REAL *restrict v, REAL *restrict vhat, double lr, double beta_1,
                    double beta_2, double eps, long long step, double wd)
{
    const unsigned int fp_mode = nnc_flush_subnormals();
    const int decay = wd > 0.0;
    const double t = (double)step;
    const REAL decay_rate = (REAL)(lr * wd),
               alpha = (REAL)(lr * sqrt(1.0 - pow(beta_2, t)) / (1.0 - pow(beta_1, t))),
               one_minus_b1 = (REAL)(1.0 - beta_1), one_minus_b2 = (REAL)(1.0 - beta_2),
               epsilon = (REAL)eps;
    for (ptrdiff_t i = 0; i < n; i++) {
        REAL wi = w[i];
        if (decay)
            wi -= decay_rate * wi;
        const REAL gi = g[i], mi = m[i] + one_minus_b1 * (gi - m[i]);
        REAL vi = v[i] + one_minus_b2 * (gi * gi - v[i]);
        m[i] = mi;
        v[i] = vi;
        if (vhat != NULL) {
            /* max that keeps a NaN, as numpy.maximum */
            const REAL hi = vhat[i];
            vi = (hi >= vi || hi != hi) ? hi : vi;
            vhat[i] = vi;
        }
        w[i] = wi - alpha * mi / (SQRT(vi) + epsilon);
    }
    nnc_restore_fp(fp_mode);
}

#endif /* REAL */
