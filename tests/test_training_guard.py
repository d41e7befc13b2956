"""Training that is safe under threads and Ctrl-C (nncore._training_guard and its users).

- ``predict`` in a second thread must not change what ``fit`` computes: inference keeps
  nothing on the layers, so the concurrent run equals the serial one bit for bit.
- A second caller training the same model while it trains is refused.
- SIGINT during training leaves the model at a step boundary: every step is all done or
  not begun. Shown two ways in a child process: SIGINT raised at every line nncore runs
  in a step (sys.settrace, so no phase is missed), and real signals at random times
  during ``fit``; after each interruption the model must equal a model trained
  ``iterations`` steps without one.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import nncore as nn
from conftest import BACKENDS


def make_model(backend, kind="mixed", seed=0):
    if kind == "mixed":
        layers = [nn.layers.Dense(6, input_dim=3, activation="relu"),
                  nn.layers.BatchNormalization(momentum=0.9), nn.layers.Dropout(0.3),
                  nn.layers.Dense(2, activation="softmax")]
    else:  # all Dense: the native backend trains it with its compiled step
        layers = [nn.layers.Dense(6, input_dim=3, activation="relu"),
                  nn.layers.Dense(2, activation="softmax")]
    model = nn.Sequential(layers, seed=seed, backend=backend)
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    return model


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def weights(model) -> list[bytes]:
    return [w.tobytes() for w in model.get_weights()] + \
        [v.tobytes() for s in model.optimizer.slots or [] for v in s.values()]


@pytest.fixture
def fast_switching():
    """Threads take turns every 10 us instead of 5 ms, so that they interleave often."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["mixed", "dense"])
def test_predict_in_another_thread_leaves_fit_unchanged(backend, kind, fast_switching):
    x, y = data()
    serial = make_model(backend, kind)
    serial.fit(x, y, epochs=15, batch_size=8, verbose=0)
    model = make_model(backend, kind)
    started, stop, predictions = threading.Event(), threading.Event(), [0]

    def predict_until_stopped():
        probe = np.random.default_rng(5).normal(size=(5, 3))
        while not stop.is_set():
            model.predict(probe)
            model.evaluate(probe, np.zeros(5, np.int64))
            predictions[0] += 1
            started.set()

    worker = threading.Thread(target=predict_until_stopped)
    worker.start()
    started.wait()
    try:
        model.fit(x, y, epochs=15, batch_size=8, verbose=0)
    finally:
        stop.set()
        worker.join()
    assert predictions[0] > 1
    assert weights(model) == weights(serial)


class _TrainsAgain(nn.callbacks.Callback):
    """At the first batch, trains the same model again: from another thread, or here."""

    def __init__(self, how):
        super().__init__()
        self.how, self.error = how, None

    def on_train_batch_begin(self, batch, logs=None):
        if batch:
            return
        x, y = data(8)

        def again():
            try:
                if self.how == "train_on_batch":
                    self.model.train_on_batch(x, y)
                else:
                    self.model.fit(x, y, verbose=0)
            except RuntimeError as exc:
                self.error = exc

        if self.how == "thread":
            worker = threading.Thread(target=again)
            worker.start()
            worker.join()
        else:
            again()


@pytest.mark.parametrize("how", ["thread", "train_on_batch", "fit"])
def test_a_second_caller_cannot_train_a_model_that_is_training(how):
    x, y = data()
    model = make_model("numpy")
    model.name = "net"
    twin = make_model("numpy")
    callback = _TrainsAgain(how)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[callback])
    assert isinstance(callback.error, RuntimeError)
    assert "'net' is already training" in str(callback.error)
    twin.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert weights(model) == weights(twin)  # the refused call changed nothing
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # and the model trains on after


INTERRUPT_SCRIPT = textwrap.dedent("""
    import os, random, signal, sys, threading
    import numpy as np, nncore as nn
    sys.path.insert(0, {tests!r})
    from test_training_guard import data, make_model, weights

    backend, kind, mode = sys.argv[1:4]
    x, y = data(32)
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8)]

    def state(model):
        return weights(model) + [repr(model.rng.bit_generator.state),
                                 repr([l.rng.bit_generator.state for l in model.layers
                                       if hasattr(l, "rng")])]

    def reference(steps):
        model = make_model(backend, kind)
        for i in range(steps):
            model.train_on_batch(*batches[i % len(batches)])
        return model

    def check(model, trial):
        steps = model.optimizer.iterations
        if state(model) != state(reference(steps)):
            print(f"TORN at {{trial}}: iterations={{steps}}", flush=True)
            sys.exit(1)

    nncore_dir = os.path.dirname(nn.__file__)
    if mode == "trace":
        # Count the lines nncore runs in one warm step, then raise SIGINT at each of them.
        def lines_of_one_step(stop_at):
            model = reference(2)
            seen = [0]

            def tracer(frame, event, arg):
                if frame.f_code.co_filename.startswith(nncore_dir):
                    if event == "line":
                        seen[0] += 1
                        if seen[0] == stop_at:
                            signal.raise_signal(signal.SIGINT)
                    return tracer
                return None

            interrupted = False
            sys.settrace(tracer)
            try:
                model.train_on_batch(*batches[2])
            except KeyboardInterrupt:
                interrupted = True
            finally:
                sys.settrace(None)
            return model, seen[0], interrupted

        total = lines_of_one_step(0)[1]
        hits = 0
        for k in range(1, total + 1):
            model, _, interrupted = lines_of_one_step(k)
            hits += interrupted
            check(model, k)
        print(f"ok {{total}} lines, {{hits}} interrupted", flush=True)
    else:
        rng = random.Random(0)
        interrupted = 0
        for trial in range(int(mode)):
            model = make_model(backend, kind)
            timer = threading.Timer(rng.uniform(0.0, 0.03),
                                    lambda: os.kill(os.getpid(), signal.SIGINT))
            try:
                timer.start()
                i = 0
                while True:  # until the signal comes
                    model.train_on_batch(*batches[i % len(batches)])
                    i += 1
            except KeyboardInterrupt:
                interrupted += 1
            timer.join()
            check(model, trial)
        print(f"ok {{interrupted}} interrupted", flush=True)
""")


def _run_child(*args) -> str:
    from pathlib import Path

    script = INTERRUPT_SCRIPT.format(tests=str(Path(__file__).parent))
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done.stdout


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["mixed", "dense"])
def test_sigint_at_every_line_of_a_step_leaves_a_whole_step(backend, kind):
    out = _run_child(backend, kind, "trace")
    total, hits = (int(word) for word in out.split()[1:4:2])
    # Every line that runs raised the signal once; inside the step it waits for the end.
    assert total > 20 and hits == total


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigint_at_random_times_leaves_a_whole_step(backend):
    out = _run_child(backend, "mixed", "40")
    assert int(out.split()[1]) == 40
