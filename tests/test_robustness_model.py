"""Fuzzing the model API: Sequential.fit / train_on_batch / evaluate / test_on_batch /
predict / predict_on_batch / compile / set_weights, the layers' constructors, and the
activation and loss functions on arrays.

Each case takes a compiled model one step into training (so the optimizer has slots),
valid data for it, and spoils one argument in one way (see robustness_profile for the
inputs). Whatever the input:

- the call works, or raises ValueError/TypeError whose message names the argument;
- a refused call leaves the model bit-identical: weights, batch-norm statistics,
  optimizer slots and step count, random-generator states, compile settings, config;
- inference (predict, evaluate, test_on_batch) changes nothing, even when it works;
- a conversion the API does on its own (lists, DataFrame-like objects, int/bool/float16
  or byte-swapped data, strided, Fortran-ordered, read-only or misaligned arrays) gives
  bit for bit what the caller gets by converting first: nothing is truncated or guessed.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

pytest.register_assert_rewrite("robustness_profile")

import nncore as nn  # noqa: E402
from conftest import BACKENDS  # noqa: E402
from robustness_profile import (  # noqa: E402
    DTYPE_NAMES, FrameLike, as_dtype_family, assert_unchanged, attempt, budget, hang_guard,
    hostile_values, misaligned, readonly, snapshot, strided,
)

pytest_plugins = ("robustness_profile",)

# --------------------------------------------------------------------------- models
ARCHS = {
    # name: (hidden layers, output units and activation, loss, metrics, kind of targets)
    "sparse": (lambda d: [nn.layers.Dense(5, input_dim=d, activation="relu")], 3, "softmax",
               "sparse_categorical_crossentropy", ["accuracy"], "labels"),
    "onehot": (lambda d: [nn.layers.Dense(6, input_dim=d, activation="tanh")], 3, "softmax",
               "categorical_crossentropy", ["accuracy"], "onehot"),
    "binary": (lambda d: [nn.layers.Dense(4, input_dim=d, activation="relu")], 1, "sigmoid",
               "binary_crossentropy", ["accuracy"], "binary"),
    "regression": (lambda d: [nn.layers.Dense(5, input_dim=d, activation="elu")], 2, "linear",
                   "mse", ["mae"], "real"),
    "huber": (lambda d: [nn.layers.Dense(3, input_dim=d, activation="gelu")], 2, None,
              nn.losses.Huber(0.5), [], "real"),
    "noisy": (lambda d: [nn.layers.Dense(6, input_dim=d, activation="relu"),
                       nn.layers.BatchNormalization(), nn.layers.Dropout(0.3)], 3, "softmax",
              "sparse_categorical_crossentropy", ["accuracy"], "labels"),
}
OPTIMIZERS = {
    "adam": lambda: nn.optimizers.Adam(0.01, amsgrad=True),
    "sgd": lambda: nn.optimizers.SGD(0.05, momentum=0.9, nesterov=True, clipnorm=1.0),
    "rmsprop": lambda: nn.optimizers.RMSprop(0.01, centered=True, momentum=0.5),
    "adagrad": lambda: nn.optimizers.Adagrad(0.05, global_clipnorm=2.0),
    "adamw": lambda: nn.optimizers.AdamW(0.01, clipvalue=0.5),
}
METHODS = ("fit", "train_on_batch", "evaluate", "test_on_batch", "predict", "predict_on_batch")
INFERENCE = ("evaluate", "test_on_batch", "predict", "predict_on_batch")


def targets(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "labels":
        return rng.integers(0, 3, size=n)
    if kind == "onehot":
        return np.eye(3)[rng.integers(0, 3, size=n)]
    if kind == "binary":
        return rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    return rng.normal(size=(n, 2))


def make_model(arch: str, backend: str, dtype: str, optimizer: str, seed: int = 0,
               built: bool = True):
    """A compiled model one training step in (optimizer slots exist), or (``built``
    False) compiled but not yet built: its first fit or predict builds it."""
    hidden, units, activation, loss, metrics, kind = ARCHS[arch]
    model = nn.Sequential(hidden(4 if built else None)
                          + [nn.layers.Dense(units, activation=activation)],
                          seed=seed, backend=backend, dtype=dtype)
    model.compile(OPTIMIZERS[optimizer](), loss if isinstance(loss, str) else
                  nn.losses.Huber(0.5), metrics)
    if built:
        rng = np.random.default_rng(seed)
        model.train_on_batch(rng.normal(size=(6, 4)), targets(kind, 6, rng))
    return model


# --------------------------------------------------------------------------- spoiling
ARRAY_KINDS = ("dtype", "byteswap", "0-d", "add-axis", "drop-axis", "transpose", "longer",
               "shorter", "more-rows", "empty", "empty-last", "strided", "fortran", "readonly",
               "values", "list", "tuple", "frame", "scalar", "string", "none", "ragged",
               "generator", "dict", "nested-object", "misaligned")
LABEL_KINDS = ("out-of-range", "negative", "fraction", "wider", "narrower", "above-one",
               "soft", "as-labels", "as-onehot", "bool")
SHAPE_KINDS = ("0-d", "add-axis", "drop-axis", "transpose", "longer", "shorter", "more-rows",
               "empty", "empty-last", "wider", "narrower", "as-labels", "as-onehot")
SAME_VALUES = ("strided", "fortran", "readonly", "list", "tuple", "frame", "byteswap",
               "misaligned")
SCALARS = {
    "batch_size": (0, -1, 1, 2, 10**30, 2.0, True, None, "32", np.int64(3), 1e300),
    "epochs": (0, 1, 2, -1, 1.5, None, True, "1", np.uint8(1)),
    "verbose": (0, 1, 2, -1, "auto", True, None, "1", 0.0),
    "validation_split": (0.0, 0.2, 0.5, 0.99, 1.0, -0.1, np.nan, np.inf, "0.2", True, None),
    "initial_epoch": (0, 1, 5, -1, 1.5, None),
    "shuffle": (True, False, 0, 1, "batch", None),
    "return_dict": (True, False, 1, None),
    "callbacks": (5, "x", [1], [None], (), [nn.callbacks.Callback()], None, object()),
    "validation_data": ("xy", 3, (), (1,), ("a", "b"), "spoil-x", "spoil-y", "three",
                        "four", "list"),
}
CLASS_WEIGHTS = ({0: 1.0, 1: 2.0, 2: 0.5}, {0: 1.0}, {0: -1.0, 1: 1.0, 2: 1.0},
                 {0: np.nan, 1: 1.0, 2: 1.0}, {"0": 1.0, 1: 1.0, 2: 1.0},
                 {0.0: 1.0, 1: 1.0, 2: 1.0}, {0: 1.0, 1: 1.0, 2: 1.0, 10**12: 1.0},
                 {True: 1.0, 0: 1.0, 2: 1.0}, [1.0, 2.0, 3.0], {}, {-1: 1.0},
                 {0: "1", 1: 1.0, 2: 1.0}, {0: 1e300, 1: 1.0, 2: 1.0},
                 {0: 10**400, 1: 1, 2: 1}, "balanced", {0: 1.0, 1: 1.0, 2: 1.0, 5: 3.0})


def spoil_array(value, kind: str, param: int):
    """``value`` spoiled by ``kind`` (arrays: see robustness_profile; the rest here)."""
    a = np.asarray(value)
    if kind == "dtype":
        return as_dtype_family(a, DTYPE_NAMES[param % len(DTYPE_NAMES)])
    if kind == "byteswap":
        return a.astype(a.dtype.newbyteorder())
    if kind == "0-d":
        return np.asarray(a.reshape(-1)[0])
    if kind == "add-axis":
        return a[None] if param % 2 else a[..., None]
    if kind == "drop-axis":
        return a.reshape(-1) if a.ndim > 1 else np.asarray(a[0])
    if kind == "transpose":
        return np.ascontiguousarray(a.T)
    if kind in ("longer", "shorter", "more-rows", "empty", "empty-last"):
        axis = 0 if kind in ("more-rows", "empty") else a.ndim - 1
        size = a.shape[axis]
        new = {"longer": size + 1, "shorter": size - 1 if size > 1 else size + 2,
               "more-rows": size + 1, "empty": 0, "empty-last": 0}[kind]
        return np.take(a, np.arange(new) % size, axis=axis)
    if kind == "strided":
        return strided(a)
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "readonly":
        return readonly(a)
    if kind == "misaligned":
        return misaligned(a)
    if kind == "values":
        return hostile_values(a.astype(np.float64), param, param // 5)
    if kind == "list":
        return a.tolist()
    if kind == "tuple":
        return tuple(map(tuple, a)) if a.ndim == 2 else tuple(a.tolist())
    if kind == "frame":
        return FrameLike(a)
    if kind == "scalar":
        return 1.0
    if kind == "string":
        return "1,2,3,4"
    if kind == "none":
        return None
    if kind == "ragged":
        rows = a.tolist() if a.ndim else [a.item()]
        return [rows[0], [rows[0]] if not isinstance(rows[0], list) else rows[0][:-1]] + rows
    if kind == "generator":
        return (row for row in a)
    if kind == "dict":
        return {"x": a}
    if kind == "nested-object":
        return [[1.0, "2"], [3.0, None]]
    raise AssertionError(kind)


def spoil_targets(y: np.ndarray, kind: str, param: int):
    """Targets wrong (or right) for the loss in a way only the loss can tell."""
    y = np.asarray(y)
    i = param % len(y)
    if kind == "out-of-range":
        out = y.astype(np.float64).copy()
        out.reshape(len(y), -1)[i, 0] = 3 + param % 5 if y.ndim == 1 else 7
        return out.astype(y.dtype) if y.dtype.kind in "iu" else out
    if kind == "negative":
        out = y.astype(np.int64 if y.ndim == 1 else np.float64).copy()
        out.reshape(len(y), -1)[i, 0] = -1
        return out
    if kind == "fraction":
        return y + 0.5
    if kind == "wider":
        return np.concatenate([y.reshape(len(y), -1), np.zeros((len(y), 1))], axis=1)
    if kind == "narrower":
        two_d = y.reshape(len(y), -1)
        return two_d[:, :-1] if two_d.shape[1] > 1 else two_d[:, :0]
    if kind == "above-one":
        return np.asarray(y, dtype=np.float64) * 2 + 1
    if kind == "soft":
        rng = np.random.default_rng(param)
        p = rng.uniform(size=(len(y), 3))
        return p / p.sum(axis=1, keepdims=True)
    if kind == "as-labels":
        return np.arange(len(y)) % 3
    if kind == "as-onehot":
        return np.eye(3)[np.arange(len(y)) % 3]
    if kind == "bool":
        return np.asarray(y).astype(bool)
    raise AssertionError(kind)


def expected(target: str, kind: str, spoiled, method: str, model, built: bool) -> str | None:
    """"refuse", "ok", "same" (works and equals the caller converting first), or None
    (either; then only the message and the state are checked)."""
    dtype = model.dtype
    if target in ("x", "validation_x"):
        if kind in ("dtype", "byteswap"):
            real = np.asarray(spoiled).dtype.kind in "biuf"
            if not real:
                return "refuse"
            converted = np.asarray(spoiled).astype(dtype)
            return "same" if np.isfinite(converted).all() else "refuse"
        if kind in SAME_VALUES:
            return "same"
        if kind == "more-rows":
            return "ok" if method in ("predict", "predict_on_batch") else "refuse"
        if kind == "values":
            with np.errstate(over="ignore"):
                return "ok" if np.isfinite(np.asarray(spoiled, dtype=dtype)).all() else "refuse"
        if kind in ("transpose", "longer", "shorter") and not built:
            return None  # an unbuilt model takes any number of features
        if kind == "transpose":
            return None if np.shape(spoiled)[1] == 4 else "refuse"
        return "refuse"
    if target == "y":
        if kind in ("dtype", "byteswap") and np.asarray(spoiled).dtype.kind not in "biuf":
            return "refuse"
        if kind in SAME_VALUES:
            return "same"
        if kind in ("scalar", "string", "ragged", "generator", "dict", "nested-object",
                    "0-d", "empty", "more-rows", "none"):
            return "refuse"
        real = model.loss.name in ("mean_squared_error", "huber")
        if kind in ("out-of-range", "negative", "fraction"):
            # y + 0.5 is a fine probability for binary and one-hot targets
            return "ok" if real else None if kind == "fraction" and \
                model.loss.name != "sparse_categorical_crossentropy" else "refuse"
        if kind == "above-one":  # 2 y + 1: a label still in range, a probability not
            return "ok" if real else "refuse" if model.loss.name in (
                "binary_crossentropy", "categorical_crossentropy") else None
        return None
    if target == "sample_weight":
        if kind == "none":
            return "ok"
        if kind in SAME_VALUES:
            return "same"
        if kind in ("dtype", "byteswap"):
            arr = np.asarray(spoiled)
            if arr.dtype.kind not in "biuf":
                return "refuse"
            with np.errstate(over="ignore", invalid="ignore"):
                converted = arr.astype(dtype)
            if not np.isfinite(converted).all() or (converted < 0).any():
                return "refuse"
            return "same"
        if kind == "values":
            with np.errstate(over="ignore"):
                converted = np.asarray(spoiled, dtype=dtype)
            return "ok" if np.isfinite(converted).all() and (converted >= 0).all() \
                else "refuse"
        return "refuse" if kind != "transpose" else None
    return None


@st.composite
def cases(draw):
    arch = draw(st.sampled_from(list(ARCHS)))
    case = {
        "arch": arch, "backend": draw(st.sampled_from(BACKENDS)),
        "dtype": draw(st.sampled_from(["float32", "float64"])),
        "optimizer": draw(st.sampled_from(list(OPTIMIZERS))),
        "method": draw(st.sampled_from(METHODS)), "n": draw(st.integers(1, 9)),
        "seed": draw(st.integers(0, 1000)), "param": draw(st.integers(0, 2**10)),
        "with_sw": draw(st.booleans()), "built": draw(st.sampled_from([True] * 4 + [False])),
    }
    has_y = case["method"] not in ("predict", "predict_on_batch")
    choices = ["x", "x", "clean"]
    if has_y:
        choices += ["y", "y", "y", "sample_weight", "class_weight", "scalar"]
    if case["method"] == "predict":
        choices += ["scalar"]
    target = draw(st.sampled_from(choices))
    kind = None
    if target in ("x", "sample_weight"):
        kind = draw(st.sampled_from(ARRAY_KINDS))
    elif target == "y":
        kind = draw(st.sampled_from(ARRAY_KINDS + LABEL_KINDS))
    elif target == "class_weight":
        kind = draw(st.sampled_from(range(len(CLASS_WEIGHTS))))
    elif target == "scalar":
        allowed = {"fit": ["batch_size", "epochs", "verbose", "validation_split",
                           "initial_epoch", "shuffle", "callbacks", "validation_data"],
                   "evaluate": ["batch_size", "verbose", "return_dict"],
                   "train_on_batch": ["return_dict"], "test_on_batch": ["return_dict"],
                   "predict": ["batch_size", "verbose"]}[case["method"]]
        target = draw(st.sampled_from(allowed))
        kind = draw(st.sampled_from(range(len(SCALARS[target]))))
    case.update(target=target, kind=kind)
    return case


def build_call(case: dict, model):
    """(kwargs for the method, the names a refusal must mention)."""
    rng = np.random.default_rng(case["seed"])
    n = case["n"]
    _, _, _, _, _, kind = ARCHS[case["arch"]]
    x, y = rng.normal(size=(n, 4)), targets(kind, n, rng)
    sw = rng.uniform(0.5, 2.0, size=n) if case["with_sw"] else None
    method, target, spoil, param = case["method"], case["target"], case["kind"], case["param"]
    kwargs = {"x": x}
    if method not in ("predict", "predict_on_batch"):
        kwargs["y"] = y
        if method != "test_on_batch" or sw is not None:
            kwargs["sample_weight"] = sw
    if method == "fit":
        kwargs.update(epochs=1 + param % 2, batch_size=1 + param % 4, verbose=0)
    names = ()
    if target == "x":
        kwargs["x"], names = spoil_array(x, spoil, param), ("x",)
    elif target == "y":
        kwargs["y"] = spoil_targets(y, spoil, param) if spoil in LABEL_KINDS \
            else spoil_array(y, spoil, param)
        names = ("y",)
    elif target == "sample_weight":
        base = sw if sw is not None else np.ones(n)
        kwargs["sample_weight"] = spoil_array(base, spoil, param)
        names = ("sample_weight",)
    elif target == "class_weight":
        kwargs["class_weight"], names = CLASS_WEIGHTS[spoil], ("class_weight",)
        if method in ("evaluate", "test_on_batch"):
            kwargs.pop("class_weight")  # Keras's evaluate takes none
    elif target is not None and target != "clean":
        value = SCALARS[target][spoil]
        names = (target,)
        if target == "validation_data":
            vx, vy = rng.normal(size=(3, 4)), targets(kind, 3, rng)
            value = {"xy": (vx, vy), "spoil-x": (vx[:, :2], vy),
                     "spoil-y": (vx, np.full(np.shape(vy), np.nan)),
                     "three": (vx, vy, np.ones(3)), "four": (vx, vy, None, None),
                     "list": [vx, vy]}.get(value, value)
        kwargs[target] = value
    return kwargs, names


def run(model, method: str, kwargs: dict, names=()):
    with warnings.catch_warnings(), np.errstate(all="ignore"), \
            hang_guard(60, f"Sequential.{method}"):
        warnings.simplefilter("ignore")
        return attempt(f"Sequential.{method}", lambda: getattr(model, method)(**kwargs),
                       names)


def same_result(a, b) -> bool:
    """Results of two calls equal bit for bit (NaN equal to NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a).dtype == np.asarray(b).dtype and \
            np.asarray(a).tobytes() == np.asarray(b).tobytes()
    if isinstance(a, nn.callbacks.History):
        return repr(a.history) == repr(b.history)
    return repr(a) == repr(b)


TRAINED_STATE = ("weights", "slots", "iterations", "rng", "layer_rngs")


@budget(2000)
@given(cases())
def test_model_methods_work_or_refuse_and_change_nothing(case):
    model = make_model(case["arch"], case["backend"], case["dtype"], case["optimizer"],
                       built=case["built"])
    kwargs, names = build_call(case, model)
    before = snapshot(model)
    outcome, value = run(model, case["method"], kwargs, names)
    what = f"{case} -> {outcome} {value!r}"[:2000]
    spoiled = kwargs.get(case["target"]) if case["target"] in ("x", "y", "sample_weight") \
        else None
    want = expected(case["target"], case["kind"], spoiled, case["method"], model,
                    case["built"]) \
        if case["target"] in ("x", "y", "sample_weight") else None
    if case["target"] == "clean":
        want = "ok"
    if want == "refuse":
        assert outcome == "refused", what
    elif want in ("ok", "same"):
        assert outcome == "ok", what
    if outcome == "refused":
        assert_unchanged(model, before, what)
        return
    if case["method"] in INFERENCE and case["built"]:  # (an unbuilt model builds)
        after = snapshot(model)
        changed = [k for k in before if before[k] != after[k]]
        assert not changed, f"{what}: inference changed {changed}"
    if case["method"] in ("predict", "predict_on_batch"):
        assert isinstance(value, np.ndarray) and value.dtype == model.dtype
        assert value.shape == (len(np.asarray(kwargs["x"])), model.output_dim)
    if want == "same":
        # The caller converting first (np.asarray, then the model's dtype) gets the same.
        reference = make_model(case["arch"], case["backend"], case["dtype"],
                               case["optimizer"], built=case["built"])
        converted = dict(kwargs)
        arr = np.asarray(spoiled)
        converted[case["target"]] = np.ascontiguousarray(
            arr.astype(np.float64 if case["target"] == "y" else model.dtype))
        ref_outcome, ref_value = run(reference, case["method"], converted)
        assert ref_outcome == "ok", what
        assert same_result(value, ref_value), f"{what}\nreference: {ref_value!r}"
        ref_state, state = snapshot(reference), snapshot(model)
        for key in TRAINED_STATE:
            assert ref_state[key] == state[key], f"{what}: {key} differs from the reference"


# --------------------------------------------------------------------------- compile
COMPILE_ARGS = {
    "optimizer": ("adam", "sgd", "ADAM", "nope", None, 3, nn.optimizers.Adam, object(),
                  {"class_name": "Adam"}),
    "loss": ("mse", "categorical_crossentropy", "MeanSquaredError", "nope", None, 3,
             nn.losses.Huber(2.0), {"name": "huber", "config": {"delta": -1}},
             {"name": "mse", "config": {"bogus": 1}}, nn.losses.mean_squared_error, ""),
    "metrics": (None, ["accuracy"], "accuracy", ["nope"], [3], "mse", [None], ["mae", "mse"],
                5, [lambda t, p: t]),
}


@budget(120)
@given(st.sampled_from(list(COMPILE_ARGS)), st.integers(0, 100), st.sampled_from(BACKENDS))
def test_compile_works_or_refuses_and_keeps_the_old_settings(argument, index, backend):
    model = make_model("sparse", backend, "float32", "adam")
    values = COMPILE_ARGS[argument]
    kwargs = {"optimizer": "rmsprop", "loss": "sparse_categorical_crossentropy",
              "metrics": ["accuracy"]}
    kwargs[argument] = values[index % len(values)]
    before = snapshot(model)
    outcome, value = attempt("Sequential.compile", lambda: model.compile(**kwargs),
                             # or the key inside a config dict that is wrong
                             (argument, "metric", "metrics", "delta", "bogus"))
    if outcome == "refused":
        assert_unchanged(model, before, f"compile({kwargs})")


@budget(300)
@given(st.sampled_from(BACKENDS), st.integers(0, 11), st.sampled_from(ARRAY_KINDS),
       st.integers(0, 2**10))
def test_set_weights_works_or_refuses_and_changes_nothing(backend, which, kind, param):
    model = make_model("noisy", backend, "float32", "adam")
    weights = model.get_weights()
    which %= len(weights)
    spoiled = list(weights)
    spoiled[which] = spoil_array(weights[which], kind, param) if kind != "none" else None
    before = snapshot(model)
    outcome, value = attempt("Sequential.set_weights", lambda: model.set_weights(spoiled),
                             (f"weights[{which}]", "weights"))
    if outcome == "refused":
        assert_unchanged(model, before, f"set_weights {kind} at {which}")
    elif kind in SAME_VALUES:
        assert [w.tobytes() for w in model.get_weights()] == [w.tobytes() for w in weights]


# --------------------------------------------------------------------------- layers
LAYER_ARGS = {
    nn.layers.Dense: {
        "units": (1, 8, 0, -1, 2**31, 2**40, 1.5, "8", None, True, np.int64(4)),
        "activation": ("relu", "RELU", "softmax", None, "nope", 3, nn.activations.tanh,
                       np.tanh, ""),
        "input_dim": (None, 4, 0, -3, 2**31, 2.0, "4", True),
        "input_shape": (None, (4,), [4], 4, (4, 2), (), ("4",), (0,)),
        "kernel_initializer": ("glorot_uniform", "he_normal", "nope", None, 3,
                               {"class_name": "Zeros"}),
        "kernel_regularizer": (None, "l2", nn.regularizers.L2(0.1), "nope", -1.0,
                               {"class_name": "L1", "config": {"l1": -1}}),
        "name": (None, "dense_x", 3, ""),
    },
    nn.layers.Dropout: {"rate": (0.0, 0.5, 1.0, -0.1, np.nan, "0.5", None, True, 0.999),
                        "seed": (None, 0, -1, 2**70, 1.5, "1")},
    nn.layers.BatchNormalization: {
        "momentum": (0.0, 0.99, 1.0, 1.5, -1, np.nan, "x", None),
        "epsilon": (1e-3, 0.0, -1e-3, np.inf, 1e300, None, "1e-3"),
        "center": (True, False), "scale": (True, False),
        "gamma_initializer": ("ones", "nope", None),
    },
    nn.layers.Activation: {"activation": ("relu", "nope", None, 3, "elu", "")},
}
REQUIRED = {nn.layers.Dense: {"units": 3}, nn.layers.Dropout: {"rate": 0.5},
            nn.layers.BatchNormalization: {}, nn.layers.Activation: {"activation": "tanh"}}


@budget(250)
@given(st.sampled_from(list(LAYER_ARGS)), st.data())
def test_layers_accept_or_refuse_their_arguments_by_name(cls, data):
    argument = data.draw(st.sampled_from(list(LAYER_ARGS[cls])))
    value = data.draw(st.sampled_from(LAYER_ARGS[cls][argument]))
    kwargs = {**REQUIRED[cls], argument: value}
    outcome, layer = attempt(f"layers.{cls.__name__}", lambda: cls(**kwargs),
                             (argument, argument.split("_")[0], "identifier", "initializer",
                              "regularizer", "activation", "l1", "l2", "class_name"))
    if outcome == "ok":
        # A layer that was accepted builds, trains a step and predicts.
        first = [nn.layers.Dense(4, input_dim=4)] if getattr(layer, "input_dim", None) in \
            (None, 4) else []
        model = nn.Sequential(first + [layer, nn.layers.Dense(2)], seed=0)
        model.compile("sgd", "mse")
        model.build(layer.input_dim or 4) if not model.built else None
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.train_on_batch(np.ones((3, model.input_dim)), np.zeros((3, 2)))
            assert model.predict(np.ones((2, model.input_dim))).shape == (2, 2)


# --------------------------------------------------------------------------- functions
ACTIVATION_FUNCTIONS = [getattr(nn.activations, name) for name in nn.backends.base.ACTIVATIONS]
LOSS_FUNCTIONS = [nn.losses.mean_squared_error, nn.losses.mean_absolute_error,
                  nn.losses.huber, nn.losses.binary_crossentropy,
                  nn.losses.categorical_crossentropy, nn.losses.sparse_categorical_crossentropy,
                  nn.losses.MeanSquaredError(), nn.losses.BinaryCrossentropy(from_logits=True),
                  nn.losses.CategoricalCrossentropy(),
                  nn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  nn.losses.Huber(0.3), nn.losses.MeanAbsoluteError()]


@budget(600)
@given(st.sampled_from(ACTIVATION_FUNCTIONS), st.sampled_from(ARRAY_KINDS),
       st.integers(0, 2**10), st.sampled_from(BACKENDS))
def test_activation_functions(fn, kind, param, backend):
    x = np.random.default_rng(param).normal(size=(3, 4)) * 3
    spoiled = spoil_array(x, kind, param)
    with nn.use_backend(backend), np.errstate(all="ignore"):
        outcome, value = attempt("activations.*", lambda: fn(spoiled), ("x",))
    if outcome == "ok":
        arr = np.asarray(value)
        assert arr.shape == np.shape(np.asarray(spoiled)) and arr.dtype.kind == "f"
        if kind in SAME_VALUES:
            with nn.use_backend(backend):
                assert np.array_equal(fn(np.asarray(spoiled)), value, equal_nan=True)
        if kind == "dtype" and np.asarray(spoiled).dtype == np.float16:
            # float16 is upcast (to float32), never computed or returned in half precision.
            assert value.dtype == np.float32
            with nn.use_backend(backend):
                assert np.array_equal(fn(np.asarray(spoiled, np.float32)), value,
                                      equal_nan=True)


@budget(600)
@given(st.sampled_from(LOSS_FUNCTIONS), st.sampled_from(["y_true", "y_pred"]),
       st.sampled_from(ARRAY_KINDS + LABEL_KINDS), st.integers(0, 2**10),
       st.sampled_from(BACKENDS))
def test_loss_functions(fn, target, kind, param, backend):
    rng = np.random.default_rng(param)
    name = getattr(fn, "name", getattr(fn, "__name__", ""))
    sparse = "sparse" in name
    y_true = rng.integers(0, 3, size=5) if sparse else np.eye(3)[rng.integers(0, 3, size=5)]
    y_pred = rng.uniform(0.05, 0.95, size=(5, 3))
    args = {"y_true": y_true, "y_pred": y_pred}
    base = args[target]
    args[target] = spoil_targets(base, kind, param) if kind in LABEL_KINDS \
        else spoil_array(base, kind, param)
    # A shape that no longer matches may be reported from either side.
    names = ("y_true", "y_pred") if kind in SHAPE_KINDS else (target,)
    with nn.use_backend(backend), np.errstate(all="ignore"):
        outcome, value = attempt("losses.*", lambda: fn(args["y_true"], args["y_pred"]),
                                 names)
    if outcome == "ok":
        assert np.all(np.isfinite(value)) or kind in ("values", "dtype", "above-one",
                                                      "negative", "fraction")


# --------------------------------------------------------------------------- constructors
BAD_NUMBERS = (-1, 0, 0.5, 1, 1.5, 2, np.nan, np.inf, -np.inf, 1e300, 10**400, True, None,
               "0.1", [0.1], 1 + 1j, np.float32(0.9), np.int64(3), 2**70)
CONSTRUCTORS = {
    "Sequential": (lambda **kw: nn.Sequential([nn.layers.Dense(2, input_dim=3)], **kw),
                   {"seed": (None, 0, 7, -1, 2**70, 1.5, "1", True),
                    "backend": (None, "native", "numpy", "gpu", 3, ""),
                    "dtype": ("float32", "float64", np.float64, "float16", "int32", "f4",
                              "nope", 3, object, None),
                    "name": ("model", 3, None, "")}),
    "SGD": (nn.optimizers.SGD, {"learning_rate": BAD_NUMBERS, "momentum": BAD_NUMBERS,
                                "clipnorm": BAD_NUMBERS, "clipvalue": BAD_NUMBERS,
                                "global_clipnorm": BAD_NUMBERS, "weight_decay": BAD_NUMBERS}),
    "Adam": (nn.optimizers.Adam, {"learning_rate": BAD_NUMBERS, "beta_1": BAD_NUMBERS,
                                  "beta_2": BAD_NUMBERS, "epsilon": BAD_NUMBERS}),
    "RMSprop": (nn.optimizers.RMSprop, {"rho": BAD_NUMBERS, "momentum": BAD_NUMBERS,
                                        "epsilon": BAD_NUMBERS}),
    "Adagrad": (nn.optimizers.Adagrad, {"initial_accumulator_value": BAD_NUMBERS,
                                        "epsilon": BAD_NUMBERS}),
    "ExponentialDecay": (
        lambda **kw: nn.optimizers.schedules.ExponentialDecay(
            **{"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9, **kw}),
        {"initial_learning_rate": BAD_NUMBERS, "decay_steps": BAD_NUMBERS,
         "decay_rate": BAD_NUMBERS, "staircase": (True, False, None)}),
    "CosineDecay": (
        lambda **kw: nn.optimizers.schedules.CosineDecay(
            **{"initial_learning_rate": 0.1, "decay_steps": 10, **kw}),
        {"alpha": BAD_NUMBERS, "warmup_target": BAD_NUMBERS, "warmup_steps": BAD_NUMBERS,
         "decay_steps": BAD_NUMBERS}),
    "PiecewiseConstantDecay": (
        lambda **kw: nn.optimizers.schedules.PiecewiseConstantDecay(
            **{"boundaries": [10, 20], "values": [0.1, 0.01, 0.001], **kw}),
        {"boundaries": ([10, 20], [20, 10], [1], 5, None, [np.nan, 1], ["a", "b"]),
         "values": ([0.1, 0.01, 0.001], [1, 2], [np.nan, 1, 2], 3, None, [-1, 1, 1])}),
    "EarlyStopping": (nn.callbacks.EarlyStopping,
                      {"monitor": ("loss", "val_accuracy", 3, None, ""),
                       "min_delta": BAD_NUMBERS, "patience": BAD_NUMBERS,
                       "mode": ("auto", "min", "max", "nope", 3),
                       "baseline": BAD_NUMBERS, "start_from_epoch": BAD_NUMBERS}),
    "ModelCheckpoint": (
        lambda **kw: nn.callbacks.ModelCheckpoint(**{"filepath": "m.nnc", **kw}),
        {"filepath": ("m.nnc", 3, None, b"m.nnc"), "monitor": ("loss", 3, None),
         "mode": ("min", "nope", 3)}),
    "LearningRateScheduler": (nn.callbacks.LearningRateScheduler,
                              {"schedule": (lambda e: 0.1, lambda e, lr: lr, 3, None, "x")}),
    "TerminateOnNaN": (nn.callbacks.TerminateOnNaN,
                       {"restore_weights": (True, False, 1, "yes", None)}),
}


@budget(400)
@given(st.sampled_from(list(CONSTRUCTORS)), st.data())
def test_constructors_accept_or_refuse_by_name(name, data):
    make, arguments = CONSTRUCTORS[name]
    argument = data.draw(st.sampled_from(list(arguments)))
    value = data.draw(st.sampled_from(arguments[argument]))
    outcome, obj = attempt(f"constructors.{name}", lambda: make(**{argument: value}),
                           (argument,))
    if outcome == "ok" and name == "Sequential":
        # dtype=None is float32, as Keras (NumPy alone would say float64).
        assert obj.dtype == (np.float64 if value in ("float64", np.float64) else np.float32)
    if outcome == "ok" and isinstance(obj, nn.optimizers.schedules.LearningRateSchedule):
        # A schedule that was accepted gives a learning rate at every step (inf when a
        # growing rate passes float's range), never an exception in the middle of fit.
        for step in (0, 1, 10, 10**6, 10**12):
            lr = attempt(f"constructors.{name}(step)", lambda: obj(step))[1]
            assert isinstance(lr, float) and not np.isnan(lr) and lr >= 0
    elif outcome == "ok" and isinstance(obj, nn.optimizers.Optimizer):
        # ... and an accepted optimizer takes a step.
        w, g = np.ones(3, np.float32), np.full(3, 0.5, np.float32)
        with np.errstate(all="ignore"):
            obj.apply([w], [g], nn.backends.get_backend("numpy"))


# --------------------------------------------------------------------------- structure
ADDITIONS = {
    "dense": lambda: nn.layers.Dense(2),
    "dense with the right input_dim": lambda: nn.layers.Dense(2, input_dim=3),
    "dense with the wrong input_dim": lambda: nn.layers.Dense(2, input_dim=7),
    "a layer of another model": lambda: nn.Sequential([nn.layers.Dense(2, input_dim=3)])
    .layers[0],
    "a taken name": lambda: nn.layers.Dense(2, name="dense"),
    "a class, not an instance": lambda: nn.layers.Dense,
    "a number": lambda: 3,
    "None": lambda: None,
    "an activation name": lambda: "relu",
}


@budget(150)
@given(st.sampled_from(list(ADDITIONS)), st.sampled_from(["add", "build"]),
       st.sampled_from([3, 4, 0, -1, 2.0, None, "3", 2**31, True]), st.booleans())
def test_add_and_build_refusals_change_nothing(addition, method, dim, built):
    first = nn.layers.Dense(3, input_dim=5, activation="relu") if built else \
        nn.layers.Dense(3, activation="relu")
    model = nn.Sequential([first], seed=0)
    model.compile("adam", "mse")
    before = snapshot(model)
    count = len(model.layers)
    if method == "add":
        outcome, _ = attempt("Sequential.add", lambda: model.add(ADDITIONS[addition]()),
                             ("layer", "input_dim", "names", "Layer"))
    else:
        outcome, _ = attempt("Sequential.build", lambda: model.build(dim),
                             ("input_dim", "x"))
    if outcome == "refused":
        assert len(model.layers) == count
        assert_unchanged(model, before, f"{method} {addition} {dim}")


# --------------------------------------------------------------------------- every layout
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_layout_of_every_argument_gives_the_converted_result(backend):
    """Not sampled but swept: each method, each model, each of x, y and sample_weight in
    each form that holds the same values (strided, Fortran, read-only, misaligned, list,
    tuple, DataFrame-like, byte-swapped) gives bit for bit what the caller gets by
    converting first. (A misaligned int64 y once reached the loss kernel as it was.)"""
    rng = np.random.default_rng(5)
    for arch in ARCHS:
        kind = ARCHS[arch][5]
        x, y = rng.normal(size=(7, 4)), targets(kind, 7, rng)
        sw = rng.uniform(0.5, 2.0, size=7)
        for method in METHODS:
            for target in ("x", "y", "sample_weight"):
                if target != "x" and method in ("predict", "predict_on_batch"):
                    continue
                for layout in SAME_VALUES:
                    kwargs = {"x": x} if method in ("predict", "predict_on_batch") else \
                        {"x": x, "y": y, "sample_weight": sw}
                    if method == "fit":
                        kwargs.update(epochs=1, batch_size=3, verbose=0)
                    clean = dict(kwargs)
                    kwargs[target] = spoil_array(kwargs[target], layout, 0)
                    model = make_model(arch, backend, "float32", "adam")
                    reference = make_model(arch, backend, "float32", "adam")
                    outcome, value = run(model, method, kwargs, (target,))
                    what = f"{arch} {method} {target} {layout}: {value!r}"
                    assert outcome == "ok", what
                    ref_outcome, ref_value = run(reference, method, clean)
                    assert ref_outcome == "ok" and same_result(value, ref_value), what
                    assert all(snapshot(model)[k] == snapshot(reference)[k]
                               for k in TRAINED_STATE), what
