/* Losses: the batch loss of a prediction P (n, d) against targets, and on request its
 * gradient dP with respect to P, in one row-by-row pass (each row is read while it sits
 * in cache; the loss is accumulated in double and returned).
 *
 * Keras 3 semantics, "sum_over_batch_size" reduction: batch loss = sum_i w_i loss_i / n,
 * w_i = sw[i] (or 1 when sw is NULL). With e = p - t, eps = 1e-7:
 *
 *   MSE      loss_i = mean_j e^2                     grad 2 e          * w_i / (n d)
 *   MAE      loss_i = mean_j |e|                     grad sign(e)      * w_i / (n d)
 *   HUBER    mean_j (|e| <= delta ? e^2 / 2 : delta |e| - delta^2 / 2)
 *                                                    grad clip(e, +-delta) * w_i / (n d)
 *   BCE      pc = clip(p, eps, 1 - eps): mean_j -(t log pc + (1 - t) log(1 - pc))
 *                                 grad (pc - t) / (pc (1 - pc)) * w_i / (n d)
 *            from logits z: mean_j max(z, 0) - z t + log1p(exp(-|z|))
 *                                 grad (sigmoid(z) - t) * w_i / (n d)
 *   CCE      s_i = sum_j p_ij, q = clip(p / s_i, eps, 1 - eps): -sum_j t_j log q_j
 *                                 grad (sum_j t_j - t / q) / s_i * w_i / n
 *            from logits z: sum_j t_j (logsumexp(z) - z_j)
 *                                 grad (softmax(z) sum_j t_j - t) * w_i / n
 *   SCCE     CCE with t = one_hot(labels[i]), the one-hot row never built.
 *   HINGE    mean_j max(1 - t p, 0), t read as 2 t - 1 when every target of the batch
 *            is 0 or 1                           grad -t where 1 - t p > 0 (else 0)
 *                                                                  * w_i / (n d)
 *   KLD      tc, pc = clip(t, eps, 1), clip(p, eps, 1): sum_j tc log(tc / pc)
 *                                                    grad -tc / pc     * w_i / n
 *   POISSON  mean_j p - t log(p + eps)               grad 1 - t / (p + eps) * w_i / (n d)
 *   LOG_COSH mean_j log cosh(e) = |e| + log1p(exp(-2|e|)) - log 2
 *                                                    grad tanh(e)      * w_i / (n d)
 *
 * param is HUBER's delta, and the label smoothing s of BCE and CCE: their targets
 * become t (1 - s) + s / 2 (BCE) or t (1 - s) + s / d (CCE), as Keras's
 * label_smoothing; the other losses ignore it.
 *
 * On probabilities the derivative is taken at the clipped value: finite, and exact
 * wherever the clip does nothing. The formulas are those of nncore/backends/
 * numpy_backend/losses.py, the reference these kernels are tested against.
 *
 * Arguments: T is (n, d) row-major, or NULL for SCCE, which reads labels (n,) instead,
 * each in [0, d) (the caller checks); sw (n,) and dP (n, d) may be NULL; dP must not
 * overlap the inputs (the logits path keeps exp(z - max) in it as scratch); n, d >= 1.
 * from_logits is read by the cross-entropies only. An unknown code returns NaN and
 * writes nothing.
 */
#ifndef NNCORE_LOSSES_H
#define NNCORE_LOSSES_H

#include <stddef.h>
#include <stdint.h>

#include "codes.h" /* the codes, written from nncore/backends/codes.py */

#ifdef __cplusplus
extern "C" {
#endif

double nnc_loss_f32(int code, ptrdiff_t n, ptrdiff_t d, const float *T,
                    const int64_t *labels, const float *P, const float *sw, float *dP,
                    int from_logits, double param);
double nnc_loss_f64(int code, ptrdiff_t n, ptrdiff_t d, const double *T,
                    const int64_t *labels, const double *P, const double *sw, double *dP,
                    int from_logits, double param);

#ifdef __cplusplus
}
#endif

#endif /* NNCORE_LOSSES_H */
