"""One model trained by one caller at a time, and whole steps only under Ctrl-C.

A training step changes many things: the batch-norm moving statistics and the dropout
generator in the forward pass, then every weight and optimizer slot, then the step
counter. A KeyboardInterrupt raised between two of them would leave a model that is in
no step at all (the weights one step ahead of ``iterations``). So while a model trains
in the main thread (the only one Python delivers signals to), SIGINT is held back and
raised at the next safe point: the end of ``train_on_batch``, or in ``fit`` the end of
the current step or validation batch (``checkpoint``). It is held from the moment the
guard is entered until it is left, so that Ctrl-C cannot strand the guard's own lock.

The handler that does this is installed the first time a model trains in the main thread,
and only over Python's own default handler: a program with its own SIGINT handler keeps
it (and then gets no deferral). It stays installed, because swapping handlers costs about
8 microseconds, a sixth of a small network's whole step; when no model is training it
raises KeyboardInterrupt exactly as the default handler does.

A second caller training the same model while it trains, from another thread or from a
callback, is refused with a RuntimeError: two interleaved steps would mix.
"""
from __future__ import annotations

import signal
import threading


class _MainThread:
    """How many trainings the main thread is inside, and whether a Ctrl-C waits."""

    def __init__(self):
        self.depth = 0
        self.pending = False

    def on_sigint(self, signum, frame) -> None:
        if self.depth:
            self.pending = True
        else:
            raise KeyboardInterrupt

    def deliver(self) -> None:
        """Raise the Ctrl-C that waited, if one did."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


_MAIN = _MainThread()
_installed = False


def _install_handler() -> None:
    global _installed
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _MAIN.on_sigint)
    _installed = True


class TrainingGuard:
    """``with guard.training(name):`` around a training call; ``guard.checkpoint()`` at
    each safe point inside it.

    Example
    -------
    >>> guard = TrainingGuard()
    >>> with guard.training("model"):
    ...     guard.checkpoint()
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._name = ""
        self._main = False

    def training(self, name: str) -> TrainingGuard:
        self._name = name
        return self

    def __enter__(self) -> None:
        main = threading.get_ident() == threading.main_thread().ident  # after a fork too
        if main:
            if not _installed:
                _install_handler()
            _MAIN.depth += 1  # from here on, Ctrl-C waits for a safe point
        if not self._lock.acquire(blocking=False):
            if main:
                _MAIN.depth -= 1
                if not _MAIN.depth:
                    _MAIN.deliver()
            raise RuntimeError(f"Model {self._name!r} is already training (in another "
                               "thread or from a callback); one model trains one batch at "
                               "a time.")
        self._main = main

    def __exit__(self, *exc) -> None:
        main = self._main
        self._lock.release()
        if main:
            _MAIN.depth -= 1
            if not _MAIN.depth:
                _MAIN.deliver()

    def checkpoint(self) -> None:
        """A safe point (the model is between steps): raise a Ctrl-C that waited. Only
        in the main thread: another thread evaluating meanwhile must not take it."""
        if self._main and threading.get_ident() == threading.main_thread().ident:
            _MAIN.deliver()
