/* Losses and their gradients, row by row (see losses.h for the formulas).
 *
 * The float and double kernels share one body: this file includes itself once per type,
 * with REAL, the math functions and NAME(f) (which appends _f32 or _f64) defined; the
 * body below the #else is that template. Elementwise arithmetic is done in REAL, every
 * sum in double. A row function returns the row's sum over j of the elementwise loss
 * (mean losses) or loss_i itself (categorical), and writes the row's gradient, already
 * scaled, into g unless g is NULL: that test is loop-invariant and GCC -O3 unswitches it.
 */
#ifndef REAL

#include <math.h>

#include "losses.h"

#define REAL float
#define EXP expf
#define LOG logf
#define LOG1P log1pf
#define FABS fabsf
#define TANH tanhf
#define NAME(f) f##_f32
#include "losses.c"
#undef REAL
#undef EXP
#undef LOG
#undef LOG1P
#undef FABS
#undef TANH
#undef NAME

#define REAL double
#define EXP exp
#define LOG log
#define LOG1P log1p
#define FABS fabs
#define TANH tanh
#define NAME(f) f##_f64
#include "losses.c"
#undef REAL
#undef EXP
#undef LOG
#undef LOG1P
#undef FABS
#undef TANH
#undef NAME

#else /* the template, instantiated above for each REAL */

/* ------------------------------------------------------------------ mean over j
 * c = w_i / (n d), the derivative of the batch loss with respect to one element's loss. */

static double NAME(mse_row)(ptrdiff_t d, const REAL *restrict t, const REAL *restrict p,
                            REAL *restrict g, REAL c)
{
    double acc = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) {
        const REAL e = p[j] - t[j];
        acc += (double)(e * e);
        if (g)
            g[j] = (2 * e) * c;
    }
    return acc;
}

static double NAME(mae_row)(ptrdiff_t d, const REAL *restrict t, const REAL *restrict p,
                            REAL *restrict g, REAL c)
{
    double acc = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) {
        const REAL e = p[j] - t[j];
        acc += (double)FABS(e);
        /* sign(e), 0 at the kink; the last branch keeps a NaN as NaN. */
        if (g)
            g[j] = (e > 0 ? (REAL)1 : e < 0 ? (REAL)-1 : e) * c;
    }
    return acc;
}

static double NAME(huber_row)(ptrdiff_t d, const REAL *restrict t, const REAL *restrict p,
                              REAL *restrict g, REAL c, REAL delta)
{
    const REAL half_dd = (REAL)0.5 * delta * delta;
    double acc = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) {
        const REAL e = p[j] - t[j], a = FABS(e);
        /* Keras's linear branch, delta |e| - delta^2 / 2: continuous with e^2 / 2 at
         * |e| = delta, so the loss is smooth and its slope is clip(e, -delta, delta). */
        acc += (double)(a <= delta ? (REAL)0.5 * (e * e) : delta * a - half_dd);
        if (g)
            g[j] = (e > delta ? delta : e < -delta ? -delta : e) * c;
    }
    return acc;
}

/* The cross-entropies smooth their targets as Keras's label_smoothing does: t becomes
 * t keep + add (keep = 1 - s; add = s / 2 for binary, s / d for categorical), which is t
 * itself, exactly, when s = 0. */

static double NAME(bce_row)(ptrdiff_t d, const REAL *restrict t, const REAL *restrict p,
                            REAL *restrict g, REAL c, REAL keep, REAL add)
{
    const REAL lo = (REAL)1e-7, hi = (REAL)(1.0 - 1e-7); /* base.EPSILON */
    double acc = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) {
        /* The clip keeps both logs finite; the comparisons let a NaN through. */
        const REAL pc = p[j] < lo ? lo : p[j] > hi ? hi : p[j], qc = 1 - pc;
        const REAL tj = t[j] * keep + add;
        acc += (double)(-(tj * LOG(pc) + (1 - tj) * LOG(qc)));
        if (g)
            g[j] = ((pc - tj) / (pc * qc)) * c;
    }
    return acc;
}

static double NAME(bce_logits_row)(ptrdiff_t d, const REAL *restrict t,
                                   const REAL *restrict z, REAL *restrict g, REAL c,
                                   REAL keep, REAL add)
{
    double acc = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) {
        /* -(t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))) rewritten so that exp only
         * ever sees -|z| <= 0: nothing overflows, even for |z| of 1e4. The same
         * u = exp(-|z|) gives sigmoid(z) = 1 / (1 + u) for z >= 0, u / (1 + u) below. */
        const REAL u = EXP(-FABS(z[j])), tj = t[j] * keep + add;
        acc += (double)(((z[j] > 0 ? z[j] : (REAL)0) - z[j] * tj) + LOG1P(u));
        if (g)
            g[j] = ((z[j] >= 0 ? (REAL)1 : u) / (1 + u) - tj) * c;
    }
    return acc;
}

static double NAME(hinge_row)(ptrdiff_t d, const REAL *restrict t, const REAL *restrict p,
                              REAL *restrict g, REAL c, int binary)
{
    double acc = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) {
        /* 0/1 labels (the whole batch's, as Keras decides) count as -1/+1. */
        const REAL tj = binary ? 2 * t[j] - 1 : t[j], margin = 1 - tj * p[j];
        /* Written so that a NaN margin stays NaN in the loss and the gradient. */
        acc += (double)(margin < 0 ? (REAL)0 : margin);
        if (g)
            g[j] = (margin > 0 ? -tj : margin <= 0 ? (REAL)0 : margin) * c;
    }
    return acc;
}

static double NAME(poisson_row)(ptrdiff_t d, const REAL *restrict t,
                                const REAL *restrict p, REAL *restrict g, REAL c)
{
    const REAL eps = (REAL)1e-7;
    double acc = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) {
        acc += (double)(p[j] - t[j] * LOG(p[j] + eps));
        if (g)
            g[j] = (1 - t[j] / (p[j] + eps)) * c;
    }
    return acc;
}

static double NAME(log_cosh_row)(ptrdiff_t d, const REAL *restrict t,
                                 const REAL *restrict p, REAL *restrict g, REAL c)
{
    const REAL log2 = (REAL)0.69314718055994530942;
    double acc = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) {
        /* log cosh e = |e| + log1p(exp(-2 |e|)) - log 2: cosh never overflows. */
        const REAL e = p[j] - t[j], a = FABS(e);
        acc += (double)((a + LOG1P(EXP(-2 * a))) - log2);
        if (g)
            g[j] = TANH(e) * c;
    }
    return acc;
}

/* ------------------------------------------------------------------ sum over j
 * Each returns loss_i; c = w_i / n, the derivative of the batch loss w.r.t. loss_i. */

static double NAME(cce_row)(ptrdiff_t d, const REAL *restrict t, const REAL *restrict p,
                            REAL *restrict g, double c, REAL keep, REAL add)
{
    const REAL lo = (REAL)1e-7, hi = (REAL)(1.0 - 1e-7);
    double s = 0.0, tsum = 0.0, acc = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) {
        s += (double)p[j];
        tsum += (double)(t[j] * keep + add);
    }
    /* Keras divides by the row sum before the clip, so scores need not sum to 1;
     * d/dp_k of -sum t log(p / s) is (sum t - t_k / q_k) / s. */
    const REAL sr = (REAL)s, tsr = (REAL)tsum, coef = (REAL)(c / s);
    for (ptrdiff_t j = 0; j < d; j++) {
        const REAL x = p[j] / sr, q = x < lo ? lo : x > hi ? hi : x;
        const REAL tj = t[j] * keep + add;
        acc += (double)(tj * LOG(q));
        if (g)
            g[j] = (tsr - tj / q) * coef;
    }
    return -acc;
}

static double NAME(kld_row)(ptrdiff_t d, const REAL *restrict t, const REAL *restrict p,
                            REAL *restrict g, double c)
{
    /* sum_j tc log(tc / pc) with tc, pc clipped to [eps, 1] as Keras does; the
     * derivative -tc / pc is taken at the clipped value, as for the cross-entropies. */
    const REAL lo = (REAL)1e-7, cr = (REAL)c;
    double acc = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) {
        const REAL tc = t[j] < lo ? lo : t[j] > 1 ? (REAL)1 : t[j];
        const REAL pc = p[j] < lo ? lo : p[j] > 1 ? (REAL)1 : p[j];
        acc += (double)(tc * LOG(tc / pc));
        if (g)
            g[j] = (-tc / pc) * cr;
    }
    return acc;
}

static double NAME(cce_logits_row)(ptrdiff_t d, const REAL *restrict t,
                                   const REAL *restrict z, REAL *restrict g, double c,
                                   REAL keep, REAL add)
{
    double s = 0.0, tsum = 0.0, tsh = 0.0;
    REAL m = z[0];
    for (ptrdiff_t j = 1; j < d; j++)
        m = z[j] > m ? z[j] : m;
    /* z - max <= 0: exp never overflows and the largest term is 1, so s >= 1 and log(s)
     * is safe (log-sum-exp). exp is taken once per element and kept in g for the
     * gradient. */
    for (ptrdiff_t j = 0; j < d; j++) {
        const REAL sh = z[j] - m, ex = EXP(sh), tj = t[j] * keep + add;
        s += (double)ex;
        tsum += (double)tj;
        tsh += (double)tj * (double)sh;
        if (g)
            g[j] = ex;
    }
    if (g) {
        /* The softmax Jacobian times the log's derivative -t / softmax(z) collapses to
         * softmax(z) sum(t) - t, i.e. (p - y) for one-hot y: no division by a
         * probability, so a vanishing softmax cannot blow the gradient up. */
        const REAL scale = (REAL)(tsum / s), cr = (REAL)c;
        for (ptrdiff_t j = 0; j < d; j++)
            g[j] = (g[j] * scale - (t[j] * keep + add)) * cr;
    }
    /* sum_j t_j (log s - sh_j): both terms are >= 0 for t >= 0, so no cancellation. */
    return tsum * log(s) - tsh;
}

static double NAME(scce_row)(ptrdiff_t d, int64_t label, const REAL *restrict p,
                             REAL *restrict g, double c)
{
    const REAL lo = (REAL)1e-7, hi = (REAL)(1.0 - 1e-7);
    double s = 0.0;
    for (ptrdiff_t j = 0; j < d; j++)
        s += (double)p[j];
    const REAL x = p[label] / (REAL)s, q = x < lo ? lo : x > hi ? hi : x;
    if (g) {
        /* cce_row's gradient with sum t = 1: 1 / s everywhere, (1 - 1 / q) / s at the
         * label, times w_i / n. */
        const REAL coef = (REAL)(c / s);
        for (ptrdiff_t j = 0; j < d; j++)
            g[j] = coef;
        g[label] = (1 - 1 / q) * coef;
    }
    return -(double)LOG(q);
}

static double NAME(scce_logits_row)(ptrdiff_t d, int64_t label, const REAL *restrict z,
                                    REAL *restrict g, double c)
{
    double s = 0.0;
    REAL m = z[0];
    for (ptrdiff_t j = 1; j < d; j++)
        m = z[j] > m ? z[j] : m;
    for (ptrdiff_t j = 0; j < d; j++) {
        const REAL ex = EXP(z[j] - m);
        s += (double)ex;
        if (g)
            g[j] = ex;
    }
    if (g) {
        /* softmax(z) - one_hot(label), as in cce_logits_row, times w_i / n. */
        const REAL scale = (REAL)(1.0 / s), cr = (REAL)c;
        for (ptrdiff_t j = 0; j < d; j++)
            g[j] = (g[j] * scale - (REAL)(j == label)) * cr;
    }
    return log(s) - (double)(z[label] - m);
}

/* ------------------------------------------------------------------ the batch */

/* Whether every target is 0 or 1: hinge then reads them as -1 and +1. */
static int NAME(all_binary)(ptrdiff_t len, const REAL *T)
{
    for (ptrdiff_t i = 0; i < len; i++)
        if (T[i] != 0 && T[i] != 1)
            return 0;
    return 1;
}

double NAME(nnc_loss)(int code, ptrdiff_t n, ptrdiff_t d, const REAL *T,
                      const int64_t *labels, const REAL *P, const REAL *sw, REAL *dP,
                      int from_logits, double param)
{
    if (code < 0 || code >= NNC_LOSS_COUNT)
        return NAN;
    const double nd = (double)n * (double)d;
    /* param: Huber's delta; the cross-entropies' label smoothing (see bce_row). */
    const REAL keep = (REAL)(1.0 - param);
    const REAL add = (REAL)(code == NNC_LOSS_BCE ? 0.5 * param : param / (double)d);
    const int binary = code == NNC_LOSS_HINGE && NAME(all_binary)(n * d, T);
    double total = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const REAL *p = P + i * d, *t = T ? T + i * d : NULL;
        REAL *g = dP ? dP + i * d : NULL;
        const double w = sw ? (double)sw[i] : 1.0;
        const REAL c = (REAL)(w / nd); /* for the losses averaged over j */
        double row = 0.0;
        switch (code) {
        case NNC_LOSS_MSE:
            row = NAME(mse_row)(d, t, p, g, c) / d;
            break;
        case NNC_LOSS_MAE:
            row = NAME(mae_row)(d, t, p, g, c) / d;
            break;
        case NNC_LOSS_HUBER:
            row = NAME(huber_row)(d, t, p, g, c, (REAL)param) / d;
            break;
        case NNC_LOSS_BCE:
            row = (from_logits ? NAME(bce_logits_row)(d, t, p, g, c, keep, add)
                               : NAME(bce_row)(d, t, p, g, c, keep, add)) / d;
            break;
        case NNC_LOSS_CCE:
            row = from_logits ? NAME(cce_logits_row)(d, t, p, g, w / n, keep, add)
                              : NAME(cce_row)(d, t, p, g, w / n, keep, add);
            break;
        case NNC_LOSS_HINGE:
            row = NAME(hinge_row)(d, t, p, g, c, binary) / d;
            break;
        case NNC_LOSS_KLD:
            row = NAME(kld_row)(d, t, p, g, w / n);
            break;
        case NNC_LOSS_POISSON:
            row = NAME(poisson_row)(d, t, p, g, c) / d;
            break;
        case NNC_LOSS_LOG_COSH:
            row = NAME(log_cosh_row)(d, t, p, g, c) / d;
            break;
        case NNC_LOSS_SCCE:
            row = from_logits ? NAME(scce_logits_row)(d, labels[i], p, g, w / n)
                              : NAME(scce_row)(d, labels[i], p, g, w / n);
            break;
        }
        total += w * row;
    }
    return total / n;
}

#endif /* REAL */
