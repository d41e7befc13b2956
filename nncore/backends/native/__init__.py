"""The native backend: C kernels (csrc/) behind one Cython extension, GEMM through BLAS.

The GEMMs call scipy-openblas64, the OpenBLAS built for Python packaging that nncore
declares as a dependency and links at build time (``_kernels.BLAS`` names it and the
kernel it runs). Its thread pool follows ``OPENBLAS_NUM_THREADS`` at import and
``threadpoolctl.threadpool_limits(n, user_api="blas")`` at run time. Importing this
package fails with ImportError when the extension was not built or the library is
missing; :mod:`nncore.backends` then falls back to the NumPy backend with a warning.
"""
import ctypes
import importlib.util
import os


def _load_blas() -> ctypes.CDLL:
    """Load scipy-openblas64's library from where that package is installed, before the
    extension that links it: the dynamic loader then finds it by its name, for an
    editable install too. Loaded locally (its symbols stay out of the global namespace,
    where NumPy's own bundled copy of the same names could bind to them); the package is
    located, not imported, since importing it loads the library globally."""
    spec = importlib.util.find_spec("scipy_openblas64")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nncore's native backend needs scipy-openblas64: "
                          "pip install scipy-openblas64")
    lib_dir = os.path.join(spec.submodule_search_locations[0], "lib")
    names = sorted(f for f in os.listdir(lib_dir) if f.startswith("libscipy_openblas64_"))
    if not names:
        raise ImportError(f"scipy-openblas64 has no library in {lib_dir}")
    return ctypes.CDLL(os.path.join(lib_dir, names[0]))


_blas_library = _load_blas()

from nncore.backends.native import _kernels  # noqa: E402  (after the BLAS it links)
from nncore.backends.numpy_backend import NumpyBackend  # noqa: E402


#: The kernels compiled in _kernels, by name: NativeBackend's ``_<name>`` is each of them.
COMPILED = ("activation_forward", "activation_backward", "dense_forward", "dense_backward",
            "loss", "batch_norm_forward", "batch_norm_backward", "sgd", "adagrad", "rmsprop",
            "adam", "regularization_loss", "regularization_grad", "dropout_mask",
            "clip_by_value", "sum_squares", "scale")


class NativeBackend(NumpyBackend):
    """Compiled kernels with the NumPy backend's semantics; the GIL is released inside.

    It is the NumPy backend with the kernels it compiles replaced (as thinc's NumpyOps
    over Ops): a kernel not compiled here runs as its NumPy definition."""

    name = "native"

    def dense_plan(self, weights, grads, codes, alphas, loss_code, from_logits, param,
                   fused):
        """The whole step in one call with the GIL released (see _kernels.DensePlan);
        None for stacks deeper than a plan holds, which then train layer by layer."""
        if len(weights) > _kernels.MAX_PLAN_LAYERS:
            return None
        return _kernels.DensePlan(weights, grads, codes, alphas, loss_code, from_logits,
                                  param, fused)


for _name in COMPILED:
    setattr(NativeBackend, f"_{_name}", staticmethod(getattr(_kernels, _name)))
