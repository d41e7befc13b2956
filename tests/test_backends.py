"""The backend registry, proof that the native path runs compiled code, and a whole
3-layer MLP's parameter gradients checked by finite differences on each backend."""
import importlib.machinery
import inspect
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import nncore
from nncore import backends
from nncore.backends.base import Backend

from conftest import BACKENDS, FD_ATOL, FD_RTOL, assert_close, numerical_grad

KERNELS = sorted(name for name, member in inspect.getmembers(Backend)
                 if getattr(member, "__isabstractmethod__", False))


def test_every_kernel_is_abstract_in_base_and_defined_in_both_backends():
    assert len(KERNELS) == 17
    for name in backends.NAMES:
        if name == "native" and not backends.native_available():
            continue
        cls = type(backends.get_backend(name))
        assert not getattr(cls, "__abstractmethods__", None), cls.__abstractmethods__


def test_native_kernels_are_compiled_code(native_ops):
    """Each native kernel is a function of a compiled extension module, not Python."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for name in KERNELS:
        kernel = getattr(type(native_ops), name)
        module = sys.modules[kernel.__module__]
        assert module.__file__.endswith(suffixes), (name, module.__file__)
        assert not inspect.isfunction(kernel), f"{name} is a Python function"


def test_native_is_the_default_when_built():
    if backends.native_available():
        assert nncore.backend() == "native" or os.environ.get("NNCORE_BACKEND")
    else:
        assert nncore.backend() == "numpy"


def test_use_backend_scopes_and_restores():
    before = nncore.backend()
    with nncore.use_backend("numpy") as ops:
        assert ops.name == "numpy" and nncore.backend() == "numpy"
    assert nncore.backend() == before


def test_set_backend_and_unknown_names():
    before = nncore.backend()
    try:
        for name in BACKENDS:
            nncore.set_backend(name)
            assert nncore.backend() == name
            assert nncore.get_backend().name == name
    finally:
        nncore.set_backend(before)
    with pytest.raises(ValueError, match="backend"):
        nncore.set_backend("cuda")
    with pytest.raises(ValueError, match="backend"):
        nncore.get_backend(3)
    assert nncore.backend() == before


def test_env_var_selects_the_backend_at_import():
    code = "import nncore; print(nncore.backend())"
    env = dict(os.environ, NNCORE_BACKEND="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "numpy"
    env["NNCORE_BACKEND"] = "tpu"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True)
    assert bad.returncode != 0 and "backend" in bad.stderr


# A child process where the extension module is missing, as in an unbuilt source tree: a
# finder answers "no such module" for it before the real path finder can find the .so,
# so Python raises its own "cannot import name ... (most likely due to a circular
# import)" from the native package.
_WITHOUT_EXTENSION = """
import json, sys, warnings

class Missing:
    def find_spec(self, fullname, path=None, target=None):
        if fullname == "nncore.backends.native._kernels":
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None

sys.meta_path.insert(0, Missing())
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import nncore
print(nncore.backend())
print(json.dumps([str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]))
try:
    nncore.get_backend("native")
except ImportError as exc:
    print(str(exc))
    print(repr(exc.__cause__))
"""


def test_missing_extension_warning_says_how_to_build():
    env = {k: v for k, v in os.environ.items() if k != "NNCORE_BACKEND"}
    out = subprocess.run([sys.executable, "-c", _WITHOUT_EXTENSION], env=env,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "numpy"
    (warning,) = json.loads(out[1])
    for message in (warning, out[2]):
        assert message.startswith(("nncore's compiled extension", "backend='native'"))
        for part in ("compiled extension (nncore.backends.native) was not found",
                     "unbuilt source tree or a failed build", "`pip install -e .`"):
            assert part in message, (part, message)
        # Python's own words stay available, after the explanation.
        assert message.index("pip install") < message.index("_kernels")
    assert "circular import" in warning  # the original text, kept as the detail
    assert out[3].startswith("ImportError(") and "_kernels" in out[3]


# ---------------------------------------------------------------- a whole MLP
LAYERS = [(5, 7, "relu"), (7, 6, "tanh"), (6, 4, "linear")]  # logits into softmax-CE


def _mlp(rng, dtype):
    params = []
    for k, m, _ in LAYERS:
        params.append([rng.normal(0, 0.7, (k, m)).astype(dtype),
                       rng.normal(0, 0.3, m).astype(dtype)])
    X = rng.normal(size=(9, LAYERS[0][0])).astype(dtype)
    labels = rng.integers(0, LAYERS[-1][1], size=9)
    return params, X, labels


def _loss_and_grads(ops, params, X, labels):
    cache, A = [], X
    for (W, b), (_, _, act) in zip(params, LAYERS):
        Z, Y = ops.dense_forward(A, W, b, act)
        cache.append((A, Z, Y))
        A = Y
    value, dA = ops.loss_and_grad("sparse_categorical_crossentropy", labels, A,
                                  from_logits=True)
    grads = []
    for (W, _), (A_in, Z, Y), (_, _, act), i in zip(params[::-1], cache[::-1],
                                                     LAYERS[::-1], range(3)):
        dA, dW, db = ops.dense_backward(dA, A_in, W, Z, Y, act, need_dX=i < 2)
        grads.append([dW, db])
    return value, grads[::-1]


@pytest.mark.parametrize("name", BACKENDS)
def test_three_layer_mlp_gradients_match_finite_differences(name):
    ops = backends.get_backend(name)
    params, X, labels = _mlp(np.random.default_rng(0), np.float64)
    _, grads = _loss_and_grads(ops, params, X, labels)
    for layer, layer_grads in zip(params, grads):
        for p, g in zip(layer, layer_grads):
            num = numerical_grad(lambda: _loss_and_grads(ops, params, X, labels)[0], p)
            np.testing.assert_allclose(g, num, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_three_layer_mlp_native_equals_numpy(native_ops, numpy_ops, dtype):
    params, X, labels = _mlp(np.random.default_rng(1), dtype)
    v_np, g_np = _loss_and_grads(numpy_ops, params, X, labels)
    v_nat, g_nat = _loss_and_grads(native_ops, params, X, labels)
    assert_close(v_nat, v_np, dtype)
    for a, b in zip(sum(g_nat, []), sum(g_np, [])):
        assert a.dtype == np.dtype(dtype)
        assert_close(a, b, dtype)


@pytest.mark.skipif(not backends.native_available(), reason="the native extension is not built")
def test_every_compiled_kernel_replaces_a_numpy_definition():
    """NativeBackend swaps in each compiled kernel for the NumPy kernel of the same name:
    a kernel compiled under another name would silently never run."""
    from nncore.backends.native import COMPILED, NativeBackend, _kernels
    from nncore.backends.numpy_backend import NumpyBackend

    for name in COMPILED:
        assert callable(NumpyBackend.__dict__[f"_{name}"]), name
        assert getattr(NativeBackend, f"_{name}") is getattr(_kernels, name), name
