"""benchmarks/grid_search.py: a smoke run writes grid_search.json and .md with a search per
engine, the same grid mapped to each engine's names, and the ratio of the two. No timing
is asserted: the ratios in the benchmark's own report are what performance is judged by."""
from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("sklearn", reason="scikit-learn is not installed")

import grid_search  # noqa: E402  (benchmarks/grid_search.py, on pytest's path)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_the_grid_is_24_candidates_mapped_to_each_engine():
    grids = grid_search.grids(batch=128, quick=False)
    sizes = {engine: math.prod(len(v) for v in grid.values())
             for engine, grid in grids.items()}
    assert sizes == {"nncore": 24, "sklearn": 24, "skorch": 24}
    # scikit-learn's alpha (0.5 * alpha * ||W||^2 / batch) is nncore's L2 of alpha/(2 batch).
    assert grids["nncore"]["alpha"] == [a / 256 for a in grids["sklearn"]["alpha"]]
    assert grids["nncore"]["learning_rate"] == grids["sklearn"]["learning_rate_init"]
    assert grids["skorch"]["module__hidden"] == grids["sklearn"]["hidden_layer_sizes"]


def test_quick_run_writes_the_report(tmp_path):
    # skorch (PyTorch) is left out to keep this quick; without it a run says why.
    why = grid_search.skorch_missing()
    assert why is None or "pip install skorch" in why
    report = grid_search.run(rows=240, n_jobs=(1,), epochs=1, batch=32, quick=True,
                             engines=("nncore", "sklearn"), rounds=1, blas_threads=1,
                             output_dir=tmp_path)
    saved = json.loads((tmp_path / "grid_search.json").read_text(encoding="utf-8"))
    assert saved["results"][0]["best_score"] == report["results"][0]["best_score"]
    assert saved["settings"]["rows"] == 240 and saved["settings"]["epochs"] == 1
    assert "| nncore | 1 |" in (tmp_path / "grid_search.md").read_text(encoding="utf-8")
    assert [r["engine"] for r in saved["results"]] == ["nncore", "sklearn"]
    for r in saved["results"]:
        assert r["candidates"] == 2 and r["epochs_run"] == 1 and r["n_jobs"] == 1
        assert r["wall_s"] > 0 and 0.0 <= r["best_score"] <= 1.0
    peers = {c["peer"]: c for c in saved["comparisons"]}
    assert peers["sklearn"]["time_ratio_peer_over_nncore"] > 0
    assert saved["settings"]["blas_threads"] == 1
    assert saved["environment"]["openblas_env"]["note"]
    assert isinstance(saved["environment"]["blas"], list)
