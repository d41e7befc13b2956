"""Progress display of ``fit``, ``evaluate`` and ``predict``, laid out as Keras 3's.

One line per display when it fits the terminal, exactly as Keras prints it::

    8/8 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - loss: 0.4312 - accuracy: 0.8750

When it does not, nothing is cut: the bar keeps its line and the metrics follow on the
lines under it, broken between two metrics, each line at most the terminal's width (a
single metric wider than the terminal gets a line of its own, whole)::

    8/8 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step
    loss: 0.4312 - accuracy: 0.8750 - val_loss: 0.5120
    val_accuracy: 0.8125

On a terminal the display is redrawn in place as batches complete (at most every
``interval`` seconds); written to a file or a pipe, it is written once, when complete, so
logs hold no carriage returns. The width is the terminal's, or ``$COLUMNS``, else 80.

Example
-------
>>> import io
>>> from nncore.progress import Progbar, format_value
>>> format_value(0.123456), format_value(2e-05)
('0.1235', '2.0000e-05')
>>> stream = io.StringIO()
>>> bar = Progbar(4, stream=stream, width=40)
>>> bar.update(4, {"loss": 0.5}, finalize=True)
>>> print(stream.getvalue().split(" 0s")[0])
4/4 ━━━━━━━━━━━━━━━━━━━━
"""
from __future__ import annotations

import math
import shutil
import sys
import time

from nncore._checks import check_int

BAR_WIDTH = 20  # Keras's


def _now() -> float:
    """The clock of every display (tests replace it to get exact, repeatable text)."""
    return time.perf_counter()


def check_verbose(verbose) -> int:
    """``verbose`` as 0 (silent), 1 (progress bar) or 2 (one line per epoch); ``"auto"``
    is 1, as in Keras. Anything else is refused with a ValueError or TypeError.

    Parameters
    ----------
    verbose : int or 'auto'

    Example
    -------
    >>> check_verbose('auto'), check_verbose(2)
    (1, 2)
    """
    if isinstance(verbose, str) and verbose == "auto":
        return 1
    return check_int(verbose, "verbose", low=0, high=2)


def format_value(value: float) -> str:
    """A logged value as Keras shows it: 4 decimals, or scientific notation below 1e-3.

    Parameters
    ----------
    value : float

    Example
    -------
    >>> format_value(0.43125), format_value(2.5e-05)
    ('0.4313', '2.5000e-05')
    """
    value = float(value)
    return f"{value:.4f}" if abs(value) > 1e-3 or value == 0 or not math.isfinite(value) \
        else f"{value:.4e}"


def format_time(seconds: float) -> str:
    """Keras's duration: ``"7s"``, ``"1:05"``, ``"1:01:05"``.

    Parameters
    ----------
    seconds : float
        Rounded down to whole seconds.

    Example
    -------
    >>> format_time(7.9), format_time(65), format_time(3665)
    ('7s', '1:05', '1:01:05')
    """
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if seconds >= 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds}s"


def format_step(seconds: float) -> str:
    """Time per step as Keras shows it: ``"3s/step"``, ``"12ms/step"``, ``"85us/step"``.

    Parameters
    ----------
    seconds : float
        Time of one step.

    Example
    -------
    >>> format_step(0.012), format_step(8.5e-05)
    ('12ms/step', '85us/step')
    """
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def wrap_items(items: list[str], width: int, separator: str = " - ") -> list[str]:
    """``items`` joined by ``separator`` on lines of at most ``width`` characters, broken
    only between items (an item wider than ``width`` is a line by itself, never cut).

    Parameters
    ----------
    items : list of str
    width : int
    separator : str, default " - "

    Example
    -------
    >>> wrap_items(["loss: 0.1", "accuracy: 0.9", "val_loss: 0.2"], 26)
    ['loss: 0.1 - accuracy: 0.9', 'val_loss: 0.2']
    """
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + len(separator) + len(item) <= width:
            lines[-1] += separator + item
        else:
            lines.append(item)
    return lines


def terminal_width() -> int:
    """Columns of the terminal (``$COLUMNS`` counts), 80 when there is none.

    Example
    -------
    >>> terminal_width() >= 1
    True
    """
    return max(shutil.get_terminal_size((80, 24)).columns, 1)


class Progbar:
    """A progress display of ``target`` steps (``keras.utils.Progbar``'s role).

    Parameters
    ----------
    target : int
        The number of steps; 0 when it is not known (shown as "Unknown").
    stream : text stream, optional
        Where to write; None means ``sys.stderr`` at each write (so the standard output
        stays the program's results).
    width : int, optional
        Columns available; None means the terminal's width (``$COLUMNS`` counts).
    interval : float
        Least seconds between two redraws on a terminal.

    Example
    -------
    >>> import io
    >>> out = io.StringIO()
    >>> bar = Progbar(8, stream=out, width=80)
    >>> bar.update(8, {"loss": 0.5}, finalize=True)
    >>> out.getvalue().split(" - ")[-1].strip()
    'loss: 0.5000'
    """

    def __init__(self, target: int, stream=None, width: int | None = None,
                 interval: float = 0.05):
        self.target = check_int(target, "target", low=0)
        self.stream, self.width, self.interval = stream, width, interval
        self._start = _now()
        self._last_draw = -math.inf
        self._lines = 0           # lines of the last drawing on a terminal

    def _out(self):
        return self.stream if self.stream is not None else sys.stderr

    def update(self, current: int, values: dict | None = None, finalize: bool = False):
        """Show ``current`` steps done with the running ``values``; ``finalize`` ends the
        display (its last drawing, then a newline).

        Parameters
        ----------
        current : int
            Steps done.
        values : dict, optional
            Name -> running value, shown after the bar.
        finalize : bool, default False
        """
        out = self._out()
        interactive = getattr(out, "isatty", lambda: False)()
        if not finalize:
            if not interactive:
                return            # a file or pipe gets the complete display only
            now = _now()
            if now - self._last_draw < self.interval:
                return
            self._last_draw = now
        lines = self.render(current, values, _now(), finalize, out)
        text = "\n".join(lines)
        if interactive:
            up = f"\x1b[{self._lines - 1}A" if self._lines > 1 else ""
            out.write(f"\r{up}\x1b[J{text}" + ("\n" if finalize else ""))
            # Rows on the screen: a value wider than the terminal takes more than one.
            width = self.width if self.width is not None else terminal_width()
            self._lines = sum(max(1, math.ceil(len(line) / width)) for line in lines)
        else:
            out.write(text + "\n")
        out.flush()

    def render(self, current: int, values: dict | None, now: float, finalize: bool,
               out=None) -> list[str]:
        """The lines of the display (without newlines).

        Parameters
        ----------
        current : int
            Steps done.
        values : dict or None
            Name -> running value.
        now : float
            The clock's time (``time.perf_counter``).
        finalize : bool
            Show the time taken instead of the time left.
        out : text stream, optional
            Its encoding decides whether the bar can use box-drawing characters.
        """
        width = self.width if self.width is not None else terminal_width()
        elapsed = now - self._start
        per_step = elapsed / current if current else 0.0
        # Keras: while running, the time shown is what is left; when done, what it took.
        # A target of 0 is unknown (a stream of batches): Keras's "3/Unknown".
        seconds = elapsed if finalize or not current or not self.target else \
            per_step * (self.target - current)
        head = f"{current}/{self.target or 'Unknown'}"
        tail = f"{format_time(seconds)} {format_step(per_step)}"
        items = [f"{k}: {format_value(v)}" for k, v in (values or {}).items()]
        bar_width = min(BAR_WIDTH, max(width - len(head) - len(tail) - 2, 0))
        bar = self._bar(current, bar_width, out)
        first = " ".join(part for part in (head, bar, tail) if part)
        single = " - ".join([first, *items])
        if len(single) <= width:
            return [single]
        return [first, *wrap_items(items, width)]

    def _bar(self, current: int, width: int, out) -> str:
        if width == 0:
            return ""
        done = width if self.target == 0 else min(width * current // self.target, width)
        full, empty = "━", "─"
        encoding = getattr(out or self._out(), "encoding", None)  # None: a str buffer
        try:
            (full + empty).encode(encoding or "utf-8")
        except (UnicodeEncodeError, LookupError):
            full, empty = "=", "."
        return full * done + empty * (width - done)


def epoch_line(epoch: int, epochs: int, steps: int, seconds: float, values: dict) -> str:
    """``verbose=2``'s one line per epoch, every value on it, never wrapped (it is meant
    for log files).

    Parameters
    ----------
    epoch : int
        From 0 (shown from 1).
    epochs, steps : int
        Epochs in all, steps in this epoch.
    seconds : float
        The epoch's duration.
    values : dict
        Name -> value over the epoch.

    Example
    -------
    >>> epoch_line(0, 3, 8, 0.016, {"loss": 0.5, "val_loss": 0.25})
    'Epoch 1/3 - 8/8 - 0s - 2ms/step - loss: 0.5000 - val_loss: 0.2500'
    """
    per_step = format_step(seconds / steps if steps else 0.0)
    items = [f"{k}: {format_value(v)}" for k, v in values.items()]
    return " - ".join([f"Epoch {epoch + 1}/{epochs}", f"{steps}/{steps}",
                       format_time(seconds), per_step, *items])
