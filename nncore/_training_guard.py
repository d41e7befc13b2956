"""One model trained by one caller at a time, and whole steps only under Ctrl-C.

A training step changes many things: the batch-norm moving statistics and the dropout
generator in the forward pass, then every weight and optimizer slot, then the step
counter. A KeyboardInterrupt raised between two of them would leave a model that is in
no step at all (the weights one step ahead of ``iterations``). While a step runs in the
main thread (the only one Python delivers signals to), SIGINT is held back and raised
when the step is complete; between steps (a callback, a progress bar, validation)
Ctrl-C interrupts at once, as usual.

The handler that does this is installed the first time a model trains in the main thread,
and only over Python's own default handler: a program with its own SIGINT handler keeps
it (and then gets no deferral). It stays installed, because swapping handlers costs about
8 microseconds, a sixth of a small network's whole step; outside a step it raises
KeyboardInterrupt exactly as the default handler does.

A second caller training the same model while it trains, from another thread or from a
callback, is refused: two interleaved steps would mix.
"""
from __future__ import annotations

import contextlib
import signal
import threading


class _MainThreadStep:
    """The context of one step in the main thread: SIGINT waits until it is over."""

    def __init__(self):
        self.running = False
        self.pending = False

    def __enter__(self) -> None:
        self.running = True

    def __exit__(self, kind, value, traceback) -> None:
        self.running = False
        if self.pending:  # the step is over: deliver the Ctrl-C it held back
            self.pending = False
            raise KeyboardInterrupt

    def on_sigint(self, signum, frame) -> None:
        if self.running:
            self.pending = True
        else:
            raise KeyboardInterrupt


_MAIN_STEP = _MainThreadStep()
_OTHER_THREAD_STEP = contextlib.nullcontext()
_installed = False


def _install_handler() -> None:
    global _installed
    if not _installed and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _MAIN_STEP.on_sigint)
    _installed = True


class TrainingGuard:
    """``with guard.training(name):`` around a training call, ``with guard.step():``
    around each step in it.

    Example
    -------
    >>> guard = TrainingGuard()
    >>> with guard.training("model"), guard.step():
    ...     pass
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._name = ""
        self._step = _OTHER_THREAD_STEP

    def training(self, name: str) -> TrainingGuard:
        self._name = name
        return self

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            raise RuntimeError(f"Model {self._name!r} is already training (in another "
                               "thread or from a callback); one model trains one batch at "
                               "a time.")
        if threading.current_thread() is threading.main_thread():
            _install_handler()
            self._step = _MAIN_STEP
        else:
            self._step = _OTHER_THREAD_STEP

    def __exit__(self, *exc) -> None:
        self._lock.release()

    def step(self):
        return self._step
