"""Fuzzing the backend ops (the public methods of nncore.backends.base.Backend).

Each case builds a valid call of one op, then spoils one argument in one way: another
dtype, another rank or length, an empty axis, a strided, Fortran-ordered, read-only or
misaligned array, NaN/inf/huge/tiny values, a list or a DataFrame-like object, None, an
output that aliases an input, or a bad hyperparameter. The same call goes to every
backend. What must hold, whatever the input:

- the call returns, or raises ValueError/TypeError naming the spoiled argument (never a
  crash, never another exception);
- every backend does the same (both refuse with the same type, or both return results
  that agree within the dtype's tolerance, NaN where the other has NaN);
- what the contract fixes is what happens: a wrong dtype or a non-array is a TypeError;
  an output or in-place array that is strided, Fortran-ordered or read-only is refused;
  an input that is strided, Fortran-ordered or read-only gives bit for bit the result of
  the contiguous one; garbage already in an output does not leak into the result;
- a refused call writes nothing: in-place state (parameters, optimizer slots, moving
  statistics, outputs) is bit-identical to before.

A separate test sends arbitrary arguments straight to the native kernels (the Cython
wrappers, below the Python checks) in a child process, where a segfault would show as
an exit code instead of killing the test run.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

pytest.register_assert_rewrite("robustness_profile")

from nncore import backends
from nncore.backends.base import ACTIVATIONS, LOSSES
from conftest import BACKENDS
from robustness_profile import (
    DTYPE_NAMES, SCALE, STATS, FrameLike, as_dtype_family, attempt, budget, hang_guard,
    hostile_values, misaligned, readonly, strided,
)

pytest_plugins = ("robustness_profile",)

ROOT = Path(__file__).resolve().parents[1]
OPS = [backends.get_backend(name) for name in BACKENDS]

# --------------------------------------------------------------------------- op specs
# role of an array argument:
#   "in"     read only by the op (any layout is fine: it is copied if needed)
#   "out"    written by the op (out=, out_*); must already be exact
#   "inout"  updated in place (parameters, optimizer state, moving statistics)
#   "data"   real-valued data of any real dtype (y_true, sample_weight), converted
#   "labels" integer class labels of the sparse loss


@dataclass
class Call:
    """One op call: keyword arguments, each array's role, which may be None, and which
    arrays hold the result."""

    op: str
    kwargs: dict
    roles: dict
    optional: set = field(default_factory=set)
    # names of hyperparameters (scalars) this call takes, for scalar mutations
    scalars: tuple = ()


def _build(op: str, seed: int, dtype: np.dtype, n: int, k: int, m: int, choice: int) -> Call:
    """A valid call of ``op`` (deterministic in its arguments)."""
    rng = np.random.default_rng(seed)
    if op.startswith(("loss", "batch_norm")):
        n = max(n, 1)  # a loss or batch statistics of no rows are refused

    def arr(*shape, low=-2.0, high=2.0):
        return rng.uniform(low, high, size=shape).astype(dtype)

    act = ACTIVATIONS[choice % len(ACTIVATIONS)]
    with_out = bool(choice & 1)
    if op == "activation":
        Z = arr(n, k) if choice % 3 else arr(n, k, m)
        kw = dict(name=act, Z=Z, alpha=None)
        if with_out:
            kw["out"] = np.full_like(Z, np.nan)
        return Call(op, kw, {"Z": "in", "out": "out"}, {"out"}, ("alpha", "name"))
    if op == "activation_backward":
        Z = arr(n, k)
        Y = backends.get_backend("numpy").activation(act, Z)
        kw = dict(name=act, dY=arr(n, k), Z=Z, Y=Y, alpha=None)
        if with_out:
            kw["out"] = np.full_like(Z, np.nan)
        return Call(op, kw, {"dY": "in", "Z": "in", "Y": "in", "out": "out"}, {"out"},
                    ("alpha", "name"))
    if op == "dense_forward":
        kw = dict(X=arr(n, k), W=arr(k, m), b=arr(m), activation=act, alpha=None)
        if with_out:
            kw["out_Z"] = np.full((n, m), np.nan, dtype)
            kw["out_Y"] = np.full((n, m), np.nan, dtype)
        return Call(op, kw, {"X": "in", "W": "in", "b": "in", "out_Z": "out", "out_Y": "out"},
                    {"b", "out_Z", "out_Y"}, ("alpha", "activation"))
    if op == "dense_backward":
        X, W, b = arr(n, k), arr(k, m), arr(m)
        Z, Y = backends.get_backend("numpy").dense_forward(X, W, b, act)
        Y = Y.copy()
        kw = dict(dY=arr(n, m), X=X, W=W, Z=Z, Y=Y, activation=act, alpha=None,
                  has_bias=True, need_dX=True)
        if with_out:
            kw.update(out_dW=np.full((k, m), np.nan, dtype), out_db=np.full(m, np.nan, dtype),
                      out_dX=np.full((n, k), np.nan, dtype),
                      work_dZ=np.full((n, m), np.nan, dtype))
        return Call(op, kw, {"dY": "in", "X": "in", "W": "in", "Z": "in", "Y": "in",
                             "out_dW": "out", "out_db": "out", "out_dX": "out",
                             "work_dZ": "out"},
                    {"out_dW", "out_db", "out_dX", "work_dZ"}, ("alpha", "activation"))
    if op in ("loss", "loss_and_grad"):
        loss = LOSSES[choice % len(LOSSES)]
        from_logits = bool(choice & 2) and loss.endswith("crossentropy")
        if loss == "sparse_categorical_crossentropy":
            y_true, role = rng.integers(0, m, size=n), "labels"
        elif loss.endswith("crossentropy") and loss.startswith("categorical"):
            y_true, role = np.eye(m)[rng.integers(0, m, size=n)], "data"
        else:
            y_true, role = rng.uniform(0, 1, size=(n, m)), "data"
        y_pred = arr(n, m) if from_logits or not loss.endswith("crossentropy") \
            else arr(n, m, low=0.05, high=0.95)
        kw = dict(name=loss, y_true=y_true, y_pred=y_pred, from_logits=from_logits,
                  delta=1.0, sample_weight=rng.uniform(0, 2, size=n) if choice & 4 else None)
        roles = {"y_true": role, "y_pred": "in", "sample_weight": "data"}
        if op == "loss_and_grad" and with_out:
            kw["out"] = np.full((n, m), np.nan, dtype)
            roles["out"] = "out"
        return Call(op, kw, roles, {"sample_weight", "out"}, ("delta", "name"))
    if op == "batch_norm_forward":
        kw = dict(X=arr(n, k), gamma=arr(k), beta=arr(k), moving_mean=arr(k),
                  moving_variance=arr(k, low=0.5, high=2.0), training=bool(choice & 2),
                  momentum=0.9, epsilon=1e-3)
        if with_out:
            kw.update(out=np.full((n, k), np.nan, dtype), out_xhat=np.full((n, k), np.nan, dtype),
                      out_inv_std=np.full(k, np.nan, dtype))
        return Call(op, kw, {"X": "in", "gamma": "in", "beta": "in", "moving_mean": "inout",
                             "moving_variance": "inout", "out": "out", "out_xhat": "out",
                             "out_inv_std": "out"},
                    {"out", "out_xhat", "out_inv_std"}, ("momentum", "epsilon"))
    if op == "batch_norm_backward":
        kw = dict(dY=arr(n, k), xhat=arr(n, k), gamma=arr(k), inv_std=arr(k, low=0.5, high=2))
        if with_out:
            kw.update(out_dX=np.full((n, k), np.nan, dtype), out_dgamma=np.full(k, np.nan, dtype),
                      out_dbeta=np.full(k, np.nan, dtype))
        return Call(op, kw, {"dY": "in", "xhat": "in", "gamma": "in", "inv_std": "in",
                             "out_dX": "out", "out_dgamma": "out", "out_dbeta": "out"},
                    {"out_dX", "out_dgamma", "out_dbeta"})
    shape = (n, k) if choice % 3 == 0 else (k,)
    if op == "sgd_update":
        kw = dict(param=arr(*shape), grad=arr(*shape), velocity=arr(*shape),
                  learning_rate=0.1, momentum=0.9 if choice & 2 else 0.0,
                  nesterov=bool(choice & 4), weight_decay=0.01 if choice & 8 else 0.0)
        return Call(op, kw, {"param": "inout", "grad": "in", "velocity": "inout"},
                    {"velocity"}, ("learning_rate", "momentum", "weight_decay"))
    if op == "adagrad_update":
        kw = dict(param=arr(*shape), grad=arr(*shape),
                  accumulator=arr(*shape, low=0.1, high=1.0), learning_rate=0.1, epsilon=1e-7)
        return Call(op, kw, {"param": "inout", "grad": "in", "accumulator": "inout"}, set(),
                    ("learning_rate", "epsilon", "weight_decay"))
    if op == "rmsprop_update":
        kw = dict(param=arr(*shape), grad=arr(*shape), velocity=arr(*shape, low=0, high=1),
                  momentum_buffer=arr(*shape), average_gradient=arr(*shape) / 10,
                  learning_rate=0.01, rho=0.9, momentum=0.5 if choice & 2 else 0.0,
                  epsilon=1e-7, centered=bool(choice & 4))
        return Call(op, kw, {"param": "inout", "grad": "in", "velocity": "inout",
                             "momentum_buffer": "inout", "average_gradient": "inout"},
                    {"momentum_buffer", "average_gradient"},
                    ("learning_rate", "rho", "momentum", "epsilon"))
    if op == "adam_update":
        kw = dict(param=arr(*shape), grad=arr(*shape), m=arr(*shape) / 10,
                  v=arr(*shape, low=0, high=1), vhat=arr(*shape, low=1, high=2),
                  step=1 + choice % 5, learning_rate=0.01, amsgrad=bool(choice & 2),
                  weight_decay=0.004 if choice & 4 else 0.0)
        return Call(op, kw, {"param": "inout", "grad": "in", "m": "inout", "v": "inout",
                             "vhat": "inout"}, {"vhat"},
                    ("learning_rate", "beta_1", "beta_2", "epsilon", "step", "weight_decay"))
    if op == "regularization_loss":
        return Call(op, dict(W=arr(k, m), l1=0.01, l2=0.02), {"W": "in"}, set(), ("l1", "l2"))
    if op == "add_regularization_grad":
        return Call(op, dict(W=arr(k, m), dW=arr(k, m), l1=0.01, l2=0.02),
                    {"W": "in", "dW": "inout"}, set(), ("l1", "l2"))
    if op == "dropout_mask":
        kw = dict(shape=(n, k), rate=0.25, rng=np.random.default_rng(seed), dtype=dtype)
        if with_out:
            kw["out"] = np.full((n, k), np.nan, dtype)
        return Call(op, kw, {"out": "out"}, {"out"}, ("rate", "shape"))
    if op == "clip_by_value":
        return Call(op, dict(grad=arr(*shape) * 3, clipvalue=1.0), {"grad": "inout"}, set(),
                    ("clipvalue",))
    if op == "clip_by_norm":
        return Call(op, dict(grad=arr(*shape) * 3, clipnorm=1.0), {"grad": "inout"}, set(),
                    ("clipnorm",))
    if op == "global_norm":
        return Call(op, dict(grads=[arr(*shape), arr(m)]), {"grads": "in"})
    if op == "clip_by_global_norm":
        return Call(op, dict(grads=[arr(*shape) * 3, arr(m) * 3], clipnorm=1.0),
                    {"grads": "inout"}, set(), ("clipnorm",))
    raise AssertionError(op)


OP_NAMES = ("activation", "activation_backward", "dense_forward", "dense_backward", "loss",
            "loss_and_grad", "batch_norm_forward", "batch_norm_backward", "sgd_update",
            "adagrad_update", "rmsprop_update", "adam_update", "regularization_loss",
            "add_regularization_grad", "dropout_mask", "clip_by_value", "clip_by_norm",
            "global_norm", "clip_by_global_norm")

# --------------------------------------------------------------------------- mutations
ARRAY_KINDS = ("dtype", "0-d", "add-axis", "drop-axis", "transpose", "longer", "shorter",
               "more-rows", "empty", "empty-last", "strided", "fortran", "readonly", "values",
               "list", "tuple", "frame", "scalar", "string", "none", "alias", "overlap",
               "byteswap", "misaligned")
LAYOUT_KINDS = ("strided", "fortran", "readonly", "misaligned")
NOT_ARRAY_KINDS = ("list", "tuple", "frame", "scalar", "string")
SCALAR_VALUES = (np.nan, np.inf, -np.inf, -1.0, 0.0, 0.5, 1.0, 1.5, 2, 1e300, 10**400, True,
                 None, "0.1", np.float32(0.5), np.int64(3), 1 + 1j, [0.5], -0.0, 1e-300,
                 0.999, 2**63, "relu", "mse", "RELU", "", b"relu")


def _spoil(arr, kind: str, param: int, call: Call, name: str):
    """``arr`` spoiled by ``kind`` (``param`` picks among variants)."""
    if kind == "dtype":
        return as_dtype_family(np.asarray(arr), DTYPE_NAMES[param % len(DTYPE_NAMES)])
    if kind == "byteswap":
        a = np.asarray(arr)
        return a.astype(a.dtype.newbyteorder())
    if kind == "0-d":
        a = np.asarray(arr)
        return np.asarray(a.reshape(-1)[0] if a.size else a.dtype.type(0))
    if kind == "add-axis":
        return np.asarray(arr)[None] if param % 2 else np.asarray(arr)[..., None]
    if kind == "drop-axis":
        a = np.asarray(arr)
        return a.reshape(-1) if a.ndim > 1 else np.asarray(a.reshape(-1)[0] if a.size else 0.0,
                                                            a.dtype)
    if kind == "transpose":
        return np.ascontiguousarray(np.asarray(arr).T)
    if kind in ("longer", "shorter", "more-rows", "empty", "empty-last"):
        a = np.asarray(arr)
        if a.ndim == 0:
            return a[None]
        axis = 0 if kind in ("more-rows", "empty") else a.ndim - 1
        size = a.shape[axis]
        new = {"longer": size + 1 + param % 3, "shorter": max(size - 1, 0) if size > 1
               else size + 2, "more-rows": size + 1, "empty": 0, "empty-last": 0}[kind]
        idx = np.arange(new) % max(size, 1)
        return np.take(a, idx, axis=axis) if size else np.resize(a, a.shape[:axis] + (new,)
                                                                 + a.shape[axis + 1:])
    if kind == "strided":
        return strided(arr)
    if kind == "fortran":
        return np.asfortranarray(arr)
    if kind == "readonly":
        return readonly(arr)
    if kind == "misaligned":
        return misaligned(arr)
    if kind == "values":
        a = np.asarray(arr)
        if a.dtype.kind not in "f":
            a = a.astype(np.float64)
        return hostile_values(a, param, param // 3)
    if kind == "list":
        return np.asarray(arr).tolist()
    if kind == "tuple":
        a = np.asarray(arr)
        return tuple(map(tuple, a)) if a.ndim == 2 else tuple(a.tolist())
    if kind == "frame":
        return FrameLike(arr)
    if kind == "scalar":
        return 1.0
    if kind == "string":
        return "1, 2, 3"
    if kind == "none":
        return None
    if kind in ("alias", "overlap"):
        # An array of the same shape and dtype that is (alias) or overlaps (overlap) one
        # of the other array arguments.
        others = [v for key, v in call.kwargs.items() if key != name
                  and isinstance(v, np.ndarray) and v.dtype == np.asarray(arr).dtype
                  and v.size >= np.asarray(arr).size > 0]
        if not others:
            return arr
        other = others[param % len(others)]
        flat = other.reshape(-1)
        size = np.asarray(arr).size
        if kind == "alias" or flat.size == size:
            if other.shape == np.shape(arr):
                return other
            return flat[:size].reshape(np.shape(arr))
        start = min(1, flat.size - size)
        return flat[start:start + size].reshape(np.shape(arr))
    raise AssertionError(kind)


@dataclass
class Case:
    op: str
    seed: int
    dtype: np.dtype
    n: int
    k: int
    m: int
    choice: int
    target: str | None      # argument spoiled (None: the clean call)
    kind: str | None
    param: int

    def build(self, spoil: bool = True) -> Call:
        call = _build(self.op, self.seed, self.dtype, self.n, self.k, self.m, self.choice)
        if spoil and self.target is not None:
            if self.kind == "scalar-value":
                call.kwargs[self.target] = SCALAR_VALUES[self.param % len(SCALAR_VALUES)]
            elif self.target == "grads":
                grads = list(call.kwargs["grads"])
                grads[self.param % 2] = _spoil(grads[self.param % 2], self.kind, self.param,
                                               call, "grads")
                call.kwargs["grads"] = grads
            else:
                call.kwargs[self.target] = _spoil(call.kwargs.get(self.target), self.kind,
                                                  self.param, call, self.target)
        return call


@st.composite
def cases(draw):
    op = draw(st.sampled_from(OP_NAMES))
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64])))
    n = draw(st.integers(0, 5) | st.just(1))
    k, m = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    seed, choice = draw(st.integers(0, 2**16)), draw(st.integers(0, 255))
    call = _build(op, seed, dtype, n, k, m, choice)
    what = draw(st.sampled_from(["array", "array", "array", "scalar", "clean"]))
    target = kind = None
    present = [key for key in call.roles if call.kwargs.get(key) is not None]
    if what == "array" and present:
        target = draw(st.sampled_from(present))
        kind = draw(st.sampled_from(ARRAY_KINDS))
    elif what == "scalar" and call.scalars:
        target, kind = draw(st.sampled_from(list(call.scalars))), "scalar-value"
    return Case(op, seed, dtype, n, k, m, choice, target, kind, draw(st.integers(0, 2**10)))


# --------------------------------------------------------------------------- running
def _run(ops, case: Case, spoil: bool = True):
    """Build the call, run it on ``ops``: the outcome, the result arrays, the in-place
    arrays after the call and the call (so arrays can be compared with a fresh build)."""
    call = case.build(spoil)
    kwargs = call.kwargs
    names = (case.target,) if spoil and case.target else ()
    if case.kind == "scalar-value" and case.target in ("name", "activation"):
        names = ("name", "activation", "loss")
    spoiled = kwargs.get(case.target) if spoil and case.target else None
    if isinstance(spoiled, np.ndarray) and spoiled.dtype in (np.float32, np.float64):
        # The other float dtype: the first array of a call sets the call's dtype, so the
        # refusal may name any of the other arrays.
        names = tuple(call.roles)
    # NumPy's overflow warnings on hostile values are expected; a hang is not.
    with np.errstate(all="ignore"), hang_guard(60, f"ops.{case.op}"):
        outcome, value = attempt(f"ops.{case.op}", lambda: getattr(ops, case.op)(**kwargs),
                                 names if spoil else ())
    results = []
    if outcome == "ok":
        for item in value if isinstance(value, tuple) else (value,):
            if item is not None:
                results.append(np.array(item, dtype=np.float64))
    touched = {key: np.array(v, copy=True) for key, v in kwargs.items()
               if call.roles.get(key) in ("inout", "out") and isinstance(v, np.ndarray)}
    if case.op == "clip_by_global_norm":
        touched.update({f"grads[{i}]": np.array(g, copy=True)
                        for i, g in enumerate(kwargs["grads"]) if isinstance(g, np.ndarray)})
    for key, arr in touched.items():
        if call.roles.get(key) == "inout" or key.startswith("grads"):
            results.append(np.asarray(arr, dtype=np.float64) if arr.dtype.kind in "fiub"
                           else arr)
    return outcome, value, results, touched, call


def _agree(a: list, b: list, dtype: np.dtype, what: str, extreme: bool = False) -> None:
    """Results of two backends: same shapes, NaN and inf at the same places, finite values
    within the dtype's tolerance.

    ``extreme``: the inputs held NaN, inf or values near the dtype's limits. Then a kernel
    that computes in double (native) and one that computes in the array's dtype (NumPy)
    may overflow at different places, so only values both hold well inside the dtype's
    range are compared."""
    assert len(a) == len(b), what
    rtol = 2e-4 if dtype == np.float32 else 1e-9
    for u, v in zip(a, b):
        u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
        assert u.shape == v.shape, what
        if extreme:
            bound = np.sqrt(np.finfo(dtype).max) if np.ndim(u) else np.inf
            fin = np.isfinite(u) & np.isfinite(v) & (np.abs(u) < bound) & (np.abs(v) < bound)
            u, v = np.where(fin, u, 0.0), np.where(fin, v, 0.0)
        assert np.array_equal(np.isnan(u), np.isnan(v)), f"{what}: NaN differs\n{u}\n{v}"
        assert np.array_equal(np.isposinf(u), np.isposinf(v)), f"{what}: +inf differs\n{u}\n{v}"
        assert np.array_equal(np.isneginf(u), np.isneginf(v)), f"{what}: -inf differs\n{u}\n{v}"
        fin = np.isfinite(u)
        scale = max(1.0, float(np.max(np.abs(u[fin]), initial=0.0)))
        np.testing.assert_allclose(u[fin], v[fin], rtol=rtol, atol=rtol * scale,
                                   err_msg=what)


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit for bit (NaN equals NaN), for arrays of any dtype."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "O":
        return [repr(v) for v in a.ravel()] == [repr(v) for v in b.ravel()]
    if a.dtype == np.longdouble or a.dtype == np.clongdouble:  # padding bytes are garbage
        return np.array_equal(a, b, equal_nan=True)
    return a.tobytes() == b.tobytes()


def _identical(a: list, b: list, what: str) -> None:
    assert len(a) == len(b), what
    for u, v in zip(a, b):
        assert np.asarray(u).tobytes() == np.asarray(v).tobytes() or \
            np.array_equal(u, v, equal_nan=True), f"{what}: results differ\n{u}\n{v}"


def _expected(case: Case, call: Call) -> str | None:
    """What the contract says this spoiled call must do: "ok", "TypeError", "ValueError",
    or None when either outcome is allowed (then only the backends must agree)."""
    if case.target is None:
        return "ok"
    if case.kind == "scalar-value":
        return None
    role = call.roles[case.target]
    clean = _build(case.op, case.seed, case.dtype, case.n, case.k, case.m, case.choice)
    original = clean.kwargs.get(case.target)
    spoiled = call.kwargs.get(case.target)
    if case.target == "grads":
        original, spoiled = original[case.param % 2], spoiled[case.param % 2]
    if original is None:
        return None          # an optional array that was not given: anything goes
    if case.kind == "none":
        # An output left to the op is always fine; optional state may be required by
        # the other arguments (momentum > 0 needs its buffer).
        return "ok" if role == "out" else None
    if case.kind in NOT_ARRAY_KINDS:
        return "TypeError" if role in ("in", "out", "inout") else None
    if case.kind in ("dtype", "byteswap"):
        dt = np.asarray(spoiled).dtype
        if dt == case.dtype:
            return "ok"
        if dt in (np.float32, np.float64):
            return None      # the other float dtype: the call may be all of that dtype
        if role in ("in", "out", "inout"):
            return "TypeError"
        if dt.kind not in "biuf":
            return "TypeError"
        return None
    if case.kind in LAYOUT_KINDS:
        changed = not (spoiled.flags.c_contiguous and spoiled.flags.writeable
                       and spoiled.flags.aligned)
        if role in ("out", "inout") and changed:
            return "ValueError"
        return "ok"
    if case.kind == "values":
        if role == "labels":
            return None
        return "ok"
    if case.kind in ("alias", "overlap"):
        return None
    # shape changes
    if role in ("out",) and np.shape(spoiled) != np.shape(original):
        return "ValueError"
    return None


@budget(4000)
@given(cases())
def test_every_op_works_or_refuses_naming_the_argument(case):
    outcomes = []
    for ops in OPS:
        outcome, value, results, touched, call = _run(ops, case)
        expected = _expected(case, call)
        what = f"{ops.name} {case}"
        if expected == "ok":
            assert outcome == "ok", f"{what}: refused {value!r}"
        elif expected is not None:
            assert outcome == "refused" and type(value).__name__ == expected, \
                f"{what}: expected {expected}, got {outcome} {value!r}"
        if outcome == "refused":
            # Nothing written: every output and in-place array as freshly built.
            fresh = case.build()
            STATS.refusals_checked += 1
            for key, arr in touched.items():
                before = fresh.kwargs[key] if not key.startswith("grads") else \
                    fresh.kwargs["grads"][int(key[6:-1])]
                if not _same_array(arr, np.asarray(before)):
                    STATS.state_changes += 1
                    raise AssertionError(f"{what}: refused but wrote {key}")
        elif case.kind in LAYOUT_KINDS or \
                (case.kind == "none" and call.roles.get(case.target) == "out") or \
                (case.kind == "alias" and call.roles.get(case.target) == "out") or \
                (case.kind == "dtype" and expected == "ok") or \
                (case.kind == "values" and call.roles.get(case.target) == "out"):
            # Same values in another layout, or an allowed alias, or garbage in an output:
            # the result of the clean call, bit for bit.
            _, _, clean_results, _, _ = _run(ops, case, spoil=False)
            if case.kind in ("alias",):
                _agree(results, clean_results, case.dtype, what + " (alias vs clean)")
            else:
                _identical(results, clean_results, what + " (vs clean)")
        outcomes.append((outcome, type(value).__name__ if outcome == "refused" else None,
                         results))
    for (o1, t1, r1), (o2, t2, r2) in zip(outcomes, outcomes[1:]):
        assert (o1, t1) == (o2, t2), f"backends disagree on {case}: {o1} {t1} vs {o2} {t2}"
        if o1 == "ok":
            _agree(r1, r2, case.dtype, f"backends disagree on {case}",
                   extreme=case.kind == "values")


# --------------------------------------------------------------------------- kernels
KERNEL_FUZZ = textwrap.dedent("""
    import sys, faulthandler
    faulthandler.enable()
    sys.path.insert(0, {root!r})
    import numpy as np
    from nncore.backends import get_backend
    ops = get_backend("native")
    # Each kernel's arguments: an array as its symbolic shape (sizes n, k, m), "i64" for
    # integer labels, or a scalar kind. A valid call is built, then one argument spoiled.
    KERNELS = {{
        "_activation_forward": ["code", "nk", "nk", "alpha"],
        "_activation_backward": ["code", "nk", "nk", "nk", "alpha", "nk"],
        "_dense_forward": ["nk", "km", "m", "code", "alpha", "nm", "nm"],
        "_dense_backward": ["nm", "nk", "km", "nm", "nm", "code", "alpha", "nm", "km", "m",
                            "nk"],
        "_loss": ["loss", "nm", "nm", "flag", "alpha", "n", "nm"],
        "_loss_sparse": ["scce", "i64", "nm", "flag", "alpha", "n", "nm"],
        "_batch_norm_forward": ["nk", "k", "k", "k", "k", "flag", "alpha", "alpha", "nk",
                                "nk", "k"],
        "_batch_norm_backward": ["nk", "nk", "k", "k", "nk", "k", "k"],
        "_sgd": ["k", "k", "k", "alpha", "alpha", "flag", "alpha"],
        "_adagrad": ["k", "k", "k", "alpha", "alpha", "alpha"],
        "_rmsprop": ["k", "k", "k", "k", "k", "alpha", "alpha", "alpha", "alpha", "alpha"],
        "_adam": ["k", "k", "k", "k", "k", "alpha", "alpha", "alpha", "alpha", "step",
                  "alpha"],
        "_regularization_loss": ["k", "alpha", "alpha"],
        "_regularization_grad": ["k", "k", "alpha", "alpha"],
        "_dropout_mask": ["k", "alpha"],
        "_clip_by_value": ["k", "alpha"],
        "_sum_squares": ["k"],
        "_scale": ["k", "alpha"],
    }}
    rng = np.random.default_rng({seed})

    def valid(kind, sizes, dtype):
        if kind == "code":
            return int(rng.integers(0, 10))
        if kind == "loss":
            return int(rng.integers(0, 5))
        if kind == "scce":
            return 5
        if kind == "flag":
            return bool(rng.integers(2))
        if kind == "alpha":
            return float(rng.uniform(0.01, 0.9))
        if kind == "step":
            return int(rng.integers(1, 5))
        if kind == "i64":
            return rng.integers(0, sizes["m"], size=sizes["n"]).astype(np.int64)
        return rng.uniform(0.1, 1, size=tuple(sizes[c] for c in kind)).astype(dtype)

    def spoil(value):
        r = int(rng.integers(12))
        if not isinstance(value, np.ndarray):
            return [None, -1, 10**6, 2**40, float("nan"), -1e300, "x", 1.5][r % 8]
        if r == 0:
            return None
        if r == 1:
            return value.astype(rng.choice([np.float32, np.float64, np.int64, np.int32]))
        if r == 2:
            return value[None] if value.ndim < 3 else value[0]
        if r == 3:
            return value.reshape(-1) if value.ndim > 1 else value[:, None]
        if r == 4 and value.ndim:
            return np.repeat(value, 2, axis=-1)[..., ::2]
        if r == 5:
            out = value.copy(); out.flags.writeable = False; return out
        if r == 6 and value.ndim:
            return value[:0]
        if r == 7 and value.ndim:
            return np.concatenate([value, value[:1]]) if len(value) else value[None]
        if r == 8 and value.ndim:
            return np.ascontiguousarray(np.swapaxes(value, 0, -1))
        if r == 9 and value.ndim == 2:
            return np.asfortranarray(value)
        if r == 10:
            return np.full_like(value, rng.choice([np.nan, np.inf, -np.inf, 3e38]))
        return value.tolist()

    tried = refused = 0
    names = list(KERNELS)
    for step in range({steps}):
        name = names[step % len(names)]
        dtype = np.float32 if rng.integers(2) else np.float64
        sizes = {{"n": int(rng.integers(0, 5)), "k": int(rng.integers(0, 5)),
                 "m": int(rng.integers(1, 5))}}
        args = [valid(kind, sizes, dtype) for kind in KERNELS[name]]
        for _ in range(int(rng.integers(0, 3))):
            i = int(rng.integers(len(args)))
            args[i] = spoil(args[i])
        kernel = getattr(ops, "_loss" if name == "_loss_sparse" else name)
        tried += 1
        try:
            with np.errstate(all="ignore"):
                kernel(*args)
        except (ValueError, TypeError, BufferError, OverflowError):
            refused += 1
    print(tried, refused)
""")



@pytest.mark.skipif(not backends.native_available(), reason="the native extension is not built")
def test_native_kernels_survive_arbitrary_arguments():
    """The Cython wrappers check what they receive even when called directly (the model
    calls them on arrays it checked itself): arbitrary shapes, dtypes, None, strided and
    read-only arrays must give a result or an exception, never a segfault or abort."""
    steps = int(20000 * SCALE)
    result = subprocess.run([sys.executable, "-c", KERNEL_FUZZ.format(root=str(ROOT), seed=0,
                                                                       steps=steps)],
                            capture_output=True, text=True, timeout=300)
    tried = steps
    STATS.tried["native kernels (child process)"] += tried
    if result.returncode != 0:
        STATS.crashes += 1
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.stderr[-3000:]}"
    got_tried, got_refused = map(int, result.stdout.split())
    STATS.refused["native kernels (child process)"] += got_refused
    assert got_tried == steps
