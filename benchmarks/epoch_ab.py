"""Epoch ratios to the GEMM-only bound of one nncore build, for A/B comparisons of builds.

    python benchmarks/epoch_ab.py [--rounds N] [--batches 32 128 512]

Runs ``bench.py``'s epoch measure (the 8,000-row MNIST epoch of 784-256-128-10 with
``fit`` and with a ``train_on_batch`` loop, and the 8 matmuls of every step as the
bound, in interleaved rounds with a pause before each candidate) for the nncore that
Python imports, and prints one line per batch size: the median of the per-round ratios
and their range. To compare two builds, run it alternately with each on ``PYTHONPATH``
(benchmarks/README.md lists such runs). OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset
by re-executing, as bench.py does.
"""
import argparse
import json
import os
import statistics
import sys

if any(k in os.environ for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import bench  # noqa: E402  (benchmarks/ is this script's directory)
import nncore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--rows", type=int, default=bench.Plan.rows,
                        help="MNIST rows per epoch (a smaller number: a smoke run)")
    args = parser.parse_args()
    plan = bench.Plan(reps=args.rounds, rows=args.rows)
    x, y, data = bench.load_mnist_rows(plan.rows)
    out = {"nncore": os.path.dirname(nncore.__file__), "blas": bench._native_blas(),
           "data": data["source"], "load": os.getloadavg()[0]}
    for batch in args.batches:
        candidates = {"bound": bench.gemm_bound_epoch(x, batch),
                      "fit": bench._nncore_fit("native", x, y, batch),
                      "loop": bench._nncore_loop("native", x, y, batch)}
        rounds = bench._measure_rounds(candidates, plan)
        for name in ("fit", "loop"):
            ratios = [r[name] / r["bound"] for r in rounds]
            out[f"b{batch} {name}"] = (f"{statistics.median(ratios):.2f}x "
                                       f"[{min(ratios):.2f}-{max(ratios):.2f}] "
                                       f"{1e3 * statistics.median(r[name] for r in rounds):.1f} ms")
        out[f"b{batch} bound"] = f"{1e3 * statistics.median(r['bound'] for r in rounds):.1f} ms"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
