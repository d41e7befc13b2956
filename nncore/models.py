"""``Sequential``: a stack of layers trained by mini-batch gradient descent, as Keras.

One training step is forward propagation through every layer, the loss and its
gradient, backpropagation (the chain rule, layer by layer in reverse), then one
optimizer update. ``fit`` repeats it over shuffled mini-batches for a number of epochs.
Every public method checks its arguments before it changes anything, so a refused call
leaves the model exactly as it was.
"""
from __future__ import annotations

import math
import os
import warnings
import weakref

import numpy as np

from nncore import backends, callbacks as callbacks_module, layers as layers_module
from nncore import losses as losses_module, metrics as metrics_module, optimizers
from nncore._training_guard import TrainingGuard
from nncore._validation import MAX_WIDTH, as_dtype, check_int, make_rng, to_array
from nncore.backends.base import LOSS_CODES, check_float
from nncore.layers import Dense, Layer


class NotCompiledError(ValueError, RuntimeError):
    """Training or evaluating before ``compile`` (a RuntimeError in Keras, a ValueError here:
    both ``except`` clauses catch it)."""


class Sequential:
    """A linear stack of layers, as keras.Sequential.

    Parameters
    ----------
    layers : list of Layer, optional
    seed : int, optional
        Seeds weight initialisation, shuffling and dropout: the same seed, data and
        backend give bit-identical training.
    backend : {"native", "numpy"} or None
        None takes the current default (``nncore.backend()``).
    dtype : {"float32", "float64"}
        Parameters and computation (float64 for gradient checks and teaching).

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
        """
        self._add_layers([layer])

    def _add_layers(self, layers: list) -> None:
        """Append ``layers`` and build them in one pass, linear in the number of layers
        (one ``_pack``); all are checked and named before anything changes."""
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
        """The names ``layers`` will take, once each is checked against the model and the
        layers before it, as ``add`` one by one would check it."""
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
        """The layer's own name if it is free, else the first free ``base_i`` after the
        last one given for this base (names are only added, so none before it is free)."""
        if layer.name is not None:
            if layer.name in taken:
                raise ValueError(f"Layer names must be unique. Received a second "
                                 f"{layer.name!r}")
            return layer.name
        base = _snake(type(layer).__name__)
        if base not in taken:
            return base
        i = counters.get(base, 1)
        while f"{base}_{i}" in taken:
            i += 1
        counters[base] = i + 1
        return f"{base}_{i}"

    def build(self, input_dim: int) -> None:
        """Create every layer's weights for inputs of ``input_dim`` features."""
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
        """Move every layer's weights into one flat buffer, and their gradients into
        another, laid out alike; the layers keep views. The optimizer then updates a run of
        trainable layers in one fused pass over memory instead of one call per array."""
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
        """The ``(start, stop)`` bounds in the flat buffers of each run of consecutive
        trainable layers (one run when every layer trains)."""
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
        """Replace every weight; all are checked before any is written."""
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
        """Print a Keras-style table of layers, output shapes and parameter counts."""
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
        """Choose the optimizer, the loss and the metrics reported by fit/evaluate."""
        if optimizer is None:  # Keras accepts it, then fails in fit on None.apply
            raise ValueError("compile needs an optimizer, such as 'rmsprop' (the default) or "
                             "nn.optimizers.Adam(). Received: optimizer=None")
        optimizer = optimizers.get(optimizer)
        if loss is None:
            raise ValueError("loss is required, e.g. loss='categorical_crossentropy'.")
        loss = losses_module.get(loss)
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

    # ------------------------------------------------------------ data at the edge
    def _check_x(self, x, name: str = "x") -> np.ndarray:
        x = to_array(x, name, self.dtype, ndim=2)
        features = self.input_dim if self.built else self._layers[0].input_dim \
            if self._layers else None
        if features is not None and x.shape[1] != features:
            raise ValueError(f"{name} must have {features} features (columns). "
                             f"Received: {name}.shape={x.shape}")
        if not self._layers:
            raise ValueError("The model has no layers; add() some first.")
        self._output_dim(x.shape[1])
        return x

    def _check_y(self, y, n: int, out_dim: int, name: str = "y") -> np.ndarray:
        """Labels for sparse cross-entropy; otherwise targets of shape (n, out_dim)."""
        if self.loss.name == "sparse_categorical_crossentropy":
            integral = isinstance(y, np.ndarray) and y.dtype.kind in "iu"
            arr = np.asarray(y) if integral else to_array(y, name, np.float64, ndim=(1, 2))
            if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] != 1) \
                    or arr.size == 0:
                raise ValueError(f"{name} must hold one integer class label per row for "
                                 f"sparse_categorical_crossentropy. Received: "
                                 f"{name}.shape={arr.shape}")
            arr = arr.reshape(-1)
            if not integral and np.any(arr != np.round(arr)):
                raise ValueError(f"{name} must hold whole-number class labels.")
            if arr.min() < 0 or arr.max() >= out_dim:
                raise ValueError(f"{name} labels must be in [0, {out_dim}) for a model with "
                                 f"{out_dim} outputs. Received labels in "
                                 f"[{arr.min():g}, {arr.max():g}]")
            # Aligned as well: train_on_batch hands y to the loss kernel as it is, and the
            # native kernels refuse misaligned data (after the forward pass has run).
            y = arr if arr.dtype == np.int64 and arr.flags.c_contiguous and \
                arr.flags.aligned else np.require(arr, np.int64, ("C", "A"))
        else:
            self.loss.check_outputs(out_dim)
            y = to_array(y, name, self.dtype, ndim=(1, 2))
            if y.ndim == 1:
                y = y.reshape(-1, 1)
            if y.shape[1] != out_dim:
                raise ValueError(f"{name} must have {out_dim} columns to match the model's "
                                 f"output (one-hot for categorical_crossentropy). Received: "
                                 f"{name}.shape={y.shape}")
            if self.loss.name in ("binary_crossentropy", "categorical_crossentropy") and \
                    (y.min() < 0 or y.max() > 1):
                raise ValueError(f"{name} must hold targets in [0, 1] for {self.loss.name}.")
        if len(y) != n:
            raise ValueError(f"x and {name} must have the same number of rows. Received: "
                             f"{n} and {len(y)}")
        return y

    def _check_sample_weight(self, sample_weight, n: int, name="sample_weight"):
        if sample_weight is None:
            return None
        sw = to_array(sample_weight, name, self.dtype, ndim=1)
        if sw.shape != (n,):
            raise ValueError(f"{name} must have one weight per row, shape ({n},). "
                             f"Received: {name}.shape={sw.shape}")
        if sw.min() < 0:
            raise ValueError(f"{name} must not be negative.")
        return sw

    def _class_weights(self, class_weight, y: np.ndarray, n: int):
        if class_weight is None:
            return None
        if not isinstance(class_weight, dict):
            raise TypeError(f"class_weight must be a dict {{class: weight}}. "
                            f"Received: {type(class_weight).__name__}")
        labels = y if y.ndim == 1 else (y[:, 0] > 0.5).astype(np.int64) if y.shape[1] == 1 \
            else y.argmax(axis=1)
        table = {}
        for key, value in class_weight.items():
            key = check_int(key, "class_weight key", low=0)
            table[key] = check_float(value, f"class_weight[{key}]", low=0.0)
        missing = set(np.unique(labels).tolist()) - set(table)
        if missing:
            raise ValueError(f"class_weight has no weight for classes {sorted(missing)}.")
        # Sized by the labels, not by the keys: a key such as 10**12 names no class here
        # and must not allocate a table of that length.
        weights = np.zeros(int(labels.max()) + 1, dtype=self.dtype)
        for key, value in table.items():
            if key < len(weights):
                weights[key] = value
        return weights[labels]

    def _prepare(self, x, y, sample_weight=None, class_weight=None, *, names=("x", "y")):
        """Checked arrays (x, y, sample weights) and the input width, before any change."""
        if not self.compiled:
            raise NotCompiledError("You must compile() the model before training or "
                                   "evaluating it.")
        x = self._check_x(x, names[0])
        out_dim = self._output_dim(x.shape[1])
        y = self._check_y(y, len(x), out_dim, names[1])
        sw = self._check_sample_weight(sample_weight, len(x))
        cw = self._class_weights(class_weight, y, len(x))
        if cw is not None:
            sw = cw if sw is None else sw * cw
        return x, y, sw

    def _fused_output(self) -> bool:
        """True when the last layer's softmax/sigmoid meets its cross-entropy: the loss is
        then taken on the logits, whose gradient (p - y) / n needs no division by p."""
        last = self._layers[-1]
        if self.loss.from_logits or not isinstance(last, Dense):
            return False
        return (last.activation, self.loss.name) in {
            ("softmax", "categorical_crossentropy"),
            ("softmax", "sparse_categorical_crossentropy"),
            ("sigmoid", "binary_crossentropy")}

    # ------------------------------------------------------------ one step
    def _forward(self, X: np.ndarray, training: bool) -> np.ndarray:
        for layer in self._layers:
            X = layer.call(X, training)
        return X

    def _loss(self, Y, P, sw, *, grad: bool):
        """Loss (plus regularization penalties) and, if ``grad``, dL/d(output).

        Called on arrays checked by ``_prepare`` and produced by the layers, so it goes to
        the backend's kernels directly."""
        fused = self._fused_output()
        out = self._layers[-1]._logits(len(P)) if fused else P
        dP = self._layers[-1]._buffer("dloss", out.shape) if grad else None
        value = self.ops._loss(LOSS_CODES[self.loss.name], Y, out,
                               fused or self.loss.from_logits,
                               self.loss.delta, sw, dP)
        return value + self._penalty(), dP, fused

    def _penalty(self) -> float:
        """The regularization penalties of every regularized weight, added to the loss."""
        if not self._penalties:
            return 0.0
        return sum(self.ops._regularization_loss(param.reshape(-1), reg.l1, reg.l2)
                   for _, param, _, reg in self._penalties)

    def _dense_plan(self):
        """The backend's compiled step for this stack when every layer is Dense (made
        again when the weights' buffer or the loss changes), else None."""
        if not all(type(layer) is Dense for layer in self._layers):
            return None
        key = (id(self._flat), self.loss.name, self.loss.from_logits,
               self.loss.delta, self._fused_output())
        if getattr(self, "_plan_key", None) != key:
            layers = self._layers
            self._plan = self.ops.dense_plan(
                [(layer.kernel, layer.bias) for layer in layers],
                [(layer.grads[0], layer.grads[1] if layer.use_bias else None)
                 for layer in layers],
                [layer._code for layer in layers], [layer._alpha for layer in layers],
                LOSS_CODES[self.loss.name], self.loss.from_logits,
                self.loss.delta, key[-1])
            self._plan_key = key
        return self._plan

    def _train_step(self, X, Y, sw) -> tuple[float, np.ndarray]:
        """One step on a checked batch: forward, loss, backward, regularization, clipping,
        update. Called inside the training guard, so Ctrl-C waits until it is complete."""
        plan = self._dense_plan()
        if plan is not None:  # forward, loss and backward in one compiled call
            value, P = plan.train_step(X, Y, sw)
            value += self._penalty()
        else:
            P = self._forward(X, training=True)
            value, dA, fused = self._loss(Y, P, sw, grad=True)
            last = len(self._layers) - 1
            for i in range(last, -1, -1):
                layer = self._layers[i]
                if i == last and fused:
                    dA = layer.backward(dA, need_dX=i > 0, from_logits=True)
                else:
                    dA = layer.backward(dA, need_dX=i > 0)
        for layer, param, grad, reg in self._penalties:
            if layer.trainable:
                self.ops._regularization_grad(param.reshape(-1), grad.reshape(-1),
                                              reg.l1, reg.l2)
        if self.optimizer.clips:
            self.optimizer.clip(self._grads(), self.ops)  # per weight, as Keras's clipnorm
        self.optimizer._apply_flat(self._flat, self._flat_grads, self._param_sizes,
                                   self._trainable_runs(), self.ops)
        return value, P

    # ------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size: int | None = 32, epochs: int = 1,
            verbose="auto", callbacks=None, validation_split: float = 0.0,
            validation_data=None, shuffle: bool = True, class_weight=None,
            sample_weight=None, initial_epoch: int = 0):
        """Train for ``epochs`` passes over ``x`` in shuffled mini-batches.

        Returns a :class:`~nncore.callbacks.History` whose ``history`` maps ``"loss"``,
        each metric and their ``"val_"`` versions to one value per epoch. Batch gradient
        descent is ``batch_size=len(x)``, stochastic gradient descent ``batch_size=1``.

        Example
        -------
        >>> import nncore as nn
        >>> x, y = nn.datasets.make_xor()
        >>> model = nn.Sequential([nn.layers.Dense(4, input_dim=2, activation="tanh"),
        ...                        nn.layers.Dense(1, activation="sigmoid")], seed=1)
        >>> model.compile(nn.optimizers.Adam(0.05), "binary_crossentropy", ["accuracy"])
        >>> model.fit(x, y, epochs=300, batch_size=4, verbose=0).history["accuracy"][-1]
        1.0
        """
        batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", low=1)
        epochs = check_int(epochs, "epochs", low=0)
        initial_epoch = check_int(initial_epoch, "initial_epoch", low=0)
        verbose = 1 if verbose == "auto" else check_int(verbose, "verbose", low=0)
        split = check_float(validation_split, "validation_split", low=0.0, high=1.0,
                            high_open=True)
        if x is None or y is None:
            raise ValueError("fit needs both x and y.")
        x, y, sw = self._prepare(x, y, sample_weight, class_weight)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or \
                    len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a tuple (x_val, y_val) or "
                                 "(x_val, y_val, val_sample_weight).")
            val = self._prepare(validation_data[0], validation_data[1],
                                validation_data[2] if len(validation_data) == 3 else None,
                                names=("validation_data[0]", "validation_data[1]"))
            if val[0].shape[1] != x.shape[1]:
                raise ValueError("validation_data[0] must have as many features as x.")
        elif split > 0.0:
            cut = int(len(x) * (1.0 - split))  # Keras: the last rows, before shuffling
            if cut == 0 or cut == len(x):
                raise ValueError(f"validation_split={split} leaves no rows for training or "
                                 f"none for validation with {len(x)} rows.")
            val = (x[cut:], y[cut:], None if sw is None else sw[cut:])
            x, y, sw = x[:cut], y[:cut], None if sw is None else sw[:cut]
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            raise TypeError(f"callbacks must be a list of nncore Callback instances. "
                            f"Received: callbacks={callbacks!r}")
        callback_list = list(callbacks or [])
        for cb in callback_list:
            if not isinstance(cb, callbacks_module.Callback):
                raise TypeError(f"callbacks must be nncore Callback instances. Received: {cb!r}")
        with self._guard.training(self.name):
            return self._fit_loop(x, y, sw, val, batch_size, epochs, initial_epoch, verbose,
                                  shuffle, callback_list)

    def _fit_loop(self, x, y, sw, val, batch_size: int, epochs: int, initial_epoch: int,
                  verbose: int, shuffle: bool, callback_list: list):
        """:meth:`fit` on checked arguments."""
        self.build(x.shape[1])
        history = callbacks_module.History()
        steps = math.ceil(len(x) / batch_size)
        # History after the user's callbacks, as Keras: what they add to the epoch's logs
        # (LearningRateScheduler's learning_rate...) is recorded too.
        callback_list = callback_list + [history]
        if verbose:
            callback_list.append(callbacks_module.ProgbarLogger(steps, epochs))
        for cb in callback_list:
            cb.set_model(self)
        self.stop_training = False
        self._warned_nan = False
        for cb in callback_list:
            cb.on_train_begin()
        batches = _Batches(x, y, sw, batch_size)
        for epoch in range(initial_epoch, epochs):
            self._guard.checkpoint()
            for cb in callback_list:
                cb.on_epoch_begin(epoch)
            order = self.rng.permutation(len(x)) if shuffle else None
            tracker = _Tracker(self._metrics)
            for step, (X, Y, W) in enumerate(batches.iterate(order)):
                for cb in callback_list:
                    cb.on_train_batch_begin(step)
                value, P = self._train_step(X, Y, W)
                self._guard.checkpoint()
                if not math.isfinite(value) and not self._warned_nan:
                    self._warned_nan = True
                    warnings.warn(f"The loss became {value} in epoch {epoch + 1}, batch "
                                  f"{step + 1}: training diverged (try a smaller learning "
                                  "rate or gradient clipping; TerminateOnNaN stops it).",
                                  RuntimeWarning, stacklevel=3)
                tracker.update(value, Y, P, W)
                logs = tracker.result()
                for cb in callback_list:
                    cb.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            logs = tracker.result()
            if val is not None and not self.stop_training:
                val_logs = self._evaluate_arrays(*val, batch_size=batch_size)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            for cb in callback_list:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in callback_list:
            cb.on_train_end()
        self.history = history
        return history

    # ------------------------------------------------------------ evaluate / predict
    def _evaluate_arrays(self, x, y, sw, batch_size: int) -> dict[str, float]:
        tracker = _Tracker(self._metrics)
        for X, Y, W in _Batches(x, y, sw, batch_size).iterate(None):
            self._guard.checkpoint()  # validation inside fit: Ctrl-C may stop it here
            P = self._forward(X, training=False)
            value, _, _ = self._loss(Y, P, W, grad=False)
            tracker.update(value, Y, P, W)
        return tracker.result()

    def evaluate(self, x=None, y=None, batch_size: int | None = 32, verbose=0,
                 sample_weight=None, return_dict: bool = False):
        """The loss (and metrics) on ``x, y``: a float, ``[loss, *metrics]``, or a dict."""
        batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", low=1)
        if x is None or y is None:
            raise ValueError("evaluate needs both x and y.")
        x, y, sw = self._prepare(x, y, sample_weight)
        self.build(x.shape[1])
        logs = self._evaluate_arrays(x, y, sw, batch_size)
        return _format_logs(logs, return_dict)

    def predict(self, x, batch_size: int | None = None, verbose=0) -> np.ndarray:
        """The outputs for ``x`` (inference: dropout off, moving statistics in batch norm)."""
        batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", low=1)
        return self._predict(self._check_x(x), batch_size)

    def _predict(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """:meth:`predict` on an ``x`` already checked by ``_check_x``."""
        self.build(x.shape[1])
        if len(x) <= batch_size:  # one batch: the common case of serving, kept short
            return self._forward(x, training=False).copy()
        out = np.empty((len(x), self.output_dim), dtype=self.dtype)
        for start in range(0, len(x), batch_size):
            out[start:start + batch_size] = self._forward(x[start:start + batch_size],
                                                          training=False)
        return out

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None,
                       return_dict: bool = False):
        """One optimizer step on exactly this batch; returns its loss (and metrics)."""
        x, y, sw = self._prepare(x, y, sample_weight, class_weight)
        with self._guard.training(self.name):
            self.build(x.shape[1])
            value, P = self._train_step(x, y, sw)
        tracker = _Tracker(self._metrics)
        tracker.update(value, y, P, sw)
        return _format_logs(tracker.result(), return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict: bool = False):
        """The loss (and metrics) of this batch, without training."""
        x, y, sw = self._prepare(x, y, sample_weight)
        self.build(x.shape[1])
        return _format_logs(self._evaluate_arrays(x, y, sw, len(x)), return_dict)

    def predict_on_batch(self, x) -> np.ndarray:
        """The outputs for one batch ``x``."""
        x = self._check_x(x)  # first: len() of a 0-d or ragged input is no message for x
        return self._predict(x, len(x))

    # ------------------------------------------------------------ config and files
    def get_config(self) -> dict:
        return {"name": self.name, "seed": self.seed, "dtype": str(self.dtype),
                "input_dim": self.input_dim,
                "layers": [layers_module.serialize(layer) for layer in self._layers]}

    @classmethod
    def from_config(cls, config: dict, backend=None) -> Sequential:
        cls._check_layer_count(len(config["layers"]))  # before creating any layer
        model = cls([layers_module.deserialize(c) for c in config["layers"]],
                    seed=config.get("seed"), backend=backend,
                    dtype=config.get("dtype", "float32"), name=config.get("name", "sequential"))
        if config.get("input_dim") is not None:
            model.build(config["input_dim"])
        return model

    def save(self, filepath, include_optimizer: bool = True) -> None:
        """Write the model to ``filepath``: architecture, weights, and (with
        ``include_optimizer``) loss, metrics, optimizer state and random-generator states,
        so that a loaded model resumes training exactly. The file format is documented in
        :mod:`nncore.saving`; the file is replaced atomically. A symlink is followed to its
        target (which is replaced, the link kept); FIFOs and device nodes are refused.
        """
        from nncore import saving

        self._require_built("save")
        saving.write_archive(filepath, *self._archive(include_optimizer))

    def _archive(self, include_optimizer: bool = True) -> tuple[dict, dict]:
        """The model as a model file's ``(config, arrays)``; built or not, compiled or not.

        Optimizer slots are stored per parameter (``optimizer/<i>/<slot>`` for the i-th
        array of the layers' ``params``), whichever layers train now."""
        config = {"model": self.get_config(), "compile": None,
                  "rng": {"model": _rng_state(self.rng),
                          "layers": {layer.name: _rng_state(layer.rng)
                                     for layer in self._layers if hasattr(layer, "rng")}}}
        arrays = {f"weights/{i}": w for i, w in enumerate(self.get_weights())}
        if include_optimizer and self.compiled:
            opt = self.optimizer
            # Slots built for this model's layout; any other (the optimizer used on other
            # arrays since) are not this model's state.
            mine = self.built and opt._flat_key == (self._param_sizes, self.dtype)
            config["compile"] = {
                "loss": losses_module.serialize(self.loss),
                "metrics": [m for m in self._metric_specs if isinstance(m, str)],
                "optimizer": optimizers.serialize(opt),
                "iterations": opt.iterations,
                "slot_layout": "parameter",
                "slots": [sorted(slots) for slots in opt.slots] if mine else None}
            for i, slots in enumerate(opt.slots if mine else []):
                for name, arr in slots.items():
                    arrays[f"optimizer/{i}/{name}"] = arr
        return config, arrays

    @classmethod
    def _from_archive(cls, config: dict, arrays: dict, compile: bool, backend) -> Sequential:
        # The weights' shapes follow from the config alone: check them against the stored
        # arrays before building, so a config claiming huge layers allocates nothing.
        dim = config["model"]["input_dim"]
        cls._check_layer_count(len(config["model"]["layers"]))  # before making any layer
        expected = []
        if dim is not None:
            dim = check_int(dim, "input_dim", low=1)
            for layer_config in config["model"]["layers"]:
                layer = layers_module.deserialize(layer_config)
                expected += layer.weight_shapes(dim)
                dim = layer.output_dim(dim)
        stored = [arrays[f"weights/{i}"].shape for i in range(len(expected))]
        if stored != expected or f"weights/{len(expected)}" in arrays:
            raise ValueError(f"the stored weights do not match the architecture "
                             f"(expected shapes {expected}, found {stored})")
        model = cls.from_config(config["model"], backend=backend)
        if expected:
            model.set_weights([arrays[f"weights/{i}"] for i in range(len(expected))])
        model.rng.bit_generator.state = _rng_from(config["rng"]["model"])
        for layer in model._layers:
            if hasattr(layer, "rng"):
                layer.rng.bit_generator.state = _rng_from(config["rng"]["layers"][layer.name])
        spec = config.get("compile")
        if compile and spec is not None:
            model.compile(optimizers.deserialize(spec["optimizer"]),
                          losses_module.get(spec["loss"]), spec["metrics"])
            model.optimizer.iterations = spec["iterations"]
            if spec["slots"] is not None:
                model._restore_slots(spec, arrays)
        return model

    def _restore_slots(self, spec: dict, arrays: dict) -> None:
        """Fill the optimizer's slots from a file: per parameter, or (files written before
        slots belonged to parameters) per run of trainable layers."""
        self._require_built("load")
        opt = self.optimizer
        opt._build_flat(self._flat, self._param_sizes)
        if spec.get("slot_layout") == "parameter":
            targets = opt.slots
        else:
            targets = [{name: buf[a:b] for name, buf in opt._flat_slots.items()}
                       for a, b in self._trainable_runs()]
        if [sorted(slots) for slots in targets] != spec["slots"]:
            raise ValueError("the optimizer slots do not match the optimizer")
        for i, slots in enumerate(targets):
            for name, arr in slots.items():
                stored = arrays[f"optimizer/{i}/{name}"]
                if stored.size != arr.size:
                    raise ValueError(f"optimizer slot {i}/{name} has the wrong shape")
                # NaN or inf in a moment would turn every later step into NaN.
                if not np.isfinite(stored).all():
                    raise ValueError(f"optimizer slot {i}/{name} holds NaN or inf")
                arr[...] = stored.reshape(-1)

    # ------------------------------------------------------------ copies and pickles
    def __reduce__(self):
        """Pickle through the model file's bytes (joblib and multiprocessing too): the
        pickle holds the documented format and the metric functions, never an array of
        an internal object. Loading rebuilds the model, its optimizer state and its
        random generators, so the copy trains on exactly as the original would."""
        from nncore import saving

        return (_unpickle, (saving.archive_bytes(*self._archive()), self.ops.name,
                            list(getattr(self, "_metric_specs", []))))

    def __deepcopy__(self, memo: dict) -> Sequential:
        rebuild, args = self.__reduce__()
        return rebuild(*args)

    def __copy__(self):
        raise TypeError("A Sequential model cannot be copied shallowly: the copy would share "
                        "its weights and optimizer state. Use copy.deepcopy(model).")

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(f"{what}() needs a built model: give the first layer input_dim "
                             "(or input_shape), or call fit/predict/build first.")


# ---------------------------------------------------------------- helpers
class _Batches:
    """Mini-batches gathered into reused buffers (np.take with out=): no copies per step."""

    def __init__(self, x, y, sw, batch_size: int):
        self.arrays = [a for a in (x, y, sw)]
        self.n, self.batch_size = len(x), batch_size
        self.buffers: dict[int, list] = {}

    def iterate(self, order):
        for start in range(0, self.n, self.batch_size):
            stop = min(start + self.batch_size, self.n)
            if order is None:
                yield tuple(None if a is None else a[start:stop] for a in self.arrays)
                continue
            size = stop - start
            if size not in self.buffers:
                self.buffers[size] = [None if a is None else np.empty((size,) + a.shape[1:],
                                                                      a.dtype)
                                      for a in self.arrays]
            idx = order[start:stop]
            # mode="clip": with mode="raise" numpy buffers the result and copies it; the
            # indices are a permutation of range(n), so clipping never changes one.
            yield tuple(None if a is None else np.take(a, idx, axis=0, out=buf, mode="clip")
                        for a, buf in zip(self.arrays, self.buffers[size]))


class _Tracker:
    """Running means over an epoch: the loss weighted by batch size (as Keras); a metric's
    per-sample values by sample weight, its batch means by batch size
    (:func:`nncore.metrics.batch_values`)."""

    def __init__(self, metrics):
        self.metrics = metrics
        self.loss_sum, self.count = 0.0, 0
        self.metric_sums = [0.0] * len(metrics)
        # One total weight per metric: a batch mean counts n samples even where per-sample
        # values would have been weighted by W.
        self.metric_weights = [0.0] * len(metrics)

    def update(self, value: float, Y, P, W) -> None:
        n = len(P)
        self.loss_sum += value * n
        self.count += n
        for i, (name, fn) in enumerate(self.metrics):
            values = metrics_module.batch_values(name, fn(Y, P), n)
            if values.ndim == 0:
                total, weight = float(values) * n, n
            elif W is None:
                total, weight = float(values.sum()), n
            else:
                total, weight = float(np.dot(values, W)), float(W.sum())
            self.metric_sums[i] += total
            self.metric_weights[i] += weight

    def result(self) -> dict[str, float]:
        logs = {"loss": self.loss_sum / max(self.count, 1)}
        for i, (name, _) in enumerate(self.metrics):
            weight = self.metric_weights[i]
            logs[name] = self.metric_sums[i] / weight if weight else 0.0
        return logs


def _format_logs(logs: dict, return_dict: bool):
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _memory(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


def _rng_state(rng: np.random.Generator) -> dict:
    """A Generator's state for JSON: its 128-bit integers as decimal strings."""
    state = rng.bit_generator.state
    return {"bit_generator": state["bit_generator"],
            "state": {k: str(v) for k, v in state["state"].items()},
            "has_uint32": state["has_uint32"], "uinteger": str(state["uinteger"])}


def _rng_from(saved: dict) -> dict:
    """The state written by :func:`_rng_state`, checked: numbers that do not fit PCG64
    (128-bit state and increment, a 32-bit buffered draw) would make NumPy raise
    OverflowError, or silently accept a flag that is neither 0 nor 1."""
    if saved["bit_generator"] != "PCG64":
        raise ValueError(f"unsupported random generator {saved['bit_generator']!r}")
    state = {key: int(saved["state"][key]) for key in ("state", "inc")}
    has_uint32, uinteger = int(saved["has_uint32"]), int(saved["uinteger"])
    if not (all(0 <= v < 2**128 for v in state.values()) and has_uint32 in (0, 1)
            and 0 <= uinteger < 2**32):
        raise ValueError("the random-generator state is out of range for PCG64")
    return {"bit_generator": "PCG64", "state": state, "has_uint32": has_uint32,
            "uinteger": uinteger}


def _unpickle(blob: bytes, backend: str, metric_specs: list) -> Sequential:
    """The model pickled by :meth:`Sequential.__reduce__`."""
    from nncore import saving

    config, arrays = saving.read_archive_bytes(blob)
    model = Sequential._from_archive(config, arrays, True, backend)
    if model.compiled and metric_specs:
        model._metrics = [metrics_module.get(m, model.loss.name) for m in metric_specs]
        model._metric_specs = list(metric_specs)
    return model


def load_model(filepath: str | os.PathLike, compile: bool = True, backend=None) -> Sequential:
    """Read a model written by :meth:`Sequential.save`.

    With ``compile`` the loss, metrics, optimizer state and random-generator states come
    back too, so ``fit`` continues exactly where the saved model stopped. A truncated,
    altered or foreign file raises :class:`nncore.saving.ModelFileError`; nothing in the
    file is ever executed or unpickled.

    Example
    -------
    >>> import nncore as nn                             # doctest: +SKIP
    >>> model = nn.load_model("iris.nnc")               # doctest: +SKIP
    """
    from nncore import saving

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
