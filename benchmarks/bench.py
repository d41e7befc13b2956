"""Benchmarks: nncore against the GEMM-only bound and PyTorch, side by side in one process.

Run ``python benchmarks/bench.py`` from a checkout (``--quick`` for a smoke run,
``--data DIR`` for the MNIST folder, ``--targets FILE`` for other targets than
benchmarks/targets.json); ``python -m nncore bench`` runs it too when nncore was
installed from a checkout. Every number is the median of several repetitions after a
warm-up, and every ratio divides numbers measured in the same run, side by side: these
machines are shared and noisy, so a ratio from one run means something and a time on its
own does not. An epoch of nncore is timed in rounds interleaved with the GEMM-only bound
and its ratio is the median of the per-round ratios; everything else is timed one engine
after the other.

What is measured (the MLP is 784-256-128-10, relu, relu, softmax, Adam, float32):

- epoch: one epoch over 8,000 MNIST rows at batch 32, 128 and 512, with ``fit`` and with
  a ``train_on_batch`` loop, on the native and numpy backends and PyTorch; against the
  GEMM-only bound, the 8 matmuls of every step (3 forward, 2 for dX, 3 for dW) into
  preallocated outputs with NumPy. No trainer can do less arithmetic through BLAS.
- tiny nets: one Adam step of 4-8-8-3 on Iris at batch 16 and one SGD step of XOR 2-4-1
  at batch 4, where everything is overhead (the arithmetic is under a microsecond).
- predict: latency of one row and of 512 rows through the MLP, against PyTorch under
  ``torch.inference_mode()`` and three plain NumPy matmuls.
- memory: tracemalloc over steady-state ``train_on_batch`` steps (bytes and blocks per
  step), and the peak traced memory of a ``fit`` epoch against parameters + gradients +
  Adam slots + one batch of activations.

The report (machine, BLAS libraries through threadpoolctl, versions, data source) goes to
``benchmarks/results/latest.json`` and ``latest.md``. This harness is developer tooling:
it lives in the checkout, not in the installed package.

Example
-------
    python benchmarks/bench.py --quick --output-dir /tmp/bench
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Callable

import numpy as np

#: The checkout this file belongs to. Run as a script, it measures the checkout's nncore
#: (built in place with ``pip install -e .``), not another installed copy.
ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))

import nncore  # noqa: E402
from nncore import backends  # noqa: E402

#: Variables that pin OpenBLAS to a kernel or a cache size. OpenBLAS reads them once, when
#: numpy loads it, so ``main`` removes them and starts the run again in a fresh process.
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_UNSET_MARKER = "NNCORE_BENCH_UNSET"  # JSON of what the re-executing parent removed

MLP_SIZES = (784, 256, 128, 10)
TORCH_THREADS = 2
DEFAULT_TARGETS = Path(__file__).resolve().with_name("targets.json")
SMALL_INT_CACHE = 256     # CPython keeps one object for each int up to this one
#: A busy machine shows as repetitions, or per-round ratios to the bound, that spread
#: (max > 1.5 x min); the rows that rest on them are marked.
NOISE_SPREAD = 1.5


@dataclasses.dataclass(frozen=True)
class Plan:
    """How much to measure: the default run, or ``--quick`` for smoke tests."""

    batch_sizes: tuple[int, ...] = (32, 128, 512)
    rows: int = 8000
    warmup: int = 1
    reps: int = 7              # repetitions, and rounds of the epoch measure
    tiny_steps: int = 200      # train steps per repetition (tiny nets)
    row_calls: int = 500       # one-row predict calls per repetition
    batch_calls: int = 20      # 512-row predict calls per repetition
    alloc_batch: int = 32
    alloc_steps: int = 100
    memory_batch: int = 128
    switch_pause_s: float = 0.3  # between two engines: idle BLAS/OpenMP workers stop spinning


FULL = Plan()
QUICK = Plan(batch_sizes=(128,), rows=256, warmup=1, reps=2, tiny_steps=10, row_calls=20,
             batch_calls=2, alloc_steps=5, switch_pause_s=0.0)


# ---------------------------------------------------------------- timing
def _timed(fn: Callable[[], object]) -> float:
    """Seconds for one call, with the cyclic GC off (as timeit) so a collection that
    belongs to no engine in particular does not land in one engine's sample."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()


def _measure(candidates: dict[str, Callable[[], object]], plan: Plan) -> dict[str, list[float]]:
    """Samples of every candidate, one candidate after the other: a pause, the warm-up,
    then its repetitions back to back.

    For blocks that PyTorch takes part in: its OpenMP pool is separate from NumPy's
    OpenBLAS, and the workers of the pool that just ran keep spinning for a while
    (about 0.1 s) on the two cores the next engine needs, so interleaving
    PyTorch with the others would make each pay for the other's threads. The pause and
    the warm-up let those threads fall asleep first.
    """
    samples: dict[str, list[float]] = {}
    for name, fn in candidates.items():
        time.sleep(plan.switch_pause_s)
        for _ in range(plan.warmup):
            fn()
        samples[name] = [_timed(fn) for _ in range(plan.reps)]
    return samples


def _measure_rounds(candidates: dict[str, Callable[[], object]],
                    plan: Plan) -> list[dict[str, float]]:
    """Seconds of every candidate in ``plan.reps`` rounds: in each round every candidate
    once, in the order of ``candidates``, back to back; one dict per round. A pause and a
    warm-up round (``plan.warmup``) come first.

    Interleaved so that a change of the machine's load between rounds slows both sides
    of a round's ratio, where in blocks it slows one engine only. Each candidate starts
    after a pause (``plan.switch_pause_s``): the candidates use two BLAS thread pools
    (the native backend's GEMMs call scipy-openblas64, the bound's ``numpy.matmul`` and
    the numpy backend NumPy's own OpenBLAS), and the workers of the pool that just ran
    keep spinning for about 0.1 s on the two cores the next candidate needs. The report
    names the library each pool is.
    """
    time.sleep(plan.switch_pause_s)  # PyTorch may have run just before: its OpenMP spins
    for _ in range(plan.warmup):
        for fn in candidates.values():
            fn()
    rounds = []
    for _ in range(plan.reps):
        times = {}
        for name, fn in candidates.items():
            time.sleep(plan.switch_pause_s)
            times[name] = _timed(fn)
        rounds.append(times)
    return rounds


def _summary(samples: dict[str, list[float]], per: int = 1) -> dict[str, dict]:
    """Median (the number reported), min and max of each candidate, divided by ``per``."""
    return {name: {"median": statistics.median(v) / per, "min": min(v) / per,
                   "max": max(v) / per, "reps": len(v)} for name, v in samples.items()}


def _spread(values) -> bool:
    """True when samples (or per-round ratios) spread too far to trust their median."""
    return max(values) > NOISE_SPREAD * min(values)


def _noisy(summary: dict) -> bool:
    """:func:`_spread` of the repetitions behind one summary."""
    return _spread((summary["min"], summary["max"]))


# ---------------------------------------------------------------- data
def load_targets(path=DEFAULT_TARGETS) -> dict:
    """The targets the report compares ratios with (see benchmarks/targets.json)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {"epoch": {int(b): float(t) for b, t in raw["epoch_fit_over_bound"].items()},
            "tiny": float(raw["tiny_torch_over_nncore"]),
            "predict": float(raw["predict_row_torch_over_nncore"]),
            "peak_memory": float(raw["peak_memory_over_theory"]),
            "runtime_s": float(raw["runtime_s"])}


def load_mnist_rows(rows: int, data: str | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The first ``rows`` MNIST test images as float32 in [0, 1] and int64 labels, from
    ``data`` (a folder of IDX files) or else the first of $NNCORE_DATA, the checkout's
    ../shared/data/mnist and nncore's cache that has them; synthetic uniform data of the
    same shape when none has."""
    folders: list[tuple[str, str | None]] = []
    if data is not None:
        folders.append(("--data", data))
    if os.environ.get("NNCORE_DATA"):
        folders.append(("$NNCORE_DATA", os.environ["NNCORE_DATA"]))
    shared = ROOT.parent / "shared" / "data" / "mnist"
    if shared.is_dir():
        folders.append(("../shared/data/mnist", str(shared)))
    folders.append(("nncore cache", None))
    tried = []
    for label, folder in folders:
        try:
            images, labels = nncore.datasets.load_mnist(folder, kind="test")
        except (OSError, ValueError) as exc:
            tried.append(f"{label}: {type(exc).__name__}")
            continue
        x = images[:rows].reshape(min(rows, len(images)), -1).astype(np.float32) / 255.0
        y = labels[:rows].astype(np.int64)
        if len(x) == rows:
            return x, y, {"source": "mnist", "path": folder or "default cache", "rows": rows,
                          "note": f"MNIST t10k images, first {rows} rows, /255"}
        tried.append(f"{label}: only {len(x)} rows")
    rng = np.random.default_rng(0)
    x = rng.random((rows, MLP_SIZES[0]), dtype=np.float32)
    y = rng.integers(0, MLP_SIZES[-1], size=rows).astype(np.int64)
    return x, y, {"source": "synthetic", "path": None, "rows": rows,
                  "note": f"SYNTHETIC uniform data of MNIST's shape ({rows} x 784, 10 "
                          f"classes): no MNIST files found ({'; '.join(tried)})"}


def _iris_batches(batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    x, y = nncore.datasets.load_iris()
    order = np.random.default_rng(0).permutation(len(x))  # the file is sorted by class
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)[order]
    y = y.astype(np.int64)[order]
    return [(np.ascontiguousarray(x[s:s + batch]), y[s:s + batch].copy())
            for s in range(0, len(x) - batch + 1, batch)]


# ---------------------------------------------------------------- engines
def _mlp(backend: str, seed: int = 0):
    model = nncore.Sequential([
        nncore.layers.Dense(MLP_SIZES[1], input_dim=MLP_SIZES[0], activation="relu"),
        nncore.layers.Dense(MLP_SIZES[2], activation="relu"),
        nncore.layers.Dense(MLP_SIZES[3], activation="softmax"),
    ], seed=seed, backend=backend)
    model.compile(nncore.optimizers.Adam(learning_rate=1e-3),
                  "sparse_categorical_crossentropy")
    return model


def gemm_bound_epoch(x: np.ndarray, batch: int) -> Callable[[], None]:
    """One epoch of only the 8 matmuls of each training step of 784-256-128-10, into
    preallocated outputs: X@W1, A1@W2, A2@W3; dZ3@W3.T, dZ2@W2.T (dX); A2.T@dZ3, A1.T@dZ2,
    X.T@dZ1 (dW). The operands are fixed random arrays: BLAS time does not depend on values."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    Ws = [(rng.standard_normal((a, b)) * 0.05).astype(f32)
          for a, b in zip(MLP_SIZES[:-1], MLP_SIZES[1:])]
    dWs = [np.empty_like(W) for W in Ws]
    n = len(x)
    buffers = {}
    for m in {min(batch, n - s) for s in range(0, n, batch)}:  # full batches and the last
        As = [np.empty((m, k), f32) for k in MLP_SIZES[1:]]
        dZs = [(rng.standard_normal((m, k)) * 0.01).astype(f32) for k in MLP_SIZES[1:]]
        dAs = [np.empty((m, k), f32) for k in MLP_SIZES[1:-1]]
        buffers[m] = (As, dZs, dAs)
    (W1, W2, W3), (dW1, dW2, dW3) = Ws, dWs
    mm = np.matmul

    def epoch() -> None:
        for s in range(0, n, batch):
            X = x[s:s + batch]
            (A1, A2, A3), (dZ1, dZ2, dZ3), (dA1, dA2) = buffers[len(X)]
            mm(X, W1, out=A1)
            mm(A1, W2, out=A2)
            mm(A2, W3, out=A3)
            mm(dZ3, W3.T, out=dA2)
            mm(A2.T, dZ3, out=dW3)
            mm(dZ2, W2.T, out=dA1)
            mm(A1.T, dZ2, out=dW2)
            mm(X.T, dZ1, out=dW1)
    return epoch


def _nncore_fit(backend: str, x, y, batch: int) -> Callable[[], object]:
    model = _mlp(backend)
    return lambda: model.fit(x, y, epochs=1, batch_size=batch, shuffle=False, verbose=0)


def _nncore_loop(backend: str, x, y, batch: int) -> Callable[[], None]:
    model = _mlp(backend)
    batches = [(x[s:s + batch], y[s:s + batch]) for s in range(0, len(x), batch)]
    step = model.train_on_batch

    def epoch() -> None:
        for X, Y in batches:
            step(X, Y)
    return epoch


def _import_torch() -> tuple[object | None, str | None]:
    try:
        import torch
    except Exception as exc:  # ImportError, or a broken install raising OSError
        return None, f"PyTorch is not installed ({type(exc).__name__}: {exc})"
    return torch, None


def _torch_fused_note(torch) -> str | None:
    """None when torch.optim.Adam(fused=True) runs on CPU tensors here, else why not."""
    try:
        p = torch.nn.Parameter(torch.zeros(4))
        p.grad = torch.ones(4)
        torch.optim.Adam([p], fused=True).step()
    except Exception as exc:  # TypeError (no such argument) or RuntimeError (no CPU kernel)
        return f"fused Adam unsupported ({type(exc).__name__}: {exc})"
    return None


def _torch_net(torch, sizes, hidden, seed: int = 0):
    torch.manual_seed(seed)
    modules = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        modules.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            modules.append(hidden())
    return torch.nn.Sequential(*modules)


def _torch_adam(torch, net, variant: str):
    if variant == "fused":
        return torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    return torch.optim.Adam(net.parameters(), lr=1e-3)


def _torch_trainer(torch, net, opt, loss_fn, batches) -> Callable[[], None]:
    """The idiomatic eager loop. No ``loss.item()``: PyTorch is spared the sync that
    nncore's returned loss costs, which errs on PyTorch's side."""
    def run() -> None:
        for X, Y in batches:
            opt.zero_grad(set_to_none=True)
            loss_fn(net(X), Y).backward()
            opt.step()
    return run


# ---------------------------------------------------------------- measurements
def bench_epochs(plan: Plan, x, y, engines: dict, torch, torch_variants) -> dict:
    """Seconds per epoch of every engine at every batch size, with ratios to the bound.

    The bound and nncore's candidates (every backend, ``fit`` and the loop) are measured
    in interleaved rounds (:func:`_measure_rounds`); PyTorch follows as a block after a
    pause (:func:`_measure`), since its OpenMP pool is not NumPy's.
    """
    out = {}
    for batch in plan.batch_sizes:
        _progress(f"epoch, batch {batch}")
        paired = {"bound": gemm_bound_epoch(x, batch)}
        for backend in engines:
            paired[f"{backend}_fit"] = _nncore_fit(backend, x, y, batch)
            paired[f"{backend}_loop"] = _nncore_loop(backend, x, y, batch)
        rounds = _measure_rounds(paired, plan)
        unpaired = _measure(_torch_epochs(torch, torch_variants, x, y, batch), plan)
        out[str(batch)] = _epoch_entry(rounds, unpaired, math.ceil(len(x) / batch))
    return out


def _torch_epochs(torch, torch_variants, x, y, batch: int) -> dict[str, Callable[[], None]]:
    """An epoch of PyTorch for each Adam variant (none when PyTorch is not installed)."""
    if torch is None:
        return {}
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[s:s + batch], yt[s:s + batch]) for s in range(0, len(x), batch)]
    candidates = {}
    for variant in torch_variants:
        net = _torch_net(torch, MLP_SIZES, torch.nn.ReLU)
        candidates[f"torch_{variant}"] = _torch_trainer(
            torch, net, _torch_adam(torch, net, variant), torch.nn.CrossEntropyLoss(), batches)
    return candidates


def _epoch_entry(rounds: list[dict[str, float]], unpaired: dict[str, list[float]],
                steps: int) -> dict:
    """The report of one batch size from the rounds of the bound and nncore's candidates
    and the samples of the candidates measured apart (PyTorch).

    A paired candidate's ratio is the median of its per-round ratios (its time in round i
    / the bound's in round i): load that changes between rounds cancels out. An unpaired
    one's is its median / the bound's median. A ratio is noisy when the candidate's
    samples, or its per-round ratios, spread more than ``NOISE_SPREAD``; an unpaired one
    also when the bound's samples do.
    """
    paired = {name: [r[name] for r in rounds] for name in rounds[0]}
    seconds = _summary({**paired, **unpaired})
    bound = seconds["bound"]
    round_ratios = {name: [t / b for t, b in zip(times, paired["bound"])]
                    for name, times in paired.items() if name != "bound"}
    ratios = {name: statistics.median(r) for name, r in round_ratios.items()}
    ratios.update({name: seconds[name]["median"] / bound["median"] for name in unpaired})
    noisy = [name for name, r in round_ratios.items() if _noisy(seconds[name]) or _spread(r)]
    noisy += [name for name in unpaired if _noisy(seconds[name]) or _noisy(bound)]
    return {
        "steps": steps,
        "rounds": rounds,
        "round_ratios": round_ratios,
        "seconds": seconds,
        "ratio_to_bound": ratios,
        # fastest / fastest: what a ratio looks like with the machine's noise removed
        "ratio_to_bound_of_minimums": {k: v["min"] / bound["min"]
                                       for k, v in seconds.items() if k != "bound"},
        "noisy": sorted(noisy),
    }


def bench_tiny(plan: Plan, engines: dict, torch, torch_variants) -> dict:
    """Seconds per training step: 4-8-8-3 on Iris (batch 16, Adam), XOR 2-4-1 (batch 4,
    SGD). Each repetition is ``plan.tiny_steps`` steps, cycling over the batches."""
    out = {}
    _progress("tiny nets")
    iris = _iris_batches(16)
    iris_steps = [iris[i % len(iris)] for i in range(plan.tiny_steps)]
    candidates = {}
    for backend in engines:
        model = nncore.Sequential([
            nncore.layers.Dense(8, input_dim=4, activation="relu"),
            nncore.layers.Dense(8, activation="relu"),
            nncore.layers.Dense(3, activation="softmax")], seed=0, backend=backend)
        model.compile(nncore.optimizers.Adam(learning_rate=1e-3),
                      "sparse_categorical_crossentropy")
        candidates[backend] = _steps(model.train_on_batch, iris_steps)
    if torch is not None:
        steps = [(torch.from_numpy(X), torch.from_numpy(Y)) for X, Y in iris_steps]
        for variant in torch_variants:
            net = _torch_net(torch, (4, 8, 8, 3), torch.nn.ReLU)
            candidates[f"torch_{variant}"] = _torch_trainer(
                torch, net, _torch_adam(torch, net, variant), torch.nn.CrossEntropyLoss(),
                steps)
    out["iris_4_8_8_3"] = {"batch": 16, "optimizer": "Adam",
                           "seconds_per_step": _summary(_measure(candidates, plan),
                                                        plan.tiny_steps)}

    x, y = nncore.datasets.make_xor()
    x = x.astype(np.float32)
    y = y.astype(np.float32).reshape(-1, 1)
    candidates = {}
    for backend in engines:
        model = nncore.Sequential([
            nncore.layers.Dense(4, input_dim=2, activation="tanh"),
            nncore.layers.Dense(1, activation="sigmoid")], seed=0, backend=backend)
        model.compile(nncore.optimizers.SGD(learning_rate=0.1), "binary_crossentropy")
        candidates[backend] = _steps(model.train_on_batch, [(x, y)] * plan.tiny_steps)
    if torch is not None:
        net = _torch_net(torch, (2, 4, 1), torch.nn.Tanh)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        # BCE on logits is PyTorch's idiom for a sigmoid output, as nncore fuses them.
        candidates["torch_default"] = _torch_trainer(
            torch, net, opt, torch.nn.BCEWithLogitsLoss(),
            [(torch.from_numpy(x), torch.from_numpy(y))] * plan.tiny_steps)
    out["xor_2_4_1"] = {"batch": 4, "optimizer": "SGD",
                        "seconds_per_step": _summary(_measure(candidates, plan),
                                                     plan.tiny_steps)}
    return out


def _steps(step: Callable, batches) -> Callable[[], None]:
    def run() -> None:
        for X, Y in batches:
            step(X, Y)
    return run


def _repeat(fn: Callable, arg, calls: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(calls):
            fn(arg)
    return run


def numpy_predict(weights: list[np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """The MLP's forward pass as plain NumPy (three matmuls, relu, a max-subtracted
    softmax): what a user would write without any library."""
    W1, b1, W2, b2, W3, b3 = weights

    def predict(x: np.ndarray) -> np.ndarray:
        h = np.maximum(x @ W1 + b1, 0)
        h = np.maximum(h @ W2 + b2, 0)
        z = h @ W3 + b3
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z
    return predict


def bench_predict(plan: Plan, x, engines: dict, torch) -> dict:
    """Seconds per predict call for one row and for 512 rows of the MLP."""
    _progress("predict")
    models = {backend: _mlp(backend) for backend in engines}
    reference = next(iter(models.values())).get_weights()
    plain = numpy_predict(reference)
    net = None
    if torch is not None:
        net = _torch_net(torch, MLP_SIZES, torch.nn.ReLU).eval()
        with torch.no_grad():
            for i, layer in enumerate(m for m in net if isinstance(m, torch.nn.Linear)):
                layer.weight.copy_(torch.from_numpy(reference[2 * i].T.copy()))
                layer.bias.copy_(torch.from_numpy(reference[2 * i + 1]))
    out = {}
    for label, rows, calls in (("row", 1, plan.row_calls), ("batch512", 512, plan.batch_calls)):
        X = np.ascontiguousarray(x[:rows])
        candidates = {}
        for backend, model in models.items():
            candidates[f"{backend}_predict"] = _repeat(
                lambda a, m=model: m.predict(a, batch_size=len(a)), X, calls)
            candidates[f"{backend}_predict_on_batch"] = _repeat(model.predict_on_batch, X, calls)
        candidates["numpy_plain"] = _repeat(plain, X, calls)
        if net is not None:
            candidates["torch_inference_mode"] = _torch_predict(torch, net, X, calls)
        # Same weights everywhere, so the outputs must agree: a guard against timing an
        # engine that computes something else.
        expected = plain(X)
        outputs = {f"{b}_predict": m.predict(X, batch_size=len(X)) for b, m in models.items()}
        if net is not None:
            with torch.inference_mode():
                outputs["torch"] = torch.softmax(net(torch.from_numpy(X)), dim=1).numpy()
        out[label] = {"rows": len(X),
                      "max_abs_diff_to_numpy_plain": {
                          k: float(np.max(np.abs(v - expected))) for k, v in outputs.items()},
                      "seconds_per_call": _summary(_measure(candidates, plan), calls)}
    return out


def _torch_predict(torch, net, X: np.ndarray, calls: int) -> Callable[[], None]:
    """numpy in, probabilities as numpy out (as nncore's predict); the inference_mode
    block is entered once per repetition, not per call, in PyTorch's favour."""
    def run() -> None:
        with torch.inference_mode():
            for _ in range(calls):
                torch.softmax(net(torch.from_numpy(X)), dim=1).numpy()
    return run


def _tracing():
    """Start tracemalloc unless it already runs; return a function that undoes that."""
    if tracemalloc.is_tracing():
        return lambda: None
    tracemalloc.start()
    return tracemalloc.stop


def bench_allocations(backend: str, x, y, batch: int, steps: int) -> dict:
    """tracemalloc over ``steps`` warm ``train_on_batch`` steps.

    transient: how far traced memory rose above its level at the start of each step (0 if
    the step allocated nothing), less the rise of an empty step measured the same way.
    retained: what the steps left allocated (snapshot difference), per step.

    Before tracing, one warm-up step runs on every batch, not only the first few: NumPy
    caches buffer-protocol information on an array the first time a C extension asks for
    its buffer, so the first step on each distinct batch view leaves ~2 small blocks that
    live as long as the view. They belong to the data, not to the step. The warm-up also
    takes Adam's step counter, a Python int, past CPython's cached small ints (up to 256):
    from there on each step swaps one 32 B int for another, where a counter that crossed
    256 between the snapshots would show as one block retained.
    """
    model = _mlp(backend)
    batches = [(x[s:s + batch], y[s:s + batch]) for s in range(0, len(x) - batch + 1, batch)]
    for i in range(max(len(batches), SMALL_INT_CACHE + 1)):  # Adam's slots, workspaces too
        model.train_on_batch(*batches[i % len(batches)])

    def rises(step, count):
        found = []
        for i in range(count):
            X, Y = batches[i % len(batches)]
            start = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            step(X, Y)
            found.append(tracemalloc.get_traced_memory()[1] - start)
        return found

    # Other libraries' gc callbacks (hypothesis times every collection) allocate when the
    # snapshots' gc.collect() runs; what they keep is theirs, not the step's.
    callbacks, gc.callbacks[:] = gc.callbacks[:], []
    stop = _tracing()
    try:
        # As many steps under tracing as are measured: NumPy keeps freed small blocks in
        # caches of its own (dimensions, small data), which fill to a steady size as the
        # traced steps allocate and free; a step that leaks keeps growing after that.
        rises(model.train_on_batch, steps)
        empty = max(rises(lambda X, Y: None, 20))
        gc.collect()
        before = tracemalloc.take_snapshot()
        measured = rises(model.train_on_batch, steps)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        stop()
        gc.callbacks[:] = callbacks
    mine = [tracemalloc.Filter(False, __file__), tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = after.filter_traces(mine).compare_to(before.filter_traces(mine), "lineno")
    transient = [max(0, r - empty) for r in measured]
    sites = [f"{s.traceback[0].filename}:{s.traceback[0].lineno} "
             f"{s.size_diff:+d} B in {s.count_diff:+d} blocks"
             for s in diff[:5] if s.size_diff or s.count_diff]
    return {
        "batch": batch, "steps": steps,
        "transient_bytes_per_step": statistics.fmean(transient),
        "transient_bytes_max": max(transient),
        "steps_allocating": sum(1 for r in transient if r > 0),
        "retained_bytes_per_step": sum(s.size_diff for s in diff) / steps,
        "retained_blocks_per_step": sum(s.count_diff for s in diff) / steps,
        "empty_step_rise_bytes": empty,
        "retained_sites": sites,
    }


def bench_peak_memory(backend: str, x, y, batch: int) -> dict:
    """Peak traced memory of one ``fit`` epoch (model built and compiled beforehand; its
    parameters count, the data does not) against the memory training cannot do without:
    parameters, gradients, Adam's two slots and one batch of activations (the input and
    every layer's output: a0 = x, a1, a2, a3).

    The peak covers the whole call, argument checks included. A second epoch, with a
    callback that restarts the peak when the first batch begins, splits it into the
    checks before training (``setup_peak_bytes``) and the batches (``loop_peak_bytes``).
    """
    warm = _mlp(backend)  # lazy imports and caches before tracing
    warm.fit(x[:2 * batch], y[:2 * batch], epochs=1, batch_size=batch, shuffle=False,
             verbose=0)
    del warm
    gc.collect()
    split = _PeakSplit()
    stop = _tracing()
    try:
        base = tracemalloc.get_traced_memory()[0]
        model = _mlp(backend)
        gc.collect()
        built = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.reset_peak()
        model.fit(x, y, epochs=1, batch_size=batch, shuffle=False, verbose=0)
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        model.fit(x, y, epochs=1, batch_size=batch, shuffle=False, verbose=0,
                  callbacks=[split])
        loop_peak = tracemalloc.get_traced_memory()[1]
    finally:
        stop()
    params = model.count_params()
    item = np.dtype(model.dtype).itemsize
    theory = {"params": params * item, "grads": params * item,
              "adam_slots": 2 * params * item,
              "activations": batch * sum(MLP_SIZES) * item}
    total = sum(theory.values())
    return {"batch": batch, "peak_bytes": peak - base, "after_build_bytes": built,
            "end_bytes": current - base, "theoretical_bytes": total, "theory": theory,
            "ratio": (peak - base) / total,
            "setup_peak_bytes": None if split.setup_peak is None else split.setup_peak - base,
            "loop_peak_bytes": loop_peak - base}


class _PeakSplit(nncore.callbacks.Callback):
    """Notes the peak so far when the first batch begins, then restarts it."""

    def __init__(self):
        super().__init__()
        self.setup_peak = None

    def on_train_batch_begin(self, batch, logs=None):
        if self.setup_peak is None:
            self.setup_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.reset_peak()


# ---------------------------------------------------------------- environment
def _cpuinfo() -> dict:
    model, flags = None, set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {"model": model or platform.processor() or platform.machine(),
            "simd": [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f") if f in flags]}


def _versions(torch) -> dict:
    import scipy

    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "scipy": scipy.__version__, "nncore": nncore.__version__,
                "torch": None if torch is None else torch.__version__}
    try:
        import threadpoolctl
        versions["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:
        versions["threadpoolctl"] = None
    return versions


def _blas() -> list[dict] | str:
    """Every BLAS/OpenMP library loaded in this process (numpy's, scipy's, PyTorch's)."""
    try:
        import threadpoolctl
    except ImportError:
        return "threadpoolctl not installed: pip install threadpoolctl"
    keys = ("user_api", "internal_api", "version", "architecture", "num_threads", "filepath")
    return [{k: entry.get(k) for k in keys} for entry in threadpoolctl.threadpool_info()]


def _openblas_env() -> dict:
    unset = json.loads(os.environ.get(_UNSET_MARKER, "{}"))
    in_effect = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    if unset:
        note = ("unset for this run (the benchmark re-executed itself without them): " +
                ", ".join(f"{k}={v}" for k, v in unset.items()))
    elif in_effect:
        note = ("IN EFFECT for this run (run() was called in a process that already had "
                "them; benchmarks/bench.py unsets them): " +
                ", ".join(f"{k}={v}" for k, v in in_effect.items()))
    else:
        note = "neither OPENBLAS_CORETYPE nor OPENBLAS_L2_SIZE was set"
    return {"unset": unset, "in_effect": in_effect, "note": note}


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def environment(torch, load_at_start) -> dict:
    """The machine, the libraries and their thread pools; the load average at the start
    and end of the run says how busy the (shared) machine was."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "load_average": {"start": load_at_start, "end": _load_average()},
        "cpu": _cpuinfo(), "cores": os.cpu_count(), "cores_usable": affinity,
        "platform": platform.platform(), "versions": _versions(torch), "blas": _blas(),
        "openblas_env": _openblas_env(),
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "nncore_default_backend": backends.backend(),
        "nncore_native_blas": _native_blas(),
    }


def _native_blas() -> str | None:
    """The library the native backend's GEMMs call (scipy-openblas64, with its kernel)."""
    try:
        from nncore.backends.native import _kernels
    except ImportError:
        return None
    return _kernels.BLAS


# ---------------------------------------------------------------- report
def _row(measure, unit, native=None, numpy_=None, torch=None, bound=None, ratio=None,
         ratio_of="", target=None, met=None, noisy=False) -> dict:
    return {"measure": measure, "unit": unit, "native": native, "numpy": numpy_,
            "torch": torch, "bound": bound, "ratio": ratio, "ratio_of": ratio_of,
            "target": target, "met": met, "noisy": bool(noisy)}


def _med(table: dict, key: str, scale: float = 1.0):
    entry = table.get(key)
    return None if entry is None else entry["median"] * scale


def _fastest(table: dict, prefix: str, scale: float = 1.0):
    values = [v["median"] * scale for k, v in table.items() if k.startswith(prefix)]
    return min(values) if values else None


def _fastest_key(table: dict, prefix: str):
    keys = [k for k in table if k.startswith(prefix)]
    return min(keys, key=lambda k: table[k]["median"]) if keys else None


def _any_noisy(table: dict, *keys) -> bool:
    return any(k is not None and k in table and _noisy(table[k]) for k in keys)


def _div(a, b):
    return None if a is None or b is None or b == 0 else a / b


def build_table(results: dict, main: str, targets: dict) -> list[dict]:
    """One row per measure: nncore native | numpy backend | torch | bound | ratio | target.

    ``main`` is the backend the ratios use (native, or numpy when native did not build).
    Where PyTorch ran with two Adams, its column holds the faster one."""
    rows = []
    for batch, entry in results["epoch"].items():
        s, b = entry["seconds"], int(batch)
        bound = _med(s, "bound", 1e3)
        for how in ("fit", "loop"):
            target = targets["epoch"].get(b) if how == "fit" else None
            ratio = entry["ratio_to_bound"][f"{main}_{how}"]
            rows.append(_row(
                f"epoch b{batch} {'fit' if how == 'fit' else 'train_on_batch loop'}", "ms",
                _med(s, f"native_{how}", 1e3), _med(s, f"numpy_{how}", 1e3),
                _fastest(s, "torch_", 1e3), bound, ratio, f"{main} / bound",
                None if target is None else f"<= {target}x",
                None if target is None else ratio <= target,
                noisy=f"{main}_{how}" in entry["noisy"]))
    for key, label, target in (("iris_4_8_8_3", "4-8-8-3 b16 Adam step", targets["tiny"]),
                               ("xor_2_4_1", "XOR 2-4-1 b4 SGD step", None)):
        s = results["tiny"][key]["seconds_per_step"]
        torch = _fastest(s, "torch_", 1e6)
        ratio = _div(torch, _med(s, main, 1e6))
        rows.append(_row(label, "us", _med(s, "native", 1e6), _med(s, "numpy", 1e6), torch,
                         None, ratio, f"torch / {main}",
                         None if target is None else f">= {target:g}x",
                         None if target is None or ratio is None else ratio >= target,
                         noisy=ratio is not None and _any_noisy(s, main,
                                                                _fastest_key(s, "torch_"))))
    for key in ("row", "batch512"):
        rows_ = results["predict"][key]["rows"]
        label = "1 row" if rows_ == 1 else f"{rows_} rows"
        s = results["predict"][key]["seconds_per_call"]
        torch = _med(s, "torch_inference_mode", 1e6)
        for call in ("predict", "predict_on_batch"):
            ratio = _div(torch, _med(s, f"{main}_{call}", 1e6))
            target = targets["predict"] if (key, call) == ("row", "predict") else None
            rows.append(_row(f"{call} {label}", "us", _med(s, f"native_{call}", 1e6),
                             _med(s, f"numpy_{call}", 1e6), torch,
                             _med(s, "numpy_plain", 1e6), ratio, f"torch / {main}",
                             None if target is None else f">= {target:g}x",
                             None if target is None or ratio is None else ratio >= target,
                             noisy=ratio is not None and _any_noisy(
                                 s, f"{main}_{call}", "torch_inference_mode")))
    alloc = results["memory"]["allocations"]
    for field, label in (("transient_bytes_per_step", "allocated bytes/step"),
                         ("retained_blocks_per_step", "retained blocks/step")):
        value = alloc.get(main, {}).get(field)
        rows.append(_row(f"train step b{alloc[main]['batch']} {label}", "tracemalloc",
                         alloc.get("native", {}).get(field), alloc.get("numpy", {}).get(field),
                         None, None, None, "", "0",
                         None if value is None else abs(value) < 0.5))
    peak = results["memory"]["peak"]
    mib = {b: p["peak_bytes"] / 2**20 for b, p in peak.items()}
    ratio = peak[main]["ratio"]
    rows.append(_row(f"fit b{peak[main]['batch']} peak memory", "MiB", mib.get("native"),
                     mib.get("numpy"), None, peak[main]["theoretical_bytes"] / 2**20,
                     ratio, f"{main} / theory", f"<= {targets['peak_memory']}x",
                     ratio <= targets["peak_memory"]))
    return rows


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    value = float(value)
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


LEGEND = ("ratio: epoch rows nncore / GEMM-only bound, the median of the per-round ratios "
          "(lower is better, 1.0x is the floor); "
          "step and predict rows PyTorch time / nncore time (above 1x nncore is faster); "
          "memory rows nncore / theory. The torch column is the faster of PyTorch's default "
          "and fused Adam; the bound column of predict rows is plain NumPy. "
          f"* after a ratio: its samples (or its per-round ratios) spread more than "
          f"{NOISE_SPREAD}x: the machine was busy, run again.")

HEADER = ("measure", "unit", "nncore native", "numpy backend", "torch", "bound", "ratio",
          "target", "met?")


def _cells(row: dict, skipped: dict) -> list[str]:
    """A row as text: 'skipped' where an engine that would have been measured was not."""
    timed = row["unit"] in ("ms", "us")  # PyTorch's memory is not traced: no cell there

    def cell(key, engine, measured=True):
        if row[key] is None and measured and engine in skipped:
            return "skipped"
        return _fmt(row[key])
    ratio = "-" if row["ratio"] is None else \
        f"{row['ratio']:.2f}x" + ("*" if row.get("noisy") else "")
    met = "-" if row["target"] is None else ("n/a" if row["met"] is None else _fmt(row["met"]))
    return [row["measure"], row["unit"], cell("native", "native"), cell("numpy", "numpy"),
            cell("torch", "torch", timed), _fmt(row["bound"]), ratio, row["target"] or "-",
            met]


def format_table(rows: list[dict], skipped: dict) -> str:
    """The rows as aligned plain text."""
    cells = [list(HEADER)] + [_cells(r, skipped) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) if i < 2 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(c, widths))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(report: dict) -> str:
    env, skipped = report["environment"], report["skipped"]
    v = env["versions"]
    out = [
        "# nncore benchmarks", "",
        f"{report['created']}, {'quick' if report['settings']['quick'] else 'full'} run, "
        f"{report['runtime_s']:.0f} s. Epochs: the bound and nncore in "
        f"{report['settings']['reps']} interleaved rounds after {report['settings']['warmup']} "
        "warm-up, each nncore ratio the median of its per-round ratios; PyTorch and the other "
        f"rows: median of {report['settings']['reps']} repetitions after "
        f"{report['settings']['warmup']} warm-up, one engine after the other. Ratios are "
        "between numbers of this run. See benchmarks/README.md for what each number means.",
        "",
        f"- machine: {env['cpu']['model']} ({', '.join(env['cpu']['simd'])}), "
        f"{env['cores']} cores ({env['cores_usable']} usable), {env['platform']}; load "
        f"average (1, 5, 15 min) {env['load_average']['start']} at the start, "
        f"{env['load_average']['end']} at the end",
        f"- versions: python {v['python']}, numpy {v['numpy']}, scipy {v['scipy']}, "
        f"nncore {v['nncore']}, torch {v['torch'] or 'not installed'}, "
        f"threadpoolctl {v['threadpoolctl'] or 'not installed'}",
        f"- OpenBLAS environment: {env['openblas_env']['note']}",
        f"- data: {report['data']['note']}",
        f"- PyTorch threads: {env['torch_threads'] or '-'}; nncore default backend: "
        f"{env['nncore_default_backend']}; ratios use the {report['ratio_backend']} backend",
        f"- native backend's GEMMs call: {env['nncore_native_blas'] or 'not built'}",
    ]
    for name, why in skipped.items():
        out.append(f"- skipped {name}: {why}")
    out += ["", "| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    out += ["| " + " | ".join(_cells(r, skipped)) + " |" for r in report["table"]]
    out += ["", LEGEND]
    out += ["", "## BLAS and thread pools (threadpoolctl)", ""]
    if isinstance(env["blas"], str):
        out.append(env["blas"])
    else:
        out += ["| user_api | internal_api | version | architecture | threads | library |",
                "| --- | --- | --- | --- | --- | --- |"]
        out += [f"| {b['user_api']} | {b['internal_api']} | {b['version']} | "
                f"{b['architecture']} | {b['num_threads']} | "
                f"{os.path.basename(b['filepath'] or '')} |" for b in env["blas"]]
    out += ["", "## Every engine per epoch (ms): median, and its ratio to the GEMM-only "
            "bound (nncore: median of the per-round ratios, PyTorch: median / median; then "
            "min / min)", ""]
    for batch, entry in report["results"]["epoch"].items():
        parts = [f"{k} {v['median'] * 1e3:.1f}" + (
            f" ({entry['ratio_to_bound'][k]:.2f}x; "
            f"{entry['ratio_to_bound_of_minimums'][k]:.2f}x)"
            if k in entry["ratio_to_bound"] else "")
            for k, v in entry["seconds"].items()]
        spread = ", ".join(f"{k} {min(r):.2f}-{max(r):.2f}x"
                           for k, r in entry["round_ratios"].items())
        out.append(f"- batch {batch} ({entry['steps']} steps, {len(entry['rounds'])} rounds): "
                   + ", ".join(parts) + f"; per-round ratios {spread}"
                   + (f"; noisy: {', '.join(entry['noisy'])}" if entry["noisy"] else ""))
    out += ["", "## Tiny nets and predict, every engine (us per call)", ""]
    for key, entry in report["results"]["tiny"].items():
        out.append(f"- {key}: " + ", ".join(f"{k} {s['median'] * 1e6:.1f}"
                                            for k, s in entry["seconds_per_step"].items()))
    for key, entry in report["results"]["predict"].items():
        diff = max(entry["max_abs_diff_to_numpy_plain"].values())
        out.append(f"- predict {key}: " + ", ".join(f"{k} {s['median'] * 1e6:.1f}"
                                                    for k, s in entry["seconds_per_call"].items())
                   + f" (outputs agree with plain NumPy to {diff:.1g})")
    out += ["", "## Memory (tracemalloc)", ""]
    for backend, a in report["results"]["memory"]["allocations"].items():
        out.append(f"- {backend} train_on_batch b{a['batch']}, {a['steps']} warm steps: "
                   f"{a['transient_bytes_per_step']:.0f} B/step allocated transiently "
                   f"(max {a['transient_bytes_max']}, {a['steps_allocating']} steps allocating), "
                   f"{a['retained_bytes_per_step']:.1f} B and "
                   f"{a['retained_blocks_per_step']:.2f} blocks/step retained"
                   + (f"; retained at {'; '.join(a['retained_sites'])}"
                      if a["retained_sites"] else ""))
    for backend, p in report["results"]["memory"]["peak"].items():
        t = p["theory"]
        out.append(f"- {backend} fit b{p['batch']} peak {p['peak_bytes'] / 2**20:.2f} MiB vs "
                   f"theory {p['theoretical_bytes'] / 2**20:.2f} MiB (params "
                   f"{t['params'] / 2**20:.2f} + grads {t['grads'] / 2**20:.2f} + Adam slots "
                   f"{t['adam_slots'] / 2**20:.2f} + activations "
                   f"{t['activations'] / 2**20:.2f}) = {p['ratio']:.2f}x; in a second epoch "
                   f"the peak before the first batch (live state + argument checks) was "
                   f"{_mib(p['setup_peak_bytes'])} MiB, during the batches "
                   f"{_mib(p['loop_peak_bytes'])} MiB "
                   f"({p['loop_peak_bytes'] / p['theoretical_bytes']:.2f}x)")
    return "\n".join(out) + "\n"


def _mib(nbytes) -> str:
    return "-" if nbytes is None else f"{nbytes / 2**20:.2f}"


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")  # then rename: no half-written report
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def default_output_dir() -> Path:
    """benchmarks/results beside this file."""
    return Path(__file__).resolve().parent / "results"


_STARTED = time.perf_counter()


def _progress(what: str) -> None:
    print(f"[bench {time.perf_counter() - _STARTED:5.1f} s] {what}", file=sys.stderr,
          flush=True)


# ---------------------------------------------------------------- entry points
def run(quick: bool = False, output_dir=None, data: str | None = None,
        targets: dict | None = None) -> dict:
    """Measure everything in this process, print the table, write latest.json and
    latest.md into ``output_dir`` (default :func:`default_output_dir`), return the report.

    Engines that are not available (PyTorch not installed, the native extension not
    built) are skipped and named in ``report["skipped"]``; their cells are None.
    """
    targets = load_targets() if targets is None else targets
    started = time.perf_counter()
    plan = QUICK if quick else FULL
    load_at_start = _load_average()
    skipped: dict[str, str] = {}
    engines = {}
    if backends.native_available():
        engines["native"] = True
    else:
        skipped["native"] = "the native extension is not built (nncore.backends." \
                            "native_available() is False)"
    engines["numpy"] = True
    main = "native" if "native" in engines else "numpy"
    torch, why = _import_torch()
    torch_variants: list[str] = []
    previous_threads = None
    if torch is None:
        skipped["torch"] = why
    else:
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(TORCH_THREADS)
        torch_variants.append("default")
        why = _torch_fused_note(torch)
        if why is None:
            torch_variants.append("fused")
        else:
            skipped["torch fused Adam"] = why
    x, y, data = load_mnist_rows(plan.rows, data)
    _progress(f"data: {data['note']}")
    try:
        results = {
            "epoch": bench_epochs(plan, x, y, engines, torch, torch_variants),
            "tiny": bench_tiny(plan, engines, torch, torch_variants),
            "predict": bench_predict(plan, x, engines, torch),
        }
        _progress("memory")
        results["memory"] = {
            "allocations": {b: bench_allocations(b, x, y, plan.alloc_batch, plan.alloc_steps)
                            for b in engines},
            "peak": {b: bench_peak_memory(b, x, y, plan.memory_batch) for b in engines},
        }
        env = environment(torch, load_at_start)
    finally:
        if previous_threads is not None:
            torch.set_num_threads(previous_threads)
    runtime = time.perf_counter() - started
    table = build_table(results, main, targets)
    report = {
        "schema": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "runtime_s": runtime,
        "runtime_target_s": targets["runtime_s"],
        "targets": targets,
        "settings": dict(dataclasses.asdict(plan), quick=quick, timer="time.perf_counter",
                         statistic="median", torch_threads=TORCH_THREADS,
                         torch_variants=torch_variants),
        "environment": env,
        "data": data,
        "ratio_backend": main,
        "skipped": skipped,
        "peers": {"native": "skipped" if "native" in skipped else "ran",
                  "numpy": "ran",
                  "torch": "skipped" if torch is None else "ran"},
        "results": results,
        "table": table,
    }
    print(format_table(table, skipped))
    print(LEGEND)
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    print(f"data: {data['note']}")
    print(f"OpenBLAS environment: {env['openblas_env']['note']}")
    out_dir = Path(output_dir) if output_dir is not None else default_output_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / "latest.json", json.dumps(report, indent=1, default=_json_default) + "\n")
    _write(out_dir / "latest.md", format_markdown(report))
    print(f"whole run {runtime:.0f} s (a default run should take < {targets['runtime_s']:g} s); "
          f"wrote {out_dir / 'latest.json'} and latest.md")
    return report


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks/bench.py",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one batch size, fewer rows and repetitions (a smoke run)")
    parser.add_argument("--output-dir", default=None,
                        help="where latest.json and latest.md go (default: "
                             "benchmarks/results)")
    parser.add_argument("--data", default=None,
                        help="folder of MNIST IDX files (default: $NNCORE_DATA, then "
                             "../shared/data/mnist beside the checkout, then nncore's cache)")
    parser.add_argument("--targets", default=str(DEFAULT_TARGETS),
                        help="JSON file of the targets (default: benchmarks/targets.json)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: unset the OpenBLAS pinning variables (re-executing this module
    in a fresh process, since numpy already loaded OpenBLAS), then :func:`run`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    found = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    if found:
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
        env[_UNSET_MARKER] = json.dumps(found)
        # The child must import this same copy of nncore.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(Path(nncore.__file__).resolve().parents[1]),
                        os.environ.get("PYTHONPATH")) if p)
        _progress(f"unsetting {', '.join(found)} and re-executing")
        return subprocess.call([sys.executable, str(Path(__file__).resolve()), *argv],
                               env=env)
    run(quick=args.quick, output_dir=args.output_dir, data=args.data,
        targets=load_targets(args.targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
