"""``nncore bench``: run the benchmark harness of the checkout nncore was installed from.

The harness is developer tooling (benchmarks/bench.py), not part of the installed
package: an install made from a checkout finds it there, any other is told how to get it.

Example
-------
>>> from nncore.cli.harness import bench_harness
>>> bench_harness() is None or bench_harness().name == "bench.py"
True
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def bench(args) -> int:
    """Run benchmarks/bench.py of this checkout, or say where the harness lives."""
    harness = bench_harness()
    if harness is None:
        print("nncore's benchmarks live in its source checkout, not in the installed "
              "package: from a checkout, run `python benchmarks/bench.py` (see "
              "benchmarks/README.md).", file=sys.stderr)
        return 2
    argv = ["--quick"] if args.quick else []
    if args.output_dir is not None:
        argv += ["--output-dir", args.output_dir]
    return subprocess.call([sys.executable, str(harness), *argv])


def bench_harness() -> Path | None:
    """benchmarks/bench.py of the checkout this nncore was imported from, if there is one."""
    harness = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"
    return harness if harness.is_file() else None
