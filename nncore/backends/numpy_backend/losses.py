"""Losses in NumPy: the value and, on request, its gradient with respect to ``P``.

Every loss follows Keras 3 (``keras/src/losses/losses.py`` and the ``nn`` ops of its
numpy backend) with the ``sum_over_batch_size`` reduction: ``loss_i`` is the loss of
row ``i`` (a mean over its ``d`` features, or a sum over classes for categorical
cross-entropy), and the batch loss is ``sum_i w_i * loss_i / n``, with ``w_i = 1`` when
no sample weights are given. Elementwise arithmetic is done in ``P``'s dtype; sums are
accumulated in float64 and the value is returned as a Python float.

The gradient ``dP[i, j] = d(batch loss) / dP[i, j]`` is written into ``dP`` when it is
given. Scaled by ``w_i / (n d)`` (or ``w_i / n`` for categorical cross-entropy), with
``e = p - t``:

- mean_squared_error ``2 e``; mean_absolute_error ``sign(e)`` (0 at ``e == 0``);
  huber ``e`` clipped to [-delta, delta];
- binary_crossentropy ``(pc - t) / (pc (1 - pc))`` at ``pc = clip(p, eps, 1 - eps)``, or
  ``sigmoid(z) - t`` from logits;
- categorical_crossentropy ``(sum_j t_j - t / q) / s_i`` with ``s_i`` the row sum and
  ``q = clip(p / s_i, eps, 1 - eps)``, or ``softmax(z) * sum_j t_j - t`` from logits;
- hinge ``-t`` where ``1 - t p > 0``, else 0 (0/1 targets read as -1/+1 when the whole
  batch's are 0 or 1, as Keras decides); poisson ``1 - t / (p + eps)``; log_cosh
  ``tanh(e)``; kl_divergence (a sum over j, as the categorical one) ``-tc / pc`` with both
  clipped to [eps, 1].

``param`` is Huber's ``delta`` and the cross-entropies' label smoothing ``s``: their
targets become ``t (1 - s) + s / 2`` (binary) and ``t (1 - s) + s / d`` (categorical).

On probabilities the derivative is taken at the clipped value (Keras's clip would give
a zero gradient outside the range): the gradient stays finite everywhere and is the
exact derivative wherever the clip does nothing.

Example
-------
>>> import numpy as np
>>> from nncore.backends.base import LOSS_CODES
>>> T = np.array([[0.0, 1.0], [0.0, 0.0]]); P = np.array([[1.0, 1.0], [1.0, 0.0]])
>>> dP = np.empty_like(P)
>>> loss(LOSS_CODES["mean_squared_error"], T, P, False, 1.0, None, dP)
0.5
>>> dP
array([[0.5, 0. ],
       [0.5, 0. ]])
"""
from __future__ import annotations

import numpy as np

from nncore.backends.base import EPSILON, LOSS_CODES

_BINARY = LOSS_CODES["binary_crossentropy"]
_CATEGORICAL = LOSS_CODES["categorical_crossentropy"]
_SPARSE = LOSS_CODES["sparse_categorical_crossentropy"]
_KL = LOSS_CODES["kl_divergence"]


def loss(code: int, T: np.ndarray, P: np.ndarray, from_logits: bool, param: float,
         sw: np.ndarray | None, dP: np.ndarray | None) -> float:
    """The batch loss ``sum_i w_i * loss_i / n`` of loss ``code``; its gradient into ``dP``.

    Parameters
    ----------
    code : int
        One of :data:`nncore.backends.base.LOSS_CODES`.
    T : (n, d) array of P's dtype, or (n,) int64 labels in [0, d) for the sparse loss.
    P : (n, d) float32/float64 array: predictions, probabilities or logits.
    from_logits : bool
        For the cross-entropies: ``P`` holds logits. Ignored by the other losses.
    param : float
        Huber's threshold (> 0), or the cross-entropies' label smoothing (in [0, 1]).
    sw : (n,) array of P's dtype, or None (every weight 1).
    dP : (n, d) array of P's dtype to receive the gradient, or None.

    Example
    -------
    >>> T, P = np.array([[1.0], [0.0]]), np.array([[0.5], [0.0]])
    >>> loss(LOSS_CODES['mean_absolute_error'], T, P, False, 1.0, None, None)
    0.25
    """
    n = P.shape[0]
    w = np.ones(n) if sw is None else sw.astype(np.float64)
    # d(batch loss) / d(loss_i) = w_i / n: the per-row factor of the gradient.
    losses = sample_losses(code, T, P, from_logits, param, w / n, dP)
    return float(np.dot(w, losses) / n)


def sample_losses(code: int, T: np.ndarray, P: np.ndarray, from_logits: bool,
                  param: float, c: np.ndarray | None = None,
                  dP: np.ndarray | None = None) -> np.ndarray:
    """``loss_i`` of every row as float64 (n,); with ``dP``, the gradient of
    ``sum_i c_i * loss_i`` is written into it (``c`` is then required).

    Parameters
    ----------
    code, T, P, from_logits, param
        As for :func:`loss`.
    c : ndarray of shape (n,) or None
        The factor of each row's gradient (``w_i / n`` for :func:`loss`).
    dP : ndarray of P's shape or None
        Receives the gradient.

    Example
    -------
    >>> T, P = np.array([[1.0], [0.0]]), np.array([[0.5], [0.0]])
    >>> sample_losses(LOSS_CODES['mean_squared_error'], T, P, False, 1.0)
    array([0.25, 0.  ])
    """
    d = P.shape[1]
    if param and code in (_BINARY, _CATEGORICAL):  # label smoothing
        T = T * P.dtype.type(1 - param) + P.dtype.type(param / (2 if code == _BINARY else d))
    if code == _KL:
        return _kl_divergence(T, P, c, dP)
    if code in (_CATEGORICAL, _SPARSE):
        if code == _SPARSE:
            fn = _sparse_categorical_logits if from_logits else _sparse_categorical
        else:
            fn = _categorical_logits if from_logits else _categorical
        return fn(T, P, c, dP)
    if code == _BINARY:
        elementwise = _binary_logits if from_logits else _binary
        E = elementwise(T, P, dP)
    else:
        E = _ELEMENTWISE[code](T, P, param, dP)
    if dP is not None:
        dP *= (c / d).astype(P.dtype)[:, None]
    return np.sum(E, axis=1, dtype=np.float64) / d


# --------------------------------------------------------------------------- mean over j
# Each returns the elementwise loss (n, d) and, if dP is given, writes the elementwise
# derivative into it; loss() then averages over j and scales dP by w_i / (n d).
def _mean_squared_error(T, P, param, dP):
    """``e**2``; derivative ``2 e``."""
    E = P - T
    if dP is not None:
        np.multiply(E, 2, out=dP)
    return np.square(E)


def _mean_absolute_error(T, P, param, dP):
    """``|e|``; derivative ``sign(e)``, 0 at the kink (a subgradient, as autodiff gives)."""
    E = P - T
    if dP is not None:
        np.sign(E, out=dP)
    return np.abs(E)


def _huber(T, P, param, dP):
    """``e**2 / 2`` if ``|e| <= delta`` else ``delta * |e| - delta**2 / 2`` (Keras's form);
    derivative ``e`` clipped to [-delta, delta]."""
    delta = P.dtype.type(param)
    E = P - T
    A = np.abs(E)
    if dP is not None:
        np.clip(E, -delta, delta, out=dP)
    return np.where(A <= delta, 0.5 * np.square(E), delta * A - 0.5 * delta * delta)


def _hinge(T, P, param, dP):
    """``max(1 - t p, 0)``; derivative ``-t`` where the margin is positive, else 0. Keras
    reads 0/1 targets as -1/+1 when every target of the batch is 0 or 1."""
    if np.all((T == 0) | (T == 1)):
        T = 2 * T - 1
    margin = 1 - T * P
    if dP is not None:  # a NaN margin stays NaN, as np.maximum keeps it in the loss
        np.copyto(dP, np.where(margin > 0, -T, np.where(margin <= 0, 0, margin)))
    return np.maximum(margin, 0)


def _poisson(T, P, param, dP):
    """``p - t log(p + eps)``; derivative ``1 - t / (p + eps)``."""
    shifted = P + P.dtype.type(EPSILON)
    # A negative rate has no log: NaN, as C gives it, without NumPy's warning (fit warns
    # once that the loss became NaN).
    with np.errstate(invalid="ignore", divide="ignore"):
        if dP is not None:
            np.subtract(1, T / shifted, out=dP)
        return P - T * np.log(shifted)


def _log_cosh(T, P, param, dP):
    """``log cosh(e) = |e| + log1p(exp(-2 |e|)) - log 2`` (cosh itself would overflow);
    derivative ``tanh(e)``."""
    E = P - T
    A = np.abs(E)
    if dP is not None:
        np.tanh(E, out=dP)
    return A + np.log1p(np.exp(-2 * A)) - P.dtype.type(np.log(2.0))


_ELEMENTWISE = {
    LOSS_CODES["mean_squared_error"]: _mean_squared_error,
    LOSS_CODES["mean_absolute_error"]: _mean_absolute_error,
    LOSS_CODES["huber"]: _huber,
    LOSS_CODES["hinge"]: _hinge,
    LOSS_CODES["poisson"]: _poisson,
    LOSS_CODES["log_cosh"]: _log_cosh,
}


def _binary(T, P, dP):
    """``-(t log pc + (1 - t) log(1 - pc))`` with ``pc = clip(p, eps, 1 - eps)``, the clip
    keeping both logs finite; derivative ``(pc - t) / (pc (1 - pc))``."""
    Pc = np.clip(P, EPSILON, 1 - EPSILON)
    Qc = 1 - Pc
    if dP is not None:
        np.divide(Pc - T, Pc * Qc, out=dP)
    return -(T * np.log(Pc) + (1 - T) * np.log(Qc))


def _binary_logits(T, Z, dP):
    """``max(z, 0) - z t + log1p(exp(-|z|))``; derivative ``sigmoid(z) - t``.

    This rewriting of ``-(t log sigmoid(z) + (1 - t) log(1 - sigmoid(z)))`` (as
    tf.nn.sigmoid_cross_entropy_with_logits) only ever takes exp of a non-positive
    number, so nothing overflows even for |z| of 1e4.
    """
    U = np.exp(-np.abs(Z))
    if dP is not None:
        # sigmoid(z) = 1 / (1 + exp(-z)) for z >= 0, exp(z) / (1 + exp(z)) below: the
        # same exp(-|z|) serves both branches.
        np.divide(np.where(Z >= 0, 1, U), 1 + U, out=dP)
        dP -= T
    return np.maximum(Z, 0) - Z * T + np.log1p(U)


# --------------------------------------------------------------------------- sum over j
# Each returns loss_i (n,) in float64 and, if dP is given, writes the full gradient
# (already scaled by c = w_i / n) into it.
def _kl_divergence(T, P, c, dP):
    """``sum_j tc log(tc / pc)`` with ``tc, pc`` clipped to [eps, 1] (Keras's); the
    derivative ``-tc / pc`` is taken at the clipped value, as for the cross-entropies."""
    Tc = np.clip(T, EPSILON, 1).astype(P.dtype, copy=False)
    Pc = np.clip(P, EPSILON, 1)
    if dP is not None:
        np.divide(-Tc, Pc, out=dP)
        dP *= c.astype(P.dtype)[:, None]
    return np.sum(Tc * np.log(Tc / Pc), axis=1, dtype=np.float64)


def _categorical(T, P, c, dP):
    """``-sum_j t_j log q_j``, ``q = clip(p / s_i, eps, 1 - eps)``, ``s_i = sum_j p_ij``.

    Keras divides by the row sum first, so unnormalised scores are accepted; the
    derivative of ``-sum t log(p / s)`` is ``(sum_j t_j - t_k / q_k) / s_i``.
    """
    s = np.sum(P, axis=1, dtype=np.float64)
    Q = np.clip(P / s.astype(P.dtype)[:, None], EPSILON, 1 - EPSILON)
    if dP is not None:
        tsum = np.sum(T, axis=1, dtype=np.float64).astype(P.dtype)
        np.divide(T, Q, out=dP)
        np.subtract(tsum[:, None], dP, out=dP)
        dP *= (c / s).astype(P.dtype)[:, None]
    return -np.sum(T * np.log(Q), axis=1, dtype=np.float64)


def _softmax_parts(Z):
    """``z - max(z)``, its exp and the row sums of that exp (in float64), per row."""
    # Subtracting the row maximum first: exp then never overflows and the largest term
    # is exactly 1, so the sum is >= 1 and its log is safe.
    SH = Z - np.max(Z, axis=1, keepdims=True)
    EX = np.exp(SH)
    return SH, EX, np.sum(EX, axis=1, dtype=np.float64)


def _categorical_logits(T, Z, c, dP):
    """``sum_j t_j (logsumexp(z) - z_j)`` (= ``-sum t log softmax(z)``); gradient
    ``softmax(z) * sum_j t_j - t``, scaled by ``c``."""
    SH, EX, s = _softmax_parts(Z)
    if dP is not None:
        # The softmax Jacobian times the log's derivative -t / softmax(z) collapses to
        # softmax(z) * sum(t) - t, i.e. (p - y) for one-hot y: no division by a
        # probability, so a vanishing softmax cannot blow the gradient up.
        tsum = np.sum(T, axis=1, dtype=np.float64)
        np.multiply(EX, (tsum / s).astype(Z.dtype)[:, None], out=dP)
        dP -= T
        dP *= c.astype(Z.dtype)[:, None]
    return np.sum(T * (np.log(s)[:, None] - SH), axis=1)


def _sparse_categorical(labels, P, c, dP):
    """:func:`_categorical` with ``t = one_hot(labels)``, without building that matrix."""
    rows = np.arange(P.shape[0])
    s = np.sum(P, axis=1, dtype=np.float64)
    q = np.clip(P[rows, labels] / s.astype(P.dtype), EPSILON, 1 - EPSILON)
    if dP is not None:
        # sum_j t_j = 1: every entry is 1 / s_i (times w_i / n), the label's 1 - 1 / q.
        coef = (c / s).astype(P.dtype)
        dP[...] = coef[:, None]
        dP[rows, labels] = (1 - 1 / q) * coef
    return -np.log(q).astype(np.float64)


def _sparse_categorical_logits(labels, Z, c, dP):
    """:func:`_categorical_logits` with ``t = one_hot(labels)``: ``logsumexp(z) -
    z_label``; gradient ``softmax(z) - one_hot(labels)``, scaled by ``c``."""
    rows = np.arange(Z.shape[0])
    SH, EX, s = _softmax_parts(Z)
    if dP is not None:
        coef = c.astype(Z.dtype)
        np.multiply(EX, (1 / s).astype(Z.dtype)[:, None], out=dP)
        dP[rows, labels] -= 1
        dP *= coef[:, None]
    return np.log(s) - SH[rows, labels]
