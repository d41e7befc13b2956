"""Callbacks, as keras.callbacks: hooks that ``fit`` calls around epochs and batches.

Example
-------
>>> import nncore as nn
>>> nn.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
EarlyStopping(monitor='val_loss', patience=3)
"""
from nncore.callbacks.base import Callback, History, LambdaCallback, ProgbarLogger
from nncore.callbacks.files import BackupAndRestore, CSVLogger, ModelCheckpoint
from nncore.callbacks.monitor import (
    EarlyStopping, GradientMonitor, LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN,
)

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "EarlyStopping", "GradientMonitor",
           "History",
           "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger",
           "ReduceLROnPlateau", "TerminateOnNaN"]
