"""nncore.bench, the benchmark harness: a quick run writes latest.json and latest.md with
every measure as a positive finite number, and engines that are missing (PyTorch, the
native extension, the MNIST files) are reported as skipped or synthetic. No timing is
asserted here: performance is judged from ratios in the benchmark's own report."""
from __future__ import annotations

import json
import math
import sys

import pytest

from nncore import backends, bench

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


def check_timings(report: dict) -> None:
    """Every measured median is a positive finite number of seconds."""
    medians = []
    for entry in report["results"]["epoch"].values():
        medians += [s["median"] for s in entry["seconds"].values()]
        medians += [s["median"] for s in entry["bound_brackets"].values()]
        assert entry["bound_drift"] >= 1.0
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


def test_main_unsets_openblas_variables_in_a_fresh_process(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    monkeypatch.setattr(bench.subprocess, "call",
                        lambda cmd, env: calls.append((cmd, env)) or 0)
    assert bench.main(["--quick", "--output-dir", str(tmp_path)]) == 0
    (cmd, env), = calls
    assert cmd[0] == sys.executable and cmd[1:] == ["-m", "nncore.bench", "--quick",
                                                   "--output-dir", str(tmp_path)]
    assert "OPENBLAS_CORETYPE" not in env
    assert json.loads(env[bench._UNSET_MARKER]) == {"OPENBLAS_CORETYPE": "Haswell"}

    # The child reports what its parent unset.
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    monkeypatch.setenv(bench._UNSET_MARKER, env[bench._UNSET_MARKER])
    state = bench._openblas_env()
    assert state["unset"] == {"OPENBLAS_CORETYPE": "Haswell"} and not state["in_effect"]
    assert "OPENBLAS_CORETYPE=Haswell" in state["note"]


def test_cli_bench_subcommand_calls_main(monkeypatch):
    from nncore import __main__ as cli

    seen = []
    monkeypatch.setattr(bench, "main", lambda argv: seen.append(argv) or 0)
    assert cli.main(["bench", "--quick", "--output-dir", "somewhere"]) == 0
    assert cli.main(["bench"]) == 0
    assert seen == [["--quick", "--output-dir", "somewhere"], []]


@pytest.mark.parametrize("value, text", [(None, "-"), (True, "yes"), (False, "NO"),
                                         (1234.5, "1,234"), (12.34, "12.3"), (0.01234, "0.0123")])
def test_number_format(value, text):
    assert bench._fmt(value) == text
