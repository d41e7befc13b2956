/* Optimizer updates, each ONE fused pass over memory: weight decay, the optimizer's
 * state and the parameter are read and written in the same loop.
 *
 * Arrays are flat, of length n, and must not overlap; optional state is NULL when the
 * variant does not use it. Hyperparameters arrive in double; the derived scalars (lr * wd,
 * 1 - beta, Adam's alpha) are computed once in double, then rounded to the arrays' type,
 * in which all per-element arithmetic is done. Every update first applies Keras 3's
 * decoupled weight decay w -= lr * wd * w when wd > 0. Formulas (Keras 3 optimizers):
 *
 *   sgd      v == NULL: w -= lr * g
 *            else       v = momentum * v - lr * g; w += v
 *                       (nesterov: w += momentum * v - lr * g, with the new v)
 *   adagrad  acc += g^2; w -= lr * g / sqrt(acc + eps)
 *   rmsprop  v = rho * v + (1 - rho) * g^2
 *            avg != NULL (centered): avg = rho * avg + (1 - rho) * g, d = v - avg^2 + eps
 *            else d = v + eps
 *            s = lr * g / sqrt(d); mom != NULL: mom = momentum * mom + s, w -= mom
 *            else w -= s
 *   adam     m += (1 - beta_1) * (g - m); v += (1 - beta_2) * (g^2 - v)
 *            vhat != NULL (AMSGrad): vhat = max(vhat, v), used in place of v
 *            w -= alpha * m / (sqrt(v) + eps),
 *            alpha = lr * sqrt(1 - beta_2^step) / (1 - beta_1^step), step >= 1
 *
 * Subnormal values are flushed to zero during an update (simd.h says why).
 */
#ifndef NNCORE_OPTIMIZERS_H
#define NNCORE_OPTIMIZERS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void nnc_sgd_f32(ptrdiff_t n, float *w, const float *g, float *v, double lr,
                 double momentum, int nesterov, double wd);
void nnc_sgd_f64(ptrdiff_t n, double *w, const double *g, double *v, double lr,
                 double momentum, int nesterov, double wd);

void nnc_adagrad_f32(ptrdiff_t n, float *w, const float *g, float *acc, double lr,
                     double eps, double wd);
void nnc_adagrad_f64(ptrdiff_t n, double *w, const double *g, double *acc, double lr,
                     double eps, double wd);

void nnc_rmsprop_f32(ptrdiff_t n, float *w, const float *g, float *v, float *mom,
                     float *avg, double lr, double rho, double momentum, double eps,
                     double wd);
void nnc_rmsprop_f64(ptrdiff_t n, double *w, const double *g, double *v, double *mom,
                     double *avg, double lr, double rho, double momentum, double eps,
                     double wd);

void nnc_adam_f32(ptrdiff_t n, float *w, const float *g, float *m, float *v, float *vhat,
                  double lr, double beta_1, double beta_2, double eps, long long step,
                  double wd);
void nnc_adam_f64(ptrdiff_t n, double *w, const double *g, double *m, double *v,
                  double *vhat, double lr, double beta_1, double beta_2, double eps,
                  long long step, double wd);

#ifdef __cplusplus
}
#endif

#endif /* NNCORE_OPTIMIZERS_H */
