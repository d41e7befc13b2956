"""Models: :class:`Sequential` and :func:`load_model`.

Example
-------
>>> import nncore as nn
>>> model = nn.Sequential([nn.layers.Dense(8, input_dim=4, activation="relu"),
...                        nn.layers.Dense(3, activation="softmax")], seed=0)
>>> model.count_params()
67
"""
from nncore.exceptions import NotCompiledError
from nncore.models.sequential import Sequential, load_model

__all__ = ["NotCompiledError", "Sequential", "load_model"]
