"""The layer base class: Keras's lifecycle on the backend's ops.

``__init__`` checks arguments; ``build(input_dim, dtype, ops, rng)`` creates the weights
once the input width is known; ``call(X, training)`` and ``backward(dY, need_dX)``
compute on 2-D batches (rows, features) through the backend, reusing buffers across
steps so a warm training step allocates no arrays. ``forward(X)`` is ``call`` for a
caller outside the model: it checks ``X`` and returns an array of the caller's own.

Only a training pass (``training=True``) keeps what ``backward`` needs on the layer; an
inference pass writes nothing but its own thread's buffers, so ``predict`` in one thread
cannot change what ``fit`` computes in another.
"""
from __future__ import annotations

import threading

import numpy as np

from nncore.backends.base import Backend
from nncore._checks import MAX_WIDTH, check_int, to_array


class Layer:
    """Base class of nncore layers.

    Subclasses set ``params`` (trainable arrays, Keras order), ``grads`` (same shapes),
    ``weight_names``, and optionally ``state`` (non-trainable arrays such as moving
    averages), and implement ``output_dim``, ``forward``, ``backward``.

    Parameters
    ----------
    input_dim : int or None
        Number of input features, for a model's first layer; else learned at build.
    input_shape : tuple of one int or None
        Keras's spelling of ``input_dim``: ``(4,)``.
    name : str or None
        Shown by ``summary``; None for a generated one.
    trainable : bool, default True
        False freezes the weights (``fit`` leaves them as they are).

    Example
    -------
    >>> import numpy as np, nncore as nn
    >>> layer = nn.layers.Dense(2, input_dim=3, kernel_initializer='ones')
    >>> layer.build(3, np.float64, nn.get_backend(), np.random.default_rng(0))
    >>> layer.forward([[1.0, 2.0, 3.0]]), layer.count_params()
    (array([[6., 6.]]), 8)
    """

    def __init__(self, *, input_dim: int | None = None, input_shape=None,
                 name: str | None = None, trainable: bool = True):
        if input_shape is not None:
            if isinstance(input_shape, int):
                shape = (input_shape,)
            elif isinstance(input_shape, (tuple, list)):
                shape = tuple(input_shape)
            else:
                raise TypeError("input_shape must be a tuple such as (4,). "
                                f"Received: input_shape={input_shape!r}")
            if len(shape) != 1:
                raise ValueError("input_shape must describe one feature axis, e.g. (4,). "
                                 f"Received: input_shape={input_shape!r}")
            # Checked under its own name: an error about "input_dim" would puzzle a caller
            # who never passed one.
            input_dim = check_int(shape[0], "input_shape[0]", low=1, high=MAX_WIDTH)
        self.input_dim = check_int(input_dim, "input_dim", low=1, high=MAX_WIDTH,
                                   allow_none=True)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string. Received: name={name!r}")
        self.name = name
        self.trainable = bool(trainable)
        self.built = False
        self.ops: Backend | None = None
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.state: list[np.ndarray] = []
        self.weight_names: list[str] = []
        self.state_names: list[str] = []
        self._owner = _no_model  # the model it was added to (a weak reference)

    # ------------------------------------------------------------ lifecycle
    def build(self, input_dim: int, dtype: np.dtype, ops: Backend,
              rng: np.random.Generator) -> None:
        """Record the input width, backend and dtype; subclasses create weights here.

        Parameters
        ----------
        input_dim : int
            Number of input features.
        dtype : numpy dtype
            float32 or float64.
        ops : Backend
            The backend computing the layer.
        rng : numpy.random.Generator
            Draws the initial weights.
        """
        if self.input_dim is not None and self.input_dim != input_dim:
            raise ValueError(f"Layer {self.name!r} expects {self.input_dim} input features. "
                             f"Received: {input_dim}")
        self.input_dim, self.dtype, self.ops = input_dim, np.dtype(dtype), ops
        # Scratch arrays by thread, then by (name, shape): see _buffer.
        self._buffers: dict[int, dict[tuple, np.ndarray]] = {}
        self.built = True

    def output_dim(self, input_dim: int) -> int:
        """Number of output features for ``input_dim`` input features.

        Parameters
        ----------
        input_dim : int
            Number of input features.
        """
        return input_dim

    def weight_shapes(self, input_dim: int) -> list[tuple[int, ...]]:
        """Shapes of ``params + state`` (Keras order) for inputs of ``input_dim`` features,
        known without building.

        Parameters
        ----------
        input_dim : int
            Number of input features.
        """
        return []

    def forward(self, X, training: bool = False) -> np.ndarray:
        """The layer's output for the batch ``X`` (rows, input_dim), as a new array.

        With ``training`` the pass is a training one (dropout draws a mask, batch
        normalization uses the batch's statistics) and ``backward`` may follow it.

        Parameters
        ----------
        X : array-like, shape (n, input_dim)
        training : bool, default False
        """
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built: call build() or add it to "
                             "a model first.")
        X = to_array(X, "X", self.dtype, ndim=2)
        if X.shape[1] != self.input_dim:
            raise ValueError(f"X must have {self.input_dim} features (columns). Received: "
                             f"X.shape={X.shape}")
        # A copy: the layer's buffers are overwritten by its next pass.
        return self.call(X, bool(training)).copy()

    def call(self, X: np.ndarray, training: bool) -> np.ndarray:
        """The output for a checked batch ``X``, in a buffer the next pass reuses.

        Parameters
        ----------
        X : ndarray, shape (n, input_dim)
            Of the layer's dtype, C-contiguous.
        training : bool
            A training pass keeps what ``backward`` needs.
        """
        raise NotImplementedError

    def backward(self, dY: np.ndarray, need_dX: bool) -> np.ndarray | None:
        """Write the parameter gradients into ``grads``; return dL/dX if ``need_dX``.

        Parameters
        ----------
        dY : ndarray, shape (n, output_dim)
            dL/dY of the last training pass.
        need_dX : bool
            False for a first layer: dL/dX is not computed.
        """
        raise NotImplementedError

    def _training_pass(self):
        """What the last training pass kept for ``backward``."""
        cache = getattr(self, "_cache", None)
        if cache is None:
            raise RuntimeError(f"Layer {self.name!r}: backward() needs a forward pass with "
                               "training=True first (inference passes keep nothing).")
        return cache

    def _buffer(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        """A scratch array reused across steps of the same batch size.

        Each thread has its own: threads calling ``predict`` on one model at once would
        otherwise write their activations into the same arrays (the kernels run without
        the GIL) and read each other's results."""
        buffers = self._buffers.get(threading.get_ident())
        if buffers is None:
            if len(self._buffers) > 64:  # threads come and go: keep memory bounded
                self._buffers.clear()
            buffers = self._buffers[threading.get_ident()] = {}
        buf = buffers.get((key, shape))
        if buf is None:
            if len(buffers) > 32:  # many batch sizes: keep memory bounded
                buffers.clear()
            buf = buffers[(key, shape)] = np.empty(shape, dtype=self.dtype)
        return buf

    def __getstate__(self) -> dict:
        # Scratch buffers, the last pass's cache and the owning model are this process's
        # working state, not the layer's: a copy starts without them, free to join a model
        # only if unbuilt.
        state = {k: v for k, v in self.__dict__.items() if k not in ("_buffers", "_cache")}
        state["_owner"] = _no_model
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.built:
            self._buffers = {}

    # ------------------------------------------------------------ weights
    def adopt(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Use ``params`` and ``grads`` (views the model made of its flat buffers, equal in
        value) in place of this layer's own arrays.

        Parameters
        ----------
        params : list of ndarray
            Views for ``params``, of their shapes.
        grads : list of ndarray
            Views for ``grads``.
        """
        for name, view in zip(self.weight_names, params):
            setattr(self, name, view)
        self.params, self.grads = list(params), list(grads)

    def count_params(self) -> int:
        """Number of weights, trainable and not."""
        return sum(p.size for p in self.params) + sum(s.size for s in self.state)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the trainable then non-trainable arrays, in Keras's order."""
        return [w.copy() for w in self.params + self.state]

    def set_weights(self, weights) -> None:
        """Copy ``weights`` into this layer's arrays (shapes must match exactly).

        Parameters
        ----------
        weights : list of array-like
            As :meth:`get_weights` returns them.
        """
        for target, value in zip(self.params + self.state, weights):
            target[...] = value

    def regularized(self) -> list[tuple[np.ndarray, np.ndarray, object]]:
        """``(param, grad, regularizer)`` for each penalised parameter."""
        return []

    def get_config(self) -> dict:
        """The constructor's arguments, as a dict (Keras's ``get_config``)."""
        return {"name": self.name, "trainable": self.trainable}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                         if k not in ("name", "trainable") and v is not None)
        return f"{type(self).__name__}({args})"


def _no_model() -> None:
    """The owner of a layer that belongs to no model (what a dead weak reference gives)."""
    return None
