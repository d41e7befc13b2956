"""Fisher's Iris data set, shipped inside the package.

Source: R.A. Fisher (1936), "The use of multiple measurements in taxonomic problems",
distributed by the UCI Machine Learning Repository (https://doi.org/10.24432/C56C76),
license CC BY 4.0 (see ``data/IRIS-LICENSE.txt`` next to the file).
"""
from __future__ import annotations

import io
from importlib import resources

import numpy as np

__all__ = ["IRIS_CLASS_NAMES", "IRIS_FEATURE_NAMES", "load_iris"]

IRIS_CLASS_NAMES: tuple[str, ...] = ("setosa", "versicolor", "virginica")
"""Class names in label order: label 0 is setosa, 1 versicolor, 2 virginica."""

IRIS_FEATURE_NAMES: tuple[str, ...] = (
    "sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
"""The four measurements, in column order."""


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """Load the Iris data set: 150 flowers, 4 measurements, 3 species (50 of each).

    Source: R.A. Fisher (1936), UCI Machine Learning Repository, CC BY 4.0. The file is
    shipped unmodified as ``nncore/datasets/data/iris.csv`` with its attribution in
    ``IRIS-LICENSE.txt``. It is the data of the course's example network
    Dense(8, input_dim=4) - Dense(8) - Dense(3, softmax).

    Returns
    -------
    x : ndarray of float32, shape (150, 4)
        Measurements in centimetres, columns as in :data:`IRIS_FEATURE_NAMES`.
    y : ndarray of int64, shape (150,)
        Class labels 0, 1, 2, indices into :data:`IRIS_CLASS_NAMES`. The rows are sorted
        by class, so shuffle (or use ``train_test_split``) before splitting.

    Example
    -------
    >>> x, y = load_iris()
    >>> x.shape, IRIS_CLASS_NAMES[y[-1]]
    ((150, 4), 'virginica')
    """
    text = resources.files("nncore.datasets").joinpath("data/iris.csv").read_text("ascii")
    header, _, body = text.partition("\n")
    # The header is "n_samples,n_features,class names...": check it rather than trust it,
    # so a damaged file is reported instead of silently giving wrong labels.
    fields = header.strip().split(",")
    expected = ["150", "4", *IRIS_CLASS_NAMES]
    if fields != expected:
        raise ValueError(f"iris.csv has an unexpected header {header!r}; "
                         f"expected {','.join(expected)!r}. Reinstall nncore.")
    table = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2)
    if table.shape != (150, 5):
        raise ValueError(f"iris.csv holds a table of shape {table.shape}; expected (150, 5). "
                         "Reinstall nncore.")
    x = table[:, :4].astype(np.float32)
    y = table[:, 4].astype(np.int64)
    if not np.array_equal(y, table[:, 4]) or y.min() < 0 or y.max() >= len(IRIS_CLASS_NAMES):
        raise ValueError("iris.csv has labels outside 0, 1, 2. Reinstall nncore.")
    return x, y
