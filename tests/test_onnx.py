"""ONNX export (nncore/onnx.py): onnxruntime runs the exported graph and gets what
``model.predict`` gets, for every layer and activation, on both backends; what has no
exact ONNX form is refused; ``save`` refuses other libraries' file extensions.

Tolerance: float32 rtol = atol = 1e-6. onnxruntime's GEMM (MLAS) and nncore's (OpenBLAS,
or NumPy's) sum in different orders, and ONNX has no log1p/expm1, so a float32 output
may differ by a few ulps of its magnitude (6e-8 each near 1); 1e-6 allows ~10 ulps and
catches any wrong formula, constant or layout (those err by 1e-3 or more). float64:
1e-12, for the same reasons at 16 digits.
"""
from __future__ import annotations

import math
import os
import re
import sys

import numpy as np
import pytest

import nncore as nn
from nncore import onnx as nnc_onnx
from conftest import BACKENDS

TOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}
ACTIVATIONS = nnc_onnx.EXPORTABLE_ACTIVATIONS


def _onnx():
    return pytest.importorskip("onnx", reason="ONNX export needs onnx (pip install nncore[onnx])")


def _run(proto, x: np.ndarray) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime", reason="the exported graphs run in onnxruntime")
    session = ort.InferenceSession(proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


def _assert_same(proto, model, x) -> float:
    """onnxruntime's output equals predict's; returns the largest difference."""
    expected, got = model.predict(x), _run(proto, x)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    tol = TOL[model.dtype]
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    return float(np.max(np.abs(got - expected), initial=0.0))


def _inputs(rng, n: int, d: int, dtype) -> np.ndarray:
    # Wide range: both sides of every activation's kink, saturated sigmoids and tails.
    x = rng.normal(scale=3.0, size=(n, d))
    x[0, : min(d, 3)] = [0.0, -30.0, 30.0][: min(d, 3)]
    return x.astype(dtype)


def _stack(activation: str, backend: str, dtype="float32", seed: int = 0):
    """Dense -> Activation -> Dense, odd widths, random biases."""
    return nn.Sequential([
        nn.layers.Dense(7, input_dim=5, activation=activation,
                        bias_initializer="random_normal"),
        nn.layers.Activation(activation),
        nn.layers.Dense(3, activation=activation, bias_initializer="random_normal"),
    ], seed=seed, backend=backend, dtype=dtype)


def _randomize_batch_norm(model, rng) -> None:
    """gamma, beta and the moving statistics far from their initial 1, 0, 0, 1, as after
    training (variance positive, some below epsilon's scale)."""
    for layer in model.layers:
        if isinstance(layer, nn.layers.BatchNormalization):
            d = layer.input_dim
            values = {"gamma": rng.normal(size=d), "beta": rng.normal(size=d),
                      "moving_mean": rng.normal(scale=2.0, size=d),
                      "moving_variance": rng.uniform(1e-4, 4.0, size=d)}
            layer.set_weights([values[name] for name in layer.weight_names + layer.state_names])


# --------------------------------------------------------------------------- equality
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_matches_predict(activation, backend):
    _onnx()
    rng = np.random.default_rng(ACTIVATIONS.index(activation))
    model = _stack(activation, backend)
    proto = nnc_onnx.to_onnx(model)
    for n in (1, 9):
        _assert_same(proto, model, _inputs(rng, n, 5, np.float32))


def _every_layer(backend: str, dtype="float32", activations=ACTIVATIONS):
    """Every layer kind (Dense with and without bias, BatchNormalization with and without
    scale/center, Dropout, Activation), every activation, softmax output."""
    layers = [nn.layers.Dense(9, input_dim=6, activation="relu")]
    for i, activation in enumerate(a for a in activations if a != "softmax"):
        layers.append(nn.layers.Dense(5 + 2 * (i % 3), activation=activation,
                                      use_bias=i % 4 != 1, bias_initializer="random_normal"))
        if i % 3 == 0:
            layers.append(nn.layers.BatchNormalization(scale=i % 2 == 0, center=i != 6))
        if i % 3 == 1:
            layers.append(nn.layers.Dropout(0.5))
        if i % 3 == 2:
            layers.append(nn.layers.Activation(activation))
    # The parametric layers, and a Dense given its slope by one.
    layers += [nn.layers.LeakyReLU(0.01), nn.layers.Dense(6, activation=nn.layers.ELU(0.7)),
               nn.layers.ELU(0.5), nn.layers.Dense(5, activation=nn.layers.LeakyReLU(0.001))]
    layers += [nn.layers.Dense(4), nn.layers.Softmax()]
    return nn.Sequential(layers, seed=3, backend=backend, dtype=dtype)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_layer_kind_matches_predict(backend):
    _onnx()
    rng = np.random.default_rng(1)
    model = _every_layer(backend)
    _randomize_batch_norm(model, rng)
    proto = nnc_onnx.to_onnx(model)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert kinds == {"Dense", "BatchNormalization", "Dropout", "Activation", "LeakyReLU",
                     "ELU", "Softmax"}
    assert {"Gemm", "Softmax", "Identity", "Sub", "Erf", "Where", "Cast"} <= {
        node.op_type for node in proto.graph.node}
    for n in (1, 13):
        _assert_same(proto, model, _inputs(rng, n, 6, np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_trained_model_matches_predict(backend):
    """After fit: moving statistics learnt, dropout trained with, softmax output."""
    _onnx()
    x, y = nn.datasets.load_iris()
    model = nn.Sequential([nn.layers.Dense(8, input_dim=4, activation="elu"),
                           nn.layers.BatchNormalization(momentum=0.5),
                           nn.layers.Dropout(0.2),
                           nn.layers.Dense(3, activation="softmax")], seed=0, backend=backend)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    proto = nnc_onnx.to_onnx(model)
    _assert_same(proto, model, x.astype(np.float32))
    probabilities = _run(proto, x[:5].astype(np.float32))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_model_exports_double(backend):
    onnx = _onnx()
    rng = np.random.default_rng(2)
    # onnxruntime's CPU provider has no double Erf: gelu is checked below, not run.
    runnable = tuple(a for a in ACTIVATIONS if a != "gelu")
    model = _every_layer(backend, "float64", runnable)
    _randomize_batch_norm(model, rng)
    proto = nnc_onnx.to_onnx(model)
    double = onnx.TensorProto.DOUBLE
    assert proto.graph.input[0].type.tensor_type.elem_type == double
    assert {t.data_type for t in proto.graph.initializer} == {double}
    for n in (1, 11):
        _assert_same(proto, model, _inputs(rng, n, 6, np.float64))
    gelu = nnc_onnx.to_onnx(_stack("gelu", backend, "float64"))
    assert gelu.graph.output[0].type.tensor_type.elem_type == double
    onnx.checker.check_model(gelu, full_check=True)


def test_alpha_is_exact_in_double():
    """leaky_relu's 0.2 is a constant of the model's dtype: 0.2 in double, not the float32
    0.2000000029802 an ONNX LeakyRelu attribute would hold."""
    _onnx()
    model = nn.Sequential([nn.layers.Activation("leaky_relu", input_dim=1)],
                          dtype="float64", backend="numpy")
    x = np.array([[-1.0]])
    assert _run(nnc_onnx.to_onnx(model), x)[0, 0] == model.predict(x)[0, 0] == -0.2


# --------------------------------------------------------------------------- the file
def test_export_writes_a_checked_file_with_a_dynamic_batch(tmp_path):
    onnx = _onnx()
    model = _every_layer("numpy")
    before = [w.copy() for w in model.get_weights()]
    path = tmp_path / "m.onnx"
    model.export(path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == nnc_onnx.DEFAULT_OPSET == 17
    assert proto.ir_version == 8
    assert proto.producer_name == "nncore"
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "input" and out.name == "output"
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in (inp, out)]
    assert dims == [["batch", 6], ["batch", 4]]
    rng = np.random.default_rng(4)
    for n in (1, 2, 17):  # one file, any batch size
        _assert_same(proto, model, _inputs(rng, n, 6, np.float32))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert os.listdir(tmp_path) == ["m.onnx"]  # no temporary file left behind


@pytest.mark.parametrize("opset", [13, 15, 17])
def test_opsets(opset):
    _onnx()
    model = _every_layer("numpy")
    proto = nnc_onnx.to_onnx(model, opset=opset)
    assert proto.opset_import[0].version == opset
    _assert_same(proto, model, _inputs(np.random.default_rng(opset), 3, 6, np.float32))


# --------------------------------------------------------------------------- refusals
def _dense_model():
    return nn.Sequential([nn.layers.Dense(2, input_dim=3)], seed=0, backend="numpy")


def test_refuses_what_has_no_exact_form(tmp_path):
    _onnx()

    class ScaledDense(nn.layers.Dense):
        """A subclass may compute anything in call(): not exported as a Dense."""

    model = nn.Sequential([nn.layers.Dense(4, input_dim=3), ScaledDense(2, name="mine")])
    with pytest.raises(ValueError, match="'mine' of type ScaledDense cannot be exported"):
        model.export(tmp_path / "m.onnx")
    model = _dense_model()
    # An activation without an exact ONNX form here (as one added later would be).
    model.layers[0].activation = "maxout"
    with pytest.raises(ValueError, match=r"Layer 'dense': activation 'maxout' has no exact"):
        model.export(tmp_path / "m.onnx")
    assert not os.listdir(tmp_path)


def test_refuses_bad_arguments(tmp_path):
    _onnx()
    with pytest.raises(ValueError, match="needs a built model"):
        nn.Sequential([nn.layers.Dense(2)]).export(tmp_path / "m.onnx")
    model = _dense_model()
    with pytest.raises(ValueError, match=r"must end in \.onnx.*filepath='.*m\.nnc'"):
        model.export(tmp_path / "m.nnc")
    with pytest.raises(ValueError, match="format must be 'onnx'. Received: format='tflite'"):
        model.export(tmp_path / "m.onnx", format="tflite")
    for bad in (3, b"m.onnx", None):
        with pytest.raises(TypeError, match=f"filepath must be .* Received: filepath={bad!r}"):
            model.export(bad)
    with pytest.raises(TypeError, match="opset must be an int. Received: opset='17'"):
        model.export(tmp_path / "m.onnx", opset="17")
    with pytest.raises(ValueError, match="opset must be between 13 and .* opset=12"):
        model.export(tmp_path / "m.onnx", opset=12)
    with pytest.raises(TypeError, match="model must be an nncore Sequential"):
        nnc_onnx.to_onnx(model.layers[0])
    with pytest.raises(FileNotFoundError):
        model.export(tmp_path / "missing" / "m.onnx")
    assert not os.listdir(tmp_path)


def test_refusal_keeps_the_previous_file(tmp_path):
    _onnx()
    path = tmp_path / "m.onnx"
    _dense_model().export(path)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        nn.Sequential([nn.layers.Dense(2, input_dim=3, activation="relu"),
                       nn.layers.Dense(2)], seed=0).export(path, opset=1000)
    assert path.read_bytes() == before


def test_without_onnx_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx then raises ImportError
    with pytest.raises(ImportError, match=r"pip install nncore\[onnx\]"):
        nnc_onnx.to_onnx(_dense_model())


# --------------------------------------------------------------------------- save()
@pytest.mark.parametrize("name", ["m.keras", "m.h5", "M.HDF5", "m.pt", "m.pkl", "m.onnx"])
def test_save_refuses_other_formats_extensions(tmp_path, name):
    model = _dense_model()
    ext = os.path.splitext(name)[1].lower()
    with pytest.raises(ValueError, match=re.escape(f"({ext}): name the file .nnc")):
        model.save(tmp_path / name)
    assert not os.listdir(tmp_path)


def test_save_points_onnx_to_export(tmp_path):
    with pytest.raises(ValueError, match=r"for ONNX use model\.export"):
        _dense_model().save(str(tmp_path / "m.onnx"))


@pytest.mark.parametrize("name", ["m.nnc", "model", "run.1", "weights.bin"])
def test_save_still_writes_nnc_and_other_names(tmp_path, name):
    model = _dense_model()
    model.save(tmp_path / name)
    x = np.ones((1, 3), np.float32)
    np.testing.assert_array_equal(nn.load_model(tmp_path / name).predict(x), model.predict(x))


def test_predicted_softmax_worked_example():
    """The course's 4-8-8-3 network, exported: same probabilities, rows summing to 1."""
    _onnx()
    model = nn.Sequential([nn.layers.Dense(8, input_dim=4, activation="relu"),
                           nn.layers.Dense(8, activation="relu"),
                           nn.layers.Dense(3, activation="softmax")], seed=0)
    x, _ = nn.datasets.load_iris()
    worst = _assert_same(nnc_onnx.to_onnx(model), model, x.astype(np.float32))
    assert worst <= 1e-6 and math.isfinite(worst)


def test_docstring_examples_run_with_onnx(tmp_path, monkeypatch):
    """The examples are marked +SKIP for tests/test_doctests.py (onnx is optional); with
    onnx here they run, SKIP removed, and print what they say."""
    import doctest

    _onnx()
    monkeypatch.chdir(tmp_path)  # the export examples write model.onnx
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = finder.find(nnc_onnx) + finder.find(nn.Sequential.export, "export",
                                                globs={})
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    report, examples = [], 0
    for test in tests:
        for example in test.examples:
            example.options.pop(doctest.SKIP, None)
            examples += 1
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    assert runner.tries == examples >= 8
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]
