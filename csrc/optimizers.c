/* Fused optimizer updates (see optimizers.h for the formulas).
 *
 * The float and double kernels share one body: this file includes itself once per type,
 * with REAL, SQRT and NAME(f) (which appends _f32 or _f64) defined; the body below the
 * #else is that template. Loop-invariant choices (weight decay on, optional state given)
 * are tested inside the loops in the plain way; GCC -O3 unswitches them, so each variant
 * runs as its own vectorised loop.
 */
#ifndef REAL

#include <math.h>

#include "optimizers.h"
#include "parallel.h"
#include "simd.h"

/* Updates shorter than twice this many elements run on one thread: below it, waking a
 * second one costs more than it saves. */
#define GRAIN 32768

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
static void NAME(sgd_loop)(ptrdiff_t n, REAL *restrict w, const REAL *restrict g,
                   REAL *restrict v, double lr, double momentum, int nesterov, double wd)
{
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
}

NNC_SIMD_DISPATCH
static void NAME(adagrad_loop)(ptrdiff_t n, REAL *restrict w, const REAL *restrict g,
                       REAL *restrict acc, double lr, double eps, double wd)
{
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
}

NNC_SIMD_DISPATCH
static void NAME(rmsprop_loop)(ptrdiff_t n, REAL *restrict w, const REAL *restrict g,
                       REAL *restrict v, REAL *restrict mom, REAL *restrict avg, double lr,
                       double rho, double momentum, double eps, double wd)
{
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
}

NNC_SIMD_DISPATCH
static void NAME(adam_loop)(ptrdiff_t n, REAL *restrict w, const REAL *restrict g, REAL *restrict m,
                    REAL *restrict v, REAL *restrict vhat, double lr, double beta_1,
                    double beta_2, double eps, long long step, double wd)
{
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
}

/* Each public kernel packs its arguments, and the pool runs the loop above on a share
 * of the elements per thread (every element's update is independent of the others),
 * with subnormals flushed to zero (simd.h says why). */
#define SHIFT(p, lo) ((p) == NULL ? NULL : (p) + (lo))

typedef struct {
    REAL *w, *v;
    const REAL *g;
    double lr, momentum, wd;
    int nesterov;
} NAME(sgd_args);

static void NAME(sgd_range)(void *ctx, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(sgd_args) *a = ctx;
    const unsigned int mode = nnc_flush_subnormals();
    NAME(sgd_loop)(hi - lo, a->w + lo, a->g + lo, SHIFT(a->v, lo), a->lr, a->momentum,
                   a->nesterov, a->wd);
    nnc_restore_fp(mode);
}

void NAME(nnc_sgd)(ptrdiff_t n, REAL *w, const REAL *g, REAL *v, double lr, double momentum,
                   int nesterov, double wd)
{
    NAME(sgd_args) a = {w, v, g, lr, momentum, wd, nesterov};
    nnc_parallel_for(n, GRAIN, NAME(sgd_range), &a);
}

typedef struct {
    REAL *w, *acc;
    const REAL *g;
    double lr, eps, wd;
} NAME(adagrad_args);

static void NAME(adagrad_range)(void *ctx, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(adagrad_args) *a = ctx;
    const unsigned int mode = nnc_flush_subnormals();
    NAME(adagrad_loop)(hi - lo, a->w + lo, a->g + lo, a->acc + lo, a->lr, a->eps, a->wd);
    nnc_restore_fp(mode);
}

void NAME(nnc_adagrad)(ptrdiff_t n, REAL *w, const REAL *g, REAL *acc, double lr,
                       double eps, double wd)
{
    NAME(adagrad_args) a = {w, acc, g, lr, eps, wd};
    nnc_parallel_for(n, GRAIN, NAME(adagrad_range), &a);
}

typedef struct {
    REAL *w, *v, *mom, *avg;
    const REAL *g;
    double lr, rho, momentum, eps, wd;
} NAME(rmsprop_args);

static void NAME(rmsprop_range)(void *ctx, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(rmsprop_args) *a = ctx;
    const unsigned int mode = nnc_flush_subnormals();
    NAME(rmsprop_loop)(hi - lo, a->w + lo, a->g + lo, a->v + lo, SHIFT(a->mom, lo),
                       SHIFT(a->avg, lo), a->lr, a->rho, a->momentum, a->eps, a->wd);
    nnc_restore_fp(mode);
}

void NAME(nnc_rmsprop)(ptrdiff_t n, REAL *w, const REAL *g, REAL *v, REAL *mom, REAL *avg,
                       double lr, double rho, double momentum, double eps, double wd)
{
    NAME(rmsprop_args) a = {w, v, mom, avg, g, lr, rho, momentum, eps, wd};
    nnc_parallel_for(n, GRAIN, NAME(rmsprop_range), &a);
}

typedef struct {
    REAL *w, *m, *v, *vhat;
    const REAL *g;
    double lr, beta_1, beta_2, eps, wd;
    long long step;
} NAME(adam_args);

static void NAME(adam_range)(void *ctx, ptrdiff_t lo, ptrdiff_t hi)
{
    const NAME(adam_args) *a = ctx;
    const unsigned int mode = nnc_flush_subnormals();
    NAME(adam_loop)(hi - lo, a->w + lo, a->g + lo, a->m + lo, a->v + lo, SHIFT(a->vhat, lo),
                    a->lr, a->beta_1, a->beta_2, a->eps, a->step, a->wd);
    nnc_restore_fp(mode);
}

void NAME(nnc_adam)(ptrdiff_t n, REAL *w, const REAL *g, REAL *m, REAL *v, REAL *vhat,
                    double lr, double beta_1, double beta_2, double eps, long long step,
                    double wd)
{
    NAME(adam_args) a = {w, m, v, vhat, g, lr, beta_1, beta_2, eps, wd, step};
    nnc_parallel_for(n, GRAIN, NAME(adam_range), &a);
}

#undef SHIFT

#endif /* REAL */
