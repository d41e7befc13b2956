"""The activations and losses the kernels know, by name and code: the one table that
Python, Cython and C share.

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
    "softmax",
)
LOSSES = (
    "mean_squared_error", "mean_absolute_error", "huber", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy",
)
ACTIVATION_CODES = {name: code for code, name in enumerate(ACTIVATIONS)}
LOSS_CODES = {name: code for code, name in enumerate(LOSSES)}

#: The C names of the codes: enum nnc_activation and enum nnc_loss_code in csrc/codes.h.
C_ENUMS = {
    "nnc_activation": ([f"NNC_{name.upper()}" for name in ACTIVATIONS],
                       "NNC_NUM_ACTIVATIONS"),
    "nnc_loss_code": (["NNC_LOSS_MSE", "NNC_LOSS_MAE", "NNC_LOSS_HUBER", "NNC_LOSS_BCE",
                       "NNC_LOSS_CCE", "NNC_LOSS_SCCE"], "NNC_LOSS_COUNT"),
}


def c_header() -> str:
    """The text of csrc/codes.h: one C enum per table, then its count."""
    lines = ["/* Written by setup.py from nncore/backends/codes.py at build time: edit that",
             " * file, not this one. */",
             "#ifndef NNCORE_CODES_H", "#define NNCORE_CODES_H", ""]
    for enum, (names, count) in C_ENUMS.items():
        lines.append(f"enum {enum} {{")
        lines += [f"    {name} = {code}," for code, name in enumerate(names)]
        lines += [f"    {count} = {len(names)}", "};", ""]
    lines.append("#endif")
    return "\n".join(lines) + "\n"
