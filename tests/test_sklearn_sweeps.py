"""Sweeps beyond one process: GridSearchCV over nncore's estimators with joblib's loky
workers and on a Dask cluster gives the search of one process, and no worker runs more
BLAS threads than its share of the cores (workers x threads <= cores).

Where the limit comes from: joblib starts each loky worker with OPENBLAS_NUM_THREADS (and
OMP_, MKL_...) set to ``cpu_count() // n_jobs`` (or ``inner_max_num_threads`` of
``joblib.parallel_config``), and distributed's nanny starts each Dask worker with them
set to 1; every OpenBLAS reads them when it loads. These tests look inside the workers
with threadpoolctl (every library of user_api "blas", whichever BLAS nncore's native
backend uses) after an nncore fit there.
"""
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is not installed")
threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")

import cloudpickle  # noqa: E402  (joblib's dependency: it ships the probe to the workers)
import joblib  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from nncore.sklearn import MLPClassifier  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# The workers cannot import this file (pytest imports it by path): ship the probe by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

GRID = {"mlpclassifier__hidden_layer_sizes": [(4,), (8,)],
        "mlpclassifier__learning_rate": [0.003, 0.03]}


def _data():
    X, y = make_classification(n_samples=90, n_features=5, n_informative=3, n_classes=3,
                               random_state=0)
    return X, y


def _search(n_jobs=None):
    pipe = make_pipeline(StandardScaler(),
                         MLPClassifier(max_iter=8, batch_size=16, random_state=0))
    return GridSearchCV(pipe, GRID, cv=3, n_jobs=n_jobs)


def _reference():
    """The search in this process, BLAS on one thread as in the workers, so that every
    GEMM sums in the same order and the scores can be compared exactly."""
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        return _search().fit(*_data())


def _same_search(a, b):
    assert a.best_params_ == b.best_params_
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        np.testing.assert_array_equal(a.cv_results_[key], b.cv_results_[key])
    for i in range(3):
        np.testing.assert_array_equal(a.cv_results_[f"split{i}_test_score"],
                                      b.cv_results_[f"split{i}_test_score"])
    X, _ = _data()
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def _blas_in_worker(_):
    """Fit an estimator here (so nncore's native backend and its BLAS are loaded), then
    report this process's BLAS libraries and their thread counts."""
    import os

    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier((4,), max_iter=1, random_state=0).fit(X, y)
    blas = [(os.path.realpath(info["filepath"]), info["num_threads"])
            for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    return os.getpid(), blas, _native_blas()


def _native_blas():
    """The library file nncore's native GEMMs call (scipy-openblas64's, which the native
    package loads), or None without the native backend."""
    import os

    from nncore import backends
    if not backends.native_available():
        return None
    from nncore.backends import native
    return os.path.realpath(native._blas_library._name)


def _check_blas_share(reports, workers: int, cores: int):
    import os

    assert reports and all(blas for _, blas, _ in reports), reports
    # The probe ran in the workers, not here: they are other processes.
    assert os.getpid() not in {pid for pid, _, _ in reports}
    share = max(1, cores // workers)
    for pid, blas, native in reports:
        for path, threads in blas:
            assert threads <= share, (f"worker {pid}: {path} runs {threads} BLAS threads, "
                                      f"more than {cores} cores / {workers} workers")
        # The limit covers the library nncore's GEMMs go through, whichever it is.
        assert native is None or native in {os.path.realpath(path) for path, _ in blas}, \
            (native, blas)


@pytest.fixture(scope="module")
def reference():
    return _reference()


def test_loky_grid_search_n_jobs_2_equals_n_jobs_1(reference):
    with joblib.parallel_config(backend="loky"):
        parallel = _search(n_jobs=2).fit(*_data())
    _same_search(parallel, reference)


def test_loky_workers_share_the_cores_between_their_blas_threads():
    cores = joblib.cpu_count()
    with joblib.parallel_config(backend="loky"):
        reports = joblib.Parallel(n_jobs=2)(joblib.delayed(_blas_in_worker)(i)
                                            for i in range(4))
    _check_blas_share(reports, workers=2, cores=cores)
    # Told explicitly, as for a search whose workers run other threaded code too.
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        reports = joblib.Parallel(n_jobs=2)(joblib.delayed(_blas_in_worker)(i)
                                            for i in range(2))
    assert all(threads == 1 for _, blas, _ in reports for _, threads in blas), reports


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install -e '.[dask]')")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_dask_grid_search_equals_n_jobs_1(dask_client, reference):
    from distributed import get_task_stream

    assert len(dask_client.scheduler_info()["workers"]) == 2
    with get_task_stream(dask_client) as stream, joblib.parallel_backend("dask"):
        on_dask = _search().fit(*_data())
    _same_search(on_dask, reference)
    # The fits ran on the cluster's workers, not in this process.
    assert len(stream.data) >= len(on_dask.cv_results_["params"])
    assert {task["worker"] for task in stream.data} <= \
        set(dask_client.scheduler_info()["workers"])


def test_dask_workers_share_the_cores_between_their_blas_threads(dask_client):
    futures = dask_client.map(_blas_in_worker, range(4), pure=False)
    reports = dask_client.gather(futures)
    # Two worker processes of one thread each on this machine's cores.
    _check_blas_share(reports, workers=2, cores=joblib.cpu_count())
