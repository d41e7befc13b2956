"""Numerical faults, concurrency, memory and determinism.

- Divergence (learning rate 1e3) is never silent: fit warns once naming the epoch and
  batch where the loss stopped being finite, TerminateOnNaN stops training at that batch,
  and ``TerminateOnNaN(restore_weights=True)`` puts back the weights the last finite loss
  was computed with, bit for bit. float16 data is upcast exactly, never truncated.
- ``predict`` from 8 threads at once on one model gives what serial calls give; the native
  kernels release the GIL (another thread runs while they compute).
- 10,000 training steps keep the resident memory flat, and a warm step allocates no array.
- The same seed trains bit-identically, in this process and in another; other seeds differ.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

pytest.register_assert_rewrite("robustness_profile")

import nncore as nn  # noqa: E402
from nncore import backends  # noqa: E402
from conftest import BACKENDS  # noqa: E402
from robustness_profile import STATS, attempt, budget  # noqa: E402

pytest_plugins = ("robustness_profile",)

ROOT = Path(__file__).resolve().parents[1]


def data(n=64, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    return x, (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)


def model_for(backend, seed=0, dtype="float32", batch_norm=True, output="softmax"):
    hidden = [nn.layers.Dense(16, input_dim=4, activation="relu")]
    if batch_norm:
        hidden += [nn.layers.BatchNormalization(), nn.layers.Dropout(0.2)]
    return nn.Sequential(hidden + [nn.layers.Dense(8, activation="tanh"),
                                   nn.layers.Dense(3, activation=output)],
                         seed=seed, backend=backend, dtype=dtype)


# --------------------------------------------------------------------------- divergence
class Recorder(nn.callbacks.Callback):
    """Each batch's (epoch, batch, running loss) and the weights it started from."""

    def __init__(self):
        self.rows, self.starts, self.epoch = [], [], 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.starts.append(self.model.get_weights())

    def on_train_batch_end(self, batch, logs=None):
        self.rows.append((self.epoch, batch, logs["loss"]))


def diverge(backend, dtype, optimizer, callbacks, batch_norm):
    x, y = data(n=96)
    model = model_for(backend, dtype=dtype, batch_norm=batch_norm, output="linear")
    # Squared error of a linear output grows without bound (a cross-entropy from logits
    # stays finite while the weights blow up, and Adam's steps are bounded by the
    # learning rate).
    model.compile(optimizer, "mse", ["mae"])
    y = np.eye(3)[y]
    recorder = Recorder()
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        history = model.fit(x, y, epochs=30, batch_size=8, verbose=0,
                            callbacks=[recorder] + callbacks)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)
                and "diverged" in str(w.message)]
    return model, history, recorder, messages


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batchnorm"])
@pytest.mark.parametrize("make_optimizer", [lambda: nn.optimizers.SGD(1e3),
                                            lambda: nn.optimizers.SGD(1e3, momentum=0.9)],
                         ids=["sgd", "momentum"])
def test_divergence_is_reported_stopped_and_undone(backend, dtype, make_optimizer, batch_norm):
    # Without TerminateOnNaN: training runs on, and the user is told once, where it broke.
    model, history, recorder, messages = diverge(backend, dtype, make_optimizer(), [],
                                                 batch_norm)
    bad = [(e, b) for e, b, loss in recorder.rows if not np.isfinite(loss)]
    assert bad, "a learning rate of 1e3 should diverge"
    epoch, batch = bad[0]
    assert messages == [f"The loss became {recorder.rows[len(recorder.rows) - len(bad)][2]} "
                        f"in epoch {epoch + 1}, batch {batch + 1}: training diverged (try a "
                        "smaller learning rate or gradient clipping; TerminateOnNaN stops it)."]
    assert not np.isfinite(history.history["loss"][-1])
    # TerminateOnNaN stops at that very batch; restore_weights gives back the weights of
    # the last batch whose loss was finite (those it started from), bit for bit.
    stop = nn.callbacks.TerminateOnNaN(restore_weights=True)
    model, history, recorder, messages = diverge(backend, dtype, make_optimizer(), [stop],
                                                 batch_norm)
    assert recorder.rows[-1][:2] == (epoch, batch) and model.stop_training
    assert len(history.epoch) == epoch + 1 and len(messages) == 1
    expected = recorder.starts[0]  # the weights fit started from, if no batch was finite
    for (_, _, loss), start in zip(recorder.rows, recorder.starts):
        if np.isfinite(loss) and all(np.isfinite(w).all() for w in start):
            expected = start
    got = model.get_weights()
    assert all(np.isfinite(w).all() for w in got)
    assert [w.tobytes() for w in got] == [w.tobytes() for w in expected]
    STATS.tried["divergence runs"] += 2


def test_terminate_on_nan_refuses_a_non_bool():
    outcome, _ = attempt("callbacks.TerminateOnNaN",
                         lambda: nn.callbacks.TerminateOnNaN(restore_weights="yes"),
                         ("restore_weights",))
    assert outcome == "refused"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float16_data_is_upcast_exactly(backend, dtype):
    rng = np.random.default_rng(0)
    x16 = rng.normal(size=(20, 4)).astype(np.float16)
    model = model_for(backend, dtype=dtype)
    model.compile("adam", "mse")
    exact = x16.astype(dtype)
    assert model.predict(x16).tobytes() == model.predict(exact).tobytes()
    y16 = rng.uniform(size=(20, 3)).astype(np.float16)
    assert model.evaluate(x16, y16) == model.evaluate(exact, y16.astype(dtype))
    for fn in (nn.activations.softmax, nn.activations.gelu):
        out = fn(x16)
        assert out.dtype == np.float32
        assert out.tobytes() == fn(x16.astype(np.float32)).tobytes()
    # float16's own overflow (65504 * 2 is inf in float16) is refused, not trained on.
    with np.errstate(over="ignore"):
        x16[3, 1] = np.float16(65504) * np.float16(2)
    outcome, exc = attempt("Sequential.predict", lambda: model.predict(x16), ("x",))
    assert outcome == "refused"
    # A float64 value beyond float32 is refused by a float32 model, not turned into inf.
    if dtype == "float32":
        outcome, exc = attempt("Sequential.predict",
                               lambda: model.predict(np.full((2, 4), 1e39)), ("x",))
        assert outcome == "refused" and "float32" in str(exc)


# --------------------------------------------------------------------------- threads
@pytest.mark.parametrize("backend", BACKENDS)
def test_predict_from_eight_threads_equals_serial(backend):
    x, y = data(n=64)
    model = model_for(backend)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(300, 4)) for _ in range(8)]
    serial = [model.predict(xi, batch_size=32) for xi in inputs]
    before = [w.tobytes() for w in model.get_weights()]
    barrier = threading.Barrier(8)
    results: list = [None] * 8

    def work(i):
        barrier.wait()
        outs = [model.predict(inputs[i], batch_size=32) for _ in range(6)]
        results[i] = all(out.tobytes() == serial[i].tobytes() for out in outs)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a predict thread hung"
    assert results == [True] * 8, f"threads that saw other threads' results: {results}"
    assert [w.tobytes() for w in model.get_weights()] == before
    STATS.tried["predict from 8 threads"] += 8 * 6


GIL_KERNELS = {
    "dense_forward (GEMM)": lambda ops, r: ops.dense_forward(
        r((700, 700)), r((700, 700)), r((700,)), "gelu"),
    "dense_backward (GEMM)": lambda ops, r: ops.dense_backward(
        r((600, 600)), r((600, 600)), r((600, 600)), r((600, 600)), r((600, 600)), "tanh"),
    "activation": lambda ops, r: ops.activation("gelu", r((3000, 1000))),
    "loss": lambda ops, r: ops.loss_and_grad("categorical_crossentropy", r((3000, 1000)),
                                             r((3000, 1000)), from_logits=True),
    "adam_update": lambda ops, r: ops.adam_update(
        r((4_000_000,)), r((4_000_000,)), r((4_000_000,)), np.abs(r((4_000_000,))), step=1,
        learning_rate=0.1),
    "batch_norm_forward": lambda ops, r: ops.batch_norm_forward(
        r((2000, 1000)), r((1000,)), r((1000,)), r((1000,)), np.abs(r((1000,))) + 1,
        training=True),
}


@pytest.mark.skipif(not backends.native_available(), reason="the native extension is not built")
@pytest.mark.parametrize("kernel", list(GIL_KERNELS))
def test_native_kernels_release_the_gil(kernel):
    """With a 10 s switch interval a thread that holds the GIL keeps it until it blocks or
    releases it. The main thread asks for the GIL while a worker is inside the kernel: it
    can only see the worker's "inside" flag set if the kernel let the GIL go. No timing is
    asserted (the kernels take a few milliseconds, far below the interval)."""
    ops = backends.get_backend("native")
    rng = np.random.default_rng(0)
    state = {"inside": False, "seen": False, "done": False}
    make = GIL_KERNELS[kernel]

    def r(shape):
        return rng.normal(size=shape).astype(np.float32)

    args_ops = ops

    def worker():
        for _ in range(20):
            state["inside"] = True
            make(args_ops, r)
            state["inside"] = False
            if state["seen"]:
                break
        state["done"] = True

    old = sys.getswitchinterval()
    sys.setswitchinterval(10.0)
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        while not state["done"]:
            time.sleep(0.0005)  # gives up the GIL, then asks for it back
            if state["inside"]:
                state["seen"] = True
        thread.join()
    finally:
        sys.setswitchinterval(old)
    assert state["seen"], f"{kernel} held the GIL while computing"


# --------------------------------------------------------------------------- memory
def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
@pytest.mark.parametrize("backend", BACKENDS)
def test_ten_thousand_steps_keep_memory_flat(backend):
    x, y = data(n=160, seed=3)
    model = model_for(backend)
    model.compile(nn.optimizers.Adam(0.001), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=50, batch_size=16, verbose=0)  # warm: 500 steps
    before = _rss()
    history = model.fit(x, y, epochs=1000, batch_size=16, verbose=0)  # 10,000 steps
    growth = _rss() - before
    assert model.optimizer.iterations == 10_500 and len(history.epoch) == 1000
    STATS.notes[f"resident memory growth over 10,000 steps ({backend})"] = \
        f"{growth / 1024:.0f} KiB"
    # The history of 1000 epochs (two floats each) is the only thing that should stay;
    # 1 MiB leaves room for the allocator's arenas, and is far below the ~10 MiB that one
    # leaked 16 x 16 float32 array per step adds (measured with a leaking callback).
    assert growth < 1 << 20, f"resident memory grew by {growth} bytes over 10,000 steps"


class _PeakProbe(nn.callbacks.Callback):
    """tracemalloc's peak above the start of each batch, and what the batch left behind."""

    def __init__(self):
        self.peaks, self.kept = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()

    def on_train_batch_end(self, batch, logs=None):
        current, peak = tracemalloc.get_traced_memory()
        self.peaks.append(peak - self.base)
        self.kept.append(current - self.base)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_warm_fit_step_allocates_no_array(backend):
    """Between two batch callbacks fit gathers the batch, runs the step and updates the
    running loss: with the loss alone, nothing of array size is allocated (only a few
    small Python objects: floats, the logs dict, the Cython wrappers' memoryviews)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2048, 32)).astype(np.float32)
    y = rng.integers(0, 10, 2048)
    model = nn.Sequential([nn.layers.Dense(64, input_dim=32, activation="relu"),
                           nn.layers.BatchNormalization(), nn.layers.Dropout(0.2),
                           nn.layers.Dense(10, activation="softmax")], seed=0, backend=backend)
    model.compile(nn.optimizers.Adam(), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=256, verbose=0)
    probe = _PeakProbe()
    tracemalloc.start()
    try:
        model.fit(x, y, epochs=3, batch_size=256, verbose=0, callbacks=[probe])
    finally:
        tracemalloc.stop()
    smallest_array = 256 * 8  # the batch's int64 labels; the logits are 256 x 10 x 4 bytes
    warm = probe.peaks[8:]
    STATS.notes[f"bytes allocated at peak in a warm fit step ({backend})"] = \
        f"{max(warm)}, kept {max(probe.kept[8:])}" + (
            " (NumPy temporaries of the reference backend, freed)" if backend == "numpy"
            else f" (no array: the smallest batch array is {smallest_array})")
    if backend == "numpy":
        # The reference backend computes with NumPy temporaries by design: bounded, freed.
        assert max(probe.kept[8:]) < smallest_array
        return
    assert max(warm) < smallest_array, f"a warm step allocated {max(warm)} bytes at peak"
    assert max(probe.kept[8:]) < smallest_array


# --------------------------------------------------------------------------- determinism
CONFIGS = [(arch, opt) for arch in ("noisy", "plain") for opt in ("adam", "sgd", "rmsprop")]


def train_hash(backend: str, dtype: str, arch: str, opt: str, seed: int) -> str:
    """Train a model (shuffling, dropout, batch norm, a validation split) and hash every
    bit of its state: weights, optimizer slots and random-generator states."""
    x, y = data(n=60, seed=11)
    model = model_for(backend, seed=seed, dtype=dtype, batch_norm=arch == "noisy")
    optimizer = {"adam": lambda: nn.optimizers.Adam(0.01, amsgrad=True),
                 "sgd": lambda: nn.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                 "rmsprop": lambda: nn.optimizers.RMSprop(0.01, centered=True)}[opt]()
    model.compile(optimizer, "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=7, validation_split=0.2, verbose=0)
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(w.tobytes())
    for slots in model.optimizer.slots:
        for key in sorted(slots):
            digest.update(slots[key].tobytes())
    digest.update(repr(model.rng.bit_generator.state).encode())
    digest.update(json.dumps(history.history).encode())
    return digest.hexdigest()


@budget(20)
@given(st.sampled_from(BACKENDS), st.sampled_from(["float32", "float64"]),
       st.sampled_from(CONFIGS), st.integers(0, 2**31))
def test_same_seed_same_bits_other_seed_other_bits(backend, dtype, config, seed):
    first = train_hash(backend, dtype, *config, seed)
    assert train_hash(backend, dtype, *config, seed) == first
    assert train_hash(backend, dtype, *config, seed + 1) != first
    STATS.tried["determinism runs"] += 3


CHILD = """
import json, sys
sys.path.insert(0, {tests!r}); sys.path.insert(0, {root!r})
import test_robustness_runtime as t
print(json.dumps([t.train_hash(*case) for case in json.loads(sys.argv[1])]))
"""


def test_same_seed_same_bits_in_another_process():
    cases = [(b, dt, arch, opt, 42) for b in BACKENDS for dt in ("float32", "float64")
             for arch, opt in CONFIGS[::2]]
    result = subprocess.run([sys.executable, "-c", CHILD.format(tests=str(ROOT / "tests"),
                                                                 root=str(ROOT)),
                             json.dumps(cases)], capture_output=True, text=True, timeout=300,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == [train_hash(*case) for case in cases]
    STATS.tried["determinism runs"] += 2 * len(cases)
