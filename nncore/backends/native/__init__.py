"""The native backend: C kernels (csrc/) behind Cython wrappers, GEMM through BLAS.

The GEMMs call NumPy's own OpenBLAS when it is loaded, else scipy's BLAS;
``NNCORE_BLAS=scipy`` in the environment asks for scipy's (``_dense.BLAS`` names the one
in use). Importing this package fails with ImportError when the extension modules were
not built; :mod:`nncore.backends` then falls back to the NumPy backend with a warning.
"""
from nncore.backends.native import (
    _activations, _dense, _elementwise, _losses, _normalization, _optimizers, _plan,
)
from nncore.backends.numpy_backend import NumpyBackend


class NativeBackend(NumpyBackend):
    """Compiled kernels with the NumPy backend's semantics; the GIL is released inside.

    It is the NumPy backend with the kernels it compiles replaced (as thinc's NumpyOps
    over Ops): a kernel not compiled here runs as its NumPy definition."""

    name = "native"
    _activation_forward = staticmethod(_activations.forward)
    _activation_backward = staticmethod(_activations.backward)
    _dense_forward = staticmethod(_dense.forward)
    _dense_backward = staticmethod(_dense.backward)
    _loss = staticmethod(_losses.loss)
    _batch_norm_forward = staticmethod(_normalization.batch_norm_forward)
    _batch_norm_backward = staticmethod(_normalization.batch_norm_backward)
    _sgd = staticmethod(_optimizers.sgd)
    _adagrad = staticmethod(_optimizers.adagrad)
    _rmsprop = staticmethod(_optimizers.rmsprop)
    _adam = staticmethod(_optimizers.adam)
    _regularization_loss = staticmethod(_elementwise.regularization_loss)
    _regularization_grad = staticmethod(_elementwise.regularization_grad)
    _dropout_mask = staticmethod(_elementwise.dropout_mask)
    _clip_by_value = staticmethod(_elementwise.clip_by_value)
    _sum_squares = staticmethod(_elementwise.sum_squares)
    _scale = staticmethod(_elementwise.scale)

    def dense_plan(self, weights, grads, codes, alphas, loss_code, from_logits, delta,
                   fused):
        """The whole step in one call with the GIL released (see _plan.DensePlan); None
        for stacks deeper than a plan holds, which then train layer by layer."""
        if len(weights) > _plan.MAX_PLAN_LAYERS:
            return None
        return _plan.DensePlan(weights, grads, codes, alphas, loss_code, from_logits,
                               delta, fused)
