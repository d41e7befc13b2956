"""Callbacks that write files: ModelCheckpoint, CSVLogger, BackupAndRestore."""
from __future__ import annotations

import csv
import math
import os
import warnings

from nncore.callbacks.base import Callback
from nncore.callbacks.monitor import better


class ModelCheckpoint(Callback):
    """Save the model after each epoch to ``filepath`` (which may hold ``{epoch}`` and log
    keys, e.g. ``"model-{epoch:02d}-{val_loss:.3f}.nnc"``); with ``save_best_only`` only
    when ``monitor`` improved.

    Parameters
    ----------
    filepath : str or path
        Where to save (``.nnc``), a format string of ``epoch`` (from 1) and the logs.
    monitor : str, default 'val_loss'
        The logged value to watch.
    verbose : int, default 0
        1 prints a line when it acts.
    save_best_only : bool, default False
        Save only when ``monitor`` improved.
    mode : {'auto', 'min', 'max'}, default 'auto'
        Whether lower or higher is better; 'auto': higher for accuracies and AUC.

    Example
    -------
    >>> import nncore as nn
    >>> nn.callbacks.ModelCheckpoint('model-{epoch:02d}.nnc', save_best_only=True).mode
    'min'
    """

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, mode: str = "auto"):
        # A str path: it is formatted with the epoch and logs (bytes have no .format).
        if not isinstance(filepath, (str, os.PathLike)) or \
                not isinstance(os.fspath(filepath), str):
            raise TypeError(f"filepath must be a str or a path. Received: filepath={filepath!r}")
        self.filepath = os.fspath(filepath)
        from nncore.models.persistence import check_extension  # models imports callbacks

        check_extension(self.filepath)  # now, not at the end of the first epoch
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only = bool(save_best_only)
        self._better, self.mode = better(mode, monitor)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                warnings.warn(f"ModelCheckpoint: monitor {self.monitor!r} is not in the logs; "
                              "saving skipped.", RuntimeWarning, stacklevel=2)
                return
            if not self._better(value, self.best):
                return
            self.best = value
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")




class CSVLogger(Callback):
    """Write each epoch's logs to a CSV file, as keras.callbacks.CSVLogger: a header
    ``epoch,<keys in sorted order>``, then one row per epoch (epochs counted from 0);
    ``append`` continues an existing file instead of replacing it.

    Parameters
    ----------
    filename : str or path
        The CSV file.
    separator : str, default ','
    append : bool, default False
        Add to an existing file instead of replacing it.

    Example
    -------
    >>> import nncore as nn
    >>> nn.callbacks.CSVLogger("training.csv").separator
    ','
    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"filename must be a str or a path. Received: filename="
                            f"{filename!r}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"separator must be one character. Received: "
                             f"separator={separator!r}")
        self.filename, self.separator, self.append = os.fspath(filename), separator, append

    def on_train_begin(self, logs=None):
        # Keras writes no second header when appending to a file that has rows already.
        has_rows = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="",
                          encoding="utf-8")
        self._writer, self._keys = None, None
        self._has_rows = has_rows

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file, delimiter=self.separator)
            if not self._has_rows:
                self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(logs.get(key, "NA") for key in self._keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        self._file.close()


class BackupAndRestore(Callback):
    """Resume a ``fit`` that was interrupted, as keras.callbacks.BackupAndRestore.

    At the end of every epoch the whole training state (weights, optimizer state, the
    random generators, the epoch) is written to ``backup_dir`` (atomically: a crash while
    writing leaves the previous backup). When ``fit`` starts and a backup is there, the
    model takes that state and training goes on from the epoch after it, so the run ends
    as an uninterrupted one would. A ``fit`` that completes deletes the backup (unless
    ``delete_checkpoint=False``).

    Parameters
    ----------
    backup_dir : str or path
        Directory of the backup.
    delete_checkpoint : bool, default True
        Delete the backup when ``fit`` completes.

    Example
    -------
    >>> import nncore as nn
    >>> nn.callbacks.BackupAndRestore("backup").delete_checkpoint
    True
    """

    def __init__(self, backup_dir, delete_checkpoint: bool = True):
        if not isinstance(backup_dir, (str, os.PathLike)):
            raise TypeError(f"backup_dir must be a str or a path. Received: backup_dir="
                            f"{backup_dir!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)

    @property
    def _path(self) -> str:
        return os.path.join(self.backup_dir, "backup.nnc")

    def on_train_begin(self, logs=None):
        if os.path.exists(self._path):
            from nncore.models import load_model  # the models package imports this one

            saved = load_model(self._path, backend=self.model.ops.name)
            epoch = saved.metadata.get("nncore.backup", {}).get("epoch")
            if type(epoch) is not int or epoch < 0:
                raise ValueError(f"{self._path} is not a backup written by "
                                 f"BackupAndRestore (no epoch in its metadata).")
            self.model._take_training_state(saved)
            self.model._resume_epoch = epoch + 1

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        metadata = self.model.metadata
        self.model.metadata = {**metadata, "nncore.backup": {"epoch": epoch}}
        try:
            self.model.save(self._path)
        finally:
            self.model.metadata = metadata

    def on_train_end(self, logs=None):
        # Reached only when fit ends normally (an exception or Ctrl-C skips it): the
        # backup of an interrupted run stays for the next fit.
        if self.delete_checkpoint and os.path.exists(self._path):
            os.remove(self._path)
