"""Models: :class:`Sequential` and :func:`load_model`.

Example
-------
>>> import copy, nncore as nn
>>> model = nn.Sequential([nn.layers.Dense(2, input_dim=3)], seed=0)
>>> twin = copy.deepcopy(model)  # through the model file's bytes, as a pickle
>>> [w.shape for w in twin.get_weights()]
[(3, 2), (2,)]
"""
from nncore.exceptions import NotCompiledError
from nncore.models.sequential import Sequential, load_model

__all__ = ["NotCompiledError", "Sequential", "load_model"]
