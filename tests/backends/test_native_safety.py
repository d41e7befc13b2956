"""What a hostile caller can do to the native objects (issue 14, items 1, 2 and 7): each
case that could crash runs in a child process, which must exit cleanly (return code 0)
and print what the call raised.

- DensePlan (nncore/backends/native/plan.pxi) holds every buffer it points into, runs
  one step at a time, is never left half-built by a refused ``__init__``, refuses to be
  copied or pickled, and refuses inputs that overlap memory it writes.
- The optimizer kernels keep their buffers acquired while C runs without the GIL: a
  second thread's release of the memory fails with BufferError.

The two-thread cases are made deterministic with a switch interval of 100 s: the main
thread keeps the GIL until it releases it itself, on entering the kernel's ``nogil``
section, so the woken thread runs only while C is running (the main thread calls the
kernel again until the other thread has had its turn).
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nncore import backends
from nncore.backends.base import ACTIVATION_CODES, LOSS_CODES

pytestmark = pytest.mark.skipif(not backends.native_available(),
                                reason="the native extension is not built")

RELU, SOFTMAX = ACTIVATION_CODES["relu"], ACTIVATION_CODES["softmax"]
SCCE = LOSS_CODES["sparse_categorical_crossentropy"]

# Shared by the child programs: a float32 plan of Dense layers of the given widths
# (large enough that freed arrays go back to the system and a step takes milliseconds).
_PRELUDE = f"""
import copy, gc, pickle, sys, threading
import numpy as np
import nncore
from nncore.backends.native._kernels import DensePlan
ops = nncore.backends.get_backend("native")

def arrays(sizes, seed=0):
    rng = np.random.default_rng(seed)
    weights, grads = [], []
    for k, m in zip(sizes[:-1], sizes[1:]):
        W = (rng.normal(size=(k, m)) / np.sqrt(k)).astype(np.float32)
        weights.append((W, np.zeros(m, np.float32)))
        grads.append((np.zeros_like(W), np.zeros(m, np.float32)))
    return weights, grads

def plan_of(weights, grads):
    L = len(weights)
    return ops.dense_plan(weights, grads, [{RELU}] * (L - 1) + [{SOFTMAX}], [0.0] * L,
                          {SCCE}, False, 1.0, True)

def batch(n, k, d, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, k)).astype(np.float32),
            rng.integers(0, d, size=n).astype(np.int64))

# Calls call(i) (a kernel that lets the GIL go) until other(), started in a second
# thread, has had its turn, which the 100 s switch interval gives it only while the kernel
# runs. Returns the last result of call, what other returned and the number of calls.
def while_other_runs(call, other):
    go, seen = threading.Event(), []
    def run():
        go.wait()
        seen.append(other())
    thread = threading.Thread(target=run)
    thread.start()
    sys.setswitchinterval(100.0)
    go.set()
    calls, result = 0, None
    while not seen and calls < 1000:
        result = call(calls)
        calls += 1
    thread.join()
    sys.setswitchinterval(0.005)
    return result, seen[0], calls
"""


def run_child(body: str) -> str:
    """Run ``body`` after the prelude in a fresh interpreter; it must exit with 0."""
    code = _PRELUDE + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, \
        f"child exited with {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


# --------------------------------------------------------------------------- item 1
def test_plan_keeps_the_arrays_it_was_given():
    """The caller replaces every entry of its lists and drops the arrays: the plan still
    computes with the arrays it was given (which it keeps alive), never freed memory."""
    out = run_child("""
        weights, grads = arrays([512, 512, 10])
        plan = plan_of(weights, grads)
        X, T = batch(32, 512, 10)
        first, _ = plan.train_step(X, T, None)
        for i in range(len(weights)):
            weights[i] = (np.full((2, 2), np.nan, np.float32), None)
            grads[i] = (np.full((2, 2), np.nan, np.float32), None)
        gc.collect()
        junk = [np.full((512, 512), np.nan, np.float32) for _ in range(8)]
        second, _ = plan.train_step(X, T, None)
        print("same loss", first == second)
    """)
    assert "same loss True" in out


def test_plan_holds_its_buffers_for_its_life():
    """A gradient given as a memoryview of a bytearray: while the plan lives, the view
    cannot be released nor the bytearray resized (the plan writes into it every step)."""
    out = run_child("""
        weights, grads = arrays([64, 32, 10])
        raw = bytearray(64 * 32 * 4)
        dW = memoryview(raw).cast("B").cast("f", (64, 32))
        grads[0] = (dW, grads[0][1])
        plan = plan_of(weights, grads)
        for attempt in (dW.release, lambda: raw.extend(bytes(1 << 24))):
            try:
                attempt()
                print("released")
            except BufferError as exc:
                print("BufferError:", exc)
        X, T = batch(16, 64, 10)
        plan.train_step(X, T, None)
        del plan
        dW.release()
        raw.extend(b"x")
        print("released after the plan")
    """)
    assert out.count("BufferError:") == 2 and "released after the plan" in out, out


def test_refused_reinit_leaves_the_plan_unusable():
    """A re-initialisation refused midway (an unknown activation code in the last of
    three layers) must not leave a half-built plan that the next step runs."""
    out = run_child("""
        weights, grads = arrays([8, 4])
        plan = plan_of(weights, grads)
        X, T = batch(16, 8, 4)
        plan.train_step(X, T, None)
        weights3, grads3 = arrays([8, 16, 16, 4])
        try:
            plan.__init__(weights3, grads3, [0, 0, 99], [0.0] * 3, 0, False, 1.0, False)
        except ValueError as exc:
            print("ValueError:", exc)
        try:
            plan.train_step(X, T, None)
        except RuntimeError as exc:
            print("RuntimeError:", exc)
        try:
            DensePlan.__new__(DensePlan).train_step(X, T, None)
        except RuntimeError as exc:
            print("RuntimeError:", exc)
    """)
    assert "ValueError: Unknown activation code 99" in out
    assert out.count("RuntimeError:") == 2 and "make a new one" in out, out


def test_plan_refuses_a_second_thread():
    """Thread B calls train_step with another batch size while the main thread's step
    runs without the GIL: B is refused (RuntimeError), the main step's result is the
    serial one."""
    out = run_child("""
        weights, grads = arrays([784, 1024, 1024, 10])
        plan = plan_of(weights, grads)
        X, T = batch(256, 784, 10)
        X2, T2 = batch(7, 784, 10, seed=2)
        serial, _ = plan.train_step(X, T, None)
        want = [g.copy() for pair in grads for g in pair]
        def other():
            try:
                plan.train_step(X2, T2, None)
                return "ran"
            except RuntimeError as exc:
                return f"RuntimeError: {exc}"
        (value, _), seen, _ = while_other_runs(lambda i: plan.train_step(X, T, None), other)
        print(seen)
        print("same loss", value == serial)
        print("same grads", all(np.array_equal(g, w) for g, w in
                                zip([g for pair in grads for g in pair], want)))
        plan.train_step(X2, T2, None)  # usable again once the step is over
        print("done")
    """)
    assert "RuntimeError: This DensePlan is in use by another thread" in out, out
    assert "same loss True" in out and "same grads True" in out and "done" in out


@pytest.mark.parametrize("how", ["copy.copy(plan)", "copy.deepcopy(plan)",
                                 "pickle.dumps(plan)", "pickle.dumps(plan, protocol=0)"])
def test_plan_refuses_to_be_copied_or_pickled(how):
    out = run_child(f"""
        weights, grads = arrays([4, 8, 3])
        plan = plan_of(weights, grads)
        plan.train_step(*batch(5, 4, 3), None)
        try:
            {how}
            print("copied")
        except TypeError as exc:
            print("TypeError:", exc)
    """)
    assert "TypeError: DensePlan holds pointers into the model's buffers and cannot be " \
           "copied or pickled; copy the model instead." in out, out


@pytest.fixture
def small_plan(native_ops):
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(3, 4)).astype(np.float32), \
        rng.normal(size=(4, 3)).astype(np.float32)  # 3 in, 3 out: an output fits as X
    weights = [(W1, np.zeros(4, np.float32)), (W2, None)]
    grads = [(np.zeros_like(W1), np.zeros(4, np.float32)), (np.zeros_like(W2), None)]
    plan = native_ops.dense_plan(weights, grads, [RELU, SOFTMAX], [0.0, 0.0], SCCE,
                                 False, 1.0, True)
    return plan, weights, grads


def test_plan_refuses_inputs_in_memory_it_writes(small_plan):
    """X, T or sw overlapping a gradient or the workspace (the output the last step
    returned, which the next one overwrites) would be read after it was written."""
    plan, _, grads = small_plan
    T = np.array([0, 1, 1, 0, 1])
    X = np.ones((5, 3), np.float32)
    _, P = plan.train_step(X, T, None)
    with pytest.raises(ValueError, match=r"X must not share memory with the plan's Y\[1\]"):
        plan.train_step(P, T, None)
    with pytest.raises(ValueError, match=r"X must not share memory with the plan's dW\[0\]"):
        plan.train_step(grads[0][0].reshape(-1)[:9].reshape(3, 3), T[:3], None)
    with pytest.raises(ValueError, match=r"sw must not share memory with the plan's db\[0\]"):
        plan.train_step(X[:4], T[:4], grads[0][1])
    value, _ = plan.train_step(X, T, None)  # refusals left the plan usable
    assert np.isfinite(value)


@pytest.mark.parametrize("case", ["dW is W", "db in W", "dW shared", "dW overlaps next"])
def test_plan_refuses_gradients_that_alias(native_ops, case):
    W1, b1 = np.ones((3, 4), np.float32), np.zeros(4, np.float32)
    W2 = np.ones((4, 2), np.float32)
    dW1, db1, dW2 = np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2)
    if case == "dW is W":
        dW1 = W1
    elif case == "db in W":
        db1 = W2.reshape(-1)[:4]
    elif case == "dW shared":
        dW2 = dW1.reshape(-1)[:8].reshape(4, 2)
    else:
        flat = np.zeros(12 + 8 - 1, np.float32)  # dW2 starts on dW1's last element
        dW1, dW2 = flat[:12].reshape(3, 4), flat[11:].reshape(4, 2)
    with pytest.raises(ValueError, match="must not share memory with"):
        native_ops.dense_plan([(W1, b1), (W2, None)], [(dW1, db1), (dW2, None)],
                              [RELU, SOFTMAX], [0.0, 0.0], SCCE, False, 1.0, True)


# --------------------------------------------------------------------------- item 2
@pytest.mark.parametrize("kernel", ["sgd", "adam", "plan"])
def test_kernel_holds_its_buffers_while_it_runs(kernel):
    """Thread B tries to release the memoryview the kernel is reading or writing, while
    the kernel runs without the GIL: it gets BufferError, and the result is right."""
    call = {
        "sgd": "_kernels.sgd({w}, g, None, 0.5, 0.0, False, 0.0)",
        "adam": "_kernels.adam({w}, g, m, v, None, 0.5, 0.9, 0.999, 1e-7, i + 1, 0.0)",
        "plan": "plan.train_step({w}, T, None)",
    }[kernel]
    out = run_child(f"""
        from nncore.backends.native import _kernels
        if {kernel!r} == "plan":
            weights, grads = arrays([784, 1024, 1024, 10])
            plan = plan_of(weights, grads)
            X, T = batch(256, 784, 10)
            want, _ = plan.train_step(X, T, None)
            raw = bytearray(X.tobytes())
            view = memoryview(raw).cast("f", X.shape)
        else:
            n = 1 << 22  # 16 MB: an update takes milliseconds
            g = np.random.default_rng(0).normal(size=n).astype(np.float32)
            # Made before the loop: numpy lets the GIL go while it zeroes a large array.
            m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
            raw = bytearray(np.ones(n, np.float32).tobytes())
            view = memoryview(raw).cast("f")
        def other():
            try:
                view.release()
                raw.extend(bytes(1 << 26))  # moves the data: the kernel's pointer dangles
                return "released"
            except BufferError as exc:
                return f"BufferError: {{exc}}"
        result, seen, calls = while_other_runs(lambda i: {call.format(w="view")}, other)
        print(seen)
        if {kernel!r} == "plan":
            print("right", result[0] == want)
        else:
            want = np.ones(n, np.float32)
            m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
            for i in range(calls):
                {call.format(w="want")}
            print("right", np.array_equal(np.frombuffer(view, np.float32), want))
    """)
    assert "BufferError:" in out and "right True" in out, out


# --------------------------------------------------------------------------- item 7
def test_native_adam_refuses_step_zero():
    """At step 0 Adam's bias correction is 0 / 0: every weight would turn NaN."""
    from nncore.backends.native import _kernels
    w = np.ones(4, np.float32)
    g, m, v = np.ones_like(w), np.zeros_like(w), np.zeros_like(w)
    for step in (0, -3):
        with pytest.raises(ValueError, match="step must be >= 1"):
            _kernels.adam(w, g, m, v, None, 0.1, 0.9, 0.999, 1e-7, step, 0.0)
    np.testing.assert_array_equal(w, 1.0)
    np.testing.assert_array_equal(m, 0.0)


@pytest.mark.parametrize("backend", backends.NAMES if backends.native_available()
                         else ["numpy"])
def test_public_adam_refuses_step_zero(backend):
    ops = backends.get_backend(backend)
    w = np.ones(4, np.float32)
    g, m, v = np.ones_like(w), np.zeros_like(w), np.zeros_like(w)
    with pytest.raises(ValueError, match="step must be"):
        ops.adam_update(w, g, m, v, step=0, learning_rate=0.1)
    np.testing.assert_array_equal(w, 1.0)


def test_native_batch_norm_refuses_an_empty_training_batch():
    """The mean and variance of no rows are 0 / 0: the moving statistics would turn NaN.
    Inference on no rows is fine (it reads the moving statistics only)."""
    from nncore.backends.native import _kernels
    d = 3
    X, Y, xhat = (np.zeros((0, d)) for _ in range(3))
    gamma, beta, inv_std = np.ones(d), np.zeros(d), np.empty(d)
    mean, var = np.zeros(d), np.ones(d)
    with pytest.raises(ValueError, match="at least one row"):
        _kernels.batch_norm_forward(X, gamma, beta, mean, var, True, 0.9, 1e-3, Y,
                                          xhat, inv_std)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_array_equal(var, 1.0)
    _kernels.batch_norm_forward(X, gamma, beta, mean, var, False, 0.9, 1e-3, Y,
                                      xhat, inv_std)
    np.testing.assert_array_equal(var, 1.0)
