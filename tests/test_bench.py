"""benchmarks/bench.py, the benchmark harness: a quick run writes latest.json and latest.md with
every measure as a positive finite number, and engines that are missing (PyTorch, the
native extension, the MNIST files) are reported as skipped or synthetic. No timing is
asserted here: performance is judged from ratios in the benchmark's own report."""
from __future__ import annotations

import json
import math
import statistics
import sys

import pytest

import bench  # benchmarks/bench.py: pyproject puts benchmarks/ on pytest's path
from nncore import backends

TIMED_UNITS = ("ms", "us", "MiB")
ENGINES = ("native", "numpy", "torch")


def torch_importable() -> bool:
    try:
        import torch  # noqa: F401
    except Exception:
        return False
    return True


def check_report_files(tmp_path) -> tuple[dict, str]:
    json_path, md_path = tmp_path / "latest.json", tmp_path / "latest.md"
    assert json_path.is_file() and md_path.is_file()
    assert not list(tmp_path.glob("*.tmp"))
    report = json.loads(json_path.read_text(encoding="utf-8"))
    for key in ("created", "runtime_s", "settings", "environment", "data", "ratio_backend",
                "skipped", "peers", "results", "table"):
        assert key in report, key
    for key in ("epoch", "tiny", "predict", "memory"):
        assert key in report["results"], key
    env = report["environment"]
    for key in ("cpu", "cores", "versions", "blas", "openblas_env"):
        assert key in env, key
    for key in ("python", "numpy", "scipy", "nncore", "torch", "threadpoolctl"):
        assert key in env["versions"], key
    assert report["settings"]["quick"] is True
    assert math.isfinite(report["runtime_s"]) and report["runtime_s"] > 0
    return report, md_path.read_text(encoding="utf-8")


def positive_finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def check_epoch_rounds(report: dict) -> None:
    """The bound and every nncore candidate ran once per round, in one fixed order, and
    each nncore ratio is the median of its per-round ratios; PyTorch's is median / median."""
    backends_run = [b for b in ("native", "numpy") if report["peers"][b] == "ran"]
    order = ["bound"] + [f"{b}_{how}" for b in backends_run for how in ("fit", "loop")]
    for entry in report["results"]["epoch"].values():
        assert "bound_brackets" not in entry and "bound_drift" not in entry
        rounds, seconds = entry["rounds"], entry["seconds"]
        assert len(rounds) == report["settings"]["reps"]
        assert all(list(r) == order for r in rounds)
        assert list(entry["round_ratios"]) == order[1:]
        for name, ratios in entry["round_ratios"].items():
            assert ratios == pytest.approx([r[name] / r["bound"] for r in rounds])
            assert entry["ratio_to_bound"][name] == pytest.approx(statistics.median(ratios))
            assert seconds[name]["reps"] == len(rounds)
            assert seconds[name]["median"] == pytest.approx(
                statistics.median(r[name] for r in rounds))
        for name in (k for k in seconds if k.startswith("torch_")):
            assert entry["ratio_to_bound"][name] == pytest.approx(
                seconds[name]["median"] / seconds["bound"]["median"])
        assert set(entry["ratio_to_bound"]) == set(seconds) - {"bound"}
        assert set(entry["noisy"]) <= set(entry["ratio_to_bound"])


def check_timings(report: dict) -> None:
    """Every measured median is a positive finite number of seconds."""
    medians = []
    for entry in report["results"]["epoch"].values():
        medians += [s["median"] for s in entry["seconds"].values()]
        assert all(positive_finite(r) for r in entry["ratio_to_bound"].values())
    for entry in report["results"]["tiny"].values():
        medians += [s["median"] for s in entry["seconds_per_step"].values()]
    for entry in report["results"]["predict"].values():
        medians += [s["median"] for s in entry["seconds_per_call"].values()]
    assert medians and all(positive_finite(m) for m in medians)


def check_table(report: dict, md: str) -> None:
    table = report["table"]
    measures = [row["measure"] for row in table]
    assert any(m.startswith("epoch b128 fit") for m in measures)
    assert "4-8-8-3 b16 Adam step" in measures and "predict 1 row" in measures
    assert any("peak memory" in m for m in measures)
    for row in table:
        for engine in ENGINES + ("bound",):
            value = row[engine]
            if value is None:
                continue
            if row["unit"] in TIMED_UNITS:
                assert positive_finite(value), row
            else:  # allocation counts may be 0, never negative or NaN
                assert math.isfinite(value) and value >= 0, row
        assert row["ratio"] is None or positive_finite(row["ratio"]), row
        assert row["met"] in (True, False, None) and row["noisy"] in (True, False)
    assert "| measure | unit | nncore native | numpy backend | torch |" in md


def test_quick_run_writes_report(tmp_path):
    report = bench.run(quick=True, output_dir=tmp_path)
    saved, md = check_report_files(tmp_path)
    assert saved["table"] == json.loads(json.dumps(report["table"]))
    check_timings(saved)
    check_epoch_rounds(saved)
    check_table(saved, md)
    assert saved["results"]["epoch"].keys() == {"128"}
    assert saved["data"]["source"] in ("mnist", "synthetic")
    assert saved["data"]["note"] in md
    peak = saved["results"]["memory"]["peak"][saved["ratio_backend"]]
    assert positive_finite(peak["peak_bytes"]) and positive_finite(peak["theoretical_bytes"])
    assert saved["peers"]["numpy"] == "ran"
    assert saved["peers"]["native"] == ("ran" if backends.native_available() else "skipped")
    if torch_importable():
        assert saved["peers"]["torch"] == "ran"
        assert saved["environment"]["versions"]["torch"]
        assert all(row["torch"] is not None for row in saved["table"] if row["unit"] == "us")
    else:
        assert saved["peers"]["torch"] == "skipped" and "torch" in saved["skipped"]


def test_missing_peers_and_data_are_reported(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    monkeypatch.setattr(backends, "native_available", lambda: False)

    def no_files(*args, **kwargs):
        raise FileNotFoundError("no MNIST here")
    monkeypatch.setattr(bench.nncore.datasets, "load_mnist", no_files)
    bench.run(quick=True, output_dir=tmp_path)
    report, md = check_report_files(tmp_path)
    check_timings(report)
    check_epoch_rounds(report)
    check_table(report, md)
    assert report["peers"] == {"native": "skipped", "numpy": "ran", "torch": "skipped"}
    assert {"native", "torch"} <= report["skipped"].keys()
    assert report["ratio_backend"] == "numpy"
    assert report["environment"]["versions"]["torch"] is None
    for row in report["table"]:
        assert row["native"] is None and row["torch"] is None
    assert "skipped torch" in md and "skipped native" in md
    assert "| skipped |" in md
    assert report["data"]["source"] == "synthetic" and "SYNTHETIC" in md


def test_measure_rounds_interleaves_after_a_warm_up():
    calls = []
    candidates = {name: (lambda name=name: calls.append(name)) for name in ("bound", "a", "b")}
    plan = bench.Plan(warmup=1, reps=3, switch_pause_s=0.0)
    rounds = bench._measure_rounds(candidates, plan)
    assert calls == ["bound", "a", "b"] * 4  # one warm-up round, then three rounds
    assert len(rounds) == 3
    assert all(list(r) == ["bound", "a", "b"] and all(t >= 0 for t in r.values())
               for r in rounds)


def test_epoch_ratio_is_the_median_of_per_round_ratios():
    # The load doubles in the second round: both sides of its ratio slow down.
    rounds = [{"bound": 1.0, "native_fit": 1.2, "native_loop": 1.3},
              {"bound": 2.0, "native_fit": 2.6, "native_loop": 1.3},
              {"bound": 1.0, "native_fit": 1.4, "native_loop": 1.3}]
    entry = bench._epoch_entry(rounds, {"torch_default": [3.0, 3.3, 3.6]}, steps=4)
    assert entry["steps"] == 4 and entry["rounds"] == rounds
    assert entry["round_ratios"]["native_fit"] == pytest.approx([1.2, 1.3, 1.4])
    assert entry["ratio_to_bound"]["native_fit"] == pytest.approx(1.3)  # not 1.4 / 1.0
    assert entry["ratio_to_bound"]["torch_default"] == pytest.approx(3.3)
    assert entry["ratio_to_bound_of_minimums"]["native_fit"] == pytest.approx(1.2)
    assert entry["seconds"]["native_fit"] == {"median": 1.4, "min": 1.2, "max": 2.6, "reps": 3}
    # native_fit's samples spread (2.6 / 1.2); native_loop's do not, but its per-round
    # ratios do (1.3 / 0.65); PyTorch's ratio rests on the bound's samples, which spread.
    assert entry["noisy"] == ["native_fit", "native_loop", "torch_default"]
    quiet = [{"bound": 1.0, "native_fit": 1.2}, {"bound": 1.1, "native_fit": 1.3}]
    assert bench._epoch_entry(quiet, {}, steps=1)["noisy"] == []


@pytest.mark.parametrize("backend", ["native", "numpy"])
def test_warm_train_steps_retain_nothing(backend):
    """250 batches, more than the measured steps reach: the warm-up must touch each one
    (NumPy's buffer cache on each view) and take Adam's step counter past 256 (CPython's
    small ints), or a step would seem to retain blocks."""
    if backend == "native" and not backends.native_available():
        pytest.skip("the native extension is not built")
    x, y, _ = bench.load_mnist_rows(250 * 32)
    found = bench.bench_allocations(backend, x, y, batch=32, steps=40)
    assert found["retained_blocks_per_step"] == 0, found["retained_sites"]


def test_main_unsets_openblas_variables_in_a_fresh_process(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    monkeypatch.setattr(bench.subprocess, "call",
                        lambda cmd, env: calls.append((cmd, env)) or 0)
    assert bench.main(["--quick", "--output-dir", str(tmp_path)]) == 0
    (cmd, env), = calls
    assert cmd[0] == sys.executable and cmd[1:] == [bench.__file__, "--quick",
                                                   "--output-dir", str(tmp_path)]
    assert "OPENBLAS_CORETYPE" not in env
    assert json.loads(env[bench._UNSET_MARKER]) == {"OPENBLAS_CORETYPE": "Haswell"}

    # The child reports what its parent unset.
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    monkeypatch.setenv(bench._UNSET_MARKER, env[bench._UNSET_MARKER])
    state = bench._openblas_env()
    assert state["unset"] == {"OPENBLAS_CORETYPE": "Haswell"} and not state["in_effect"]
    assert "OPENBLAS_CORETYPE=Haswell" in state["note"]


def test_cli_bench_runs_the_checkouts_harness(monkeypatch, capsys):
    from nncore.cli import harness as cli, main

    seen = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: seen.append(cmd) or 0)
    assert main(["bench", "--quick", "--output-dir", "somewhere"]) == 0
    assert main(["bench"]) == 0
    harness = str(cli.bench_harness())
    assert seen == [[sys.executable, harness, "--quick", "--output-dir", "somewhere"],
                    [sys.executable, harness]]
    # An install without a checkout says where the harness is instead.
    monkeypatch.setattr(cli, "bench_harness", lambda: None)
    assert main(["bench"]) == 2
    assert "python benchmarks/bench.py" in capsys.readouterr().err


def test_the_harness_is_not_installed_with_the_package():
    import importlib.util

    assert importlib.util.find_spec("nncore.bench") is None


def test_targets_come_from_the_file(tmp_path):
    targets = bench.load_targets()
    assert targets["epoch"] == {32: 1.6, 128: 1.3, 512: 1.15}
    other = tmp_path / "t.json"
    other.write_text(json.dumps({"epoch_fit_over_bound": {"32": 2.0},
                                 "tiny_torch_over_nncore": 5, "predict_row_torch_over_nncore": 1,
                                 "peak_memory_over_theory": 1.5, "runtime_s": 60}))
    assert bench.load_targets(other)["epoch"] == {32: 2.0}


@pytest.mark.parametrize("value, text", [(None, "-"), (True, "yes"), (False, "NO"),
                                         (1234.5, "1,234"), (12.34, "12.3"), (0.01234, "0.0123")])
def test_number_format(value, text):
    assert bench._fmt(value) == text


def test_epoch_ab_prints_one_builds_ratios():
    """benchmarks/epoch_ab.py, the old/new comparison tool, on a few rows: one JSON line
    with each batch size's fit and loop ratios and the bound."""
    import json
    import subprocess
    from pathlib import Path

    script = Path(bench.__file__).with_name("epoch_ab.py")
    out = subprocess.run([sys.executable, str(script), "--rounds", "1", "--batches", "64",
                          "--rows", "256"], capture_output=True, text=True, check=True,
                         timeout=300).stdout
    report = json.loads(out.splitlines()[-1])
    assert {"b64 fit", "b64 loop", "b64 bound", "blas", "nncore"} <= set(report)
    assert report["b64 fit"].endswith(" ms") and "x [" in report["b64 fit"]
