"""Backends by name: ``get_backend``, ``set_backend``, ``use_backend`` and ``backend``.

The default is ``native`` when its extension imports, else ``numpy`` (with one warning);
the environment variable ``NNCORE_BACKEND`` chooses it at import time.

Example
-------
>>> import nncore
>>> with nncore.use_backend("numpy"):
...     nncore.backend()
'numpy'
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import warnings
from collections.abc import Iterator

from nncore.backends.base import Backend
from nncore.backends.numpy_backend import NumpyBackend

NAMES = ("native", "numpy")

_instances: dict[str, Backend] = {"numpy": NumpyBackend()}
try:
    from nncore.backends.native import NativeBackend
except ImportError as exc:  # the extension was not built: keep working on NumPy
    _native_error: ImportError | None = exc
else:
    _native_error = None
    _instances["native"] = NativeBackend()


def _native_missing() -> str:
    """Why the native backend is missing and how to build it. Python's own ImportError for
    a missing extension module blames "most likely a circular import", which misleads, so
    it comes last, as the detail."""
    return ("nncore's compiled extension (nncore.backends.native) was not found: nncore is "
            "running from an unbuilt source tree or a failed build. Build it with "
            "`pip install -e .` in the source tree (needs a C compiler); "
            f"the import error was: {type(_native_error).__name__}: {_native_error}")


def native_available() -> bool:
    """True when the compiled extension imported.

    Example
    -------
    >>> name = "native" if native_available() else "numpy"
    >>> get_backend(name).name == name
    True
    """
    return _native_error is None


def get_backend(name: str | Backend | None = None) -> Backend:
    """The backend called ``name`` (a Backend passes through; None gives the current one).

    Parameters
    ----------
    name : {'native', 'numpy'}, Backend or None, default None

    Example
    -------
    >>> get_backend('numpy').name
    'numpy'
    """
    if isinstance(name, Backend):
        return name
    if name is None:
        return _instances[_current.get()]
    if not isinstance(name, str) or name not in NAMES:
        raise ValueError(f"backend must be one of {', '.join(NAMES)}. Received: backend={name!r}")
    if name == "native" and _native_error is not None:
        raise ImportError(f"backend='native' is not available. {_native_missing()}. Or use "
                          "backend='numpy'.") from _native_error
    return _instances[name]


def _initial_default() -> str:
    requested = os.environ.get("NNCORE_BACKEND", "").strip().lower()
    if requested:
        get_backend(requested)  # refuse unknown names and an unavailable native backend
        return requested
    if _native_error is not None:
        warnings.warn(f"{_native_missing()}. Using the slower numpy backend meanwhile.",
                      RuntimeWarning, stacklevel=3)
        return "numpy"
    return "native"


_current: contextvars.ContextVar[str] = contextvars.ContextVar(
    "nncore_backend", default=_initial_default())


def set_backend(name: str) -> None:
    """Make ``name`` ("native" or "numpy") the default backend.

    Parameters
    ----------
    name : {'native', 'numpy'}

    Example
    -------
    >>> previous = backend()
    >>> set_backend('numpy'); backend()
    'numpy'
    >>> set_backend(previous)
    """
    _current.set(get_backend(name).name)


def backend() -> str:
    """The name of the current default backend.

    Example
    -------
    >>> backend() in NAMES
    True
    """
    return _current.get()


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Use backend ``name`` inside a ``with`` block, restoring the previous one after.

    Parameters
    ----------
    name : {'native', 'numpy'}

    Example
    -------
    >>> with use_backend('numpy') as ops:
    ...     print(ops.name, backend())
    numpy numpy
    """
    token = _current.set(get_backend(name).name)
    try:
        yield _instances[_current.get()]
    finally:
        _current.reset(token)


__all__ = ["Backend", "NAMES", "backend", "get_backend", "native_available", "set_backend",
           "use_backend"]
