"""``Sequential``: a stack of layers, as keras.Sequential.

This module holds the structure (layers, the flat weight buffer, summary, compile,
config); training, inference, input checks and files are in the modules beside it.
Every public method checks its arguments before it changes anything, so a refused call
leaves the model exactly as it was.
"""
from __future__ import annotations

import os
import weakref

import numpy as np

from nncore import backends, layers as layers_module, losses as losses_module
from nncore import metrics as metrics_module, onnx as onnx_export, optimizers, saving
from nncore._training_guard import TrainingGuard
from nncore._checks import MAX_WIDTH, as_dtype, check_int, make_rng, snake_case, to_array
from nncore.layers import Layer
from nncore.models.inference import Inference
from nncore.models.inputs import Inputs
from nncore.models.persistence import Persistence
from nncore.models.trainer import Trainer


class Sequential(Inputs, Trainer, Inference, Persistence):
    """A linear stack of layers, as keras.Sequential.

    Parameters
    ----------
    layers : list of Layer, optional
    seed : int, optional
        Seeds weight initialisation, shuffling and dropout: the same seed, data and
        backend give bit-identical training.
    backend : {"native", "numpy"} or None (the current default, ``nncore.backend()``)
    dtype : {"float32", "float64"}
        Parameters and computation (float64 for gradient checks and teaching).
    name : str, default "sequential"

    Attributes
    ----------
    metadata : dict
        The user's own data (strict JSON), saved in the model file and given back by
        ``load_model``, pickles and copies; nncore never reads it (the command line keeps
        its preprocessing in ``metadata["nncore.cli"]``).

    Example
    -------
    >>> import nncore as nn
    >>> model = nn.Sequential([nn.layers.Dense(8, input_dim=4, activation="relu"),
    ...                        nn.layers.Dense(3, activation="softmax")], seed=0)
    >>> model.count_params()
    67
    """

    def __init__(self, layers=None, *, seed: int | None = None, backend=None,
                 dtype="float32", name: str = "sequential"):
        self.ops = backends.get_backend(backend)
        self.dtype = as_dtype(dtype)
        self.seed = check_int(seed, "seed", low=0, allow_none=True)
        self.name = str(name)
        self.rng = make_rng(seed)
        self._layers: list[Layer] = []
        self.input_dim: int | None = None
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self.metadata: dict = {}
        self._guard = TrainingGuard()
        self._add_layers(list(layers or []))

    # ------------------------------------------------------------ structure
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @property
    def built(self) -> bool:
        return self.input_dim is not None

    def add(self, layer: Layer) -> None:
        """Append a layer; the model builds as soon as the first layer knows its input.

        On a built model each ``add`` moves every weight into a new flat buffer: build a
        deep stack with ``Sequential([...])``, which does that once.

        Parameters
        ----------
        layer : Layer
        """
        self._add_layers([layer])

    def _add_layers(self, layers: list) -> None:
        """Append and build ``layers`` in one pass (one ``_pack``), all checked first."""
        names = self._check_new_layers(layers)
        for layer, name in zip(layers, names):
            layer.name = name
        start = len(self._layers)
        self._layers.extend(layers)
        for layer in layers:
            layer._owner = weakref.ref(self)
        if self.built:
            dim = self._output_dim(self.input_dim, upto=start)
            for layer in layers:
                layer.build(dim, self.dtype, self.ops, self.rng)
                dim = layer.output_dim(dim)
            self._pack()
        elif start == 0 and layers and layers[0].input_dim is not None:
            self.build(layers[0].input_dim)

    def _check_new_layers(self, layers: list) -> list[str]:
        """The names ``layers`` will take, each checked as ``add`` one by one would."""
        self._check_layer_count(len(self._layers) + len(layers))
        members = {id(other) for other in self._layers}
        taken = {other.name for other in self._layers}
        counters: dict[str, int] = {}  # next suffix to try per base name: no rescans
        # Known once the model is built, or will be by its first layer's input_dim.
        dim = self._output_dim(self.input_dim) if self.built else None
        if not self._layers and layers and isinstance(layers[0], Layer):
            dim = layers[0].input_dim
        names = []
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"layer must be an nncore Layer. Received: {layer!r}")
            owner = layer._owner()
            if layer.built or owner is not None or id(layer) in members:
                # Sharing would let one model's build re-initialise the other's weights.
                where = "this model" if owner is self or id(layer) in members else \
                    f"model {owner.name!r}" if owner is not None else "a model"
                raise ValueError(f"Layer {layer.name or layer!r} already belongs to {where}; "
                                 "a layer serves one model: create a new one.")
            members.add(id(layer))
            if dim is not None:
                if layer.input_dim is not None and layer.input_dim != dim:
                    raise ValueError(f"Layer expects input_dim={layer.input_dim}, but the "
                                     f"model outputs {dim} features.")
                dim = layer.output_dim(dim)
            names.append(self._free_name(layer, taken, counters))
            taken.add(names[-1])
        return names

    @staticmethod
    def _check_layer_count(count: int) -> None:
        from nncore import saving

        if count > saving.MAX_LAYERS:
            raise ValueError(f"A model holds at most MAX_LAYERS={saving.MAX_LAYERS} layers "
                             f"(nncore.saving.MAX_LAYERS). Received: {count} layers")

    @staticmethod
    def _free_name(layer: Layer, taken: set, counters: dict[str, int]) -> str:
        """The layer's name if free, else the first free ``base_i`` after the last given."""
        if layer.name is not None:
            if layer.name in taken:
                raise ValueError(f"Layer names must be unique. Received a second "
                                 f"{layer.name!r}")
            return layer.name
        base = snake_case(type(layer).__name__)
        if base not in taken:
            return base
        i = counters.get(base, 1)
        while f"{base}_{i}" in taken:
            i += 1
        counters[base] = i + 1
        return f"{base}_{i}"

    def build(self, input_dim: int) -> None:
        """Create every layer's weights for inputs of ``input_dim`` features.

        Parameters
        ----------
        input_dim : int
        """
        input_dim = check_int(input_dim, "input_dim", low=1, high=MAX_WIDTH)  # BLAS's ints
        if self.built:
            if input_dim != self.input_dim:
                raise ValueError(f"x must have {self.input_dim} features (columns). "
                                 f"Received: {input_dim}")
            return
        if not self._layers:
            raise ValueError("The model has no layers; add() some before building it.")
        self._output_dim(input_dim)  # checks every layer's expectation before any build
        dim = input_dim
        for layer in self._layers:
            layer.build(dim, self.dtype, self.ops, self.rng)
            dim = layer.output_dim(dim)
        self.input_dim = input_dim
        self._pack()

    def _pack(self) -> None:
        """Move the weights into one flat buffer, the gradients into another (the layers
        keep views): the optimizer updates a run of trainable layers in one fused pass."""
        params = [p for layer in self._layers for p in layer.params]
        flat = np.empty(sum(p.size for p in params), dtype=self.dtype)
        flat_grads = np.zeros_like(flat)
        start = 0
        for layer in self._layers:
            views, grad_views = [], []
            for p in layer.params:
                view = flat[start:start + p.size].reshape(p.shape)
                view[...] = p
                views.append(view)
                grad_views.append(flat_grads[start:start + p.size].reshape(p.shape))
                start += p.size
            layer.adopt(views, grad_views)
        self._flat, self._flat_grads = flat, flat_grads
        self._param_sizes = tuple(p.size for p in params)
        self._runs_key = None
        # (layer, weight, gradient, regularizer) of every penalised weight, for each step.
        self._penalties = [(layer, p, g, reg) for layer in self._layers
                           for p, g, reg in layer.regularized()]

    def _trainable_runs(self) -> tuple[tuple[int, int], ...]:
        """``(start, stop)`` in the flat buffers of each run of trainable layers."""
        key = tuple(layer.trainable for layer in self._layers)
        if key != self._runs_key:
            bounds, start = [], 0
            for layer in self._layers:
                size = sum(p.size for p in layer.params)
                if layer.trainable and size:
                    if bounds and bounds[-1][1] == start:
                        bounds[-1] = (bounds[-1][0], start + size)
                    else:
                        bounds.append((start, start + size))
                start += size
            self._runs, self._runs_key = tuple(bounds), key
        return self._runs

    def _output_dim(self, input_dim: int, upto: int | None = None) -> int:
        dim = input_dim
        for layer in self._layers[:upto]:
            if layer.input_dim is not None and layer.input_dim != dim:
                raise ValueError(f"Layer {layer.name!r} expects {layer.input_dim} input "
                                 f"features but receives {dim}.")
            dim = layer.output_dim(dim)
        return dim

    @property
    def output_dim(self) -> int | None:
        return self._output_dim(self.input_dim) if self.built else None

    def _grads(self) -> list[np.ndarray]:
        """The trainable layers' gradients, one array per weight (for clipping)."""
        return [g for layer in self._layers if layer.trainable for g in layer.grads]

    def count_params(self) -> int:
        """Every weight, trainable or not (Dense(8, input_dim=4): 4 * 8 + 8 = 40)."""
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self._layers)

    def get_weights(self) -> list[np.ndarray]:
        """Copies in Keras order: for each layer its trainable then non-trainable arrays
        (a Dense kernel has shape (inputs, units))."""
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Replace every weight; all are checked before any is written.

        Parameters
        ----------
        weights : list of arrays, as :meth:`get_weights` returns them
        """
        self._require_built("set_weights")
        targets = [w for layer in self._layers for w in layer.params + layer.state]
        weights = list(weights)
        if len(weights) != len(targets):
            raise ValueError(f"weights must be a list of {len(targets)} arrays. "
                             f"Received {len(weights)}.")
        checked = []
        for i, (value, target) in enumerate(zip(weights, targets)):
            arr = to_array(value, f"weights[{i}]", self.dtype, allow_empty=True)
            if arr.shape != target.shape:
                raise ValueError(f"weights[{i}] must have shape {target.shape}. "
                                 f"Received: {arr.shape}")
            # A view of the model's own weights (two kernels swapped) would be read after
            # an earlier assignment overwrote it: copy it first.
            if any(np.may_share_memory(arr, t) for t in targets):
                arr = arr.copy()
            checked.append(arr)
        for target, arr in zip(targets, checked):
            target[...] = arr

    # ------------------------------------------------------------ summary
    def summary(self, print_fn=None) -> None:
        """Print a Keras-style table of layers, output shapes and parameter counts.

        Parameters
        ----------
        print_fn : callable, optional, given the table as one string (default ``print``)
        """
        self._require_built("summary")
        kinds = [f"{layer.name} ({type(layer).__name__})" for layer in self._layers]
        # The first column widens for long names ("batch_normalization
        # (BatchNormalization)") so that no row runs into the next column.
        first = max([28] + [len(kind) + 2 for kind in kinds])
        width = first + 26 + 9 + 2
        lines = [f'Model: "{self.name}"', "_" * width,
                 f" {'Layer (type)':<{first}}{'Output Shape':<26}{'Param #':>9}", "=" * width]
        dim = self.input_dim
        for layer, kind in zip(self._layers, kinds):
            dim = layer.output_dim(dim)
            lines.append(f" {kind:<{first}}{str((None, dim)):<26}{layer.count_params():>9,}")
        trainable = sum(p.size for layer in self._layers if layer.trainable
                        for p in layer.params)
        total = self.count_params()
        item = self.dtype.itemsize
        lines += ["=" * width,
                  f"Total params: {total:,} ({_memory(total * item)})",
                  f"Trainable params: {trainable:,} ({_memory(trainable * item)})",
                  f"Non-trainable params: {total - trainable:,} "
                  f"({_memory((total - trainable) * item)})",
                  "_" * width]
        (print_fn or print)("\n".join(lines))

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {layer!r}" for layer in self._layers)
        return f"Sequential([\n{inner}\n], backend={self.ops.name!r}, dtype='{self.dtype}')"

    # ------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose the optimizer, the loss and the metrics reported by fit/evaluate.

        Parameters
        ----------
        optimizer : str or Optimizer, default 'rmsprop'
        loss : str, Loss or (fn, gradient); required (see :func:`nncore.losses.get`)
        metrics : list of names, functions or Metric objects, optional
        """
        if optimizer is None:  # Keras accepts it, then fails in fit on None.apply
            raise ValueError("compile needs an optimizer, such as 'rmsprop' (the default) or "
                             "nn.optimizers.Adam(). Received: optimizer=None")
        optimizer = optimizers.get(optimizer)
        if loss is None:
            raise ValueError("loss is required, e.g. loss='categorical_crossentropy'.")
        loss = losses_module.get(loss)
        if isinstance(loss, losses_module.CustomLoss):  # a wrong gradient, before training
            loss.check_outputs(self.output_dim if self.built else 2)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, bytes)) or callable(metrics):
            metrics = [metrics]
        elif not isinstance(metrics, (list, tuple)):
            raise TypeError(f"metrics must be a list of metric names or functions. "
                            f"Received: metrics={metrics!r}")
        metric_fns = [metrics_module.get(m, loss.name) for m in metrics]
        self.optimizer, self.loss, self._metrics = optimizer, loss, metric_fns
        self._metric_specs = list(metrics)

    @property
    def compiled(self) -> bool:
        return self.loss is not None

    @property
    def metrics_names(self) -> list[str]:
        return ["loss"] + [name for name, _ in getattr(self, "_metrics", [])]

    # ------------------------------------------------------------ config and files
    def get_config(self) -> dict:
        """The architecture, as a dict: name, seed, dtype, input_dim, layers."""
        return {"name": self.name, "seed": self.seed, "dtype": str(self.dtype),
                "input_dim": self.input_dim,
                "layers": [layers_module.serialize(layer) for layer in self._layers]}

    @classmethod
    def from_config(cls, config: dict, backend=None) -> Sequential:
        """A new model from :meth:`get_config`'s dict.

        Parameters
        ----------
        config : dict
        backend : str or None, as for the constructor
        """
        cls._check_layer_count(len(config["layers"]))  # before creating any layer
        model = cls([layers_module.deserialize(c) for c in config["layers"]],
                    seed=config.get("seed"), backend=backend,
                    dtype=config.get("dtype", "float32"), name=config.get("name", "sequential"))
        if config.get("input_dim") is not None:
            model.build(config["input_dim"])
        return model

    def export(self, filepath, format: str = "onnx", *, opset: int | None = None) -> None:
        """Write the model for inference elsewhere, as Keras's ``model.export``: an ONNX
        file (:mod:`nncore.onnx`: opset 17 and IR version 8 by default, input ``"input"``
        of shape ``["batch", n_features]``, output ``"output"``; needs
        ``pip install nncore[onnx]``). ``save`` writes nncore's own ``.nnc`` files.

        Parameters
        ----------
        filepath : str or os.PathLike
            The file to write, ending in ``.onnx``; replaced atomically.
        format : {"onnx"}
            The only format.
        opset : int, optional
            The ONNX opset, from 13; 17 by default.

        Example
        -------
        >>> import nncore as nn
        >>> model = nn.Sequential([nn.layers.Dense(3, input_dim=4, activation="softmax")])
        >>> model.export("model.onnx")  # doctest: +SKIP
        """
        if format != "onnx":
            raise ValueError(f"format must be 'onnx'. Received: format={format!r}")
        onnx_export.export(self, filepath, opset)

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(f"{what}() needs a built model: give the first layer input_dim "
                             "(or input_shape), or call fit/predict/build first.")


def _memory(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


def load_model(filepath: str | os.PathLike, compile: bool = True, backend=None) -> Sequential:
    """Read a model written by :meth:`Sequential.save`.

    With ``compile`` the loss, metrics, optimizer state and random-generator states come
    back too, so ``fit`` continues exactly where the saved model stopped. A truncated,
    altered or foreign file raises :class:`nncore.saving.ModelFileError`; nothing in the
    file is ever executed or unpickled.

    Parameters
    ----------
    filepath : str or os.PathLike, a ``.nnc`` file
    compile : bool, default True: restore the compile state too
    backend : str or None, as for :class:`Sequential`

    Example
    -------
    >>> import nncore as nn                             # doctest: +SKIP
    >>> model = nn.load_model("iris.nnc")               # doctest: +SKIP
    """
    config, arrays = saving.read_archive(filepath)
    try:
        return Sequential._from_archive(config, arrays, compile, backend)
    # The config is data from the file: besides wrong keys, types and values, it can name
    # sizes no machine can allocate (MemoryError) or numbers too large for a float
    # (OverflowError). Each means the file is not a model this library wrote.
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError,
            MemoryError) as exc:
        raise saving.ModelFileError(
            f"{os.fspath(filepath)}: not a valid nncore model ({type(exc).__name__}: {exc})"
        ) from None
