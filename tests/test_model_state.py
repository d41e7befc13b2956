"""A model's state under every use: copies, pickles, files, frozen layers.

The property: after a deep copy, a pickle round trip, a save/load round trip, or freezing
and unfreezing a layer mid-training, the next training steps are exactly the ones the
original takes (bit for bit, same backend), over random stacks of Dense, Dropout,
BatchNormalization and Activation layers, both backends and both dtypes. Then the
defects of each piece on its own: optimizer slots that belong to their parameters
(checked against real Keras 3 where it is installed), a frozen BatchNormalization in
inference mode, layer outputs the caller owns, and copies that never crash.
"""
from __future__ import annotations

import copy
import importlib.util
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nncore as nn
from conftest import BACKENDS, FD_ATOL, FD_RTOL, numerical_grad
from nncore import saving

OPTIMIZERS = {
    "sgd": lambda: nn.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: nn.optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: nn.optimizers.AdamW(0.01),
    "rmsprop": lambda: nn.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: nn.optimizers.Adagrad(0.05),
}


# --------------------------------------------------------------------------- helpers
def state(model) -> list[bytes]:
    """Everything that decides the next steps: weights, slots, counter, generators."""
    out = [w.tobytes() for w in model.get_weights()]
    opt = model.optimizer
    if opt is not None:
        out.append(str(opt.iterations).encode())
        for slots in opt.slots or []:
            out += [slots[k].tobytes() for k in sorted(slots)]
    out.append(repr(model.rng.bit_generator.state).encode())
    out += [repr(layer.rng.bit_generator.state).encode()
            for layer in model.layers if hasattr(layer, "rng")]
    return out


def make_model(spec, backend, dtype, seed=0, compiled=True) -> nn.Sequential:
    layers = []
    for kind, arg in spec["layers"]:
        if kind == "dense":
            layers.append(nn.layers.Dense(arg[0], activation=arg[1]))
        elif kind == "dropout":
            layers.append(nn.layers.Dropout(arg))
        elif kind == "batchnorm":
            layers.append(nn.layers.BatchNormalization(momentum=arg))
        else:
            layers.append(nn.layers.Activation(arg))
    layers.append(nn.layers.Dense(3, activation="softmax"))
    layers[0].input_dim = 4
    model = nn.Sequential(layers, seed=seed, backend=backend, dtype=dtype)
    if compiled:
        model.compile(OPTIMIZERS[spec["optimizer"]](), "sparse_categorical_crossentropy",
                      ["accuracy"])
    return model


def batches(dtype, count=5, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(7, 4)).astype(dtype), rng.integers(0, 3, size=7))
            for _ in range(count)]


def train(model, data) -> None:
    for x, y in data:
        model.train_on_batch(x, y)


layer_spec = st.one_of(
    st.tuples(st.just("dense"), st.tuples(st.integers(1, 6),
                                          st.sampled_from(["relu", "tanh", "linear"]))),
    st.tuples(st.just("dropout"), st.sampled_from([0.0, 0.3])),
    st.tuples(st.just("batchnorm"), st.sampled_from([0.9, 0.99])),
    st.tuples(st.just("activation"), st.sampled_from(["sigmoid", "elu"])),
)
model_spec = st.fixed_dictionaries({
    # A Dense first, so that the model builds at once from its input_dim.
    "layers": st.lists(layer_spec, min_size=0, max_size=4).map(
        lambda rest: [("dense", (5, "relu"))] + rest),
    "optimizer": st.sampled_from(sorted(OPTIMIZERS)),
})


def save_and_load(model, tmp_dir):
    path = os.path.join(tmp_dir, f"m{id(model)}.nnc")
    model.save(path)
    return nn.load_model(path, backend=model.ops.name)


ROUND_TRIPS = {
    "deepcopy": lambda model, tmp: copy.deepcopy(model),
    "pickle": lambda model, tmp: pickle.loads(pickle.dumps(model)),
    "save_load": save_and_load,
}


# --------------------------------------------------------------------------- the property
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("how", sorted(ROUND_TRIPS))
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=model_spec, warm_steps=st.integers(0, 3))
def test_a_copy_trains_on_exactly_as_the_original(tmp_path, backend, dtype, how, spec,
                                                  warm_steps):
    original = make_model(spec, backend, dtype)
    train(original, batches(dtype, warm_steps, seed=2))
    twin = ROUND_TRIPS[how](original, str(tmp_path))
    assert twin is not original and state(twin) == state(original)
    data = batches(dtype)
    train(original, data)
    train(twin, data)
    assert state(twin) == state(original)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@settings(max_examples=15, deadline=None)
@given(spec=model_spec, frozen_steps=st.integers(0, 3), data=st.data())
def test_freezing_and_unfreezing_keeps_every_slot(backend, dtype, spec, frozen_steps, data):
    """Frozen for ``frozen_steps``, then unfrozen: the frozen layer's weights and slots did
    not move meanwhile, and with no frozen steps the model continues exactly as one that
    was never frozen."""
    model, never_frozen = (make_model(spec, backend, dtype) for _ in range(2))
    warm = batches(dtype, 2, seed=3)
    train(model, warm)
    train(never_frozen, warm)
    index = data.draw(st.integers(0, len(model.layers) - 1), label="frozen layer")
    layer = model.layers[index]
    before = ([w.copy() for w in layer.get_weights()],
              [{k: v.copy() for k, v in slots.items()} for slots in model.optimizer.slots])
    layer.trainable = False
    train(model, batches(dtype, frozen_steps, seed=4))
    for got, want in zip(layer.params, before[0]):  # params only: moving stats are state
        assert got.tobytes() == want.tobytes()
    start = sum(len(other.params) for other in model.layers[:index])
    for i in range(start, start + len(layer.params)):
        for name, value in before[1][i].items():
            assert model.optimizer.slots[i][name].tobytes() == value.tobytes()
    layer.trainable = True
    if frozen_steps == 0:
        rest = batches(dtype)
        train(model, rest)
        train(never_frozen, rest)
        assert state(model) == state(never_frozen)


# --------------------------------------------------------------------------- copies and pickles
COPY_SCRIPT = """
import copy, pickle, numpy as np, nncore as nn
x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int64)
model = nn.Sequential([nn.layers.Dense(8, input_dim=4, activation="relu"),
                       nn.layers.Dense(2, activation="softmax")], seed=0, backend={backend!r})
model.compile("adam", "sparse_categorical_crossentropy")
model.fit(x, y, epochs=1, verbose=0)
copied = {how}
copied.fit(x, y, epochs=1, verbose=0)
model.fit(x, y, epochs=1, verbose=0)
assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), copied.get_weights()))
print("same")
"""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("how", ["copy.deepcopy(model)", "pickle.loads(pickle.dumps(model))",
                                 "pickle.loads(pickle.dumps([{'m': model}]))[0]['m']"])
def test_a_trained_all_dense_model_copies_without_crashing(backend, how):
    """The compiled step (DensePlan) kept on a trained all-Dense model used to be copied as
    raw pointers: SIGSEGV. Run in a child process, which must exit cleanly."""
    done = subprocess.run([sys.executable, "-c", COPY_SCRIPT.format(backend=backend, how=how)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "same"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("built, compiled", [(False, False), (False, True), (True, False),
                                             (True, True)])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_models_copy_built_or_not_compiled_or_not(backend, built, compiled, how):
    model = nn.Sequential([nn.layers.Dense(4, activation="tanh"), nn.layers.Dropout(0.2),
                           nn.layers.Dense(2)], seed=3, backend=backend)
    if built:
        model.build(3)
    if compiled:
        model.compile("rmsprop", "mse", ["mae"])
    twin = ROUND_TRIPS[how](model, None)
    assert (twin.built, twin.compiled) == (built, compiled)
    assert twin.ops is model.ops and twin.name == model.name
    assert repr(twin) == repr(model)
    if compiled:
        assert twin.metrics_names == model.metrics_names
        x, y = np.ones((5, 3), np.float32), np.zeros((5, 2), np.float32)
        for m in (model, twin):
            m.fit(x, y, epochs=2, batch_size=2, verbose=0)
    if built or compiled:
        assert state(twin) == state(model)


def test_a_pickle_holds_the_model_file_and_no_arrays():
    model = nn.Sequential([nn.layers.Dense(3, input_dim=2), nn.layers.BatchNormalization()],
                          seed=0)
    model.compile("adam", "mse")
    model.train_on_batch(np.ones((4, 2)), np.zeros((4, 3)))
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    assert saving.MAGIC in blob
    assert b"numpy" not in blob and b"_reconstruct" not in blob


def metric_mean_abs(y_true, y_pred):
    return np.abs(y_true - y_pred).mean(axis=1)


def test_custom_metric_functions_survive_a_pickle():
    model = nn.Sequential([nn.layers.Dense(2, input_dim=2)], seed=0)
    model.compile("sgd", "mse", ["mae", metric_mean_abs])
    twin = pickle.loads(pickle.dumps(model))
    x = np.ones((3, 2))
    assert twin.evaluate(x, x) == model.evaluate(x, x)
    assert twin.metrics_names == ["loss", "mae", "metric_mean_abs"]


def _predict_in_child(model, x):
    return model.predict(x)


def test_a_model_crosses_processes_with_multiprocessing_and_joblib(tmp_path):
    import multiprocessing

    model = nn.Sequential([nn.layers.Dense(3, input_dim=2, activation="relu"),
                           nn.layers.Dense(1)], seed=0)
    model.compile("adam", "mse")
    x = np.random.default_rng(0).normal(size=(8, 2))
    model.fit(x, x[:, :1], epochs=2, verbose=0)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        predicted = pool.apply(_predict_in_child, (model, x))
    assert np.array_equal(predicted, model.predict(x))
    joblib = pytest.importorskip("joblib", reason="joblib comes with scikit-learn (oracle)")
    joblib.dump(model, tmp_path / "model.joblib")
    assert np.array_equal(joblib.load(tmp_path / "model.joblib").predict(x), model.predict(x))


def test_a_shallow_copy_is_refused():
    model = nn.Sequential([nn.layers.Dense(2, input_dim=2)])
    with pytest.raises(TypeError, match="deepcopy"):
        copy.copy(model)


def test_a_copied_layer_is_free_of_its_model():
    model = nn.Sequential([nn.layers.Dense(2, input_dim=2), nn.layers.Dropout(0.5)], seed=0)
    layer = copy.deepcopy(model.layers[0])
    assert layer.ops is model.ops
    assert np.array_equal(layer.kernel, model.layers[0].kernel)
    assert not np.shares_memory(layer.kernel, model.layers[0].kernel)
    assert np.array_equal(layer.forward(np.ones((1, 2))), model.layers[0].forward(np.ones((1, 2))))


# --------------------------------------------------------------------------- optimizer slots
def three_layer_model(backend, dtype="float64", seed=0):
    return nn.Sequential([nn.layers.Dense(4, input_dim=3, activation="tanh"),
                          nn.layers.Dense(3, activation="tanh"), nn.layers.Dense(1)],
                         seed=seed, backend=backend, dtype=dtype)


@pytest.mark.parametrize("backend", BACKENDS)
def test_freezing_a_layer_keeps_the_other_layers_moments(backend):
    """Three Adam steps, freeze layer 1, a fourth: layers 0 and 2 take the very step of a
    model that was not frozen (their gradients are the same), with moments kept. Before
    the fix their moments restarted from zero while ``iterations`` went on (a step about
    0.58 times too small)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    frozen, free = three_layer_model(backend), three_layer_model(backend)
    for model in (frozen, free):
        model.compile(nn.optimizers.Adam(0.05), "mse")
        for _ in range(3):
            model.train_on_batch(x, y)
    kept = frozen.layers[1].get_weights()
    frozen.layers[1].trainable = False
    frozen.train_on_batch(x, y)
    free.train_on_batch(x, y)
    for i in (0, 2):
        for a, b in zip(frozen.layers[i].get_weights(), free.layers[i].get_weights()):
            assert a.tobytes() == b.tobytes()
    for a, b in zip(frozen.layers[1].get_weights(), kept):
        assert a.tobytes() == b.tobytes()
    assert frozen.optimizer.iterations == 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_weights_and_files_keep_the_slots_of_frozen_layers(backend, tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    model = three_layer_model(backend)
    model.compile(nn.optimizers.Adam(0.05), "mse")
    for _ in range(3):
        model.train_on_batch(x, y)
    model.layers[1].trainable = False
    model.train_on_batch(x, y)
    slots = [{k: v.copy() for k, v in s.items()} for s in model.optimizer.slots]
    model.set_weights(model.get_weights())
    model.save(tmp_path / "m.nnc")
    loaded = nn.load_model(tmp_path / "m.nnc", backend=backend)
    for got in (model.optimizer.slots, loaded.optimizer.slots):
        assert [{k: v.tobytes() for k, v in s.items()} for s in got] == \
            [{k: v.tobytes() for k, v in s.items()} for s in slots]
    assert loaded.layers[1].trainable is False
    for m in (model, loaded):
        m.layers[1].trainable = True
        m.train_on_batch(x, y)
    assert state(loaded) == state(model)


def test_files_with_slots_per_run_of_trainable_layers_still_load(tmp_path):
    """Files written before slots belonged to parameters stored one slot array per run of
    consecutive trainable layers; they load into the right parameters."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    model = three_layer_model("numpy")
    model.compile(nn.optimizers.Adam(0.05), "mse")
    model.layers[1].trainable = False
    model.train_on_batch(x, y)
    config, arrays = model._archive()
    opt = model.optimizer
    old = {k: v for k, v in arrays.items() if not k.startswith("optimizer/")}
    for run, (a, b) in enumerate(model._trainable_runs()):
        for name, buf in opt._flat_slots.items():
            old[f"optimizer/{run}/{name}"] = buf[a:b]
    spec = config["compile"]
    del spec["slot_layout"]
    spec["slots"] = [["m", "v"]] * len(model._trainable_runs())
    saving.write_archive(tmp_path / "old.nnc", config, old)
    loaded = nn.load_model(tmp_path / "old.nnc")
    assert state(loaded) == state(model)


def test_an_absurd_step_count_is_refused_before_anything_changes(tmp_path):
    model = three_layer_model("numpy")
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="iterations"):
        model.optimizer.iterations = 2**64
    config, arrays = model._archive()
    config["compile"]["iterations"] = 2**63
    saving.write_archive(tmp_path / "m.nnc", config, arrays)
    with pytest.raises(saving.ModelFileError, match="iterations"):
        nn.load_model(tmp_path / "m.nnc")


# --------------------------------------------------------------------------- frozen batch norm
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_frozen_batch_normalization_runs_in_inference_mode(backend):
    """Keras: trainable=False puts BatchNormalization in inference mode even in fit: the
    moving statistics normalise and are not updated."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(2.0, 3.0, size=(32, 3)), rng.normal(size=(32, 2))
    model = nn.Sequential([nn.layers.BatchNormalization(input_dim=3, momentum=0.5),
                           nn.layers.Dense(2)], seed=0, backend=backend, dtype="float64")
    model.compile("sgd", "mse")
    bn = model.layers[0]
    bn.moving_mean[...] = [1.0, 2.0, 3.0]
    bn.moving_variance[...] = [4.0, 5.0, 6.0]
    bn.trainable = False
    stats = [w.copy() for w in bn.get_weights()]
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(bn.get_weights(), stats):
        assert a.tobytes() == b.tobytes()
    expected = (x - bn.moving_mean) / np.sqrt(bn.moving_variance + bn.epsilon)
    np.testing.assert_allclose(bn.forward(x, training=True), expected, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_frozen_batch_normalization_backward_matches_finite_differences(backend):
    layer = nn.layers.BatchNormalization()
    layer.build(3, np.float64, nn.backends.get_backend(backend), np.random.default_rng(0))
    layer.gamma[...] = [0.5, 2.0, -1.0]
    layer.moving_mean[...] = [0.3, -0.2, 1.0]
    layer.moving_variance[...] = [2.0, 0.5, 1.5]
    layer.trainable = False
    rng = np.random.default_rng(1)
    X, G = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    numeric = numerical_grad(lambda: float(np.sum(G * layer.forward(X, True))), X)
    layer.forward(X, True)
    dX = layer.backward(G.copy(), need_dX=True)
    np.testing.assert_allclose(dX, numeric, rtol=FD_RTOL, atol=FD_ATOL)


# --------------------------------------------------------------------------- layer outputs
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layer", [lambda: nn.layers.Dense(3, activation="relu"),
                                   lambda: nn.layers.Activation("tanh"),
                                   lambda: nn.layers.BatchNormalization(),
                                   lambda: nn.layers.Dropout(0.5)])
def test_forward_returns_an_array_the_caller_owns(backend, layer):
    layer = layer()
    layer.build(2, np.float32, nn.backends.get_backend(backend), np.random.default_rng(0))
    for training in (False, True):
        first = layer.forward(np.ones((4, 2)), training)
        kept = first.copy()
        layer.forward(np.full((4, 2), 7.0), training)
        assert np.array_equal(first, kept)


def test_forward_checks_its_input():
    layer = nn.layers.Dense(3)
    with pytest.raises(ValueError, match="not built"):
        layer.forward(np.ones((1, 2)))
    layer.build(2, np.float32, nn.backends.get_backend("numpy"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="2 features"):
        layer.forward(np.ones((1, 5)))
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones((1, 3), np.float32), need_dX=True)


# --------------------------------------------------------------------------- Keras side by side
KERAS_SCRIPT = textwrap.dedent("""
    import os, sys, json
    os.environ["KERAS_BACKEND"] = "torch"
    import numpy as np, keras, torch
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")  # else layers compute in float32
    rng = np.random.default_rng(0)
    x, y = (torch.tensor(a) for a in (rng.normal(size=(16, 3)), rng.normal(size=(16, 1))))

    def run(spec):
        layers = [keras.Input((3,)), keras.layers.Dense(4, activation="tanh")]
        if spec["batchnorm"]:
            layers.append(keras.layers.BatchNormalization(momentum=0.8))
        layers += [keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)]
        model = keras.Sequential(layers)
        model.set_weights([np.asarray(w) for w in spec["weights"]])
        optimizer = keras.optimizers.Adam(0.05, amsgrad=spec["amsgrad"])

        # Keras's own train step takes its loss in float32 whatever floatx is; this loop
        # keeps float64 end to end and uses Keras's layers and optimizer as they are.
        def step():
            variables = model.trainable_variables
            loss = torch.mean((model(x, training=True) - y) ** 2)
            grads = torch.autograd.grad(loss, [v.value for v in variables])
            optimizer.apply(list(grads), variables)

        for _ in range(3):
            step()
        model.layers[spec["frozen"]].trainable = False
        for _ in range(10):
            step()
        return [np.asarray(w).tolist() for w in model.get_weights()]

    print(json.dumps([run(spec) for spec in json.loads(sys.stdin.read())]))
""")
KERAS_CASES = [(False, 1, False), (False, 0, True), (True, 1, False), (True, 2, True)]


def _keras_available() -> bool:
    # Looked up, not imported: Keras picks its backend once, at import.
    return all(importlib.util.find_spec(name) is not None for name in ("keras", "torch"))


def freeze_case(batchnorm: bool, backend: str = "numpy") -> nn.Sequential:
    layers = [nn.layers.Dense(4, input_dim=3, activation="tanh")]
    if batchnorm:
        layers.append(nn.layers.BatchNormalization(momentum=0.8))
    layers += [nn.layers.Dense(3, activation="tanh"), nn.layers.Dense(1)]
    return nn.Sequential(layers, seed=0, backend=backend, dtype="float64")


@pytest.fixture(scope="module")
def keras_freeze_runs():
    """Keras's weights for every case of KERAS_CASES, from one child process (importing
    Keras and torch takes seconds) that leaves this process's modules alone."""
    import json

    specs = [{"batchnorm": bn, "frozen": frozen, "amsgrad": amsgrad,
              "weights": [w.tolist() for w in freeze_case(bn).get_weights()]}
             for bn, frozen, amsgrad in KERAS_CASES]
    done = subprocess.run([sys.executable, "-c", KERAS_SCRIPT], input=json.dumps(specs),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(zip(KERAS_CASES, json.loads(done.stdout.strip().splitlines()[-1])))


@pytest.mark.skipif(not _keras_available(), reason="keras and torch (the oracle extra) "
                    "are not installed")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", KERAS_CASES, ids=["dense1", "dense0-amsgrad", "batchnorm",
                                                   "dense2-amsgrad-bn"])
def test_freezing_mid_training_matches_keras(keras_freeze_runs, backend, case):
    """Keras 3 (torch backend, float64) and nncore, same initial weights: three Adam steps,
    freeze a layer (a Dense, or a BatchNormalization that then runs in inference mode),
    ten more steps. Tolerance rtol 1e-5, atol 1e-6: Keras 3 on torch evaluates even a
    float64 Dense + tanh only to about 5e-8 of the exact value (measured), which after 13
    steps leaves about 1e-7 between the two; the defect this guards against (moments
    rebuilt as zeros) moves the weights by about 1e-2."""
    batchnorm, frozen, amsgrad = case
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    model = freeze_case(batchnorm, backend)
    model.compile(nn.optimizers.Adam(0.05, amsgrad=amsgrad), "mse")
    for _ in range(3):
        model.train_on_batch(x, y)
    model.layers[frozen].trainable = False
    for _ in range(10):
        model.train_on_batch(x, y)
    for got, want in zip(model.get_weights(), keras_freeze_runs[case]):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)


def test_a_fitted_grid_search_holding_models_pickles():
    """A GridSearchCV whose estimator keeps a trained native model used to SIGSEGV when
    pickled; run in a child process, which must exit cleanly."""
    pytest.importorskip("sklearn", reason="scikit-learn is in the oracle extra")
    script = textwrap.dedent("""
        import pickle, numpy as np, nncore as nn
        from sklearn.base import BaseEstimator, ClassifierMixin
        from sklearn.model_selection import GridSearchCV

        class Net(ClassifierMixin, BaseEstimator):
            def __init__(self, units=4):
                self.units = units
            def fit(self, X, y):
                self.model_ = nn.Sequential([
                    nn.layers.Dense(self.units, input_dim=X.shape[1], activation="relu"),
                    nn.layers.Dense(2, activation="softmax")], seed=0)
                self.model_.compile("adam", "sparse_categorical_crossentropy")
                self.model_.fit(X, y, epochs=3, verbose=0)
                self.classes_ = np.array([0, 1])
                return self
            def predict(self, X):
                return self.model_.predict(X).argmax(axis=1)

        rng = np.random.default_rng(0)
        X = rng.normal(size=(60, 3)).astype(np.float32)
        y = (X[:, 0] > 0).astype(np.int64)
        search = GridSearchCV(Net(), {"units": [2, 4]}, cv=2).fit(X, y)
        again = pickle.loads(pickle.dumps(search))
        assert np.array_equal(again.predict(X), search.predict(X))
        print("same")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "same"
