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
    both ``except`` clauses catch it).

    Example
    -------
    >>> import nncore as nn
    >>> nn.Sequential([nn.layers.Dense(1, input_dim=2)]).fit([[0.0, 1.0]], [0.0])
    Traceback (most recent call last):
    nncore.exceptions.NotCompiledError: You must compile() the model before training or evaluating it.
    """


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before ``fit`` (like ``sklearn.exceptions.NotFittedError``).

    It subclasses ValueError and AttributeError, as scikit-learn's does, so code catching
    either keeps working.

    Example
    -------
    >>> import nncore as nn
    >>> nn.linear.LinearRegression().predict([[1.0]])
    Traceback (most recent call last):
    nncore.exceptions.NotFittedError: This LinearRegression is not fitted yet: call fit(X, y) before predict or score.
    """


class ModelFileError(ValueError):
    """A file that is not a valid nncore model file: foreign, truncated, altered or too new.

    Example
    -------
    >>> import nncore as nn
    >>> nn.saving.read_archive_bytes(b"junk")
    Traceback (most recent call last):
    nncore.exceptions.ModelFileError: not an nncore model file
    """


class ConvergenceWarning(UserWarning):
    """The perceptron learning rule hit its epoch bound with samples still misclassified.

    Example
    -------
    >>> import warnings, nncore as nn
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = nn.perceptron.Perceptron(max_epochs=2).fit([[0, 0], [0, 1], [1, 0], [1, 1]],
    ...                                                    [0, 1, 1, 0])
    >>> caught[0].category.__name__
    'ConvergenceWarning'
    """
