"""scikit-learn estimators on nncore's Sequential: MLPClassifier and MLPRegressor.

They mirror ``sklearn.neural_network.MLPClassifier``/``MLPRegressor`` (same method names,
fitted attributes and stopping rule) and add what sklearn's MLP lacks: dropout, batch
normalization, class_weight and sample_weight, any nncore optimizer, float32 or float64.
They work in Pipeline, GridSearchCV, cross_val_score, clone, pickle and joblib.
``GridSearchCV(..., n_jobs=k)`` runs in joblib's loky worker processes, which start with
``cpu_count() // k`` BLAS threads each (``joblib.parallel_config(inner_max_num_threads=n)``
chooses another number), and on a Dask cluster inside
``with joblib.parallel_backend("dask"):``, whose worker processes start with one.

This module needs scikit-learn (``pip install scikit-learn``); ``import nncore`` does not
import it.

Example
-------
>>> from nncore.sklearn import MLPClassifier
>>> X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 8
>>> clf = MLPClassifier(hidden_layer_sizes=(8,), learning_rate=0.05, max_iter=60,
...                     random_state=0).fit(X, ["no", "yes", "yes", "yes"] * 8)
>>> clf.predict([[0.0, 0.0], [1.0, 1.0]]).tolist()
['no', 'yes']
"""
from __future__ import annotations

try:
    import sklearn  # noqa: F401  (scikit-learn is an optional dependency of nncore)
except ImportError as exc:
    raise ImportError("nncore.sklearn needs scikit-learn >= 1.6: pip install scikit-learn "
                      "(or the nncore[sklearn] extra).") from exc

import numpy as np

from nncore.sklearn._classifier import MLPClassifier
from nncore.sklearn._regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "expected_failed_checks"]

# The checks of sklearn.utils.estimator_checks these estimators fail on purpose, with why.
_MLP_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data":
        "mini-batch SGD: repeating a row changes the batches, so a weight of 2 trains a "
        "different (equally valid) network than the row seen twice",
    "check_methods_subset_invariance":
        "float32 GEMM: BLAS may sum in another order for another batch size, so a row's "
        "output can differ in the last bit (about 1e-7) between batch sizes",
}


def expected_failed_checks(estimator) -> dict[str, str]:
    """The scikit-learn estimator checks ``estimator`` is known to fail, with the reason.

    For ``check_estimator(est, expected_failed_checks=...)`` and
    ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)``.

    Parameters
    ----------
    estimator : estimator object
        An MLPClassifier or MLPRegressor (a float64 one fails one check fewer); for
        another estimator, its own ``_expected_failed_checks``.

    Example
    -------
    >>> sorted(expected_failed_checks(MLPRegressor()))[0]
    'check_methods_subset_invariance'
    """
    if isinstance(estimator, (MLPClassifier, MLPRegressor)):
        failed = dict(_MLP_XFAIL)
        if estimator.dtype in ("float64", np.float64):
            del failed["check_methods_subset_invariance"]
        return failed
    return dict(getattr(estimator, "_expected_failed_checks", {}))
