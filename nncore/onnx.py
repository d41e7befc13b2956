"""Export a built :class:`~nncore.models.Sequential` to ONNX, for inference elsewhere.

The graph computes what ``model.predict`` computes, op for op, in the model's dtype:

============================  ===========================================================
nncore                        ONNX (default opset 17, IR version 8)
============================  ===========================================================
``Dense``                     ``Gemm(X, W, b)`` (``W`` as stored, (in, out); no ``C``
                              without a bias), then the activation
``Activation``                the activation
``Dropout``                   ``Identity`` (inference: inverted dropout rescales nothing)
``BatchNormalization``        ``Sub(mean)``, ``Mul(inv_std)``, ``Mul(gamma)``,
                              ``Add(beta)`` with the moving statistics as constants and
                              ``inv_std = 1 / sqrt(moving_variance + epsilon)`` computed
                              in the model's dtype: the numpy backend's arithmetic, in
                              its order (an ONNX ``BatchNormalization`` node would take
                              ``epsilon`` as a float32 attribute)
linear / sigmoid / tanh       nothing / ``Sigmoid`` / ``Tanh``
relu / softmax                ``Relu`` / ``Softmax(axis=-1)`` (each row)
step                          ``Cast(Greater(x, 0))``: 1 where ``x > 0``, else 0
leaky_relu                    ``Where(x > 0, x, alpha * x)``
elu                           ``Where(x > 0, x, alpha * (Exp(Min(x, 0)) - 1))``
softplus                      ``Relu(x) + Log(1 + Exp(-|x|))``
gelu (exact)                  ``x * (Erf(x / sqrt 2) + 1) / 2``
selu                          ``Where(x > 0, scale * x, scale * alpha * (Exp(Min(x, 0)) - 1))``
silu (swish) / mish           ``x * Sigmoid(x)`` / ``x * Tanh(softplus(x))``
relu6 / hard_sigmoid          ``Clip(x, 0, 6)`` / ``Clip(x + 3, 0, 6) / 6``
``LeakyReLU``, ``ELU``,       their activation, with the layer's slope or alpha (as
``Softmax`` layers            ``Dense(activation=LeakyReLU(...))`` has it)
============================  ===========================================================

leaky_relu, elu, selu and hard_sigmoid are built from elementary ops, not ``LeakyRelu``/
``Elu``/``Selu``/``HardSigmoid``, because those take their constants as float32
attributes (0.2 and 1/6 are not float32s) and onnxruntime has no float64 ``Elu``;
softplus likewise (no float64 ``Softplus``). ONNX has no ``log1p`` or
``expm1``: softplus and elu differ from nncore's by about half an ulp of 1 (6e-8 in
float32), absolute. Any other layer, activation or a subclass is refused, naming it:
nothing is exported approximately.

The input is ``"input"``, of shape ``["batch", n_features]`` (any batch size), and the
output ``"output"``, ``["batch", n_outputs]``. A float32 model gives a float graph, a
float64 one a double graph; onnxruntime's CPU provider has no double ``Erf``, so it does
not run a float64 model with gelu (other runtimes may), while every other float64 graph
runs there. ``onnx`` is an optional dependency: ``pip install nncore[onnx]``.

Example
-------
>>> import nncore as nn
>>> model = nn.Sequential([nn.layers.Dense(3, input_dim=4, activation="softmax")], seed=0)
>>> proto = nn.onnx.to_onnx(model)  # doctest: +SKIP
>>> [node.op_type for node in proto.graph.node]  # doctest: +SKIP
['Gemm', 'Softmax', 'Identity']

(Skipped in the doctests: ``onnx`` is an optional extra that may be absent;
tests/test_onnx.py runs it.)
"""
from __future__ import annotations

import math
import os

import numpy as np

from nncore.backends.numpy_backend.activations import SELU_ALPHA, SELU_SCALE
from nncore.layers import ELU, Activation, BatchNormalization, Dense, Dropout, LeakyReLU, Softmax
from nncore.saving.files import _check_path, write_atomically

#: The opset written when none is asked for, and the oldest accepted. 17 is read by
#: onnxruntime 1.13 and later; 13 is the first whose Softmax normalises one axis alone
#: (older ones flatten the axes after it) and the oldest tested. The IR version is the
#: lowest that carries the opset (8 for 17, 7 for 13), so older readers load the file.
DEFAULT_OPSET = 17
MIN_OPSET = 13
SUPPORTED_LAYERS = (Dense, Activation, LeakyReLU, ELU, Softmax, Dropout, BatchNormalization)
INPUT_NAME, OUTPUT_NAME = "input", "output"


def _import_onnx():
    """The ``onnx`` package, or an ImportError saying how to install it."""
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401 (a submodule: import it to reach it)
    except ImportError as exc:
        raise ImportError("ONNX export needs the onnx package: pip install nncore[onnx] "
                          "(or pip install onnx)") from exc
    return onnx


def to_onnx(model, opset: int | None = None):
    """The ONNX graph of a built model, as an ``onnx.ModelProto`` (checked).

    Parameters
    ----------
    model : Sequential
        A built model (its first layer has ``input_dim``, or it was fit, predicted or
        built). Its layers are read, never changed.
    opset : int, optional
        The ONNX opset (default :data:`DEFAULT_OPSET`, 17); from 13 to the newest the
        installed ``onnx`` knows. The IR version is the lowest that carries it.

    Returns
    -------
    onnx.ModelProto
        Input ``"input"`` ``["batch", n_features]``, output ``"output"``
        ``["batch", n_outputs]``, of the model's dtype (float or double).

    Raises
    ------
    ImportError
        ``onnx`` is not installed.
    ValueError
        The model is not built, ``opset`` is out of range, or a layer or activation has
        no exact ONNX form (the message names the layer and what it holds).
    TypeError
        ``model`` is not a Sequential, or ``opset`` is not an int.

    Example
    -------
    >>> import nncore as nn
    >>> model = nn.Sequential([nn.layers.Dense(2, input_dim=3)], seed=0)
    >>> nn.onnx.to_onnx(model).opset_import[0].version  # doctest: +SKIP
    17
    """
    from nncore.models import Sequential  # here: nncore.models imports this module

    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an nncore Sequential. Received: model of type "
                        f"{type(model).__name__}")
    onnx = _import_onnx()
    newest = onnx.defs.onnx_opset_version()
    opset = _check_opset(DEFAULT_OPSET if opset is None else opset, newest)
    model._require_built("export")
    for layer in model.layers:  # every refusal before any graph is built
        _check_layer(layer)
    graph = _Graph(onnx, model.dtype)
    X = INPUT_NAME
    for layer in model.layers:
        X = _EMITTERS[type(layer)](graph, layer, X)
    graph.node("Identity", [X], OUTPUT_NAME)
    dtype = onnx.helper.np_dtype_to_tensor_dtype(model.dtype)
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes, model.name,
            [onnx.helper.make_tensor_value_info(INPUT_NAME, dtype, ["batch", model.input_dim])],
            [onnx.helper.make_tensor_value_info(OUTPUT_NAME, dtype,
                                                ["batch", model.output_dim])],
            initializer=graph.initializers),
        opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="nncore", producer_version=_version(),
        doc_string=f"nncore Sequential {model.name!r}: {len(model.layers)} layers")
    proto.ir_version = onnx.helper.find_min_ir_version_for(list(proto.opset_import))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model, filepath, opset: int | None = None) -> None:
    """Write ``model`` to ``filepath`` as an ONNX file (see :func:`to_onnx`).

    The file is written to a temporary sibling and renamed onto ``filepath``, as
    ``Sequential.save`` does, so a failed export leaves any previous file as it was.

    Parameters
    ----------
    model : Sequential
        A built model.
    filepath : str or os.PathLike
        The file to write; its name must end in ``.onnx``.
    opset : int, optional
        The ONNX opset, 17 by default (see :func:`to_onnx`).

    Raises
    ------
    ValueError
        ``filepath`` does not end in ``.onnx``, or as :func:`to_onnx`.
    OSError
        The file cannot be written.

    Example
    -------
    >>> import nncore as nn
    >>> model = nn.Sequential([nn.layers.Dense(2, input_dim=3)], seed=0)
    >>> nn.onnx.export(model, "model.onnx")  # doctest: +SKIP
    """
    if not isinstance(filepath, (str, os.PathLike)) or \
            not isinstance(os.fspath(filepath), str):
        raise TypeError(f"filepath must be a str or os.PathLike naming a str path. "
                        f"Received: filepath={filepath!r}")
    path = _check_path(filepath)
    if os.path.splitext(path)[1].lower() != ".onnx":
        raise ValueError(f"filepath must end in .onnx (ONNX export; model.save writes nncore's "
                         f".nnc files). Received: filepath={path!r}")
    write_atomically(path, [to_onnx(model, opset).SerializeToString()])


def _check_opset(opset, newest: int) -> int:
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"opset must be an int. Received: opset={opset!r}")
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be between {MIN_OPSET} and {newest} (the newest the "
                         f"installed onnx knows). Received: opset={opset}")
    return int(opset)


def _check_layer(layer) -> None:
    """Refuse what has no exact ONNX form, naming the layer."""
    # type(), not isinstance: a subclass may compute something else in its call().
    if type(layer) not in SUPPORTED_LAYERS:
        names = ", ".join(cls.__name__ for cls in SUPPORTED_LAYERS)
        raise ValueError(f"Layer {layer.name!r} of type {type(layer).__name__} cannot be "
                         f"exported to ONNX; supported layers: {names}")
    activation = getattr(layer, "activation", "linear")
    if activation not in EXPORTABLE_ACTIVATIONS:
        choices = ", ".join(EXPORTABLE_ACTIVATIONS)
        raise ValueError(f"Layer {layer.name!r}: activation {activation!r} has no exact ONNX "
                         f"form here; exportable activations: {choices}")


def _version() -> str:
    import nncore  # here: nncore sets __version__ after importing its modules, this one too

    return nncore.__version__


class _Graph:
    """Nodes and constants of a graph under construction, in the model's dtype."""

    def __init__(self, onnx, dtype: np.dtype):
        self.onnx, self.dtype = onnx, np.dtype(dtype)
        self.nodes, self.initializers = [], []

    def const(self, name: str, value) -> str:
        """A constant of the model's dtype (arrays copied, scalars 0-d): its name."""
        array = np.asarray(value, dtype=self.dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        """Append ``output = op(*inputs)``; the node is named after its output."""
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=output,
                                                     **attributes))
        return output


# --------------------------------------------------------------------------- activations
def _activation(g: _Graph, activation: str, X: str, at: str, alpha: float) -> str:
    """The nodes of ``Y = act(X)`` (definitions: nncore.backends.numpy_backend.activations);
    ``at`` prefixes every name."""
    if activation == "linear":
        return X
    if activation in _ELEMENTARY:
        return g.node(_ELEMENTARY[activation], [X], f"{at}/{_ELEMENTARY[activation]}")
    if activation == "softmax":
        return g.node("Softmax", [X], f"{at}/Softmax", axis=-1)
    if activation == "softplus":
        return _softplus(g, X, at)
    if activation == "silu":
        return g.node("Mul", [X, g.node("Sigmoid", [X], f"{at}/Sigmoid")], f"{at}/silu")
    if activation == "mish":
        T = g.node("Tanh", [_softplus(g, X, f"{at}/softplus")], f"{at}/Tanh")
        return g.node("Mul", [X, T], f"{at}/mish")
    if activation in ("relu6", "hard_sigmoid"):
        lo, hi = g.const(f"{at}/zero", 0), g.const(f"{at}/six", 6)
        if activation == "relu6":
            return g.node("Clip", [X, lo, hi], f"{at}/relu6")
        shifted = g.node("Add", [X, g.const(f"{at}/three", 3)], f"{at}/Add")
        clipped = g.node("Clip", [shifted, lo, hi], f"{at}/Clip")
        return g.node("Div", [clipped, hi], f"{at}/hard_sigmoid")
    if activation == "gelu":
        # z * Phi(z), Phi(z) = (erf(z / sqrt 2) + 1) / 2: the exact GELU, not tanh's.
        scaled = g.node("Mul", [X, g.const(f"{at}/rsqrt2", 1 / math.sqrt(2))], f"{at}/Mul")
        cdf = g.node("Add", [g.node("Erf", [scaled], f"{at}/Erf"), g.const(f"{at}/one", 1)],
                     f"{at}/Add")
        half = g.node("Mul", [cdf, g.const(f"{at}/half", 0.5)], f"{at}/Phi")
        return g.node("Mul", [X, half], f"{at}/gelu")
    zero = g.const(f"{at}/zero", 0)
    positive = g.node("Greater", [X, zero], f"{at}/Greater")  # as NumPy: NaN > 0 is False
    if activation == "step":
        to = g.onnx.helper.np_dtype_to_tensor_dtype(g.dtype)
        return g.node("Cast", [positive], f"{at}/step", to=to)
    if activation == "leaky_relu":
        # alpha in the model's dtype: 0.2 stays 0.2
        negative = g.node("Mul", [X, g.const(f"{at}/alpha", alpha)], f"{at}/Mul")
        return g.node("Where", [positive, X, negative], f"{at}/{activation}")
    # elu and selu: alpha * (exp(min(z, 0)) - 1), min keeping exp from overflowing; selu
    # scales both sides.
    scale = SELU_SCALE if activation == "selu" else 1.0
    alpha = SELU_SCALE * SELU_ALPHA if activation == "selu" else alpha
    E = g.node("Exp", [g.node("Min", [X, zero], f"{at}/Min")], f"{at}/Exp")
    expm1 = g.node("Sub", [E, g.const(f"{at}/one", 1)], f"{at}/Sub")
    negative = g.node("Mul", [expm1, g.const(f"{at}/alpha", alpha)], f"{at}/Mul")
    if activation == "selu":
        X = g.node("Mul", [X, g.const(f"{at}/scale", scale)], f"{at}/Scale")
    return g.node("Where", [positive, X, negative], f"{at}/{activation}")


def _softplus(g: _Graph, X: str, at: str) -> str:
    """max(z, 0) + log(1 + exp(-|z|)): exp never overflows (nncore's form, with log1p)."""
    E = g.node("Exp", [g.node("Neg", [g.node("Abs", [X], f"{at}/Abs")], f"{at}/Neg")],
               f"{at}/Exp")
    log = g.node("Log", [g.node("Add", [E, g.const(f"{at}/one", 1)], f"{at}/Add")],
                 f"{at}/Log")
    return g.node("Add", [g.node("Relu", [X], f"{at}/Relu"), log], f"{at}/softplus")


_ELEMENTARY = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}
#: The activations with an exact form above; one added to nncore.backends.codes is
#: refused until it has one here.
EXPORTABLE_ACTIVATIONS = ("linear", "step", "sigmoid", "tanh", "relu", "leaky_relu", "elu",
                          "gelu", "softplus", "softmax", "selu", "silu", "mish", "relu6",
                          "hard_sigmoid")


# --------------------------------------------------------------------------- layers
def _dense(g: _Graph, layer: Dense, X: str) -> str:
    at = layer.name
    inputs = [X, g.const(f"{at}/kernel", layer.kernel)]
    if layer.use_bias:
        inputs.append(g.const(f"{at}/bias", layer.bias))
    Z = g.node("Gemm", inputs, f"{at}/Gemm")
    return _activation(g, layer.activation, Z, at, layer._alpha)


def _activation_layer(g: _Graph, layer: Activation, X: str) -> str:
    at = layer.name
    Y = _activation(g, layer.activation, X, at, layer._alpha)
    # A linear Activation layer still gets a node, so the graph shows every layer.
    return g.node("Identity", [X], f"{at}/Identity") if Y == X else Y


def _dropout(g: _Graph, layer: Dropout, X: str) -> str:
    return g.node("Identity", [X], f"{layer.name}/Identity")


def _batch_normalization(g: _Graph, layer: BatchNormalization, X: str) -> str:
    at = layer.name
    # As the numpy backend (normalization.batch_norm_forward) computes it at inference.
    inv_std = np.divide(1.0, np.sqrt(layer.moving_variance + layer.epsilon))
    centred = g.node("Sub", [X, g.const(f"{at}/moving_mean", layer.moving_mean)],
                     f"{at}/Sub")
    xhat = g.node("Mul", [centred, g.const(f"{at}/inv_std", inv_std)], f"{at}/xhat")
    scaled = g.node("Mul", [xhat, g.const(f"{at}/gamma", layer.gamma)], f"{at}/Mul")
    return g.node("Add", [scaled, g.const(f"{at}/beta", layer.beta)], f"{at}/Add")


_EMITTERS = {Dense: _dense, Activation: _activation_layer, LeakyReLU: _activation_layer,
             ELU: _activation_layer, Softmax: _activation_layer, Dropout: _dropout,
             BatchNormalization: _batch_normalization}
