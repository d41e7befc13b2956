"""nncore: dense neural networks for the CPU, Keras-like, with compiled kernels.

Example
-------
>>> import nncore as nn
>>> model = nn.Sequential([nn.layers.Dense(8, input_dim=4, activation="relu"),
...                        nn.layers.Dense(8, activation="relu"),
...                        nn.layers.Dense(3, activation="softmax")], seed=0)
>>> model.count_params()
139
"""
from nncore import backends
from nncore.backends import backend, get_backend, set_backend, use_backend
from nncore import (
    activations, callbacks, datasets, exceptions, initializers, layers, linear, losses,
    metrics, optimizers, perceptron, plot, regularizers,
)
from nncore.models import NotCompiledError, Sequential, load_model
from nncore.finite_differences import gradcheck

__version__ = "0.1.0"

__all__ = [
    "NotCompiledError", "Sequential", "activations", "backend", "backends", "callbacks",
    "datasets", "exceptions", "get_backend", "gradcheck", "initializers", "layers", "linear",
    "load_model", "losses", "metrics", "optimizers", "perceptron", "plot", "regularizers",
    "set_backend", "use_backend", "__version__",
]
