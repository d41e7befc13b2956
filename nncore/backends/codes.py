"""The activations and losses the kernels know, by name and code: the one table that
Python, Cython and C share, with the names' aliases and the pairs whose loss is fused.

setup.py writes the C enums (``csrc/codes.h``) from this file at build time, so a code
cannot mean one thing in Python and another in C. It is plain data on purpose: the build
reads it without importing nncore.

Example
-------
>>> from nncore.backends.codes import ACTIVATION_CODES, LOSS_CODES
>>> ACTIVATION_CODES["relu"], LOSS_CODES["huber"]
(4, 2)
"""

ACTIVATIONS = (
    "linear", "step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus",
    "softmax", "selu", "silu", "mish", "relu6", "hard_sigmoid",
)
LOSSES = (
    "mean_squared_error", "mean_absolute_error", "huber", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "hinge",
    "kl_divergence", "poisson", "log_cosh",
)
ACTIVATION_CODES = {name: code for code, name in enumerate(ACTIVATIONS)}
LOSS_CODES = {name: code for code, name in enumerate(LOSSES)}

_ACTIVATION_ALIASES = {"identity": "linear", "none": "linear", "swish": "silu"}
#: The activations that take ``alpha``, with Keras 3's defaults
#: (keras.activations.leaky_relu(negative_slope=0.2), keras.activations.elu(alpha=1.0)).
DEFAULT_ALPHA = {"leaky_relu": 0.2, "elu": 1.0}

_LOSS_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error",
                 "huber_loss": "huber", "kld": "kl_divergence",
                 "kullback_leibler_divergence": "kl_divergence", "logcosh": "log_cosh"}
_LOGIT_LOSSES = ("binary_crossentropy", "categorical_crossentropy",
                 "sparse_categorical_crossentropy")
#: The losses whose targets Keras's ``label_smoothing`` applies to (the kernels' param).
SMOOTHED_LOSSES = ("binary_crossentropy", "categorical_crossentropy")


def activation_name(name: str | None) -> str:
    """Return the canonical activation name, or raise ValueError naming the choices.

    Parameters
    ----------
    name : str or None
        A name or alias (any case); None is linear.

    Example
    -------
    >>> activation_name('Swish'), activation_name(None)
    ('silu', 'linear')
    """
    key = "linear" if name is None else name
    if not isinstance(key, str):
        raise TypeError(f"activation must be a string or None. Received: activation={name!r}")
    key = _ACTIVATION_ALIASES.get(key.lower(), key.lower())
    if key not in ACTIVATION_CODES:
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}.")
    return key


def loss_name(name: str) -> str:
    """Return the canonical loss name, or raise ValueError naming the choices.

    Parameters
    ----------
    name : str
        A name or alias (any case).

    Example
    -------
    >>> loss_name('MSE')
    'mean_squared_error'
    """
    if not isinstance(name, str):
        raise TypeError(f"loss must be a string. Received: loss={name!r}")
    key = _LOSS_ALIASES.get(name.lower(), name.lower())
    if key not in LOSS_CODES:
        raise ValueError(f"Unknown loss {name!r}; expected one of {', '.join(LOSSES)}.")
    return key
#: A softmax or sigmoid output meeting its cross-entropy: the loss is taken on the logits,
#: whose gradient (p - y) / n needs no division by a probability that may be tiny, and the
#: activation's backward is skipped. The model, the layers and both DensePlans follow this.
FUSED = {("softmax", "categorical_crossentropy"),
         ("softmax", "sparse_categorical_crossentropy"),
         ("sigmoid", "binary_crossentropy")}


def fuses(activation: str, loss: str, from_logits: bool) -> bool:
    """True when a last layer's ``activation`` and the ``loss`` on its output fuse.

    Parameters
    ----------
    activation, loss : str
        Canonical names.
    from_logits : bool
        True: the output is already logits, nothing to fuse.

    Example
    -------
    >>> fuses('softmax', 'categorical_crossentropy', False)
    True
    """
    return not from_logits and (activation, loss) in FUSED


#: The C names of the codes: enum nnc_activation and enum nnc_loss_code in csrc/codes.h.
C_ENUMS = {
    "nnc_activation": ([f"NNC_{name.upper()}" for name in ACTIVATIONS],
                       "NNC_NUM_ACTIVATIONS"),
    "nnc_loss_code": (["NNC_LOSS_MSE", "NNC_LOSS_MAE", "NNC_LOSS_HUBER", "NNC_LOSS_BCE",
                       "NNC_LOSS_CCE", "NNC_LOSS_SCCE", "NNC_LOSS_HINGE", "NNC_LOSS_KLD",
                       "NNC_LOSS_POISSON", "NNC_LOSS_LOG_COSH"], "NNC_LOSS_COUNT"),
}


def c_header() -> str:
    """The text of csrc/codes.h: one C enum per table, then its count.

    Example
    -------
    >>> print(c_header().splitlines()[5])
    enum nnc_activation {
    """
    lines = ["/* Written by setup.py from nncore/backends/codes.py at build time: edit that",
             " * file, not this one. */",
             "#ifndef NNCORE_CODES_H", "#define NNCORE_CODES_H", ""]
    for enum, (names, count) in C_ENUMS.items():
        lines.append(f"enum {enum} {{")
        lines += [f"    {name} = {code}," for code, name in enumerate(names)]
        lines += [f"    {count} = {len(names)}", "};", ""]
    lines.append("#endif")
    return "\n".join(lines) + "\n"
