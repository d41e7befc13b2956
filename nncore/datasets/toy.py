"""Small synthetic data sets: logic-gate truth tables and interleaved spirals."""
from __future__ import annotations


import numpy as np

from nncore._checks import check_int, make_rng

__all__ = ["GATES", "make_gates", "make_spirals", "make_xor"]

# Rows in the order of the course's truth tables: (x1, x2) = 00, 10, 01, 11.
_GATE_INPUTS = ((0, 0), (1, 0), (0, 1), (1, 1))
GATES: dict[str, tuple[int, int, int, int]] = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "xor": (0, 1, 1, 0),
}
"""Output column of each gate's truth table, for the inputs 00, 10, 01, 11."""


def make_gates(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The 4-row truth table of a two-input logic gate.

    Parameters
    ----------
    name : {"and", "or", "nand", "xor"}
        The gate (case-insensitive).

    Returns
    -------
    x : ndarray of float32, shape (4, 2)
        The inputs (0, 0), (1, 0), (0, 1), (1, 1), in the course's order.
    y : ndarray of int64, shape (4,)
        The gate's output for each row.

    Example
    -------
    >>> x, y = make_gates("nand")
    >>> y.tolist()
    [1, 1, 1, 0]
    """
    if not isinstance(name, str) or name.lower() not in GATES:
        raise ValueError(f"name must be one of {', '.join(map(repr, GATES))}. "
                         f"Received: name={name!r}")
    x = np.array(_GATE_INPUTS, dtype=np.float32)
    y = np.array(GATES[name.lower()], dtype=np.int64)
    return x, y


def make_xor() -> tuple[np.ndarray, np.ndarray]:
    """The XOR truth table, the classic data no single perceptron can fit.

    Returns
    -------
    x : ndarray of float32, shape (4, 2)
    y : ndarray of int64, shape (4,)
        ``[0, 1, 1, 0]`` for the inputs 00, 10, 01, 11.

    Example
    -------
    >>> x, y = make_xor()
    >>> x.shape, y.tolist()
    ((4, 2), [0, 1, 1, 0])
    """
    return make_gates("xor")


def make_spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2,
                 random_state: int | np.random.Generator | None = None, *,
                 shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms in the plane, one arm per class (CS231n's classic toy set).

    Class ``k`` has points at radius ``r`` in [0, 1] and angle
    ``theta = 4 (k + r) + noise * N(0, 1)`` (radians), i.e. ``(r sin theta, r cos theta)``:
    each arm turns through 4 radians, the arms start 4 radians apart, and a linear model
    cannot separate them while a small MLP can.

    Parameters
    ----------
    n_samples : int, default 300
        Total number of points, split as evenly as possible (the first classes get one
        more when it does not divide).
    n_classes : int, default 3
        Number of arms (classes), >= 1 and <= n_samples.
    noise : float, default 0.2
        Standard deviation of the Gaussian noise on the angle, >= 0.
    random_state : int, Generator or None
        Seed for the noise and the shuffle; the same int gives the same data.
    shuffle : bool, default True
        Shuffle the rows; else they are grouped by class, arm by arm from the centre out.

    Returns
    -------
    x : ndarray of float32, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,)

    Example
    -------
    >>> x, y = make_spirals(n_samples=90, n_classes=3, random_state=0)
    >>> x.shape, np.bincount(y).tolist()
    ((90, 2), [30, 30, 30])
    """
    n_samples = check_int(n_samples, "n_samples", low=1)
    n_classes = check_int(n_classes, "n_classes", low=1)
    if n_classes > n_samples:
        raise ValueError(f"n_classes must be <= n_samples ({n_samples}). "
                         f"Received: n_classes={n_classes}")
    if isinstance(noise, (bool, np.bool_)) or not isinstance(noise, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"noise must be a number. Received: noise={noise!r}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be finite and >= 0. Received: noise={noise!r}")
    rng = make_rng(random_state, "random_state")

    counts = [n_samples // n_classes + (k < n_samples % n_classes) for k in range(n_classes)]
    x = np.empty((n_samples, 2), dtype=np.float64)
    y = np.empty(n_samples, dtype=np.int64)
    start = 0
    for k, count in enumerate(counts):
        r = np.linspace(0.0, 1.0, count)
        theta = 4.0 * (k + r) + noise * rng.standard_normal(count)
        rows = slice(start, start + count)
        x[rows, 0], x[rows, 1] = r * np.sin(theta), r * np.cos(theta)
        y[rows] = k
        start += count
    if shuffle:
        order = rng.permutation(n_samples)
        x, y = x[order], y[order]
    return x.astype(np.float32), y
