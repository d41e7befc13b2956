"""A model as a model file, a pickle or a deep copy: all three go through the file format.

``save`` writes the architecture, the weights and (with the optimizer) the loss, metrics,
optimizer state and random-generator states, so that a loaded model trains on exactly as
the saved one would. A pickle holds the same file's bytes (plus the metric functions, by
reference), never an array of an internal object, so joblib and multiprocessing work and
no compiled object is ever copied.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from nncore import layers as layers_module, losses as losses_module
from nncore import metrics as metrics_module, optimizers, saving
from nncore._checks import check_int


class Persistence:
    """Files, pickles and copies of :class:`~nncore.models.Sequential`.

    Example
    -------
    >>> import copy, os, tempfile, nncore as nn
    >>> model = nn.Sequential([nn.layers.Dense(2, input_dim=3)], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.nnc")
    >>> model.save(path)
    >>> nn.load_model(path).get_config() == copy.deepcopy(model).get_config()
    True
    """

    def save(self, filepath, include_optimizer: bool = True) -> None:
        """Write the model to ``filepath``: architecture, weights, ``metadata`` and (with
        ``include_optimizer``) loss, metrics, optimizer state and random-generator states,
        so that a loaded model resumes training exactly. The file format is documented in
        :mod:`nncore.saving`; the file is replaced atomically. A symlink is followed to its
        target (which is replaced, the link kept); FIFOs and device nodes are refused.

        The file is always nncore's format, conventionally ``.nnc``: a name ending in
        another library's extension (``.keras``, ``.h5``, ``.onnx``, ``.pt``...) is
        refused with a ValueError rather than given a format it does not hold; ONNX files
        come from :meth:`export`.

        Parameters
        ----------
        filepath : str or os.PathLike
        include_optimizer : bool, default True
            Also store the compile state, to resume training.
        """
        check_extension(filepath)
        self._require_built("save")
        saving.write_archive(filepath, *self._archive(include_optimizer))

    def _archive(self, include_optimizer: bool = True) -> tuple[dict, dict]:
        """The model as a model file's ``(config, arrays)``; built or not, compiled or not.

        Optimizer slots are stored per parameter (``optimizer/<i>/<slot>`` for the i-th
        array of the layers' ``params``), whichever layers train now."""
        custom = [layer.name for layer in self._layers if getattr(layer, "_custom", None)]
        if custom:
            raise TypeError(f"Layers {', '.join(custom)} have activations of your own "
                            f"(CustomActivation): a model file, a pickle or a copy holds no "
                            f"code, so this model cannot be stored. Save its weights with "
                            f"save_weights() and build it again in code.")
        config = {"model": self.get_config(), "compile": None,
                  "rng": {"model": _rng_state(self.rng),
                          "layers": {layer.name: _rng_state(layer.rng)
                                     for layer in self._layers if hasattr(layer, "rng")}}}
        arrays = {f"weights/{i}": w for i, w in enumerate(self.get_weights())}
        metadata = getattr(self, "metadata", None)
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a dict of JSON values. Received: "
                            f"metadata={metadata!r}")
        if metadata:  # an optional key: a model without metadata writes the bytes it did
            config["metadata"] = metadata
        if include_optimizer and self.compiled and \
                isinstance(self.loss, losses_module.CustomLoss):
            warnings.warn(f"The loss {self.loss.name!r} is a CustomLoss: a model file holds "
                          f"no code, so the model is stored without its loss, metrics and "
                          f"optimizer state; compile it again after loading.",
                          UserWarning, stacklevel=3)
            include_optimizer = False
        if include_optimizer and self.compiled:
            opt = self.optimizer
            # Slots built for this model's layout; any other (the optimizer used on other
            # arrays since) are not this model's state.
            mine = self.built and opt._flat_key == (self._param_sizes, self.dtype)
            config["compile"] = {
                "loss": losses_module.serialize(self.loss),
                "metrics": [spec for spec in map(metrics_module.serialize,
                                                 self._metric_specs) if spec is not None],
                "optimizer": optimizers.serialize(opt),
                "iterations": opt.iterations,
                "slot_layout": "parameter",
                "slots": [sorted(slots) for slots in opt.slots] if mine else None}
            for i, slots in enumerate(opt.slots if mine else []):
                for name, arr in slots.items():
                    arrays[f"optimizer/{i}/{name}"] = arr
        return config, arrays

    @classmethod
    def _from_archive(cls, config: dict, arrays: dict, compile: bool, backend):
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
        # Optional (files written before it existed have none); the header's checks have
        # made it strict JSON, so only its type is left to check.
        metadata = config.get("metadata", {})
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a JSON object. Found: "
                            f"{type(metadata).__name__}")
        model.metadata = metadata
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

    def _take_training_state(self, other) -> None:
        """Become ``other`` as training left it: weights, optimizer (with its slots and
        step count) and random generators; ``other`` is a model of the same architecture
        (a backup of this one), checked through set_weights."""
        self.set_weights(other.get_weights())
        if other.compiled:
            # Slots follow the parameters' layout, which is this model's too.
            self.optimizer = other.optimizer
        self.rng.bit_generator.state = other.rng.bit_generator.state
        for mine, theirs in zip(self._layers, other._layers):
            if hasattr(mine, "rng"):
                mine.rng.bit_generator.state = theirs.rng.bit_generator.state

    def save_weights(self, filepath) -> None:
        """Write only the weights (batch normalization's moving statistics included) to
        ``filepath``, which must end in ``.weights.nnc`` (as Keras 3 asks ``.weights.h5``):
        :meth:`load_weights` puts them back into a model of the same architecture.

        Parameters
        ----------
        filepath : str or os.PathLike

        Example
        -------
        >>> import nncore as nn
        >>> model = nn.Sequential([nn.layers.Dense(2, input_dim=3)], seed=0)
        >>> model.save_weights("dense.weights.nnc")           # doctest: +SKIP
        """
        _check_weights_name(filepath)
        self._require_built("save_weights")
        config = {"model": self.get_config(), "compile": None, "weights_only": True,
                  "rng": {"model": _rng_state(self.rng), "layers": {}}}
        arrays = {f"weights/{i}": w for i, w in enumerate(self.get_weights())}
        saving.write_archive(filepath, config, arrays)

    def load_weights(self, filepath) -> None:
        """Read weights written by :meth:`save_weights` (or a whole model file) into this
        model, which must be built with the same layers' weight shapes; nothing is
        changed unless every array fits.

        Parameters
        ----------
        filepath : str or os.PathLike

        Example
        -------
        >>> import nncore as nn
        >>> model = nn.Sequential([nn.layers.Dense(2, input_dim=3)], seed=0)
        >>> model.load_weights("dense.weights.nnc")           # doctest: +SKIP
        """
        self._require_built("load_weights")
        config, arrays = saving.read_archive(filepath)
        count = sum(1 for name in arrays if name.startswith("weights/"))
        try:
            weights = [arrays[f"weights/{i}"] for i in range(count)]
        except KeyError:
            raise ValueError(f"{filepath!r} holds no weights of nncore's layout") from None
        self.set_weights(weights)

    # ------------------------------------------------------------ copies and pickles
    def __reduce__(self):
        """Pickle through the model file's bytes (joblib and multiprocessing too): the
        pickle holds the documented format and the metric functions, never an array of
        an internal object. Loading rebuilds the model, its optimizer state and its
        random generators, so the copy trains on exactly as the original would."""
        return (_unpickle, (type(self), saving.archive_bytes(*self._archive()),
                            self.ops.name, list(getattr(self, "_metric_specs", []))))

    def __deepcopy__(self, memo: dict):
        rebuild, args = self.__reduce__()
        return rebuild(*args)

    def __copy__(self):
        raise TypeError("A Sequential model cannot be copied shallowly: the copy would share "
                        "its weights and optimizer state. Use copy.deepcopy(model).")


#: Other libraries' model-file extensions, and whose: save() never writes nncore's format
#: under a name that promises one of these.
FOREIGN_EXTENSIONS = {".keras": "Keras", ".h5": "HDF5", ".hdf5": "HDF5", ".onnx": "ONNX",
                      ".pt": "PyTorch", ".pth": "PyTorch", ".pb": "TensorFlow",
                      ".tflite": "TensorFlow Lite", ".safetensors": "safetensors",
                      ".pkl": "pickle", ".pickle": "pickle", ".joblib": "joblib"}


def check_extension(filepath) -> None:
    """Refuse a path whose extension names another format (other types: write_archive
    says what it takes).

    Parameters
    ----------
    filepath : str or os.PathLike

    Example
    -------
    >>> check_extension("model.nnc")
    >>> check_extension("model.h5")
    Traceback (most recent call last):
    ValueError: save() writes nncore's own model format, not HDF5 (.h5): name the file .nnc. Received: filepath='model.h5'
    """
    if not isinstance(filepath, (str, os.PathLike)):
        return
    name = os.fspath(filepath)
    if not isinstance(name, str):
        return
    ext = os.path.splitext(name)[1].lower()
    if ext in FOREIGN_EXTENSIONS:
        how = ("; for ONNX use model.export(filepath)" if ext == ".onnx" else
               "; pickle or joblib a model directly (it pickles as this format)"
               if FOREIGN_EXTENSIONS[ext] in ("pickle", "joblib") else "")
        raise ValueError(f"save() writes nncore's own model format, not "
                         f"{FOREIGN_EXTENSIONS[ext]} ({ext}): name the file .nnc{how}. "
                         f"Received: filepath={name!r}")


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


def _unpickle(cls: type, blob: bytes, backend: str, metric_specs: list):
    """The model pickled by :meth:`Persistence.__reduce__`."""
    config, arrays = saving.read_archive_bytes(blob)
    model = cls._from_archive(config, arrays, True, backend)
    if model.compiled and metric_specs:
        model._metrics = [metrics_module.get(m, model.loss.name) for m in metric_specs]
        model._metric_specs = list(metric_specs)
    return model


def _check_weights_name(filepath) -> None:
    if not isinstance(filepath, (str, os.PathLike)) or \
            not os.fspath(filepath).endswith(".weights.nnc"):
        raise ValueError(f"The filename must end in `.weights.nnc`. Received: "
                         f"filepath={filepath!r}")
