/* Activations forward and backward (see activations.h for the formulas).
 *
 * The float and double kernels share one body: this file includes itself once per type,
 * with REAL, the math functions (EXP, EXPM1, LOG1P, TANH) and NAME(f) (which
 * appends _f32 or _f64) defined; the body below the #else is that template.
 *
 * Each activation is its own loop (the switch is outside the loops), so the ones without
 * a transcendental function vectorise. Every element is read before its output is
 * written, which is what makes Y == Z and dZ == dY safe.
 */
#ifndef REAL

#include <math.h>

#include "activations.h"

#define NNC_SQRT1_2 0.70710678118654752440     /* 1 / sqrt(2) */
#define NNC_INV_SQRT_2PI 0.39894228040143267794 /* 1 / sqrt(2 pi) */
/* SELU's constants (Klambauer et al., 2017), to the digits PyTorch and TensorFlow use. */
#define NNC_SELU_ALPHA 1.67326324235437728482
#define NNC_SELU_SCALE 1.05070098735548049342

#define REAL float
#define EXP expf
#define EXPM1 expm1f
#define LOG1P log1pf
#define TANH tanhf
#define NAME(f) f##_f32
#include "activations.c"
#undef REAL
#undef EXP
#undef EXPM1
#undef LOG1P
#undef TANH
#undef NAME

#define REAL double
#define EXP exp
#define EXPM1 expm1
#define LOG1P log1p
#define TANH tanh
#define NAME(f) f##_f64
#include "activations.c"
#undef REAL
#undef EXP
#undef EXPM1
#undef LOG1P
#undef TANH
#undef NAME

#else /* the template, instantiated above for each REAL */

/* sigmoid in two branches folded into one: with e = exp(-|z|) <= 1 no exp overflows,
 * 1 / (1 + e) for z >= 0 and e / (1 + e) = exp(z) / (1 + exp(z)) for z < 0. */
static inline REAL NAME(sigmoid)(REAL z)
{
    const REAL e = EXP(-fabs(z));
    return (z >= 0 ? (REAL)1 : e) / (1 + e);
}

/* softplus log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)): exp never overflows. */
static inline REAL NAME(softplus)(REAL z)
{
    return (z > 0 ? z : (REAL)0) + LOG1P(EXP(-fabs(z)));
}

/* GELU z Phi(z) and its derivative Phi(z) + z phi(z), with Phi the standard normal CDF
 * taken as erfc(-z / sqrt 2) / 2: erfc keeps the left tail accurate, where
 * (1 + erf(z / sqrt 2)) / 2 would cancel. Both are evaluated in double even for float:
 * erfc(x) ~ exp(-x^2) turns a relative rounding error e of its argument into 2 x^2 e of
 * its value, so a float -z / sqrt 2 (or -z^2 / 2 in the density) would cost up to
 * ~150 ulps at z = -12; in double that error stays far below one float ulp. */
static inline REAL NAME(gelu)(REAL z)
{
    const double x = z;
    return (REAL)(x * (0.5 * erfc(-x * NNC_SQRT1_2)));
}

static inline REAL NAME(gelu_grad)(REAL z)
{
    const double x = z;
    const double pdf = NNC_INV_SQRT_2PI * exp(-0.5 * x * x);
    return (REAL)(0.5 * erfc(-x * NNC_SQRT1_2) + x * pdf);
}

/* y = act(z) over len values, for every code but softmax. */
NNC_SIMD_DISPATCH
static void NAME(forward_elementwise)(int code, ptrdiff_t len, const REAL *z, REAL *y,
                                      REAL alpha)
{
    ptrdiff_t i;
    switch (code) {
    case NNC_LINEAR:
        if (y != z)
            for (i = 0; i < len; i++)
                y[i] = z[i];
        break;
    case NNC_STEP:
        for (i = 0; i < len; i++)
            y[i] = z[i] > 0 ? (REAL)1 : (REAL)0;
        break;
    case NNC_SIGMOID:
        for (i = 0; i < len; i++)
            y[i] = NAME(sigmoid)(z[i]);
        break;
    case NNC_TANH:
        for (i = 0; i < len; i++)
            y[i] = TANH(z[i]);
        break;
    case NNC_RELU:
        /* "z < 0 ? 0 : z" rather than "z > 0 ? z : 0" lets NaN through, as np.maximum. */
        for (i = 0; i < len; i++)
            y[i] = z[i] < 0 ? (REAL)0 : z[i];
        break;
    case NNC_LEAKY_RELU:
        for (i = 0; i < len; i++)
            y[i] = z[i] > 0 ? z[i] : alpha * z[i];
        break;
    case NNC_ELU:
        for (i = 0; i < len; i++)
            y[i] = z[i] > 0 ? z[i] : alpha * EXPM1(z[i]);
        break;
    case NNC_GELU:
        for (i = 0; i < len; i++)
            y[i] = NAME(gelu)(z[i]);
        break;
    case NNC_SOFTPLUS:
        for (i = 0; i < len; i++)
            y[i] = NAME(softplus)(z[i]);
        break;
    case NNC_SELU:
        for (i = 0; i < len; i++)
            y[i] = z[i] > 0 ? (REAL)NNC_SELU_SCALE * z[i]
                            : (REAL)(NNC_SELU_SCALE * NNC_SELU_ALPHA) * EXPM1(z[i]);
        break;
    case NNC_SILU:
        for (i = 0; i < len; i++)
            y[i] = z[i] * NAME(sigmoid)(z[i]);
        break;
    case NNC_MISH:
        for (i = 0; i < len; i++)
            y[i] = z[i] * TANH(NAME(softplus)(z[i]));
        break;
    case NNC_RELU6:
        /* written so that NaN passes through, as for relu */
        for (i = 0; i < len; i++)
            y[i] = z[i] < 0 ? (REAL)0 : (z[i] > 6 ? (REAL)6 : z[i]);
        break;
    case NNC_HARD_SIGMOID:
        /* relu6(z + 3) / 6, as Keras 3 and PyTorch define it */
        for (i = 0; i < len; i++) {
            const REAL u = z[i] + 3;
            y[i] = (u < 0 ? (REAL)0 : (u > 6 ? (REAL)6 : u)) / 6;
        }
        break;
    default:
        break;
    }
}

/* Softmax of each row of Z (n, d). Subtracting the row maximum first makes every
 * exponent <= 0: no overflow, and the largest term is exactly 1. */
static void NAME(softmax_rows)(ptrdiff_t n, ptrdiff_t d, const REAL *Z, REAL *Y)
{
    if (d == 0)  /* rows of nothing: n may still be astronomically large */
        return;
    for (ptrdiff_t r = 0; r < n; r++) {
        const REAL *z = Z + r * d;
        REAL *y = Y + r * d;
        REAL zmax = -INFINITY;
        for (ptrdiff_t j = 0; j < d; j++)
            if (z[j] > zmax)
                zmax = z[j];
        double sum = 0.0;
        for (ptrdiff_t j = 0; j < d; j++) {
            const REAL e = EXP(z[j] - zmax);
            y[j] = e;
            sum += e;
        }
        for (ptrdiff_t j = 0; j < d; j++)
            y[j] = (REAL)(y[j] / sum);
    }
}

static void NAME(forward_rows)(int code, ptrdiff_t n, ptrdiff_t d, const REAL *Z, REAL *Y,
                               REAL alpha)
{
    if (code == NNC_SOFTMAX)
        NAME(softmax_rows)(n, d, Z, Y);
    else
        NAME(forward_elementwise)(code, n * d, Z, Y, alpha);
}

/* dz = dy * act'(z) over len values, for every code but softmax. The derivative
 * multiplies dy even where it is 0 or 1, so NaN and inf in dy propagate alike. */
NNC_SIMD_DISPATCH
static void NAME(backward_elementwise)(int code, ptrdiff_t len, const REAL *dy,
                                       const REAL *z, const REAL *y, REAL *dz, REAL alpha)
{
    ptrdiff_t i;
    switch (code) {
    case NNC_LINEAR:
        if (dz != dy)
            for (i = 0; i < len; i++)
                dz[i] = dy[i];
        break;
    case NNC_STEP:
        for (i = 0; i < len; i++)
            dz[i] = dy[i] * (REAL)0;
        break;
    case NNC_SIGMOID:
        for (i = 0; i < len; i++)
            dz[i] = dy[i] * (y[i] * (1 - y[i]));
        break;
    case NNC_TANH:
        for (i = 0; i < len; i++)
            dz[i] = dy[i] * (1 - y[i] * y[i]);
        break;
    case NNC_RELU:
        for (i = 0; i < len; i++)
            dz[i] = dy[i] * (z[i] > 0 ? (REAL)1 : (REAL)0);
        break;
    case NNC_LEAKY_RELU:
        for (i = 0; i < len; i++)
            dz[i] = dy[i] * (z[i] > 0 ? (REAL)1 : alpha);
        break;
    case NNC_ELU:
        /* for z <= 0, d/dz alpha (exp(z) - 1) = alpha exp(z) = y + alpha */
        for (i = 0; i < len; i++)
            dz[i] = dy[i] * (z[i] > 0 ? (REAL)1 : y[i] + alpha);
        break;
    case NNC_GELU:
        for (i = 0; i < len; i++)
            dz[i] = dy[i] * NAME(gelu_grad)(z[i]);
        break;
    case NNC_SOFTPLUS:
        for (i = 0; i < len; i++)
            dz[i] = dy[i] * NAME(sigmoid)(z[i]);
        break;
    case NNC_SELU:
        /* for z <= 0, d/dz scale alpha (exp(z) - 1) = scale alpha exp(z) = y + scale alpha */
        for (i = 0; i < len; i++)
            dz[i] = dy[i] * (z[i] > 0 ? (REAL)NNC_SELU_SCALE
                                      : y[i] + (REAL)(NNC_SELU_SCALE * NNC_SELU_ALPHA));
        break;
    case NNC_SILU:
        /* d/dz z s(z) = s + z s (1 - s) */
        for (i = 0; i < len; i++) {
            const REAL s = NAME(sigmoid)(z[i]);
            dz[i] = dy[i] * (s * (1 + z[i] * (1 - s)));
        }
        break;
    case NNC_MISH:
        /* d/dz z t, t = tanh(softplus(z)): t + z (1 - t^2) sigmoid(z) */
        for (i = 0; i < len; i++) {
            const REAL t = TANH(NAME(softplus)(z[i]));
            dz[i] = dy[i] * (t + z[i] * (1 - t * t) * NAME(sigmoid)(z[i]));
        }
        break;
    case NNC_RELU6:
        for (i = 0; i < len; i++)
            dz[i] = dy[i] * (z[i] > 0 && z[i] < 6 ? (REAL)1 : (REAL)0);
        break;
    case NNC_HARD_SIGMOID:
        for (i = 0; i < len; i++)
            dz[i] = dy[i] * (z[i] > -3 && z[i] < 3 ? (REAL)1 / 6 : (REAL)0);
        break;
    default:
        break;
    }
}

/* Softmax backward of each row: J = diag(y) - y y^T is symmetric, so
 * dz = J dy = y * (dy - sum(dy * y)), without forming J. */
static void NAME(softmax_backward_rows)(ptrdiff_t n, ptrdiff_t d, const REAL *dY,
                                        const REAL *Y, REAL *dZ)
{
    if (d == 0)
        return;
    for (ptrdiff_t r = 0; r < n; r++) {
        const REAL *dy = dY + r * d, *y = Y + r * d;
        REAL *dz = dZ + r * d;
        double dot = 0.0;
        for (ptrdiff_t j = 0; j < d; j++)
            dot += (double)dy[j] * y[j];
        const REAL s = (REAL)dot;
        for (ptrdiff_t j = 0; j < d; j++)
            dz[j] = y[j] * (dy[j] - s);
    }
}

static void NAME(backward_rows)(int code, ptrdiff_t n, ptrdiff_t d, const REAL *dY,
                                const REAL *Z, const REAL *Y, REAL *dZ, REAL alpha)
{
    if (code == NNC_SOFTMAX)
        NAME(softmax_backward_rows)(n, d, dY, Y, dZ);
    else
        NAME(backward_elementwise)(code, n * d, dY, Z, Y, dZ, alpha);
}

void NAME(nnc_activation_forward)(int code, ptrdiff_t n, ptrdiff_t d, const REAL *Z,
                                  REAL *Y, double alpha)
{
    NAME(forward_rows)(code, n, d, Z, Y, (REAL)alpha);
}

void NAME(nnc_activation_backward)(int code, ptrdiff_t n, ptrdiff_t d, const REAL *dY,
                                   const REAL *Z, const REAL *Y, REAL *dZ, double alpha)
{
    NAME(backward_rows)(code, n, d, dY, Z, Y, dZ, (REAL)alpha);
}

/* Row by row, so the activation reads the row the bias was just added to from cache. */
void NAME(nnc_bias_activation)(int code, ptrdiff_t n, ptrdiff_t m, REAL *Z, const REAL *b,
                               REAL *Y, double alpha)
{
    const REAL a = (REAL)alpha;
    if (b == NULL) {
        NAME(forward_rows)(code, n, m, Z, Y, a);
        return;
    }
    for (ptrdiff_t r = 0; r < n; r++) {
        REAL *z = Z + r * m;
        for (ptrdiff_t j = 0; j < m; j++)
            z[j] += b[j];
        NAME(forward_rows)(code, 1, m, z, Y + r * m, a);
    }
}

/* db accumulates the rows in order, the same order as NumPy's dZ.sum(axis=0). */
void NAME(nnc_activation_backward_colsum)(int code, ptrdiff_t n, ptrdiff_t m,
                                          const REAL *dY, const REAL *Z, const REAL *Y,
                                          REAL *dZ, REAL *db, double alpha)
{
    const REAL a = (REAL)alpha;
    if (db == NULL) {
        NAME(backward_rows)(code, n, m, dY, Z, Y, dZ, a);
        return;
    }
    for (ptrdiff_t j = 0; j < m; j++)
        db[j] = 0;
    for (ptrdiff_t r = 0; r < n; r++) {
        REAL *dz = dZ + r * m;
        NAME(backward_rows)(code, 1, m, dY + r * m, Z + r * m, Y + r * m, dz, a);
        for (ptrdiff_t j = 0; j < m; j++)
            db[j] += dz[j];
    }
}

#endif /* REAL */
