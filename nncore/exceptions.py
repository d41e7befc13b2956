"""The errors and warnings nncore raises besides ValueError and TypeError.

Each subclasses the built-in a user would catch for it (and, where Keras or scikit-learn
raise another, that one too), so ``except ValueError`` keeps working.

Example
-------
>>> import nncore as nn
>>> issubclass(nn.exceptions.ModelFileError, ValueError)
True
"""


class NotCompiledError(ValueError, RuntimeError):
    """Training or evaluating before ``compile`` (a RuntimeError in Keras, a ValueError here:
    both ``except`` clauses catch it)."""


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before ``fit`` (like ``sklearn.exceptions.NotFittedError``).

    It subclasses ValueError and AttributeError, as scikit-learn's does, so code catching
    either keeps working.
    """


class ModelFileError(ValueError):
    """A file that is not a valid nncore model file: foreign, truncated, altered or too new."""


class ConvergenceWarning(UserWarning):
    """The perceptron learning rule hit its epoch bound with samples still misclassified."""
