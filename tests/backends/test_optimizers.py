"""Optimizer updates (Backend.sgd_update, adagrad_update, rmsprop_update, adam_update).

First steps against updates worked out by hand (Keras 3's formulas), the native backend
against the NumPy one over 20 steps of every variant, and the public API refusing bad
arguments while leaving the parameter and its state exactly as they were.
"""
import math
import platform
import zlib

import numpy as np
import pytest

from conftest import assert_close

SQRT_0_1 = math.sqrt(0.1)


def arr(values, dtype):
    return np.array(values, dtype=dtype)


# --------------------------------------------------------------------------- by hand
def test_sgd_plain_by_hand(backend, dtype):
    w, g = arr([1.0, -2.0], dtype), arr([0.5, 0.25], dtype)
    backend.sgd_update(w, g, learning_rate=0.1)
    # w - lr g = [1 - 0.05, -2 - 0.025]
    assert_close(w, arr([0.95, -2.025], dtype))


def test_sgd_momentum_by_hand(backend, dtype):
    w, g, v = arr([1.0, -2.0], dtype), arr([0.5, 0.25], dtype), arr([0.0, 0.0], dtype)
    backend.sgd_update(w, g, v, learning_rate=0.1, momentum=0.9)
    # v = 0.9 * 0 - 0.1 g = [-0.05, -0.025]; w += v
    assert_close(v, arr([-0.05, -0.025], dtype))
    assert_close(w, arr([0.95, -2.025], dtype))
    backend.sgd_update(w, g, v, learning_rate=0.1, momentum=0.9)
    # v = 0.9 * [-0.05, -0.025] - [0.05, 0.025] = [-0.095, -0.0475]; w += v
    assert_close(v, arr([-0.095, -0.0475], dtype))
    assert_close(w, arr([0.855, -2.0725], dtype))


def test_sgd_nesterov_by_hand(backend, dtype):
    w, g, v = arr([1.0, -2.0], dtype), arr([0.5, 0.25], dtype), arr([0.0, 0.0], dtype)
    backend.sgd_update(w, g, v, learning_rate=0.1, momentum=0.9, nesterov=True)
    # v = [-0.05, -0.025]; w += 0.9 v - 0.1 g = [-0.045 - 0.05, -0.0225 - 0.025]
    assert_close(v, arr([-0.05, -0.025], dtype))
    assert_close(w, arr([0.905, -2.0475], dtype))
    backend.sgd_update(w, g, v, learning_rate=0.1, momentum=0.9, nesterov=True)
    # v = [-0.095, -0.0475]; w += [-0.0855 - 0.05, -0.04275 - 0.025] = [-0.1355, -0.06775]
    assert_close(v, arr([-0.095, -0.0475], dtype))
    assert_close(w, arr([0.7695, -2.11525], dtype))


def test_sgd_weight_decay_by_hand(backend, dtype):
    w, g = arr([1.0, -2.0], dtype), arr([0.5, 0.25], dtype)
    backend.sgd_update(w, g, learning_rate=0.1, weight_decay=0.5)
    # decay first: w -= 0.1 * 0.5 * w -> [0.95, -1.9]; then w -= 0.1 g -> [0.9, -1.925]
    assert_close(w, arr([0.9, -1.925], dtype))


def test_adagrad_by_hand(backend, dtype):
    w, g = arr([1.0, -2.0], dtype), arr([0.5, -1.5], dtype)
    acc = np.full(2, 0.1, dtype)  # Keras's initial_accumulator_value
    backend.adagrad_update(w, g, acc, learning_rate=0.1)
    # acc = 0.1 + g**2 = [0.35, 2.35]; w -= 0.1 g / sqrt(acc + 1e-7)
    assert_close(acc, arr([0.35, 2.35], dtype))
    assert_close(w, arr([1.0 - 0.05 / math.sqrt(0.35 + 1e-7),     # 0.915485...
                         -2.0 + 0.15 / math.sqrt(2.35 + 1e-7)],   # -1.902150...
                        dtype))
    backend.adagrad_update(w, g, acc, learning_rate=0.1)
    # acc = [0.6, 4.6]
    assert_close(acc, arr([0.6, 4.6], dtype))
    assert_close(w, arr([1.0 - 0.05 / math.sqrt(0.35 + 1e-7) - 0.05 / math.sqrt(0.6 + 1e-7),
                         -2.0 + 0.15 / math.sqrt(2.35 + 1e-7) + 0.15 / math.sqrt(4.6 + 1e-7)],
                        dtype))


def test_rmsprop_plain_by_hand(backend, dtype):
    w, g, v = arr([1.0, -2.0], dtype), arr([0.5, -1.0], dtype), arr([0.0, 0.0], dtype)
    backend.rmsprop_update(w, g, v, learning_rate=0.01, rho=0.9)
    # v = 0.1 g**2 = [0.025, 0.1]; s = 0.01 g / sqrt(v + 1e-7), about 0.01 sign(g) / sqrt(0.1)
    s1 = [0.005 / math.sqrt(0.025 + 1e-7), -0.01 / math.sqrt(0.1 + 1e-7)]  # [0.0316, -0.0316]
    assert_close(v, arr([0.025, 0.1], dtype))
    assert_close(w, arr([1.0 - s1[0], -2.0 - s1[1]], dtype))
    backend.rmsprop_update(w, g, v, learning_rate=0.01, rho=0.9)
    # v = 0.9 v + 0.1 g**2 = [0.0475, 0.19]
    s2 = [0.005 / math.sqrt(0.0475 + 1e-7), -0.01 / math.sqrt(0.19 + 1e-7)]
    assert_close(v, arr([0.0475, 0.19], dtype))
    assert_close(w, arr([1.0 - s1[0] - s2[0], -2.0 - s1[1] - s2[1]], dtype))
    assert abs(s1[0] - 0.01 / SQRT_0_1) < 1e-6  # the first step is lr / sqrt(1 - rho)


def test_rmsprop_momentum_by_hand(backend, dtype):
    w, g = arr([1.0, -2.0], dtype), arr([0.5, -1.0], dtype)
    v, mom = arr([0.0, 0.0], dtype), arr([0.0, 0.0], dtype)
    kw = dict(learning_rate=0.01, rho=0.9, momentum=0.5)
    backend.rmsprop_update(w, g, v, mom, **kw)
    s1 = [0.005 / math.sqrt(0.025 + 1e-7), -0.01 / math.sqrt(0.1 + 1e-7)]
    # mom = 0.5 * 0 + s1; w -= mom
    assert_close(mom, arr(s1, dtype))
    assert_close(w, arr([1.0 - s1[0], -2.0 - s1[1]], dtype))
    backend.rmsprop_update(w, g, v, mom, **kw)
    s2 = [0.005 / math.sqrt(0.0475 + 1e-7), -0.01 / math.sqrt(0.19 + 1e-7)]
    mom2 = [0.5 * s1[0] + s2[0], 0.5 * s1[1] + s2[1]]
    assert_close(mom, arr(mom2, dtype))
    assert_close(w, arr([1.0 - s1[0] - mom2[0], -2.0 - s1[1] - mom2[1]], dtype))


def test_rmsprop_centered_by_hand(backend, dtype):
    w, g = arr([1.0, -2.0], dtype), arr([0.5, -1.0], dtype)
    v, avg = arr([0.0, 0.0], dtype), arr([0.0, 0.0], dtype)
    backend.rmsprop_update(w, g, v, None, avg, learning_rate=0.01, rho=0.9, centered=True)
    # v = [0.025, 0.1]; avg = 0.1 g = [0.05, -0.1]; v - avg**2 = [0.0225, 0.09] = [0.15, 0.3]**2
    # s = 0.01 g / sqrt(v - avg**2 + 1e-7) = [0.0333, -0.0333]
    assert_close(avg, arr([0.05, -0.1], dtype))
    assert_close(w, arr([1.0 - 0.005 / math.sqrt(0.0225 + 1e-7),
                         -2.0 + 0.01 / math.sqrt(0.09 + 1e-7)], dtype))


def test_adam_by_hand(backend, dtype):
    w, g = arr([1.0, -2.0], dtype), arr([0.5, -4.0], dtype)
    m, v = arr([0.0, 0.0], dtype), arr([0.0, 0.0], dtype)
    backend.adam_update(w, g, m, v, step=1, learning_rate=0.1)
    # m = 0.1 g, v = 0.001 g**2, alpha = 0.1 sqrt(0.001) / 0.1 = sqrt(0.001):
    # the first step is lr * sign(g) (up to epsilon): w = [0.9, -1.9]
    assert_close(m, arr([0.05, -0.4], dtype))
    assert_close(v, arr([0.00025, 0.016], dtype))
    alpha1 = math.sqrt(0.001)
    w1 = [1.0 - alpha1 * 0.05 / (math.sqrt(0.00025) + 1e-7),
          -2.0 + alpha1 * 0.4 / (math.sqrt(0.016) + 1e-7)]
    assert_close(w, arr(w1, dtype))
    assert abs(w1[0] - 0.9) < 1e-5 and abs(w1[1] + 1.9) < 1e-5
    g2 = arr([-0.5, 2.0], dtype)
    backend.adam_update(w, g2, m, v, step=2, learning_rate=0.1)
    # m = 0.9 m + 0.1 g2 = [0.045 - 0.05, -0.36 + 0.2] = [-0.005, -0.16]
    # v = 0.999 v + 0.001 g2**2 = [0.00024975 + 0.00025, 0.015984 + 0.004]
    m2, v2 = [-0.005, -0.16], [0.00049975, 0.019984]
    alpha2 = 0.1 * math.sqrt(1 - 0.999**2) / (1 - 0.9**2)  # 0.0235...
    assert_close(m, arr(m2, dtype))
    assert_close(v, arr(v2, dtype))
    assert_close(w, arr([w1[k] - alpha2 * m2[k] / (math.sqrt(v2[k]) + 1e-7) for k in (0, 1)],
                        dtype))


def test_amsgrad_by_hand_uses_the_larger_past_v(backend, dtype):
    # beta_2 = 0.5 makes v shrink fast after a large gradient, so vhat != v at step 2.
    kw = dict(learning_rate=0.1, beta_1=0.9, beta_2=0.5)
    w, m, v, vhat = (arr([1.0], dtype) for _ in range(4))
    m[:], v[:], vhat[:] = 0.0, 0.0, 0.0
    backend.adam_update(w, arr([1.0], dtype), m, v, vhat, step=1, amsgrad=True, **kw)
    # m = 0.1, v = vhat = 0.5, alpha = 0.1 sqrt(0.5) / 0.1 = sqrt(0.5): w = 1 - 0.1 (about)
    w1 = 1.0 - math.sqrt(0.5) * 0.1 / (math.sqrt(0.5) + 1e-7)
    assert_close(vhat, arr([0.5], dtype))
    assert_close(w, arr([w1], dtype))
    backend.adam_update(w, arr([0.01], dtype), m, v, vhat, step=2, amsgrad=True, **kw)
    # m = 0.09 + 0.001 = 0.091; v = 0.25 + 0.5 * 1e-4 = 0.25005 < vhat = 0.5, which is used
    alpha2 = 0.1 * math.sqrt(1 - 0.25) / (1 - 0.81)
    assert_close(v, arr([0.25005], dtype))
    assert_close(vhat, arr([0.5], dtype))
    w2 = w1 - alpha2 * 0.091 / (math.sqrt(0.5) + 1e-7)          # 0.9 - 0.0415 = 0.8585
    assert_close(w, arr([w2], dtype))
    plain_w2 = w1 - alpha2 * 0.091 / (math.sqrt(0.25005) + 1e-7)  # what plain Adam gives
    assert abs(w2 - plain_w2) > 0.01


def test_adamw_by_hand(backend, dtype):
    w, g = arr([1.0, -2.0], dtype), arr([0.5, -4.0], dtype)
    m, v = arr([0.0, 0.0], dtype), arr([0.0, 0.0], dtype)
    backend.adam_update(w, g, m, v, step=1, learning_rate=0.1, weight_decay=0.2)
    # decay first: w -= 0.1 * 0.2 * w -> [0.98, -1.96]; then the Adam step of about
    # lr * sign(g) as in test_adam_by_hand -> [0.88, -1.86]
    alpha1 = math.sqrt(0.001)
    assert_close(w, arr([0.98 - alpha1 * 0.05 / (math.sqrt(0.00025) + 1e-7),
                         -1.96 + alpha1 * 0.4 / (math.sqrt(0.016) + 1e-7)], dtype))


# --------------------------------------------------------------------------- native == numpy
VARIANTS = {
    "sgd": ("sgd", dict(), ()),
    "sgd_momentum": ("sgd", dict(momentum=0.9), ("velocity",)),
    "sgd_nesterov": ("sgd", dict(momentum=0.9, nesterov=True), ("velocity",)),
    "sgd_decay": ("sgd", dict(momentum=0.5, weight_decay=0.01), ("velocity",)),
    "adagrad": ("adagrad", dict(), ("accumulator",)),
    "adagrad_decay": ("adagrad", dict(weight_decay=0.01), ("accumulator",)),
    "rmsprop": ("rmsprop", dict(), ("velocity",)),
    "rmsprop_momentum": ("rmsprop", dict(momentum=0.9), ("velocity", "momentum_buffer")),
    "rmsprop_centered": ("rmsprop", dict(centered=True), ("velocity", "average_gradient")),
    "rmsprop_all": ("rmsprop", dict(centered=True, momentum=0.5, weight_decay=0.01),
                    ("velocity", "momentum_buffer", "average_gradient")),
    "adam": ("adam", dict(), ("m", "v")),
    "amsgrad": ("adam", dict(amsgrad=True), ("m", "v", "vhat")),
    "adamw": ("adam", dict(weight_decay=0.004), ("m", "v")),
    "amsgrad_w": ("adam", dict(amsgrad=True, weight_decay=0.004), ("m", "v", "vhat")),
}
SHAPES = [(1,), (3,), (17,), (257,), (17, 5)]


def run_steps(ops, kind, options, state_names, w0, grads, lr=0.01):
    """Apply len(grads) steps; return the parameter and the state arrays."""
    w = w0.copy()
    state = {name: np.zeros_like(w0) for name in state_names}
    if "accumulator" in state:
        state["accumulator"][...] = 0.1
    update = getattr(ops, f"{kind}_update")
    for t, g in enumerate(grads, start=1):
        extra = {"step": t} if kind == "adam" else {}
        update(w, g, **state, learning_rate=lr, **options, **extra)
    return w, state


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_native_matches_numpy_over_20_steps(numpy_ops, native_ops, dtype, variant, shape):
    kind, options, state_names = VARIANTS[variant]
    rng = np.random.default_rng(zlib.crc32(f"{variant} {shape}".encode()))
    w0 = rng.standard_normal(shape).astype(dtype)
    # one large gradient scale per run: the updates must not depend on magnitude
    grads = [(rng.standard_normal(shape) * 1e3).astype(dtype) for _ in range(20)]
    w_ref, state_ref = run_steps(numpy_ops, kind, options, state_names, w0, grads)
    w_nat, state_nat = run_steps(native_ops, kind, options, state_names, w0, grads)
    assert w_nat.shape == shape
    assert not np.array_equal(w_ref, w0)
    # scale: w moves by hundreds, so an element near 0 carries their rounding error
    assert_close(w_nat, w_ref, dtype, scale=float(np.max(np.abs(w_ref))))
    for name in state_names:
        assert_close(state_nat[name], state_ref[name], dtype,
                     scale=float(np.max(np.abs(state_ref[name]))))


def test_kernels_refuse_mixed_dtypes_and_lengths(native_ops):
    """Called directly (bypassing the public checks), the compiled kernels still refuse
    arrays they would misread, instead of reading out of bounds."""
    from nncore.backends.native import _kernels as nat
    w32, g32 = np.ones(4, np.float32), np.ones(4, np.float32)
    with pytest.raises((TypeError, ValueError)):
        nat.sgd(w32, np.ones(4, np.float64), None, 0.1, 0.0, False, 0.0)
    with pytest.raises(ValueError):
        nat.sgd(w32, np.ones(3, np.float32), None, 0.1, 0.0, False, 0.0)
    with pytest.raises(ValueError):
        nat.adam(w32, g32, np.ones(4, np.float32), np.ones(5, np.float32), None,
                 0.1, 0.9, 0.999, 1e-7, 1, 0.0)
    with pytest.raises(ValueError):
        nat.rmsprop(w32, g32, np.ones(4, np.float32), None, np.ones(2, np.float32),
                    0.1, 0.9, 0.0, 1e-7, 0.0)
    np.testing.assert_array_equal(w32, 1.0)


# --------------------------------------------------------------------------- refusals
def fresh(dtype, shape=(3, 2)):
    rng = np.random.default_rng(7)
    arrays = {name: rng.standard_normal(shape).astype(dtype)
              for name in ("param", "grad", "momentum_buffer", "m")}
    for name in ("velocity", "accumulator", "v", "vhat"):
        arrays[name] = (1.0 + rng.random(shape)).astype(dtype)
    # a mean gradient whose square stays below the mean square, as in a real run
    arrays["average_gradient"] = (0.5 - rng.random(shape)).astype(dtype)
    return arrays


def call(ops, kind, arrays, **kwargs):
    """Call the ``kind`` update with the arrays it takes from ``arrays``."""
    names = {"sgd": ("velocity",), "adagrad": ("accumulator",),
             "rmsprop": ("velocity", "momentum_buffer", "average_gradient"),
             "adam": ("m", "v", "vhat")}[kind]
    defaults = {"learning_rate": 0.1}
    if kind == "adam":
        defaults["step"] = 1
    state = {name: arrays[name] for name in names if name in arrays}
    return getattr(ops, f"{kind}_update")(arrays["param"], arrays["grad"], **state,
                                          **{**defaults, **kwargs})


def noncontiguous(a):
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


REFUSALS = [
    # (id, kind, array to replace, how, kwargs, exception)
    ("grad_shape", "sgd", "grad", lambda a: a[:2], {}, ValueError),
    ("param_shape", "adam", "param", lambda a: a.reshape(-1), {}, ValueError),
    ("state_shape", "adam", "v", lambda a: a[:, :1].copy(), {}, ValueError),
    ("state_transposed", "adagrad", "accumulator", lambda a: a.T.copy(), {}, ValueError),
    ("grad_dtype", "sgd", "grad", lambda a: a.astype(other_dtype(a)), {}, TypeError),
    ("state_dtype", "adam", "m", lambda a: a.astype(other_dtype(a)), {}, TypeError),
    ("state_int", "rmsprop", "velocity", lambda a: a.astype(np.int64), {}, TypeError),
    ("state_list", "adagrad", "accumulator", lambda a: a.tolist(), {}, TypeError),
    ("vhat_dtype", "adam", "vhat", lambda a: a.astype(other_dtype(a)), {"amsgrad": True},
     TypeError),
    ("param_noncontiguous", "sgd", "param", noncontiguous, {}, ValueError),
    ("state_noncontiguous", "adam", "v", noncontiguous, {}, ValueError),
    ("mom_noncontiguous", "rmsprop", "momentum_buffer", noncontiguous, {"momentum": 0.9},
     ValueError),
    ("param_readonly", "adagrad", "param", readonly, {}, ValueError),
    ("state_readonly", "adam", "m", readonly, {}, ValueError),
    ("velocity_readonly", "sgd", "velocity", readonly, {"momentum": 0.9}, ValueError),
    ("no_velocity", "sgd", "velocity", lambda a: None, {"momentum": 0.9}, ValueError),
    ("no_rms_velocity", "rmsprop", "velocity", lambda a: None, {}, ValueError),
    ("no_momentum_buffer", "rmsprop", "momentum_buffer", lambda a: None, {"momentum": 0.9},
     ValueError),
    ("no_average_gradient", "rmsprop", "average_gradient", lambda a: None,
     {"centered": True}, ValueError),
    ("no_vhat", "adam", "vhat", lambda a: None, {"amsgrad": True}, ValueError),
    ("no_m", "adam", "m", lambda a: None, {}, ValueError),
    ("lr_negative", "sgd", None, None, {"learning_rate": -0.1}, ValueError),
    ("lr_nan", "adam", None, None, {"learning_rate": float("nan")}, ValueError),
    ("lr_inf", "adagrad", None, None, {"learning_rate": float("inf")}, ValueError),
    ("lr_string", "rmsprop", None, None, {"learning_rate": "0.1"}, TypeError),
    ("beta_1_one", "adam", None, None, {"beta_1": 1.0}, ValueError),
    ("beta_2_negative", "adam", None, None, {"beta_2": -0.5}, ValueError),
    ("step_zero", "adam", None, None, {"step": 0}, ValueError),
    ("step_float", "adam", None, None, {"step": 1.5}, ValueError),
    ("momentum_above_1", "sgd", None, None, {"momentum": 1.5}, ValueError),
    ("rho_nan", "rmsprop", None, None, {"rho": float("nan")}, ValueError),
    ("epsilon_negative", "adagrad", None, None, {"epsilon": -1e-7}, ValueError),
    ("weight_decay_negative", "adam", None, None, {"weight_decay": -0.01}, ValueError),
]


def other_dtype(a):
    return np.float64 if a.dtype == np.float32 else np.float32


@pytest.mark.parametrize("case", REFUSALS, ids=[case[0] for case in REFUSALS])
def test_refused_updates_change_nothing(backend, dtype, case):
    _, kind, name, how, kwargs, error = case
    arrays = fresh(dtype)
    if name is not None:
        arrays[name] = how(arrays[name])  # None: the state is not passed
    before = {k: np.array(a, copy=True) for k, a in arrays.items() if a is not None}
    with pytest.raises(error):
        call(backend, kind, arrays, **kwargs)
    for k, a in before.items():
        assert np.asarray(arrays[k]).tobytes() == a.tobytes(), f"{k} was changed"


def test_refused_overlap_changes_nothing(backend, dtype):
    arrays = fresh(dtype)
    before = arrays["param"].copy()
    with pytest.raises(ValueError):
        call(backend, "adam", {**arrays, "v": arrays["m"]})  # m and v the same array
    with pytest.raises(ValueError):
        call(backend, "sgd", {**arrays, "grad": arrays["param"]})
    assert arrays["param"].tobytes() == before.tobytes()


@pytest.mark.parametrize("kind,kwargs", [("sgd", {"momentum": 0.9}), ("adagrad", {}),
                                         ("rmsprop", {"momentum": 0.9, "centered": True}),
                                         ("adam", {"amsgrad": True})])
def test_noncontiguous_grad_is_copied(backend, dtype, kind, kwargs):
    a, b = fresh(dtype), fresh(dtype)
    b["grad"] = noncontiguous(a["grad"])
    grad_before = b["grad"].copy()
    call(backend, kind, a, **kwargs)
    call(backend, kind, b, **kwargs)
    for name in a:
        np.testing.assert_array_equal(b[name], a[name])
    np.testing.assert_array_equal(b["grad"], grad_before)


def test_update_returns_none_and_writes_in_place(backend, dtype):
    arrays = fresh(dtype)
    w, m = arrays["param"], arrays["m"]
    assert call(backend, "adam", arrays) is None
    assert arrays["param"] is w and arrays["m"] is m
    assert not np.array_equal(w, fresh(dtype)["param"])


def test_nan_gradient_propagates(backend, dtype):
    """No -ffast-math: a NaN gradient reaches the parameter and the state, never hidden."""
    for kind, kwargs in [("sgd", {"momentum": 0.9}), ("adagrad", {}),
                         ("rmsprop", {"centered": True, "momentum": 0.5}),
                         ("adam", {"amsgrad": True})]:
        arrays = fresh(dtype)
        arrays["grad"][0, 0] = np.nan
        call(backend, kind, arrays, **kwargs)
        assert np.isnan(arrays["param"][0, 0]), kind
        assert np.all(np.isfinite(arrays["param"].reshape(-1)[1:])), kind


def test_kernels_refuse_the_other_byte_order(native_ops):
    """Same dtype letter, other byte order: refused, never read as native floats."""
    from nncore.backends.native import _kernels

    w, m, v = np.ones(4, np.float32), np.zeros(4, np.float32), np.zeros(4, np.float32)
    swapped = np.ones(4, ">f4")
    with pytest.raises(TypeError):
        _kernels.adam(swapped, w.copy(), m, v, None, 0.1, 0.9, 0.999, 1e-7, 1, 0.0)
    with pytest.raises(TypeError):
        _kernels.adam(w, swapped, m, v, None, 0.1, 0.9, 0.999, 1e-7, 1, 0.0)
    np.testing.assert_array_equal(w, 1.0)
    np.testing.assert_array_equal(m, 0.0)


# --------------------------------------------------------------------------- subnormals
@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64", "i686", "x86"),
                    reason="subnormals are flushed on x86 only")
def test_subnormal_state_is_flushed_to_zero(numpy_ops, native_ops):
    """g * g = 1e-40 is subnormal in float32: NumPy keeps it in v, the native update
    flushes it to 0. sqrt(v) is then 3e-22 against eps = 1e-7, so w is the same."""
    w0 = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    grads = [np.full(4, 1e-20, np.float32)]
    w_ref, state_ref = run_steps(numpy_ops, "adam", {}, ("m", "v"), w0, grads)
    w_nat, state_nat = run_steps(native_ops, "adam", {}, ("m", "v"), w0, grads)
    tiny = np.finfo(np.float32).tiny
    assert np.all((state_ref["v"] > 0) & (state_ref["v"] < tiny))
    assert np.all(state_nat["v"] == 0)
    np.testing.assert_array_equal(state_nat["m"], state_ref["m"])
    np.testing.assert_array_equal(w_nat, w_ref)
    # the caller's floating-point mode is back: NumPy still makes subnormals
    assert np.multiply(np.float32(1e-20), np.float32(1e-20)) > 0

