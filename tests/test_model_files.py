"""Model files: Sequential.save / nncore.load_model round trips, exact resumption of
training, and damaged or nonsensical files refused with ModelFileError.

tests/test_saving.py covers the archive container itself (read_archive/write_archive);
here the container is valid and what is tested is the model inside it.
"""
from __future__ import annotations

import copy
import os
import pickle

import numpy as np
import pytest

import nncore as nn
from nncore import saving
from nncore.saving import ModelFileError
from conftest import BACKENDS, DTYPES, assert_close


def make_model(backend, dtype="float32", seed=0) -> nn.Sequential:
    """Every kind of state a file must carry: Dense weights, BatchNormalization's moving
    statistics, Dropout's random stream, and the model's own (shuffling) stream."""
    return nn.Sequential([nn.layers.Dense(12, input_dim=4, activation="relu"),
                          nn.layers.BatchNormalization(momentum=0.9),
                          nn.layers.Dropout(0.3),
                          nn.layers.Dense(6, activation="tanh"),
                          nn.layers.Dense(3, activation="softmax")],
                         seed=seed, backend=backend, dtype=dtype)


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
    return x, y


def trained_model(backend, dtype="float32", epochs=2, optimizer=None):
    x, y = data()
    model = make_model(backend, dtype)
    model.compile(optimizer or nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  ["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=10, verbose=0)
    return model


def assert_identical(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def assert_same_weights(a, b) -> None:
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for u, v in zip(wa, wb):
        assert_identical(u, v)


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_save_load_predict_is_bit_identical(tmp_path, backend_name, dtype):
    model = trained_model(backend_name, dtype)
    # Training moved the BatchNormalization moving statistics away from 0 and 1.
    bn = model.layers[1]
    assert not np.allclose(bn.moving_mean, 0) and not np.allclose(bn.moving_variance, 1)
    path = tmp_path / "model.nnc"
    model.save(path)
    assert os.listdir(tmp_path) == ["model.nnc"]   # no temporary file left behind
    loaded = nn.load_model(path, backend=backend_name)
    assert loaded.ops.name == backend_name and loaded.dtype == np.dtype(dtype)
    assert loaded.get_config() == model.get_config()
    assert_same_weights(loaded, model)
    x, _ = data(n=20, seed=1)
    assert_identical(loaded.predict(x), model.predict(x))
    assert loaded.evaluate(*data(n=20, seed=1)) == model.evaluate(*data(n=20, seed=1))


@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs both backends")
def test_a_file_loads_on_the_other_backend(tmp_path):
    model = trained_model("native", "float64")
    model.save(tmp_path / "m.nnc")
    other = nn.load_model(tmp_path / "m.nnc", backend="numpy")
    assert other.ops.name == "numpy"
    assert_same_weights(other, model)
    x, _ = data(n=20, seed=2)
    assert_close(other.predict(x), model.predict(x), np.float64)


def test_compile_settings_and_optimizer_state_come_back(tmp_path):
    model = trained_model("numpy", optimizer=nn.optimizers.Adam(0.02, beta_1=0.8,
                                                                amsgrad=True))
    model.save(tmp_path / "m.nnc")
    loaded = nn.load_model(tmp_path / "m.nnc")
    assert loaded.compiled
    assert loaded.loss.name == "sparse_categorical_crossentropy"
    assert loaded.metrics_names == ["loss", "accuracy"]
    opt = loaded.optimizer
    assert isinstance(opt, nn.optimizers.Adam)
    assert opt.get_config() == model.optimizer.get_config()
    assert opt.learning_rate == 0.02 and opt.beta_1 == 0.8 and opt.amsgrad
    assert opt.iterations == model.optimizer.iterations == 10
    assert len(opt.slots) == len(model.optimizer.slots)
    for got, want in zip(opt.slots, model.optimizer.slots):
        assert sorted(got) == sorted(want) == ["m", "v", "vhat"]
        for key in got:
            assert_identical(got[key], want[key])


def test_include_optimizer_false_and_compile_false(tmp_path):
    model = trained_model("numpy")
    model.save(tmp_path / "weights_only.nnc", include_optimizer=False)
    model.save(tmp_path / "full.nnc")
    x, y = data(n=10, seed=3)
    for loaded in (nn.load_model(tmp_path / "weights_only.nnc", backend="numpy"),
                   nn.load_model(tmp_path / "full.nnc", compile=False, backend="numpy")):
        assert not loaded.compiled and loaded.optimizer is None
        assert_same_weights(loaded, model)
        assert_identical(loaded.predict(x), model.predict(x))
        with pytest.raises(nn.NotCompiledError):
            loaded.fit(x, y, verbose=0)
        loaded.compile("sgd", "sparse_categorical_crossentropy")
        loaded.fit(x, y, epochs=1, verbose=0)
        assert loaded.optimizer.iterations == 1
    # The weights-only file is the smaller one: no optimizer slots inside.
    assert (tmp_path / "weights_only.nnc").stat().st_size < (tmp_path / "full.nnc").stat().st_size


def test_an_uncompiled_or_unbuilt_model(tmp_path):
    plain = nn.Sequential([nn.layers.Dense(3, input_dim=2)], seed=1)
    plain.save(tmp_path / "plain.nnc")
    loaded = nn.load_model(tmp_path / "plain.nnc")
    assert not loaded.compiled
    assert_same_weights(loaded, plain)
    unbuilt = nn.Sequential([nn.layers.Dense(3)])
    with pytest.raises(ValueError, match="built"):
        unbuilt.save(tmp_path / "unbuilt.nnc")
    assert not (tmp_path / "unbuilt.nnc").exists()


# --------------------------------------------------------------------------- resumption
@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("schedule", [False, True], ids=["constant_lr", "schedule"])
def test_resume_equals_continuous_training(tmp_path, backend_name, schedule):
    """N epochs, save, load, M more == N + M epochs in one go, bit for bit (shuffle on,
    Dropout masks, BatchNormalization statistics, Adam moments, learning-rate schedule)."""
    x, y = data()

    def fresh():
        model = make_model(backend_name, seed=5)
        lr = (nn.optimizers.schedules.ExponentialDecay(0.02, decay_steps=5, decay_rate=0.5)
              if schedule else 0.01)
        model.compile(nn.optimizers.Adam(lr), "sparse_categorical_crossentropy", ["accuracy"])
        return model

    continuous = fresh()
    full = continuous.fit(x, y, epochs=5, batch_size=10, shuffle=True, verbose=0)

    first = fresh()
    first.fit(x, y, epochs=2, batch_size=10, shuffle=True, verbose=0)
    first.save(tmp_path / "checkpoint.nnc")
    del first
    resumed = nn.load_model(tmp_path / "checkpoint.nnc", backend=backend_name)
    rest = resumed.fit(x, y, epochs=5, initial_epoch=2, batch_size=10, shuffle=True,
                       verbose=0)

    assert_same_weights(resumed, continuous)
    assert resumed.optimizer.iterations == continuous.optimizer.iterations == 25
    assert rest.history["loss"] == full.history["loss"][2:]
    assert rest.history["accuracy"] == full.history["accuracy"][2:]
    assert resumed.rng.bit_generator.state == continuous.rng.bit_generator.state


def test_without_the_optimizer_resumption_differs(tmp_path):
    """The optimizer state in the file matters: without it Adam restarts its moments."""
    x, y = data()
    model = make_model("numpy", seed=5)
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=10, verbose=0)
    model.save(tmp_path / "w.nnc", include_optimizer=False)
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)
    restarted = nn.load_model(tmp_path / "w.nnc", backend="numpy")
    restarted.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    restarted.fit(x, y, epochs=1, batch_size=10, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in
                   zip(restarted.get_weights(), model.get_weights()))


# --------------------------------------------------------------------------- damaged files
def test_metadata_travels_with_the_model(tmp_path):
    model = trained_model("numpy")
    plain = tmp_path / "plain.nnc"
    model.save(plain)
    assert "metadata" not in saving.read_archive(plain)[0]   # optional: old bytes kept
    assert nn.load_model(plain).metadata == {}
    model.metadata = {"nncore.cli": {"mean": [0.5, -1.25], "task": "classification"},
                      "note": ["a", 1, None, True]}
    model.save(tmp_path / "meta.nnc")
    for copied in (nn.load_model(tmp_path / "meta.nnc"), copy.deepcopy(model),
                   pickle.loads(pickle.dumps(model))):
        assert copied.metadata == model.metadata
        assert copied.metadata is not model.metadata
    # Refused when saving, naming what is wrong, and nothing is written.
    for bad, error, message in [([1], TypeError, "metadata"),
                                ({"x": object()}, TypeError, "metadata"),
                                ({"x": float("nan")}, ValueError, "metadata")]:
        model.metadata = bad
        with pytest.raises(error, match=message):
            model.save(tmp_path / "never.nnc")
        assert not (tmp_path / "never.nnc").exists()


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.nnc"
    trained_model("numpy").save(path)
    return path


@pytest.mark.parametrize("cut", [0, 1, 8, 27, 100, -33, -1])
def test_truncated_files_are_refused(saved, tmp_path, cut):
    content = saved.read_bytes()
    bad = tmp_path / "truncated.nnc"
    bad.write_bytes(content[:cut] if cut > 0 else content[:len(content) + cut]
                    if cut < 0 else b"")
    with pytest.raises(ModelFileError):
        nn.load_model(bad)


@pytest.mark.parametrize("where", [0, 9, 30, "header", "data", -1])
def test_altered_files_are_refused(saved, tmp_path, where):
    content = bytearray(saved.read_bytes())
    if where == "header":
        where = content.index(b'"units"') + 2
    elif where == "data":
        where = len(content) - 32 - 7   # inside the last array
    content[where] ^= 0x10
    bad = tmp_path / "altered.nnc"
    bad.write_bytes(bytes(content))
    with pytest.raises(ModelFileError):
        nn.load_model(bad)


def test_appended_bytes_and_foreign_files_are_refused(saved, tmp_path):
    bad = tmp_path / "longer.nnc"
    bad.write_bytes(saved.read_bytes() + b"\0")
    with pytest.raises(ModelFileError):
        nn.load_model(bad)
    keras = tmp_path / "model.keras"
    keras.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(ModelFileError, match="zip"):
        nn.load_model(keras)
    with pytest.raises(FileNotFoundError):
        nn.load_model(tmp_path / "missing.nnc")


# A model file's config and arrays, changed one way each. The archive stays valid (a
# correct checksum), so only the model loader can refuse it.
def _set(path, value):
    def change(config, arrays):
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _pop(path):
    def change(config, arrays):
        node = config
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1])
    return change


def _array(name, value):
    def change(config, arrays):
        if value is None:
            arrays.pop(name)
        else:
            arrays[name] = value
    return change


def _slot(value):
    """Replace the first stored optimizer slot (its names depend on how the optimizer
    groups parameters) by ``value(slot)``, or remove it when ``value`` is None."""
    def change(config, arrays):
        name = sorted(key for key in arrays if key.startswith("optimizer/"))[0]
        if value is None:
            arrays.pop(name)
        else:
            arrays[name] = value(arrays[name])
    return change


DENSE0 = ("model", "layers", 0, "config")
DROPOUT = ("model", "layers", 2, "config")
OPT = ("compile", "optimizer")
RNG = ("rng", "model")
NONSENSE = {
    "no model": _pop(("model",)),
    "model is a list": _set(("model",), [1, 2]),
    "layers is a string": _set(("model", "layers"), "dense"),
    "layers is a number": _set(("model", "layers"), 5),
    "no layers": _set(("model", "layers"), []),
    "unknown layer class": _set(("model", "layers", 0, "class_name"), "Conv2D"),
    "layer config is a list": _set(("model", "layers", 0, "config"), [1]),
    "unknown layer argument": _set(DENSE0 + ("filters",), 3),
    "units zero": _set(DENSE0 + ("units",), 0),
    "units a string": _set(DENSE0 + ("units",), "12"),
    "units huge": _set(DENSE0 + ("units",), 10**12),
    "units astronomical": _set(DENSE0 + ("units",), 10**30),
    "input_dim huge": _set(("model", "input_dim"), 10**13),
    "input_dim beyond float": _set(DENSE0 + ("input_dim",), 10**400),
    "input_dim negative": _set(("model", "input_dim"), -4),
    "unknown activation": _set(DENSE0 + ("activation",), "swish9"),
    "activation a list": _set(DENSE0 + ("activation",), ["relu"]),
    "unknown initializer": _set(DENSE0 + ("kernel_initializer",), {"class_name": "magic"}),
    "bad initializer value": _set(DENSE0 + ("kernel_initializer",),
                                  {"class_name": "random_normal", "config": {"stddev": "x"}}),
    "bad regularizer": _set(DENSE0 + ("kernel_regularizer",), {"l2": -1.0}),
    "duplicate layer names": _set(("model", "layers", 3, "config", "name"), "dense"),
    "layer name a number": _set(DENSE0 + ("name",), 7),
    "dropout rate 2": _set(DROPOUT + ("rate",), 2.0),
    "dropout rate beyond float": _set(DROPOUT + ("rate",), 10**400),
    "dropout seed a string": _set(DROPOUT + ("seed",), "abc"),
    "dropout seed negative": _set(DROPOUT + ("seed",), -1),
    "batchnorm momentum a string": _set(("model", "layers", 1, "config", "momentum"), "x"),
    "dtype complex": _set(("model", "dtype"), "complex128"),
    "dtype a number": _set(("model", "dtype"), 64),
    "seed negative": _set(("model", "seed"), -3),
    "unknown optimizer": _set(OPT + ("class_name",), "Adamax"),
    "optimizer a string": _set(OPT, "adam"),
    "optimizer config a list": _set(OPT + ("config",), [0.1]),
    "learning rate negative": _set(OPT + ("config", "learning_rate"), -0.1),
    "learning rate beyond float": _set(OPT + ("config", "learning_rate"), 10**400),
    "bad schedule": _set(OPT + ("config", "learning_rate"),
                         {"class_name": "ExponentialDecay", "config": {"decay_steps": 0}}),
    "two clippings": _set(OPT + ("config",), {"clipnorm": 1.0, "clipvalue": 1.0}),
    "unknown loss": _set(("compile", "loss"), {"name": "squared_hinge", "config": {}}),
    "loss a number": _set(("compile", "loss"), 3),
    "bad loss option": _set(("compile", "loss"), {"name": "huber", "config": {"delta": -1}}),
    "unknown metric": _set(("compile", "metrics"), ["auc_pr"]),
    "unknown metric class": _set(("compile", "metrics"), [{"class_name": "Conv2D"}]),
    "bad metric config": _set(("compile", "metrics"),
                              [{"class_name": "F1Score", "config": {"average": "sum"}}]),
    "metrics a number": _set(("compile", "metrics"), 5),
    "iterations negative": _set(("compile", "iterations"), -1),
    "iterations a float": _set(("compile", "iterations"), 2.5),
    "slots renamed": _set(("compile", "slots"), [["m"]] * 10),
    "slots a string": _set(("compile", "slots"), "mv"),
    "no rng": _pop(("rng",)),
    "rng not PCG64": _set(RNG + ("bit_generator",), "MT19937"),
    "rng state huge": _set(RNG + ("state", "state"), str(2**300)),
    "rng state negative": _set(RNG + ("state", "state"), "-5"),
    "rng inc huge": _set(RNG + ("state", "inc"), str(2**128)),
    "rng state not a number": _set(RNG + ("state", "state"), "twelve"),
    "rng uinteger huge": _set(RNG + ("uinteger",), str(2**100)),
    "rng has_uint32 7": _set(RNG + ("has_uint32",), "7"),
    "rng state a list": _set(RNG + ("state",), [1, 2]),
    "dropout rng missing": _set(("rng", "layers"), {}),
    "metadata a list": _set(("metadata",), [1, 2]),
    "metadata a string": _set(("metadata",), "standardize"),
    "metadata null": _set(("metadata",), None),
    "weights missing": _array("weights/0", None),
    "weights wrong shape": _array("weights/0", np.zeros((4, 11), np.float32)),
    "weights NaN": _array("weights/2", np.full(12, np.nan, np.float32)),
    "weights inf": _array("weights/5", np.full(12, np.inf, np.float32)),
    "slot missing": _slot(None),
    "slot wrong shape": _slot(lambda a: np.zeros(a.shape + (2,), a.dtype)),
    "slot NaN": _slot(lambda a: np.full_like(a, np.nan)),
    "slot inf": _slot(lambda a: np.full_like(a, -np.inf)),
}


COMPILE_PART = {
    "unknown optimizer", "optimizer a string", "optimizer config a list",
    "learning rate negative", "learning rate beyond float", "bad schedule", "two clippings",
    "unknown loss", "loss a number", "bad loss option", "unknown metric", "metrics a number",
    "unknown metric class", "bad metric config",
    "iterations negative", "iterations a float", "slots renamed", "slots a string",
    "slot missing", "slot wrong shape", "slot NaN", "slot inf"}


@pytest.mark.parametrize("change", list(NONSENSE))
def test_nonsense_configs_raise_model_file_error(saved, tmp_path, change):
    config, arrays = saving.read_archive(saved)
    config = copy.deepcopy(config)
    NONSENSE[change](config, arrays)
    bad = tmp_path / "nonsense.nnc"
    saving.write_archive(bad, config, arrays)
    with pytest.raises(ModelFileError, match="nonsense.nnc"):
        nn.load_model(bad)
    if change in COMPILE_PART:
        # compile=False ignores the training settings: the network itself is sound.
        assert_same_weights(nn.load_model(bad, compile=False), nn.load_model(saved))
    else:
        with pytest.raises(ModelFileError):
            nn.load_model(bad, compile=False)


def test_the_unchanged_archive_loads(saved, tmp_path):
    """The control for the test above: rewriting what was read gives a loadable model."""
    config, arrays = saving.read_archive(saved)
    saving.write_archive(tmp_path / "same.nnc", config, arrays)
    assert_same_weights(nn.load_model(tmp_path / "same.nnc"), nn.load_model(saved))


# --------------------------------------------------------------------------- checkpoints
class WeightsAtEpochEnd(nn.callbacks.Callback):
    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch + 1] = self.model.get_weights()


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_model_checkpoint_save_best_only(tmp_path, backend_name):
    x, y = data(n=60)
    model = make_model(backend_name, seed=2)
    model.compile(nn.optimizers.Adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    recorder = WeightsAtEpochEnd()
    checkpoint = nn.callbacks.ModelCheckpoint(tmp_path / "best-{epoch:02d}.nnc",
                                              monitor="val_loss", save_best_only=True)
    history = model.fit(x, y, epochs=8, batch_size=10, validation_split=0.25,
                        callbacks=[recorder, checkpoint], verbose=0)
    val = history.history["val_loss"]
    improved = [epoch + 1 for epoch in range(len(val)) if val[epoch] < min(val[:epoch],
                                                                          default=np.inf)]
    assert sorted(os.listdir(tmp_path)) == [f"best-{epoch:02d}.nnc" for epoch in improved]
    assert len(improved) >= 2
    for epoch in improved:
        loaded = nn.load_model(tmp_path / f"best-{epoch:02d}.nnc", backend=backend_name)
        for got, want in zip(loaded.get_weights(), recorder.weights[epoch]):
            assert_identical(got, want)
    # The best file predicts like the model did at its epoch.
    best = nn.load_model(tmp_path / f"best-{improved[-1]:02d}.nnc", backend=backend_name)
    assert best.evaluate(x[45:], y[45:], batch_size=10) == pytest.approx(
        [min(val), history.history["val_accuracy"][improved[-1] - 1]])


def test_model_checkpoint_overwrites_one_file(tmp_path):
    x, y = data(n=30)
    model = make_model("numpy", seed=2)
    model.compile(nn.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, verbose=0,
              callbacks=[nn.callbacks.ModelCheckpoint(tmp_path / "last.nnc", monitor="loss")])
    assert os.listdir(tmp_path) == ["last.nnc"]
    assert_same_weights(nn.load_model(tmp_path / "last.nnc", backend="numpy"), model)


def test_config_claiming_huge_layers_is_refused_before_allocating(tmp_path):
    """A file whose config names 10**8 units but stores small weights is refused from the
    shapes alone: building it first would allocate gigabytes."""
    import tracemalloc

    model = nn.Sequential([nn.layers.Dense(3, input_dim=2)], seed=0)
    path = tmp_path / "m.nnc"
    model.save(path)
    config, arrays = saving.read_archive(path)
    config["model"]["layers"][0]["config"]["units"] = 10**8
    saving.write_archive(path, config, arrays)
    tracemalloc.start()
    try:
        with pytest.raises(saving.ModelFileError, match="do not match"):
            nn.load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10**7
