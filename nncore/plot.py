"""The course's pictures, drawn with matplotlib (an optional extra: ``pip install
nncore[plot]``): activation functions and their derivatives, the decision boundary of a
classifier on 2-D inputs (the XOR and OR pictures), and training curves.

Each function draws on the axes it is given (or on a new figure) and returns them, so a
figure can be composed and saved as usual.

Example
-------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import nncore as nn
>>> value_ax, derivative_ax = nn.plot.activations(["sigmoid", "relu"])
>>> [line.get_label() for line in value_ax.lines]
['sigmoid', 'relu']
"""
from __future__ import annotations

import numpy as np

from nncore import activations as activations_module
from nncore.backends import get_backend
from nncore._checks import check_int, to_array


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("nncore.plot needs matplotlib: pip install nncore[plot]") from exc
    return plt


def activations(names=None, x=None, axes=None):
    """Plot activation functions (left) and their derivatives (right).

    Parameters
    ----------
    names : list of str, optional
        Activation names (default: every elementwise one, softmax and step excepted).
    x : array-like, optional
        Where to evaluate them (default: 401 points in [-5, 5]).
    axes : pair of matplotlib Axes, optional
        Where to draw; a new figure with two axes by default.

    Returns
    -------
    (value_axes, derivative_axes)

    Example
    -------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import nncore as nn
    >>> ax, dax = nn.plot.activations(["tanh"])
    >>> round(float(dax.lines[0].get_ydata().max()), 3)  # tanh'(0) = 1
    1.0
    """
    plt = _pyplot()
    from nncore.backends.codes import ACTIVATIONS

    names = [n for n in ACTIVATIONS if n not in ("softmax", "step")] if names is None \
        else [activations_module.get(n) for n in names]
    x = np.linspace(-5.0, 5.0, 401) if x is None else to_array(x, "x", np.float64, ndim=1)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4))
    value_ax, derivative_ax = axes
    ops = get_backend("numpy")  # the definitions, in float64
    Z = x.reshape(1, -1)
    for name in names:
        Y = ops.activation(name, Z)
        dY = ops.activation_backward(name, np.ones_like(Z), Z, Y)
        value_ax.plot(x, Y[0], label=name)
        derivative_ax.plot(x, dY[0], label=name)
    value_ax.set_title("activation")
    derivative_ax.set_title("derivative")
    for ax in axes:
        ax.grid(True, color="0.9")
        ax.set_xlabel("z")
        ax.legend()
    return value_ax, derivative_ax


def decision_boundary(model, x, y=None, ax=None, resolution: int = 200,
                      padding: float = 0.5):
    """Color the plane by the class a model predicts there, with the samples on top.

    Parameters
    ----------
    model : Sequential
        A built model with 2 inputs: one sigmoid output (class 1 where it is above 0.5)
        or several (the largest wins).
    x : array-like of shape (n, 2)
        The samples; they set the plotted area (plus ``padding`` around them).
    y : array-like of shape (n,) or (n, k), optional
        Their labels (integers, 0/1 or one-hot rows), to color the points.
    ax : matplotlib Axes, optional
    resolution : int, default 200
        Grid points per side.
    padding : float, default 0.5
        Margin around the samples, in input units.

    Returns
    -------
    The Axes.

    Example
    -------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import nncore as nn
    >>> x, y = nn.datasets.make_xor()
    >>> model = nn.Sequential([nn.layers.Dense(4, input_dim=2, activation="tanh"),
    ...                        nn.layers.Dense(1, activation="sigmoid")], seed=1)
    >>> model.compile(nn.optimizers.Adam(0.05), "binary_crossentropy")
    >>> _ = model.fit(x, y, epochs=300, batch_size=4, verbose=0)
    >>> ax = nn.plot.decision_boundary(model, x, y)
    """
    plt = _pyplot()
    x = to_array(x, "x", np.float64, ndim=2)
    if x.shape[1] != 2:
        raise ValueError(f"x must have 2 features to draw a plane. Received: x.shape="
                         f"{x.shape}")
    resolution = check_int(resolution, "resolution", low=2, high=4000)
    lo, hi = x.min(axis=0) - padding, x.max(axis=0) + padding
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    classes = predicted_classes(model.predict(grid, batch_size=4096))
    ax = ax if ax is not None else plt.subplots()[1]
    ax.contourf(g0, g1, classes.reshape(g0.shape), alpha=0.3, cmap="coolwarm")
    colors = None if y is None else _labels(np.asarray(y), len(x))
    ax.scatter(x[:, 0], x[:, 1], c=colors, cmap="coolwarm", edgecolors="k")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    return ax


def predicted_classes(P: np.ndarray) -> np.ndarray:
    """The class of each row of outputs: above 0.5 for one column, else the largest.

    Parameters
    ----------
    P : array-like of shape (n, outputs)

    Example
    -------
    >>> predicted_classes([[0.7], [0.2]]), predicted_classes([[0.1, 0.6, 0.3]])
    (array([1, 0]), array([1]))
    """
    P = np.asarray(P)
    return (P[:, 0] > 0.5).astype(int) if P.shape[1] == 1 else P.argmax(axis=1)


def _labels(y: np.ndarray, n: int) -> np.ndarray:
    y = y.reshape(n, -1)
    return y[:, 0] if y.shape[1] == 1 else y.argmax(axis=1)


def history(history, keys=None, ax=None):
    """Plot training curves: ``History.plot`` (the losses by default, with their
    ``val_`` twins).

    Parameters
    ----------
    history : History
        What ``fit`` returned.
    keys : list of str, optional
        The logged values to draw (default ``loss`` and ``val_loss``).
    ax : matplotlib Axes, optional

    Example
    -------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import nncore as nn
    >>> h = nn.callbacks.History()
    >>> h.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.2}); h.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.9})
    >>> [line.get_label() for line in nn.plot.history(h).lines]
    ['loss', 'val_loss']
    """
    keys = keys or [k for k in history.history if k in ("loss", "val_loss")]
    return history.plot(keys=keys, ax=ax if ax is not None else _pyplot().subplots()[1])


def gradients(history, ax=None):
    """Plot, per epoch, each layer's gradient norm as :class:`GradientMonitor` recorded
    it, on a log scale: lines far apart from the first layer to the last show vanishing
    (or exploding) gradients.

    Parameters
    ----------
    history : History
        Of a ``fit`` with a :class:`GradientMonitor` callback.
    ax : matplotlib Axes, optional

    Example
    -------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import nncore as nn
    >>> h = nn.callbacks.History()
    >>> h.on_epoch_end(0, {"grad_norm/dense": 1e-4, "grad_norm/dense_1": 0.5})
    >>> [line.get_label() for line in nn.plot.gradients(h).lines]
    ['dense', 'dense_1']
    """
    keys = [k for k in history.history if k.startswith("grad_norm/")]
    if not keys:
        raise ValueError("history holds no gradient norms: train with "
                         "callbacks=[nn.callbacks.GradientMonitor()].")
    ax = ax if ax is not None else _pyplot().subplots()[1]
    for key in keys:
        ax.plot(history.epoch, history.history[key], label=key.split("/", 1)[1],
                marker="o")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm")
    ax.legend()
    return ax
