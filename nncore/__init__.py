"""nncore: dense neural networks for the CPU, Keras-like, with compiled kernels.

Example
-------
>>> import nncore
>>> nncore.backend() in ("native", "numpy")
True
"""
from nncore import backends
from nncore.backends import backend, get_backend, set_backend, use_backend

__version__ = "0.1.0"

__all__ = ["backend", "backends", "get_backend", "set_backend", "use_backend", "__version__"]
