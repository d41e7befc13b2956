"""Which BLAS should nncore's GEMMs call? Measure the candidates side by side.

Times the 8 GEMMs of one training step of the 784-256-128-10 MLP (3 forward products,
then for each layer dW = X^T dZ and, but for the first, dX = dZ W^T) at batch 32, 128 and
512, float32, through:

- ``numpy-openblas64``: NumPy's bundled ILP64 OpenBLAS (``scipy_sgemm_64_``), the library
  the native backend found by scanning loaded libraries until this measurement;
- ``scipy-cython_blas``: the ``sgemm`` pointer ``scipy.linalg.cython_blas`` exports
  (scipy's bundled OpenBLAS, 32-bit integers);
- ``scipy-openblas32`` / ``scipy-openblas64``: the PyPI OpenBLAS builds made for Python
  packaging (symbols ``scipy_sgemm_`` / ``scipy_sgemm_64_``), when installed;
- ``numpy.matmul`` into preallocated outputs, for reference (the benchmark's bound).

Every BLAS candidate is called the same way (ctypes, arguments built once), so the per-call
overhead they share cancels in the ratios. Candidates run in interleaved rounds (the order
rotates each round, with a pause between two libraries so the previous one's spinning
workers stop); the report gives each candidate's median and its per-round ratio to NumPy's
OpenBLAS, and threadpoolctl's view of every library (version, kernel, threads).

``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` are removed by re-executing this script.

    python benchmarks/blas_choice.py [--rounds 9] [--steps 200] [--threads N]
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_UNSET_MARKER = "NNCORE_BLAS_CHOICE_UNSET"
SIZES = (784, 256, 128, 10)
BATCHES = (32, 128, 512)
PAUSE_S = 0.2

import numpy as np  # noqa: E402  (after the re-exec decision is fine: main() re-execs)


def _sgemm_caller(fn, int_t):
    """A row-major ``gemm(trans_a, trans_b, A, B, C)`` over a Fortran sgemm pointer."""
    fn.restype = None

    def prepare(trans_a, trans_b, A, B, C):
        M, N = C.shape
        K = A.shape[0] if trans_a else A.shape[1]
        ta = ctypes.c_char(b"T" if trans_a else b"N")
        tb = ctypes.c_char(b"T" if trans_b else b"N")
        m, n, k = int_t(M), int_t(N), int_t(K)
        lda, ldb, ldc = int_t(A.shape[1]), int_t(B.shape[1]), int_t(N)
        one, zero = ctypes.c_float(1.0), ctypes.c_float(0.0)
        args = (ctypes.byref(tb), ctypes.byref(ta), ctypes.byref(n), ctypes.byref(m),
                ctypes.byref(k), ctypes.byref(one), ctypes.c_void_p(B.ctypes.data),
                ctypes.byref(ldb), ctypes.c_void_p(A.ctypes.data), ctypes.byref(lda),
                ctypes.byref(zero), ctypes.c_void_p(C.ctypes.data), ctypes.byref(ldc))
        keep = (ta, tb, m, n, k, lda, ldb, ldc, one, zero)
        return lambda: (fn(*args), keep)

    return prepare


def _from_library(path, symbol, int_t):
    lib = ctypes.CDLL(path)  # RTLD_LOCAL: its symbols do not leak into the process
    return _sgemm_caller(getattr(lib, symbol), int_t), path


def candidates() -> dict:
    """name -> (prepare, where). Missing candidates are skipped with the reason."""
    out, skipped = {}, {}
    proto64 = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 13)

    # NumPy's bundled OpenBLAS: loaded by numpy; find its file via threadpoolctl's report.
    from threadpoolctl import threadpool_info
    numpys = [e["filepath"] for e in threadpool_info()
              if "numpy" in e["filepath"] and e.get("internal_api") == "openblas"]
    if numpys:
        out["numpy-openblas64"] = _from_library(numpys[0], "scipy_sgemm_64_", ctypes.c_int64)
    else:
        skipped["numpy-openblas64"] = "numpy has no bundled OpenBLAS here"

    import scipy.linalg.cython_blas as cb
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    cap = cb.__pyx_capi__["sgemm"]
    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    ptr = get(cap, name(cap))
    out["scipy-cython_blas"] = (_sgemm_caller(proto64(ptr), ctypes.c_int),
                                "scipy.linalg.cython_blas")

    for pkg, symbol, int_t in (("scipy_openblas32", "scipy_sgemm_", ctypes.c_int),
                               ("scipy_openblas64", "scipy_sgemm_64_", ctypes.c_int64)):
        try:
            mod = __import__(pkg)
        except ImportError:
            skipped[pkg.replace("_", "-")] = f"pip install {pkg.replace('_', '-')}"
            continue
        path = os.path.join(mod.get_lib_dir(), mod.get_library() + ".so")
        if not os.path.exists(path):
            path = next(os.path.join(mod.get_lib_dir(), f)
                        for f in os.listdir(mod.get_lib_dir()) if f.endswith(".so"))
        out[pkg.replace("_", "-")] = _from_library(path, symbol, int_t)
    return out, skipped


def step_gemms(batch, rng):
    """The 8 products of one training step: (trans_a, trans_b, A, B, C) each."""
    f = np.float32
    acts = [rng.standard_normal((batch, n)).astype(f) for n in SIZES]  # X, H1, H2, Z3
    ws = [rng.standard_normal((a, b)).astype(f) for a, b in zip(SIZES, SIZES[1:])]
    out = []
    for i, w in enumerate(ws):  # forward: H_{i+1} = H_i @ W_i
        out.append((False, False, acts[i], w, np.empty((batch, w.shape[1]), f)))
    for i in reversed(range(len(ws))):  # backward
        dz = acts[i + 1]
        out.append((True, False, acts[i], dz, np.empty(ws[i].shape, f)))  # dW = H^T dZ
        if i > 0:
            out.append((False, True, dz, ws[i], np.empty((batch, SIZES[i]), f)))  # dZ W^T
    assert len(out) == 8
    return out


def matmul_caller(trans_a, trans_b, A, B, C):
    a = A.T if trans_a else A
    b = B.T if trans_b else B
    return lambda: np.matmul(a, b, out=C)


def run(rounds: int, steps: int) -> dict:
    cands, skipped = candidates()
    names = list(cands) + ["numpy.matmul"]
    rng = np.random.default_rng(0)
    report = {"batches": {}, "skipped": skipped}
    for batch in BATCHES:
        gemms = step_gemms(batch, rng)
        calls = {n: [cands[n][0](*g) for g in gemms] for n in cands}
        calls["numpy.matmul"] = [matmul_caller(*g) for g in gemms]
        # Same results from every library (catches a wrong argument order in the harness).
        ref = []
        for fn in calls["numpy.matmul"]:
            fn()
        ref = [g[4].copy() for g in gemms]
        for n in names:
            for fn in calls[n]:
                fn()
            for g, r in zip(gemms, ref):
                np.testing.assert_allclose(g[4], r, rtol=2e-4, atol=2e-3)
        n_steps = max(10, steps * 32 // batch)

        def timed(fs):
            start = time.perf_counter()
            for _ in range(n_steps):
                for fn in fs:
                    fn()
            return (time.perf_counter() - start) / n_steps

        for n in names:  # warm-up
            timed(calls[n])
        samples = {n: [] for n in names}
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                time.sleep(PAUSE_S)
                samples[n].append(timed(calls[n]))
        base = "numpy-openblas64" if "numpy-openblas64" in samples else names[0]
        rows = {}
        for n in names:
            ratios = [s / b for s, b in zip(samples[n], samples[base])]
            rows[n] = {"median_us": statistics.median(samples[n]) * 1e6,
                       "min_us": min(samples[n]) * 1e6,
                       "ratio_to_" + base: statistics.median(ratios),
                       "ratio_min": min(ratios), "ratio_max": max(ratios),
                       "samples_us": [round(s * 1e6, 1) for s in samples[n]]}
        report["batches"][batch] = rows
    from threadpoolctl import threadpool_info
    keys = ("internal_api", "version", "architecture", "num_threads", "filepath")
    report["threadpools"] = [{k: e.get(k) for k in keys} for e in threadpool_info()]
    report["where"] = {n: cands[n][1] for n in cands}
    report["openblas_env_unset"] = json.loads(os.environ.get(_UNSET_MARKER, "{}"))
    report["load_average"] = os.getloadavg()
    return report


def print_report(rep: dict) -> None:
    for batch, rows in rep["batches"].items():
        print(f"\nbatch {batch}: 8 GEMMs of one step (median and min us; per-round ratio "
              f"to numpy-openblas64: median [min-max])")
        for n, r in rows.items():
            ratio = next(v for k, v in r.items() if k.startswith("ratio_to_"))
            print(f"  {n:20s} {r['median_us']:8.1f} {r['min_us']:8.1f} us   {ratio:5.2f}x "
                  f"[{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]")
    print("\nthread pools (threadpoolctl):")
    for e in rep["threadpools"]:
        print(f"  {e['internal_api']} {e['version']} {e['architecture']} "
              f"threads={e['num_threads']} {e['filepath']}")
    print("skipped:", rep["skipped"] or "none")
    print("OPENBLAS vars unset:", rep["openblas_env_unset"] or "none were set")
    print("load average:", rep["load_average"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--steps", type=int, default=200, help="steps per sample at batch 32")
    p.add_argument("--threads", type=int, default=None,
                   help="limit every BLAS to this many threads (threadpoolctl)")
    p.add_argument("--json", help="also write the report here")
    args = p.parse_args()
    found = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    if found:  # OpenBLAS reads them at load time: start again without them
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
        env[_UNSET_MARKER] = json.dumps(found)
        return subprocess.call([sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
                               env=env)
    if args.threads:
        from threadpoolctl import threadpool_limits
        candidates()  # load every library first so the limit reaches them all
        threadpool_limits(args.threads)
    rep = run(args.rounds, args.steps)
    print_report(rep)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rep, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
