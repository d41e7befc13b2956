"""Shared pieces of the robustness suite (tests/test_robustness_*.py).

- The hypothesis profile: derandomized (the same examples on every run and machine), no
  example database, a fixed budget per test, no deadline (the machine is shared; hangs
  are caught by :func:`hang_guard` instead). Tests take it through :func:`budget`; it is
  never loaded globally, so no other test's settings change.
- The counters the suite reports at the end of the run (inputs tried, refusals, crashes,
  state changes after a refusal, corrupt files refused, memory growth): this module is a
  pytest plugin (``pytest_plugins = ("robustness_profile",)`` in each test module) whose
  ``pytest_terminal_summary`` prints them.
- :func:`attempt`, the one way a fuzz test calls nncore: it returns the value or the
  refusal, checks that a refusal is a ValueError or TypeError whose message names the
  argument, and counts anything else as a crash. (A segfault here would end the run
  itself; the native kernels and the CLI are also run in child processes, where one is
  an exit code.)
- :func:`snapshot` / :func:`assert_unchanged`: everything of a model that a refused call
  must leave bit-identical.
- Hostile inputs: :data:`DTYPE_NAMES`, :func:`hostile_values`, :class:`FrameLike`.

``NNCORE_FUZZ_SCALE`` (a float, default 1) multiplies every budget for a longer local run;
CI uses the default.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, Phase, settings

PROFILE = "nncore-robustness"
SCALE = float(os.environ.get("NNCORE_FUZZ_SCALE", "1"))
settings.register_profile(
    PROFILE, derandomize=True, database=None, deadline=None, max_examples=100,
    print_blob=True, phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much))


def budget(examples: int) -> settings:
    """The suite's profile with ``examples`` cases (times ``NNCORE_FUZZ_SCALE``)."""
    return settings(settings.get_profile(PROFILE), max_examples=max(1, int(examples * SCALE)))


# ---------------------------------------------------------------------------- counters
class Stats:
    """What the suite tried and found; printed at the end of the pytest run."""

    def __init__(self):
        self.tried: Counter[str] = Counter()     # entry point -> calls
        self.refused: Counter[str] = Counter()   # entry point -> ValueError/TypeError
        self.crashes = 0                         # any other exception (or a hang)
        self.refusals_checked = 0                # refusals whose model state was compared
        self.state_changes = 0                   # ... and found changed
        self.files_tried = 0                     # model files damaged byte by byte
        self.files_refused = 0                   # ... refused with ModelFileError
        self.edits_tried = 0                     # valid files holding an edited model
        self.edits_refused = 0                   # ... refused with ModelFileError
        self.edits_loaded = 0                    # ... still a valid model: loaded, worked
        self.notes: dict[str, str] = {}          # measurements (memory, allocations)


STATS = Stats()


class Crash(AssertionError):
    """An exception other than a refusal, or a refusal that does not name its argument."""


def attempt(entry: str, fn, names=()):
    """Call ``fn()``; return ``("ok", value)`` or ``("refused", exc)``.

    A refusal must be a ValueError or TypeError; if ``names`` is given, its message must
    name one of them (as a word: ``x`` matches "x must be 2-D", not "max"). Any other
    exception is counted as a crash and re-raised with the entry point and the input.
    """
    STATS.tried[entry] += 1
    try:
        value = fn()
    except (ValueError, TypeError) as exc:
        STATS.refused[entry] += 1
        if names and not any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", str(exc))
                             for n in names):
            raise Crash(f"{entry}: the refusal does not name {' or '.join(names)}: "
                        f"{type(exc).__name__}: {exc}") from exc
        return "refused", exc
    except Exception as exc:  # MemoryError, OverflowError, IndexError, KeyError...
        STATS.crashes += 1
        raise Crash(f"{entry}: {type(exc).__name__} instead of a result or a "
                    f"ValueError/TypeError: {exc}") from exc
    return "ok", value


@contextlib.contextmanager
def hang_guard(seconds: float, what: str):
    """Fail (as a crash) if the block runs longer than ``seconds``: a hang detector with a
    generous bound, not a speed assertion. SIGALRM, so the main thread only."""
    def alarm(signum, frame):
        STATS.crashes += 1
        raise Crash(f"{what} did not finish within {seconds} s (a hang)")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------------------- model state
def snapshot(model) -> dict:
    """Everything of ``model`` a refused call must leave exactly as it was, as bytes and
    plain values (so == is a bit-for-bit comparison)."""
    opt = model.optimizer
    layers = model.layers
    return {
        "config": repr(model.get_config()),
        "built": model.built,
        "input_dim": model.input_dim,
        "dtype": str(model.dtype),
        "backend": model.ops.name,
        "weights": [(w.dtype.str, w.shape, w.tobytes()) for w in model.get_weights()],
        "trainable": [layer.trainable for layer in layers],
        "rng": repr(model.rng.bit_generator.state),
        "layer_rngs": [repr(layer.rng.bit_generator.state) for layer in layers
                       if hasattr(layer, "rng")],
        "loss": None if model.loss is None else (id(model.loss),
                                                 repr(model.loss.get_config())),
        "metrics": repr(getattr(model, "_metric_specs", None)),
        "optimizer": None if opt is None else (id(opt), repr(opt.get_config())),
        "iterations": None if opt is None else opt.iterations,
        "slots": None if opt is None or opt.slots is None else
        [{k: v.tobytes() for k, v in s.items()} for s in opt.slots],
        "history": id(model.history),
        "stop_training": model.stop_training,
    }


def assert_unchanged(model, before: dict, what: str) -> None:
    """Count one refusal checked; fail (and count it) if any part of the state moved."""
    STATS.refusals_checked += 1
    after = snapshot(model)
    changed = [key for key in before if after[key] != before[key]]
    if changed:
        STATS.state_changes += 1
        raise AssertionError(f"{what}: refused, but changed the model's {', '.join(changed)}")


# ---------------------------------------------------------------------------- inputs
#: Every dtype family a user can hand over; the API takes the real ones and refuses the rest.
DTYPE_NAMES = ("bool", "int8", "uint8", "int32", "int64", "uint64", "float16", "float32",
               "float64", "longdouble", ">f4", ">f8", "complex64", "complex128", "object",
               "str", "bytes", "datetime64[s]", "timedelta64[s]")
REAL_DTYPES = ("bool", "int8", "uint8", "int32", "int64", "uint64", "float16", "float32",
               "float64", "longdouble", ">f4", ">f8")


def as_dtype_family(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` converted to the dtype called ``name`` (object keeps Python floats)."""
    if name == "str":
        return arr.astype(str)
    if name == "bytes":
        return arr.astype(str).astype(bytes)
    if name == "object":
        return arr.astype(object)
    if name.startswith(("datetime64", "timedelta64")):
        return np.nan_to_num(arr).astype(np.int64).astype(name)
    with np.errstate(all="ignore"):
        return np.nan_to_num(arr).astype(name) if np.dtype(name).kind in "biu" \
            else arr.astype(name)


#: Finite and non-finite extremes: overflow, underflow, subnormals, signed zeros.
EXTREMES = (np.nan, np.inf, -np.inf, 1e300, -1e300, 3.4e38, -3.4e38, 1e-300, 5e-324,
            1e-45, -0.0, 65504.0, 1e20, -1e20, 1e-8)


def hostile_values(arr: np.ndarray, which: int, positions: int) -> np.ndarray:
    """A copy of ``arr`` with ``EXTREMES[which]`` written at a few positions (in the
    array's dtype, so 1e300 becomes inf in float32)."""
    out = np.array(arr, copy=True)
    if out.size:
        flat = out.reshape(-1)
        with np.errstate(over="ignore"):
            flat[positions % flat.size] = EXTREMES[which % len(EXTREMES)]
            flat[(positions * 7 + 3) % flat.size] = EXTREMES[which % len(EXTREMES)]
    return out


def strided(arr: np.ndarray) -> np.ndarray:
    """The same values as a non-contiguous view (every other element of a wider array)."""
    if arr.ndim == 0:
        return arr
    wide = np.repeat(arr, 2, axis=-1)
    return wide[..., ::2]


def misaligned(arr: np.ndarray) -> np.ndarray:
    """The same values in a writeable, C-contiguous array whose data starts one byte off
    its dtype's alignment (as np.frombuffer at an odd offset gives)."""
    arr = np.asarray(arr)
    if arr.dtype.itemsize < 2:
        return arr.copy()
    raw = np.empty(arr.nbytes + 1, dtype=np.uint8)
    out = raw[1:].view(arr.dtype).reshape(arr.shape)
    out[...] = arr
    return out


def readonly(arr: np.ndarray) -> np.ndarray:
    out = np.array(arr, copy=True)
    out.flags.writeable = False
    return out


class FrameLike:
    """What a pandas DataFrame or Series offers NumPy: ``__array__``, ``shape``, ``len``,
    ``values`` and ``to_numpy`` (pandas itself is not a dependency). Iterating gives the
    column labels, as a DataFrame does, so code that iterates instead of converting
    gets the wrong thing."""

    def __init__(self, arr):
        self._arr = np.asarray(arr)
        self.shape = self._arr.shape
        self.ndim = self._arr.ndim
        self.dtype = self._arr.dtype

    def __array__(self, dtype=None, copy=None):
        return self._arr if dtype is None else self._arr.astype(dtype)

    def to_numpy(self, dtype=None):
        return np.array(self._arr, dtype=dtype)

    @property
    def values(self):
        return self._arr

    def __len__(self):
        return len(self._arr)

    def __iter__(self):
        return iter(range(self._arr.shape[-1] if self._arr.ndim > 1 else len(self._arr)))

    def __repr__(self):
        return f"FrameLike(shape={self.shape})"


# ---------------------------------------------------------------------------- report
def pytest_terminal_summary(terminalreporter):
    s = STATS
    if not s.tried and not s.notes:
        return
    tr = terminalreporter
    tr.section("nncore robustness")
    total, refused = sum(s.tried.values()), sum(s.refused.values())
    tr.write_line(f"inputs tried: {total} ({total - refused} accepted, {refused} refused with "
                  f"ValueError/TypeError) over {len(s.tried)} entry points; hypothesis "
                  f"profile {PROFILE!r} (derandomized, no database, scale {SCALE:g})")
    for entry in sorted(s.tried):
        tr.write_line(f"  {entry:<42} {s.tried[entry]:>6} tried {s.refused[entry]:>6} refused")
    tr.write_line(f"crashes (segfault, abort, hang, other exception): {s.crashes}")
    tr.write_line(f"state changes after a refusal: {s.state_changes} of {s.refusals_checked} "
                  "refusals checked")
    if s.files_tried:
        tr.write_line(f"model files damaged byte by byte: {s.files_refused} refused of "
                      f"{s.files_tried} tried")
    if s.edits_tried:
        tr.write_line(f"valid files holding an edited model: {s.edits_refused} refused, "
                      f"{s.edits_loaded} still a valid model (loaded, predicted, trained), "
                      f"of {s.edits_tried} tried")
    for key, value in s.notes.items():
        tr.write_line(f"{key}: {value}")
