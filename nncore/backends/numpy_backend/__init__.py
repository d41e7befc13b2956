"""The NumPy backend: every kernel written for a reader; the oracle for the native one."""
from nncore.backends.base import Backend
from nncore.backends.numpy_backend import (
    activations, dense, elementwise, losses, normalization, optimizers, plan,
)


class NumpyBackend(Backend):
    """Pure-NumPy kernels: readable, the reference the native backend is tested against.

    Example
    -------
    >>> import numpy as np
    >>> NumpyBackend().activation('relu', np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    """

    name = "numpy"
    _activation_forward = staticmethod(activations.forward)
    _activation_backward = staticmethod(activations.backward)
    _dense_forward = staticmethod(dense.forward)
    _dense_backward = staticmethod(dense.backward)
    _loss = staticmethod(losses.loss)
    _batch_norm_forward = staticmethod(normalization.batch_norm_forward)
    _batch_norm_backward = staticmethod(normalization.batch_norm_backward)
    _sgd = staticmethod(optimizers.sgd)
    _adagrad = staticmethod(optimizers.adagrad)
    _rmsprop = staticmethod(optimizers.rmsprop)
    _adam = staticmethod(optimizers.adam)
    _regularization_loss = staticmethod(elementwise.regularization_loss)
    _regularization_grad = staticmethod(elementwise.regularization_grad)
    _dropout_mask = staticmethod(elementwise.dropout_mask)
    _clip_by_value = staticmethod(elementwise.clip_by_value)
    _sum_squares = staticmethod(elementwise.sum_squares)
    _scale = staticmethod(elementwise.scale)

    def dense_plan(self, weights, grads, codes, alphas, loss_code, from_logits, param,
                   fused):
        """The training step of a Dense stack, written out (see plan.DensePlan)."""
        return plan.DensePlan(weights, grads, codes, alphas, loss_code, from_logits, param,
                              fused)
