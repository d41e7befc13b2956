"""A 24-candidate grid search: nncore's MLPClassifier against scikit-learn's and skorch's.

Run ``python benchmarks/grid_search.py`` from a checkout (``--data DIR`` for the MNIST
folder, ``--n-jobs 1,2`` for the GridSearchCV n_jobs to run, ``--quick`` for a smoke run).
Every engine searches the same grid, mapped to its own argument names, on the same data
with the same 3-fold split, epochs, batch size and optimizer (Adam, relu, float32), then
refits the best candidate on all the rows, as ``GridSearchCV`` does by default:

- hidden_layer_sizes (64,), (128,), (128, 64) x learning rate 1e-3, 3e-3 x alpha 1e-4,
  1e-3, 1e-2, 1e-1 (scikit-learn's convention: ``0.5 * alpha * ||W||^2 / batch`` is added
  to each batch's loss; nncore's L2 adds ``alpha' * ||W||^2``, so alpha' =
  alpha / (2 * batch); skorch's Adam weight_decay adds ``wd * W`` to the gradient, so
  wd = alpha / batch, biases included);
- exactly ``--epochs`` epochs: ``n_iter_no_change`` = epochs, so no engine stops early.

The engines run one after the other in one process, nncore and scikit-learn in
``--rounds`` rounds (skorch, many times slower, in the first only): a time is the median
of an engine's rounds and the ratio sklearn/nncore the median of the per-round ratios of
two searches run back to back (these machines are shared; a time on its own means little). With n_jobs > 1, joblib's
loky workers run at most cores/n_jobs BLAS threads each (the report shows them, through
threadpoolctl). ``--blas-threads N`` sets every engine's BLAS (and PyTorch's threads) to
N, here and in the workers: on a busy machine a 2-thread BLAS waits for its second thread
at every GEMM, and the times then measure the scheduler more than the engines. The report goes to ``benchmarks/results/grid_search.json`` and ``.md``.

Example
-------
    python benchmarks/grid_search.py --quick --n-jobs 1 --output-dir /tmp/grid
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))

import bench  # noqa: E402  (benchmarks/bench.py: data, environment and report helpers)
import nncore  # noqa: E402

HIDDEN = [(64,), (128,), (128, 64)]
LEARNING_RATES = [1e-3, 3e-3]
ALPHAS = [1e-4, 1e-3, 1e-2, 1e-1]
ENGINES = ("nncore", "sklearn", "skorch")


def grids(batch: int, quick: bool) -> dict[str, dict]:
    """The one grid, in each engine's argument names (alpha mapped as the docstring says)."""
    hidden, rates, alphas = (HIDDEN[:1], LEARNING_RATES, ALPHAS[:1]) if quick else \
        (HIDDEN, LEARNING_RATES, ALPHAS)
    return {
        "nncore": {"hidden_layer_sizes": hidden, "learning_rate": rates,
                   "alpha": [a / (2 * batch) for a in alphas]},
        "sklearn": {"hidden_layer_sizes": hidden, "learning_rate_init": rates,
                    "alpha": alphas},
        "skorch": {"module__hidden": hidden, "lr": rates,
                   "optimizer__weight_decay": [a / batch for a in alphas]},
    }


def _skorch_module():
    import torch

    class MLP(torch.nn.Module):
        """Dense + relu per hidden size, then logits (CrossEntropyLoss applies softmax)."""

        def __init__(self, hidden=(64,), n_features=784, n_classes=10):
            super().__init__()
            sizes, stack = (n_features, *hidden), []
            for a, b in zip(sizes[:-1], sizes[1:]):
                stack += [torch.nn.Linear(a, b), torch.nn.ReLU()]
            self.net = torch.nn.Sequential(*stack, torch.nn.Linear(sizes[-1], n_classes))

        def forward(self, X):
            return self.net(X)

    return MLP


def estimator(engine: str, epochs: int, batch: int):
    """A fresh estimator of ``engine`` with the settings every candidate shares."""
    if engine == "nncore":
        from nncore.sklearn import MLPClassifier
        return MLPClassifier(activation="relu", optimizer="adam", batch_size=batch,
                             max_iter=epochs, n_iter_no_change=epochs, random_state=0)
    if engine == "sklearn":
        from sklearn.neural_network import MLPClassifier
        return MLPClassifier(activation="relu", solver="adam", batch_size=batch,
                             max_iter=epochs, n_iter_no_change=epochs, random_state=0)
    import torch
    from skorch import NeuralNetClassifier
    torch.manual_seed(0)
    return NeuralNetClassifier(_skorch_module(), criterion=torch.nn.CrossEntropyLoss,
                               optimizer=torch.optim.Adam, max_epochs=epochs,
                               batch_size=batch, train_split=None, verbose=0,
                               iterator_train__shuffle=True)


def skorch_missing() -> str | None:
    """None when skorch (and PyTorch) import, else why not."""
    try:
        import skorch  # noqa: F401
    except Exception as exc:  # ImportError, or a broken torch raising OSError
        return f"skorch is not installed ({type(exc).__name__}: {exc}): pip install skorch"
    return None


def _worker_blas(n_jobs: int) -> list[dict]:
    """threadpoolctl's report from inside the loky workers, after they imported nncore."""
    import joblib
    import threadpoolctl
    joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(__import__)("nncore.sklearn")
                                   for _ in range(2 * n_jobs))
    infos = joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(threadpoolctl.threadpool_info)()
                                           for _ in range(n_jobs))
    keys = ("user_api", "internal_api", "num_threads", "filepath")
    return [{k: entry.get(k) for k in keys} for entry in infos[0]]


def warm_up(engine: str, X, y, n_jobs: int, batch: int) -> None:
    """One untimed fit and score of ``engine``, here and in every worker of ``n_jobs``."""
    import joblib

    def fit_and_score():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return estimator(engine, 1, batch).fit(X[:200], y[:200]).score(X[:100], y[:100])

    if n_jobs == 1:
        fit_and_score()
    else:
        joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(fit_and_score)()
                                       for _ in range(2 * n_jobs))


def _blas_threads(threads: int | None):
    """Every BLAS here and in joblib's workers at ``threads`` (None: as they are, the
    libraries' defaults here and cores // n_jobs in loky's workers)."""
    import contextlib

    import joblib
    import threadpoolctl

    stack = contextlib.ExitStack()
    if threads is not None:
        stack.enter_context(threadpoolctl.threadpool_limits(threads, user_api="blas"))
        stack.enter_context(joblib.parallel_config(backend="loky",
                                                   inner_max_num_threads=threads))
    return stack


def search(engine: str, X, y, n_jobs: int, epochs: int, batch: int, quick: bool,
           blas_threads: int | None = None) -> dict:
    """One timed GridSearchCV (3-fold, refit on all rows) of ``engine``."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    if engine == "skorch" and blas_threads is not None:
        import torch  # PyTorch's own intra-op pool, which threadpoolctl does not set
        torch.set_num_threads(blas_threads)
    grid = grids(batch, quick)[engine]
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    gs = GridSearchCV(estimator(engine, epochs, batch), grid, cv=cv, n_jobs=n_jobs)
    with warnings.catch_warnings(), _blas_threads(blas_threads):
        warnings.simplefilter("ignore")  # ConvergenceWarning: a fixed number of epochs
        started = time.perf_counter()
        gs.fit(X, y)
        wall = time.perf_counter() - started
    best = {k: (list(v) if isinstance(v, tuple) else v) for k, v in gs.best_params_.items()}
    refit = gs.best_estimator_
    return {"engine": engine, "n_jobs": n_jobs, "wall_s": wall,
            "candidates": len(gs.cv_results_["params"]), "folds": 3,
            "best_score": float(gs.best_score_), "best_params": best,
            "mean_fit_s": float(np.mean(gs.cv_results_["mean_fit_time"])),
            "refit_s": float(gs.refit_time_),
            "epochs_run": int(getattr(refit, "n_iter_", len(getattr(refit, "history", []))))}


def run(data: str | None = None, rows: int = 10_000, n_jobs=(1, 2), epochs: int = 10,
        batch: int = 128, quick: bool = False, engines=ENGINES, rounds: int = 3,
        blas_threads: int | None = None, output_dir=None) -> dict:
    """Run the searches, print a table, write grid_search.json and .md; return the report.

    nncore and scikit-learn search ``rounds`` times, back to back (skorch once): a time is
    the median of its rounds, a ratio the median of the per-round ratios. Scores and
    parameters do not change from round to round (every engine is seeded).
    ``blas_threads`` limits every BLAS, here and in the workers (default: untouched)."""
    X, y, source = bench.load_mnist_rows(rows, data)
    load_at_start = bench._load_average()
    skipped = {}
    why = skorch_missing() if "skorch" in engines else None
    if why is not None:
        skipped["skorch"] = why
        engines = [e for e in engines if e != "skorch"]
    results, worker_blas, comparisons = [], {}, []
    for jobs in n_jobs:
        if jobs > 1:
            with _blas_threads(blas_threads):
                worker_blas[str(jobs)] = _worker_blas(jobs)
        for engine in engines:  # imports, first allocations: not a search's cost
            with _blas_threads(blas_threads):
                warm_up(engine, X, y, jobs, batch)
        rounds_of = {engine: [] for engine in engines}
        for r in range(rounds):
            for engine in engines:
                if engine == "skorch" and r > 0:
                    continue  # skorch is many times slower: one round says enough
                bench._progress(f"grid search: {engine}, n_jobs={jobs}, round {r + 1}")
                rounds_of[engine].append(search(engine, X, y, jobs, epochs, batch, quick,
                                                blas_threads))
                time.sleep(0.3)  # PyTorch's OpenMP threads spin on for a while after a run
        for engine, runs in rounds_of.items():
            walls = [run_["wall_s"] for run_ in runs]
            results.append(dict(runs[0], wall_s=statistics.median(walls), wall_s_rounds=walls))
        ours = rounds_of["nncore"]
        for peer in (e for e in engines if e != "nncore"):
            theirs = rounds_of[peer]
            # A ratio per round (the two searches ran back to back), then their median.
            ratios = [b["wall_s"] / a["wall_s"] for a, b in zip(ours, theirs)]
            comparisons.append({
                "n_jobs": jobs, "peer": peer, "rounds": len(ratios),
                "time_ratio_peer_over_nncore": statistics.median(ratios),
                "time_ratios_per_round": ratios,
                "best_score_nncore_minus_peer": ours[0]["best_score"] - theirs[0]["best_score"]})
    torch = sys.modules.get("torch")
    with _blas_threads(blas_threads):
        blas_here = bench._blas()  # as the searches saw it
    report = {
        "schema": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": {"rows": len(X), "epochs": epochs, "batch_size": batch, "cv": 3,
                     "n_jobs": list(n_jobs), "rounds": rounds, "quick": quick,
                     "blas_threads": blas_threads or "libraries' defaults (loky workers: "
                                                     "cores // n_jobs)", "dtype": "float32",
                     "optimizer": "adam", "activation": "relu",
                     "grid_sklearn_convention": grids(batch, quick)["sklearn"]},
        "data": source, "skipped": skipped, "results": results, "comparisons": comparisons,
        "environment": {"load_average": {"start": load_at_start, "end": bench._load_average()},
                        "cores": os.cpu_count(), "versions": bench._versions(torch),
                        "blas": blas_here, "blas_in_workers": worker_blas,
                        "openblas_env": bench._openblas_env(),
                        "torch_threads": None if torch is None else torch.get_num_threads(),
                        "nncore_native_blas": bench._native_blas()},
    }
    text = format_markdown(report)
    print(text)
    out_dir = Path(output_dir) if output_dir is not None else bench.default_output_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    bench._write(out_dir / "grid_search.json",
                 json.dumps(report, indent=1, default=bench._json_default) + "\n")
    bench._write(out_dir / "grid_search.md", text)
    print(f"wrote {out_dir / 'grid_search.json'} and grid_search.md")
    return report


def format_markdown(report: dict) -> str:
    s = report["settings"]
    lines = [f"# Grid search: {report['results'][0]['candidates']} candidates x 3-fold CV "
             f"+ refit, {s['rows']} rows, {s['epochs']} epochs, batch {s['batch_size']}, "
             "Adam, float32", "", f"BLAS threads: {s['blas_threads']}", "",
             "| engine | n_jobs | wall s (median) | rounds, s | mean fit s | best CV accuracy "
             "| best params |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["results"]:
        rounds = ", ".join(f"{w:.1f}" for w in r["wall_s_rounds"])
        lines.append(f"| {r['engine']} | {r['n_jobs']} | {r['wall_s']:.1f} | {rounds} | "
                     f"{r['mean_fit_s']:.3f} | {r['best_score']:.4f} | "
                     f"{json.dumps(r['best_params'])} |")
    lines += ["", "| n_jobs | peer | time peer / nncore (median of rounds) | per round | "
              "best score nncore - peer |", "| --- | --- | --- | --- | --- |"]
    for c in report["comparisons"]:
        per_round = ", ".join(f"{v:.2f}" for v in c["time_ratios_per_round"])
        lines.append(f"| {c['n_jobs']} | {c['peer']} | {c['time_ratio_peer_over_nncore']:.2f} "
                     f"| {per_round} | {c['best_score_nncore_minus_peer']:+.4f} |")
    env = report["environment"]
    lines += ["", f"data: {report['data']['note']}",
              f"OpenBLAS environment: {env['openblas_env']['note']}",
              f"load average: start {env['load_average']['start']}, end "
              f"{env['load_average']['end']} ({env['cores']} cores)",
              f"nncore's native GEMMs call: {env['nncore_native_blas']}"]
    for entry in env["blas"] if isinstance(env["blas"], list) else []:
        lines.append(f"BLAS here: {entry['internal_api']} {entry['version']} "
                     f"{entry['architecture']}, {entry['num_threads']} threads, "
                     f"{entry['filepath']}")
    for jobs, entries in env["blas_in_workers"].items():
        for entry in entries:
            lines.append(f"in a worker of n_jobs={jobs}: {entry['user_api']} "
                         f"{entry['internal_api']}, {entry['num_threads']} threads, "
                         f"{entry['filepath']}")
    for name, why in report["skipped"].items():
        lines.append(f"skipped {name}: {why}")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks/grid_search.py",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder of the MNIST IDX files "
                        "(default: $NNCORE_DATA, then ../shared/data/mnist, then the cache)")
    parser.add_argument("--rows", type=int, default=10_000, help="first rows of t10k")
    parser.add_argument("--n-jobs", default="1,2", help="GridSearchCV n_jobs values, "
                        "comma-separated (default 1,2)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3,
                        help="searches per engine, back to back (skorch: 1)")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="BLAS threads of every engine, here and in the workers "
                             "(default: the libraries' own; loky workers cores // n_jobs)")
    parser.add_argument("--quick", action="store_true", help="2 candidates (a smoke run)")
    parser.add_argument("--output-dir", default=None,
                        help="where grid_search.json and .md go (default benchmarks/results)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Unset the OpenBLAS pinning variables (re-executing, as benchmarks/bench.py does),
    then :func:`run`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    found = {k: os.environ[k] for k in bench.OPENBLAS_VARS if k in os.environ}
    if found:
        env = {k: v for k, v in os.environ.items() if k not in bench.OPENBLAS_VARS}
        env[bench._UNSET_MARKER] = json.dumps(found)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(Path(nncore.__file__).resolve().parents[1]),
                        os.environ.get("PYTHONPATH")) if p)
        bench._progress(f"unsetting {', '.join(found)} and re-executing")
        return subprocess.call([sys.executable, str(Path(__file__).resolve()), *argv],
                               env=env)
    n_jobs = tuple(int(v) for v in args.n_jobs.split(","))
    run(data=args.data, rows=args.rows, n_jobs=n_jobs, epochs=args.epochs,
        batch=args.batch_size, quick=args.quick, rounds=args.rounds,
        blas_threads=args.blas_threads, output_dir=args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
