"""Data sets: the embedded Iris set, MNIST from IDX files, toy sets, and helpers.

- :func:`load_iris` reads Fisher's Iris, shipped inside the package.
- :func:`load_mnist` reads MNIST from a local folder (``path``, ``$NNCORE_DATA`` or
  ``~/.cache/nncore``); it downloads, with SHA-256 verification, only when asked.
- :func:`make_gates`, :func:`make_xor`, :func:`make_spirals` make small synthetic sets.
- :func:`to_categorical` one-hot encodes labels (Keras); :func:`train_test_split` splits
  arrays (scikit-learn).
- :class:`CSVDataset` streams a CSV file to ``fit`` in batches (data larger than memory).

Example
-------
>>> from nncore.datasets import load_iris, to_categorical
>>> x, y = load_iris(); to_categorical(y).shape
(150, 3)
"""
from nncore.datasets.iris import IRIS_CLASS_NAMES, IRIS_FEATURE_NAMES, load_iris
from nncore.datasets.mnist import MNIST_BASE_URL, MNIST_FILES, MNIST_SHA256, load_mnist
from nncore.datasets.streams import CSVDataset
from nncore.datasets.toy import GATES, make_gates, make_spirals, make_xor
from nncore.datasets.utils import to_categorical, train_test_split

__all__ = [
    "CSVDataset", "GATES", "IRIS_CLASS_NAMES", "IRIS_FEATURE_NAMES", "MNIST_BASE_URL", "MNIST_FILES",
    "MNIST_SHA256", "load_iris", "load_mnist", "make_gates", "make_spirals", "make_xor",
    "to_categorical", "train_test_split",
]
