"""Data-parallel training on MPI: what the allreduce costs per step, and epochs on 1 and
2 ranks.

Run from a checkout (with ``pip install -e ".[mpi]"``)::

    python benchmarks/mpi_scaling.py            # about 1-2 minutes on 2 cores
    python benchmarks/mpi_scaling.py --quick    # fewer rows, rounds and repetitions

The driver (this script without ``--worker``) starts ``mpirun -n 1`` and ``mpirun -n 2``
of itself in alternating rounds (load that comes and goes hits both sides of a ratio)
and writes ``benchmarks/results/mpi_scaling.json`` and ``mpi_scaling.md``. Each worker
measures, for the 784-256-128-10 MLP in float32 (235,146 parameters, 940,584 bytes):

- ``allreduce``: ``Allreduce`` of a buffer of that size, in place, summed (what
  ``nncore.distributed`` calls once per step), and of 8 bytes (the latency), after a
  barrier, median over repetitions;
- ``epoch``: one epoch of ``model.fit`` on synthetic MNIST-shaped rows at global batch
  128 and 512, data-parallel, with the time spent in communication calls during it
  (that includes waiting for the slower rank).

Every rank runs one BLAS thread (``OPENBLAS_NUM_THREADS=1``), so 2 ranks use the 2 cores
that 1 rank with 2 BLAS threads would; the 1-rank run with 2 threads is measured too, as
the fair one-process baseline. benchmarks/README.md turns the numbers into the ring
model of N machines.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # measure this checkout's nncore

SIZES = (784, 256, 128, 10)
PARAMS = sum(a * b + b for a, b in zip(SIZES, SIZES[1:]))  # 235,146
BATCHES = (128, 512)


class TimedComm:
    """An mpi4py communicator that adds up the seconds spent in its collectives."""

    def __init__(self, comm):
        self.comm, self.seconds, self.calls = comm, 0.0, 0

    def __getattr__(self, name):
        return getattr(self.comm, name)

    def _timed(self, name, *args, **kwargs):
        start = time.perf_counter()
        result = getattr(self.comm, name)(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return result

    def Allreduce(self, *args, **kwargs):
        return self._timed("Allreduce", *args, **kwargs)

    def Allgatherv(self, *args, **kwargs):
        return self._timed("Allgatherv", *args, **kwargs)


def _allreduce_seconds(comm, count: int, repeats: int) -> tuple[float, float]:
    """Median and fastest of ``repeats`` in-place Allreduce calls of ``count`` floats."""
    from mpi4py import MPI

    buf = np.ones(count, dtype=np.float32)
    for _ in range(5):
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    times = []
    for _ in range(repeats):
        comm.Barrier()
        start = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        times.append(time.perf_counter() - start)
    # The slowest rank's time is the step's: every rank waits for the reduction to end.
    return (float(comm.allreduce(statistics.median(times), op=MPI.MAX)),
            float(comm.allreduce(min(times), op=MPI.MAX)))


def worker(rows: int, epochs: int, repeats: int) -> dict:
    """Measure on this rank (run under mpirun); rank 0's dict is the report."""
    from mpi4py import MPI

    import nncore as nn
    from nncore import distributed

    comm = MPI.COMM_WORLD
    out = {"size": comm.size, "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
           "rows": rows}
    if comm.size > 1:
        out["allreduce_params_s"], out["allreduce_params_min_s"] = \
            _allreduce_seconds(comm, PARAMS, repeats)
        out["allreduce_8_bytes_s"], out["allreduce_8_bytes_min_s"] = \
            _allreduce_seconds(comm, 2, repeats)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, SIZES[0]), dtype=np.float32)
    y = rng.integers(SIZES[-1], size=rows)
    out["epoch"] = {}
    for batch in BATCHES:
        model = nn.Sequential([nn.layers.Dense(SIZES[1], input_dim=SIZES[0],
                                               activation="relu"),
                               nn.layers.Dense(SIZES[2], activation="relu"),
                               nn.layers.Dense(SIZES[3], activation="softmax")], seed=0)
        model.compile(nn.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        timed = TimedComm(comm)
        distributed.data_parallel(model, timed)
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)  # warm-up
        seconds, comm_seconds = [], []
        for _ in range(epochs):
            comm.Barrier()
            timed.seconds = 0.0
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
            seconds.append(comm.allreduce(time.perf_counter() - start, op=MPI.MAX))
            comm_seconds.append(comm.allreduce(timed.seconds, op=MPI.MAX))
        steps = -(-rows // batch)
        out["epoch"][str(batch)] = {"steps": steps, "seconds": seconds,
                                    "median_s": statistics.median(seconds),
                                    "comm_per_step_s": statistics.median(comm_seconds) / steps}
    return out


def _launch(n: int, threads: int, extra_env: dict, args: argparse.Namespace,
            path: Path) -> dict:
    launcher = Path(sys.executable).parent / "mpirun"
    cmd = [str(launcher if launcher.exists() else "mpirun"), "-n", str(n)]
    if "Open MPI" in subprocess.run(cmd[:1] + ["--version"], capture_output=True,
                                    text=True).stdout:
        cmd.append("--oversubscribe")
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", **extra_env)
    subprocess.run(cmd + [sys.executable, __file__, "--worker", str(path),
                          "--rows", str(args.rows), "--epochs", str(args.epochs),
                          "--repeats", str(args.repeats)], env=env, check=True, timeout=900)
    return json.loads(path.read_text(encoding="utf-8"))


def ring_model(t_compute: float, n: int, nbytes: int, bandwidth: float,
               latency: float) -> float:
    """Seconds per step on ``n`` machines: compute split n ways, plus a ring allreduce
    (reduce-scatter then allgather: 2(n-1) messages of nbytes/n each)."""
    return t_compute / n + 2 * (n - 1) / n * nbytes / bandwidth + 2 * (n - 1) * latency


def summarize(runs: dict[str, list[dict]]) -> dict:
    """Medians over rounds; per-round ratios of the 1-rank epoch to the 2-rank epoch."""
    two = runs["2 ranks x 1 thread"]
    allreduce = statistics.median(r["allreduce_params_s"] for r in two)
    latency_total = statistics.median(r["allreduce_8_bytes_s"] for r in two)
    # The model's machines are dedicated ones: take the least disturbed calls.
    fastest = min(r["allreduce_params_min_s"] for r in two)
    fastest_latency = min(r["allreduce_8_bytes_min_s"] for r in two)
    nbytes = PARAMS * 4
    # Two ranks: t = nbytes / B + 2 * latency, and the 8-byte call is ~2 * latency.
    latency = fastest_latency / 2
    bandwidth = nbytes / max(fastest - fastest_latency, 1e-9)
    summary = {"params": PARAMS, "bytes": nbytes, "allreduce_s": allreduce,
               "allreduce_8_bytes_s": latency_total, "allreduce_min_s": fastest,
               "allreduce_8_bytes_min_s": fastest_latency, "latency_s": latency,
               "bandwidth_bytes_per_s": bandwidth, "batches": {}}
    for batch in map(str, BATCHES):
        entry = {}
        for name, rounds in runs.items():
            entry[name] = {"epoch_s": statistics.median(r["epoch"][batch]["median_s"]
                                                        for r in rounds),
                           # The least disturbed epoch: on a shared machine, load from
                           # others only ever adds time.
                           "best_epoch_s": min(min(r["epoch"][batch]["seconds"])
                                               for r in rounds),
                           "comm_per_step_s": statistics.median(
                               r["epoch"][batch]["comm_per_step_s"] for r in rounds)}
        ones = runs["1 rank x 1 thread"]
        for two in ("2 ranks x 1 thread", "2 ranks x 1 thread, yield"):
            entry[two]["speedup"] = statistics.median(  # per-round ratios
                a["epoch"][batch]["median_s"] / b["epoch"][batch]["median_s"]
                for a, b in zip(ones, runs[two]))
            entry[two]["speedup_best"] = (entry["1 rank x 1 thread"]["best_epoch_s"]
                                          / entry[two]["best_epoch_s"])
            entry[two]["speedup_vs_2_threads"] = statistics.median(
                a["epoch"][batch]["median_s"] / b["epoch"][batch]["median_s"]
                for a, b in zip(runs["1 rank x 2 threads"], runs[two]))
        steps = ones[0]["epoch"][batch]["steps"]
        t_compute = entry["1 rank x 1 thread"]["epoch_s"] / steps
        entry["t_compute_per_step_s"] = t_compute
        entry["model"] = {str(n): t_compute / ring_model(t_compute, n, nbytes, bandwidth,
                                                         latency)
                          for n in (1, 2, 4, 8, 16, 32, 64)}
        summary["batches"][batch] = entry
    return summary


def markdown(report: dict) -> str:
    s = report["summary"]
    lines = ["# MPI data-parallel scaling (benchmarks/mpi_scaling.py)", "",
             f"{report['rows']} rows, 784-256-128-10 float32 ({s['params']} parameters, "
             f"{s['bytes']} bytes); {report['rounds']} rounds; load average "
             f"{report['load_average']['start']} -> {report['load_average']['end']}.", "",
             f"- Allreduce of the gradient buffer, 2 ranks: median {s['allreduce_s'] * 1e6:.0f}"
             f" us, fastest {s['allreduce_min_s'] * 1e6:.0f} us (8 bytes: median "
             f"{s['allreduce_8_bytes_s'] * 1e6:.1f} us, fastest "
             f"{s['allreduce_8_bytes_min_s'] * 1e6:.1f} us)",
             f"- Bandwidth from the fastest: {s['bandwidth_bytes_per_s'] / 1e9:.2f} GB/s; "
             f"latency {s['latency_s'] * 1e6:.1f} us", "",
             "| batch | engine | epoch, median (ms) | epoch, best (ms) | "
             "communication per step (us) |", "| ---: | --- | ---: | ---: | ---: |"]
    for batch, entry in s["batches"].items():
        for name in report["runs"]:
            e = entry[name]
            lines.append(f"| {batch} | {name} | {e['epoch_s'] * 1e3:.0f} | "
                         f"{e['best_epoch_s'] * 1e3:.0f} | {e['comm_per_step_s'] * 1e6:.0f} |")
    lines += ["", "Speedup of 2 ranks: over 1 rank x 1 thread (median of the per-round "
              "ratios; ratio of the best epochs), and over 1 rank x 2 threads:", "",
              "| batch | 2 ranks | vs 1 x 1, median | vs 1 x 1, best | vs 1 x 2 threads |",
              "| ---: | --- | ---: | ---: | ---: |"]
    for batch, entry in s["batches"].items():
        for two in ("2 ranks x 1 thread", "2 ranks x 1 thread, yield"):
            e = entry[two]
            lines.append(f"| {batch} | {two} | {e['speedup']:.2f} | {e['speedup_best']:.2f} "
                         f"| {e['speedup_vs_2_threads']:.2f} |")
    lines += ["", "Compute per step on 1 rank x 1 thread: " + ", ".join(
        f"batch {b}: {e['t_compute_per_step_s'] * 1e3:.2f} ms"
        for b, e in s["batches"].items()) + "."]
    lines += ["", "Ring model, speedup on N machines at the measured bandwidth and latency:",
              "", "| batch | " + " | ".join(f"N={n}" for n in s["batches"]["128"]["model"])
              + " |", "| ---: |" + " ---: |" * len(s["batches"]["128"]["model"])]
    for batch, entry in s["batches"].items():
        lines.append(f"| {batch} | " + " | ".join(f"{v:.2f}" for v in entry["model"].values())
                     + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/mpi_scaling.py")
    parser.add_argument("--quick", action="store_true",
                        help="2048 rows, 1 round, 1 epoch, 20 allreduce repetitions")
    parser.add_argument("--rows", type=int, default=16384)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output-dir", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.epochs, args.repeats, args.rounds = 2048, 1, 20, 1
    if args.worker is not None:  # under mpirun
        from mpi4py import MPI

        out = worker(args.rows, args.epochs, args.repeats)
        if MPI.COMM_WORLD.rank == 0:
            args.worker.write_text(json.dumps(out), encoding="utf-8")
        return 0
    args.output_dir.mkdir(parents=True, exist_ok=True)
    tmp = args.output_dir / "mpi_scaling.worker.json"
    load_start = os.getloadavg()[0]
    # Open MPI's ranks poll while they wait; on a machine shared with other work, a
    # polling rank takes the core its partner needs. mpi_yield_when_idle makes them yield.
    configs = {"1 rank x 1 thread": (1, 1, {}),
               "2 ranks x 1 thread": (2, 1, {"OMPI_MCA_mpi_yield_when_idle": "0"}),
               "2 ranks x 1 thread, yield": (2, 1, {"OMPI_MCA_mpi_yield_when_idle": "1"}),
               "1 rank x 2 threads": (1, 2, {})}
    runs: dict[str, list[dict]] = {name: [] for name in configs}
    for i in range(args.rounds):
        for name, (n, threads, extra_env) in configs.items():
            print(f"round {i + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
            runs[name].append(_launch(n, threads, extra_env, args, tmp))
    tmp.unlink()
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "rows": args.rows, "rounds": args.rounds, "epochs": args.epochs,
              "repeats": args.repeats, "platform": platform.platform(),
              "cores": os.cpu_count(),
              "load_average": {"start": load_start, "end": os.getloadavg()[0]},
              "runs": runs, "summary": summarize(runs)}
    (args.output_dir / "mpi_scaling.json").write_text(json.dumps(report, indent=1) + "\n",
                                                      encoding="utf-8")
    text = markdown(report)
    (args.output_dir / "mpi_scaling.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
