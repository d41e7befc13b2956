"""Callbacks (nncore.callbacks) in fit, with Keras 3's semantics: History, EarlyStopping
(patience, min_delta, mode, baseline, restore_best_weights), ModelCheckpoint,
TerminateOnNaN, LearningRateScheduler, and the order in which fit calls the hooks.

Monitored values are crafted where the exact epoch matters: a callback listed before the
one under test writes ``logs["score"]`` from a fixed sequence, so each expectation below
is worked out by hand from that sequence.
"""
import math

import numpy as np
import pytest

import nncore as nn
from nncore.callbacks import (Callback, EarlyStopping, History, LearningRateScheduler,
                              ModelCheckpoint, TerminateOnNaN)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((20, 3))
Y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3


def _model(backend, lr=0.05, seed=0, loss="mse", metrics=None):
    model = nn.Sequential([nn.layers.Dense(4, input_dim=3, activation="tanh"),
                           nn.layers.Dense(1)], seed=seed, backend=backend)
    model.compile(nn.optimizers.SGD(learning_rate=lr), loss, metrics=metrics)
    return model


class Inject(Callback):
    """Writes ``logs[key] = values[epoch]`` at each epoch end (list it before the callback
    that reads it) and records the weights at each epoch end."""

    def __init__(self, values, key="score"):
        self.values, self.key = list(values), key
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.weights.append(self.model.get_weights())


def _fit(model, callbacks, epochs, **kwargs):
    kwargs.setdefault("batch_size", 5)
    return model.fit(X, Y, epochs=epochs, verbose=0, callbacks=callbacks, **kwargs)


def _same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


# --------------------------------------------------------------------------- History
def test_history_keys_epochs_and_values(backend):
    model = _model(backend, lr=0.0, metrics=["mae"])  # lr 0: every epoch sees one model
    history = model.fit(X, Y, epochs=3, batch_size=8, verbose=0, validation_data=(X, Y))
    assert isinstance(history, History) and model.history is history
    assert history.epoch == [0, 1, 2]
    assert list(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert all(len(v) == 3 for v in history.history.values())
    loss, mae = model.evaluate(X, Y)
    for key, value in (("loss", loss), ("val_loss", loss), ("mae", mae), ("val_mae", mae)):
        assert history.history[key] == pytest.approx([value] * 3, rel=1e-6)


def test_history_with_initial_epoch_and_validation_split(backend):
    model = _model(backend)
    history = model.fit(X, Y, epochs=5, initial_epoch=3, validation_split=0.25, verbose=0)
    assert history.epoch == [3, 4]
    assert set(history.history) == {"loss", "val_loss"}
    assert len(history.history["loss"]) == 2


def test_history_records_what_callbacks_add_to_the_logs(backend):
    # Keras runs History after the user's callbacks, so their additions are recorded.
    model = _model(backend)
    history = _fit(model, [Inject([7.0, 8.0])], epochs=2)
    assert history.history["score"] == [7.0, 8.0]


# --------------------------------------------------------------------------- EarlyStopping
@pytest.mark.parametrize("values, kwargs, stopped", [
    # min, patience 2: best 4 at epoch 1; epochs 2, 3 do not improve -> stop at 3.
    ([5, 4, 4.5, 4.2, 3.9, 1], dict(patience=2), 3),
    # patience 0: the first epoch without improvement stops.
    ([5, 4, 4.5, 1, 1, 1], dict(patience=0), 2),
    # min_delta 0.1: 0.95 and 0.92 improve on 1.0 by less than 0.1 -> no improvement.
    ([1.0, 0.95, 0.92, 0.5, 0.4, 0.3], dict(patience=2, min_delta=0.1), 2),
    ([1.0, 0.95, 0.92, 0.5, 0.4, 0.3], dict(patience=2, min_delta=-0.1), 2),  # |min_delta|
    # The same sequence without min_delta improves at every epoch: no stop.
    ([1.0, 0.95, 0.92, 0.5, 0.4, 0.3], dict(patience=2), None),
    # mode max: 0.5 at epoch 1 is the best; 0.4 and 0.45 do not beat it.
    ([0.1, 0.5, 0.4, 0.45, 0.9, 1.0], dict(patience=2, mode="max"), 3),
    # max with min_delta: 0.55 is not 0.1 above 0.5.
    ([0.1, 0.5, 0.55, 0.58, 0.9, 1.0], dict(patience=2, mode="max", min_delta=0.1), 3),
    # start_from_epoch 2: epochs 0 and 1 are not looked at; best 3 at epoch 2.
    ([1, 2, 3, 4, 5, 6], dict(patience=1, start_from_epoch=2), 3),
    # baseline: 4 is the best but not better than 1, so wait is not reset (Keras 3):
    # epochs 0, 1 improve (wait 1, 2), epoch 2 does not and wait reaches 3.
    ([5, 4, 6, 7, 8, 9], dict(patience=3, baseline=1.0), 2),
    ([5, 4, 6, 7, 8, 9], dict(patience=3, baseline=4.5), 4),  # 4 beats the baseline
])
def test_early_stopping_stops_at_the_epoch_worked_out_by_hand(backend, values, kwargs,
                                                             stopped):
    model = _model(backend)
    stopper = EarlyStopping(monitor="score", **kwargs)
    history = _fit(model, [Inject(values), stopper], epochs=len(values))
    if stopped is None:
        assert stopper.stopped_epoch == 0 and len(history.epoch) == len(values)
    else:
        assert stopper.stopped_epoch == stopped
        assert history.epoch == list(range(stopped + 1))


def test_mode_auto_maximises_accuracy_and_minimises_losses():
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    assert EarlyStopping(monitor="acc").mode == "max"
    assert EarlyStopping(monitor="val_loss").mode == "min"
    assert EarlyStopping(monitor="mae").mode == "min"


@pytest.mark.parametrize("patience", [1, 10])  # early stop, or all epochs (Keras 3 restores
def test_restore_best_weights_restores_the_best_epoch(backend, patience):  # either way)
    model = _model(backend)
    inject = Inject([3.0, 1.0, 2.0, 2.5, 2.7])  # best at epoch 1
    stopper = EarlyStopping(monitor="score", patience=patience, restore_best_weights=True)
    history = _fit(model, [inject, stopper], epochs=5)
    assert len(history.epoch) == (3 if patience == 1 else 5)
    assert stopper.best_epoch == 1 and stopper.best == 1.0
    assert _same_weights(model.get_weights(), inject.weights[1])
    assert not _same_weights(inject.weights[-1], inject.weights[1])


def test_restore_best_weights_with_a_baseline_no_epoch_beats(backend):
    # Keras 3: "If no epoch improves on baseline, training will run for patience epochs
    # and restore weights from the best epoch in that set."
    model = _model(backend)
    inject = Inject([5.0, 4.0, 6.0, 7.0, 8.0])
    stopper = EarlyStopping(monitor="score", patience=3, baseline=1.0,
                            restore_best_weights=True)
    _fit(model, [inject, stopper], epochs=5)
    assert stopper.stopped_epoch == 2
    assert _same_weights(model.get_weights(), inject.weights[1])


def test_restore_best_weights_when_val_loss_really_rises(backend):
    # Three epochs at a small rate improve val_loss; then the scheduler jumps the rate
    # to 3.0, far above the stable limit of SGD here (the loss curvature is ~ |x|**2 ~ 6),
    # so val_loss rises and early stopping must bring back the epoch-2 weights.
    model = _model(backend, seed=2)
    record = Inject([0.0] * 10, key="unused")
    schedule = LearningRateScheduler(lambda epoch, lr: 0.01 if epoch < 3 else 3.0)
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(X, Y, epochs=10, batch_size=5, verbose=0, validation_data=(X, Y),
                        callbacks=[schedule, record, stopper])
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert best == 2 and val[3] > val[2] and val[4] > val[2]
    assert stopper.stopped_epoch == 4 and len(val) == 5
    assert _same_weights(model.get_weights(), record.weights[best])
    assert model.evaluate(X, Y) == pytest.approx(val[best], rel=1e-6)


def test_without_restore_the_last_weights_stay(backend):
    model = _model(backend)
    inject = Inject([3.0, 1.0, 2.0, 2.5])
    _fit(model, [inject, EarlyStopping(monitor="score", patience=1)], epochs=4)
    assert _same_weights(model.get_weights(), inject.weights[-1])


def test_early_stopping_instance_can_be_reused(backend):
    stopper = EarlyStopping(monitor="score", patience=1)
    for _ in range(2):
        # Keras counts the wait before comparing: patience 1 stops at the first epoch
        # without improvement, epoch 2 here.
        history = _fit(_model(backend), [Inject([3, 1, 2, 2.5, 0]), stopper], epochs=5)
        assert stopper.stopped_epoch == 2 and len(history.epoch) == 3


@pytest.mark.parametrize("monitor, fit_kwargs, hint", [
    ("unknown", {}, "Available keys: loss, mae"),
    ("val_loss", {}, "need validation_data.*Available keys: loss, mae"),
    ("val_mea", {"validation_split": 0.25}, "Available keys: loss, mae, val_loss, val_mae"),
])
def test_early_stopping_refuses_a_monitor_missing_from_the_logs(backend, monitor,
                                                                fit_kwargs, hint):
    # It used to warn every epoch and never stop; now the first epoch's end says so.
    model = _model(backend, metrics=["mae"])
    epochs = []

    class Count(Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs.append(epoch)

    with pytest.raises(ValueError, match=f"monitor='{monitor}' is not a logged value.*{hint}"):
        _fit(model, [Count(), EarlyStopping(monitor=monitor, mode="min")], epochs=3,
             **fit_kwargs)
    assert epochs == [0]


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning",
                            "ignore:invalid value:RuntimeWarning",
                            "ignore:The loss became:RuntimeWarning")
def test_early_stopping_ignores_a_missing_val_value_when_fit_is_stopping(backend):
    # fit skips validation once a callback has stopped training (TerminateOnNaN here):
    # the missing val_loss of that epoch is no error.
    model = _model(backend, lr=1e30)
    history = _fit(model, [TerminateOnNaN(), EarlyStopping(monitor="val_loss")], epochs=3,
                   validation_split=0.25)
    assert history.epoch == [0] and "val_loss" not in history.history


def test_early_stopping_never_takes_nan_as_best(backend):
    # Deliberately unlike Keras 3 (where the first NaN becomes best and nothing improves
    # on it, so training stops after patience epochs): the first finite value is the
    # first best, and later improvements count.
    model = _model(backend)
    inject = Inject([math.nan, 3.0, 2.0, 1.0, 0.5])
    stopper = EarlyStopping(monitor="score", patience=1, restore_best_weights=True)
    history = _fit(model, [inject, stopper], epochs=5)
    assert len(history.epoch) == 5 and stopper.stopped_epoch == 0
    assert stopper.best == 0.5 and stopper.best_epoch == 4
    assert _same_weights(model.get_weights(), inject.weights[4])
    # NaN after a finite best is an epoch without improvement.
    inject = Inject([2.0, math.nan, 1.0, math.nan, math.nan])
    stopper = EarlyStopping(monitor="score", patience=2)
    history = _fit(_model(backend), [inject, stopper], epochs=5)
    assert stopper.stopped_epoch == 4 and stopper.best == 1.0 and stopper.best_epoch == 2


def test_early_stopping_refuses_bad_arguments():
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(TypeError, match="patience"):
        EarlyStopping(patience=1.5)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    with pytest.raises(TypeError, match="min_delta"):
        EarlyStopping(min_delta="0.1")


# --------------------------------------------------------------------------- ModelCheckpoint
def test_checkpoint_writes_one_file_per_epoch_with_the_epoch_weights(backend, tmp_path):
    model = _model(backend)
    inject = Inject([0.0] * 3, key="unused")
    path = tmp_path / "model-{epoch:02d}.nnc"
    _fit(model, [inject, ModelCheckpoint(path, monitor="loss")], epochs=3)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["model-01.nnc", "model-02.nnc", "model-03.nnc"]
    for epoch in range(3):
        loaded = nn.load_model(tmp_path / f"model-{epoch + 1:02d}.nnc", backend=backend)
        assert _same_weights(loaded.get_weights(), inject.weights[epoch])


def test_checkpoint_path_may_hold_log_values(backend, tmp_path):
    model = _model(backend)
    history = _fit(model, [ModelCheckpoint(str(tmp_path / "{epoch}-{loss:.4f}.nnc"))],
                   epochs=2)
    expected = {f"{e + 1}-{loss:.4f}.nnc" for e, loss in enumerate(history.history["loss"])}
    assert {p.name for p in tmp_path.iterdir()} == expected


@pytest.mark.parametrize("mode, values, saved", [
    ("min", [3.0, 1.0, 2.0, 0.5], [1, 2, 4]),
    ("max", [3.0, 1.0, 4.0, 0.5], [1, 3]),
    ("auto", [3.0, 1.0, 2.0, 0.5], [1, 2, 4]),  # "score" has no "acc": minimised
])
def test_checkpoint_save_best_only(backend, tmp_path, mode, values, saved):
    model = _model(backend)
    inject = Inject(values)
    checkpoint = ModelCheckpoint(tmp_path / "m{epoch}.nnc", monitor="score",
                                 save_best_only=True, mode=mode)
    _fit(model, [inject, checkpoint], epochs=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"m{e}.nnc" for e in saved]


def test_checkpoint_save_best_only_to_one_file_keeps_the_best(backend, tmp_path):
    model = _model(backend)
    inject = Inject([3.0, 1.0, 2.0, 1.5])
    path = tmp_path / "best.nnc"
    _fit(model, [inject, ModelCheckpoint(path, monitor="score", save_best_only=True)],
         epochs=4)
    assert _same_weights(nn.load_model(path).get_weights(), inject.weights[1])


def test_checkpoint_warns_and_skips_when_its_monitor_is_missing(backend, tmp_path):
    model = _model(backend)
    with pytest.warns(RuntimeWarning, match="ModelCheckpoint"):
        _fit(model, [ModelCheckpoint(tmp_path / "m.nnc", save_best_only=True)], epochs=1)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- TerminateOnNaN
class CountBatches(Callback):
    def __init__(self):
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def _diverging(backend):
    model = nn.Sequential([nn.layers.Dense(8, input_dim=3), nn.layers.Dense(1)], seed=0,
                          backend=backend)
    model.compile(nn.optimizers.SGD(learning_rate=1e3), "mse")
    return model


def test_terminate_on_nan_stops_a_diverging_run(backend, capsys):
    model = _diverging(backend)
    counter = CountBatches()
    with np.errstate(all="ignore"), \
            pytest.warns(RuntimeWarning, match=r"The loss became (nan|inf) in epoch 1, batch"):
        history = model.fit(X * 10, Y * 10, epochs=20, batch_size=2, verbose=0,
                            callbacks=[counter, TerminateOnNaN()])
    # SGD at lr 1e3 overflows float32 within a few of the 10 batches of the first epoch.
    assert history.epoch == [0]
    assert counter.batches < 10
    assert not math.isfinite(history.history["loss"][0])
    assert "invalid loss, terminating training" in capsys.readouterr().out


def test_without_terminate_on_nan_training_runs_on_and_warns_once(backend):
    model = _diverging(backend)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="epoch 1") as record:
        history = model.fit(X * 10, Y * 10, epochs=3, batch_size=2, verbose=0)
    assert history.epoch == [0, 1, 2]
    assert sum("The loss became" in str(w.message) for w in record) == 1


# --------------------------------------------------------------------------- LR scheduler
def test_learning_rate_scheduler_sets_the_rate_per_epoch_and_logs_it(backend):
    model = nn.Sequential([nn.layers.Dense(1, input_dim=1, use_bias=False)], backend=backend,
                          dtype="float64")
    model.set_weights([np.ones((1, 1))])
    model.compile(nn.optimizers.SGD(learning_rate=0.2), "mse")
    seen = []
    schedule = LearningRateScheduler(lambda epoch, lr: lr * 0.5)  # from the current rate

    class Record(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model.optimizer.learning_rate)

    history = model.fit([[1.0]], [[0.0]], epochs=3, verbose=0, callbacks=[schedule, Record()])
    assert seen == [0.1, 0.05, 0.025]
    assert history.history["learning_rate"] == [0.1, 0.05, 0.025]
    # The loss is w**2 with gradient 2 w: w <- w (1 - 2 lr) for each epoch's rate.
    assert model.get_weights()[0][0, 0] == pytest.approx(0.8 * 0.9 * 0.95, rel=1e-14)
    assert model.optimizer.learning_rate == 0.025


def test_learning_rate_scheduler_gets_the_epoch_index(backend):
    model = _model(backend)
    epochs = []
    _fit(model, [LearningRateScheduler(lambda epoch, lr: epochs.append(epoch) or 0.01)],
         epochs=4, initial_epoch=1)
    assert epochs == [1, 2, 3]


def test_learning_rate_scheduler_refuses_an_optimizer_with_a_schedule(backend):
    # Keras's optimizer refuses a float for a rate built as a schedule (TypeError); setting
    # it here used to replace the schedule silently.
    decay = nn.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    model = _model(backend)
    model.compile(nn.optimizers.SGD(learning_rate=decay), "mse")
    before = model.get_weights()
    with pytest.raises(TypeError, match="created with a LearningRateSchedule.*"
                                        "Received: learning_rate=ExponentialDecay"):
        _fit(model, [LearningRateScheduler(lambda epoch, lr: 0.01)], epochs=2)
    assert model.optimizer._learning_rate is decay and model.optimizer.iterations == 0
    assert _same_weights(model.get_weights(), before)


def test_learning_rate_scheduler_refuses_bad_schedules(backend):
    with pytest.raises(TypeError, match="schedule must be callable"):
        LearningRateScheduler(0.1)
    model = _model(backend)
    with pytest.raises(ValueError, match="learning_rate"):
        _fit(model, [LearningRateScheduler(lambda epoch, lr: -1.0)], epochs=1)


# --------------------------------------------------------------------------- hooks
class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, tuple(sorted(logs))))

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, tuple(sorted(logs))))


def test_custom_callback_hooks_are_called_in_keras_order(backend):
    model = _model(backend)
    recorder = Recorder()
    model.fit(X[:5], Y[:5], epochs=2, batch_size=2, verbose=0, validation_data=(X, Y),
              callbacks=[recorder])
    assert recorder.model is model
    expected = [("train_begin",)]
    for epoch in range(2):
        expected.append(("epoch_begin", epoch))
        for batch in range(3):  # 5 rows in batches of 2: 2, 2, 1
            expected += [("batch_begin", batch), ("batch_end", batch, ("loss",))]
        expected.append(("epoch_end", epoch, ("loss", "val_loss")))
    expected.append(("train_end",))
    assert recorder.calls == expected


def test_a_callback_can_stop_training_after_a_batch(backend):
    class StopAt(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    model = _model(backend)
    recorder = Recorder()
    history = _fit(model, [StopAt(), recorder], epochs=3)
    assert history.epoch == [0]
    assert [c for c in recorder.calls if c[0] == "batch_end"] == \
        [("batch_end", 0, ("loss",)), ("batch_end", 1, ("loss",))]
    assert recorder.calls[-1] == ("train_end",)


def test_fit_refuses_objects_that_are_not_callbacks(backend):
    model = _model(backend)
    before = model.get_weights()
    with pytest.raises(TypeError, match="callbacks must be nncore Callback instances"):
        _fit(model, [lambda logs: None], epochs=1)
    assert _same_weights(model.get_weights(), before)


def test_learning_rate_scheduler_accepts_one_argument_schedules():
    """Keras calls schedule(epoch) when the function takes only the epoch."""
    import numpy as np
    import nncore as nn

    model = nn.Sequential([nn.layers.Dense(1, input_dim=2)], seed=0, backend="numpy")
    model.compile(nn.optimizers.SGD(0.5), "mse")
    x, y = np.ones((4, 2)), np.ones((4, 1))
    seen = []
    sched = nn.callbacks.LearningRateScheduler(lambda epoch: seen.append(epoch) or 0.1 / (epoch + 1))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched])
    assert seen == [0, 1, 2]
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.1 / 3])


# --------------------------------------------------------------------------- progress display
@pytest.fixture
def clock(monkeypatch):
    """A clock that moves 12 ms each time the display reads it: the times shown are then
    exact and repeatable (no wall-clock time enters the assertions)."""
    ticks = iter(range(10**6))
    monkeypatch.setattr(nn.progress, "_now", lambda: 0.012 * next(ticks))


def _progress_model():
    """Many metrics (and their val_ twins): 8 values on each epoch's display."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = nn.Sequential([nn.layers.Dense(3, input_dim=4, activation="softmax")], seed=0,
                          backend="numpy", dtype="float64")
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  ["accuracy", "mse", "mae"])
    return model, x, y


EPOCH_1 = ["loss: 1.0506", "accuracy: 0.5417", "mse: 0.3229", "mae: 0.4861",
           "val_loss: 1.4590", "val_accuracy: 0.3333", "val_mse: 0.3660", "val_mae: 0.5000"]


def test_the_progress_display_at_80_columns(capsys, monkeypatch, clock):
    """Every value on the display, none cut: the bar line as Keras prints it, then the
    values on the lines under it, broken between two of them."""
    monkeypatch.setenv("COLUMNS", "80")
    model, x, y = _progress_model()
    model.fit(x, y, epochs=2, batch_size=8, validation_split=0.2, verbose=1)
    captured = capsys.readouterr()
    assert captured.out == ""                              # stdout stays the program's
    lines = captured.err.splitlines()
    assert lines[:4] == [
        "Epoch 1/2",
        "3/3 ━━━━━━━━━━━━━━━━━━━━ 0s 4ms/step",
        "loss: 1.0506 - accuracy: 0.5417 - mse: 0.3229 - mae: 0.4861 - val_loss: 1.4590",
        "val_accuracy: 0.3333 - val_mse: 0.3660 - val_mae: 0.5000"]
    assert " - ".join(lines[2:4]) == " - ".join(EPOCH_1)
    assert lines[4] == "Epoch 2/2" and len(lines) == 8
    assert max(len(line) for line in lines) <= 80 and "\r" not in captured.err


def test_the_progress_display_at_40_columns(capsys, monkeypatch, clock):
    monkeypatch.setenv("COLUMNS", "40")
    model, x, y = _progress_model()
    model.fit(x, y, epochs=1, batch_size=8, validation_split=0.2, verbose=1)
    assert capsys.readouterr().err == "\n".join([
        "Epoch 1/1",
        "3/3 ━━━━━━━━━━━━━━━━━━━━ 0s 4ms/step",
        "loss: 1.0506 - accuracy: 0.5417",
        "mse: 0.3229 - mae: 0.4861",
        "val_loss: 1.4590 - val_accuracy: 0.3333",
        "val_mse: 0.3660 - val_mae: 0.5000", ""])


def test_a_wide_terminal_gets_keras_one_line(capsys, monkeypatch, clock):
    monkeypatch.setenv("COLUMNS", "300")
    model, x, y = _progress_model()
    model.fit(x, y, epochs=1, batch_size=8, validation_split=0.2, verbose=1)
    assert capsys.readouterr().err == (
        "Epoch 1/1\n3/3 ━━━━━━━━━━━━━━━━━━━━ 0s 4ms/step - " + " - ".join(EPOCH_1) + "\n")


def test_narrower_than_one_value_nothing_is_cut(capsys, monkeypatch, clock):
    """At 12 columns the bar shrinks away and each value has a line, whole."""
    monkeypatch.setenv("COLUMNS", "12")
    model, x, y = _progress_model()
    model.fit(x, y, epochs=1, batch_size=8, validation_split=0.2, verbose=1)
    assert capsys.readouterr().err.splitlines() == ["Epoch 1/1", "3/3 0s 4ms/step", *EPOCH_1]


def test_verbose_2_prints_one_line_per_epoch(capsys, monkeypatch, clock):
    monkeypatch.setenv("COLUMNS", "40")                    # never wrapped: it is for logs
    model, x, y = _progress_model()
    model.fit(x, y, epochs=2, batch_size=8, validation_split=0.2, verbose=2)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0] == "Epoch 1/2 - 3/3 - 0s - 4ms/step - " + " - ".join(EPOCH_1)
    assert lines[1].startswith("Epoch 2/2 - 3/3 - 0s - 4ms/step - loss: ")


@pytest.mark.parametrize("verbose", [3, 10, -1])
def test_verbose_outside_0_to_2_is_refused(verbose):
    model, x, y = _progress_model()
    weights = model.get_weights() if model.built else None
    for call in (lambda: model.fit(x, y, verbose=verbose),
                 lambda: model.evaluate(x, y, verbose=verbose),
                 lambda: model.predict(x, verbose=verbose)):
        with pytest.raises(ValueError, match=rf"verbose.*Received: verbose={verbose}"):
            call()
    assert model.optimizer.iterations == 0
    assert weights is None or _same_weights(weights, model.get_weights())
    with pytest.raises(TypeError, match="verbose"):
        model.fit(x, y, verbose="loud")


def test_evaluate_and_predict_show_progress_with_verbose_1(capsys, monkeypatch, clock):
    monkeypatch.setenv("COLUMNS", "80")
    model, x, y = _progress_model()
    loss, accuracy, mse, mae = model.evaluate(x, y, batch_size=8, verbose=1)
    assert capsys.readouterr().err == (
        f"4/4 ━━━━━━━━━━━━━━━━━━━━ 0s 3ms/step\nloss: {loss:.4f} - accuracy: "
        f"{accuracy:.4f} - mse: {mse:.4f} - mae: {mae:.4f}\n")
    model.predict(x, batch_size=8, verbose=1)
    assert capsys.readouterr().err == "4/4 ━━━━━━━━━━━━━━━━━━━━ 0s 3ms/step\n"
    model.predict(x, verbose=1)                            # one batch
    assert capsys.readouterr().err == "1/1 ━━━━━━━━━━━━━━━━━━━━ 0s 12ms/step\n"
    model.evaluate(x, y)
    model.predict(x)
    assert capsys.readouterr().err == ""                   # verbose=0 is the default


class FakeTerminal:
    """A stream that says it is a terminal and records what is written to it."""

    encoding = "utf-8"

    def __init__(self):
        self.written = []

    def isatty(self):
        return True

    def write(self, text):
        self.written.append(text)

    def flush(self):
        pass


def test_on_a_terminal_the_display_is_redrawn_in_place(monkeypatch, clock):
    terminal = FakeTerminal()
    bar = nn.progress.Progbar(3, stream=terminal, width=40, interval=0)
    bar.update(1, {"loss": 0.5, "accuracy": 0.25, "val_loss": 0.75})
    bar.update(3, {"loss": 0.25, "accuracy": 0.5, "val_loss": 0.5}, finalize=True)
    first, last = terminal.written
    # Drawn from the start of its line; the next drawing goes back up to the first of
    # the three lines of the first ("\x1b[2A"), clears them ("\x1b[J"), and ends the
    # display with a newline.
    assert first == ("\r\x1b[J1/3 ━━━━━━────────────── 0s 24ms/step\n"
                     "loss: 0.5000 - accuracy: 0.2500\nval_loss: 0.7500")
    assert last == ("\r\x1b[2A\x1b[J3/3 ━━━━━━━━━━━━━━━━━━━━ 0s 12ms/step\n"
                    "loss: 0.2500 - accuracy: 0.5000\nval_loss: 0.5000\n")


def test_an_ascii_stream_gets_an_ascii_bar(clock):
    class Ascii(FakeTerminal):
        encoding = "ascii"

        def isatty(self):
            return False

    stream = Ascii()
    nn.progress.Progbar(4, stream=stream, width=80).update(2, finalize=True)
    assert stream.written == ["2/4 ==========.......... 0s 6ms/step\n"]


def test_a_value_wider_than_the_terminal_is_redrawn_over_all_its_rows(clock):
    terminal = FakeTerminal()
    bar = nn.progress.Progbar(2, stream=terminal, width=10, interval=0)
    bar.update(1, {"a_very_long_metric_name": 0.5})
    bar.update(2, {"a_very_long_metric_name": 0.25}, finalize=True)
    # Never cut, so the terminal folds the lines: 16 characters take 2 rows of 10, 31
    # take 4; the next drawing goes back up 5 rows to the first.
    assert terminal.written[0] == "\r\x1b[J1/2 0s 24ms/step\na_very_long_metric_name: 0.5000"
    assert terminal.written[1].startswith("\r\x1b[5A\x1b[J2/2 ")


# --------------------------------------------------------------------------- Lambda, LR, CSV, backup
def _small_model(backend="numpy", dropout=True, seed=0):
    layers = [nn.layers.Dense(6, input_dim=3, activation="tanh")]
    if dropout:
        layers.append(nn.layers.Dropout(0.3))
    layers.append(nn.layers.Dense(2, activation="softmax"))
    model = nn.Sequential(layers, seed=seed, backend=backend, dtype="float64")
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def _small_data(n=40):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3))
    return x, (x[:, 0] > 0).astype(np.int64)


def test_lambda_callback_calls_each_given_hook():
    calls = []
    cb = nn.callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("begin"),
        on_epoch_end=lambda epoch, logs: calls.append((epoch, sorted(logs))),
        on_train_batch_end=lambda batch, logs: calls.append(batch))
    x, y = _small_data(10)
    _small_model().fit(x, y, epochs=2, batch_size=5, verbose=0, callbacks=[cb])
    assert calls == ["begin", 0, 1, (0, ["accuracy", "loss"]), 0, 1, (1, ["accuracy", "loss"])]
    with pytest.raises(TypeError, match="on_epoch_end must be callable"):
        nn.callbacks.LambdaCallback(on_epoch_end=3)


def _keras():
    pytest.importorskip("torch")
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("keras runs on another backend in this process")
    return keras


class _Holder:
    """What a callback needs of a model: an optimizer, and stop_training."""
    stop_training = False

    def __init__(self, optimizer):
        self.optimizer = optimizer


def test_reduce_lr_on_plateau_follows_keras():
    """The same monitored values give Keras 3's learning rates, epoch by epoch."""
    keras = _keras()
    values = [1.0, 0.9, 0.95, 0.95, 0.9, 0.9, 0.92, 0.85, 0.85, 0.86, 0.86, 0.86, 0.5, 0.6,
              0.6, 0.6, 0.6, 0.6]
    kwargs = dict(monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.01,
                  min_delta=0.01)
    theirs = keras.callbacks.ReduceLROnPlateau(**kwargs)
    theirs.set_model(_Holder(keras.optimizers.SGD(0.1)))
    ours = nn.callbacks.ReduceLROnPlateau(**kwargs)
    ours.set_model(_Holder(nn.optimizers.SGD(0.1)))
    rates = {"keras": [], "nncore": []}
    for cb, key in ((theirs, "keras"), (ours, "nncore")):
        cb.on_train_begin()
        for epoch, value in enumerate(values):
            cb.on_epoch_end(epoch, {"val_loss": value})
            rates[key].append(float(keras.ops.convert_to_numpy(
                cb.model.optimizer.learning_rate)))
    np.testing.assert_allclose(rates["nncore"], rates["keras"], rtol=1e-6)  # Keras: float32
    assert len(set(rates["nncore"])) >= 4 and rates["nncore"][-1] == 0.01  # down to min_lr
    with pytest.raises(ValueError, match="factor"):
        nn.callbacks.ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_on_plateau_in_fit_logs_the_learning_rate():
    x, y = _small_data()
    model = _small_model(dropout=False)
    # After the first epoch (anything beats no value yet) nothing improves by 10: halve
    # at the end of each epoch; the logs hold the rate the epoch trained with, as Keras's.
    cb = nn.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0,
                                        min_delta=10.0)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[cb])
    assert history.history["learning_rate"] == [0.01, 0.01, 0.005]
    assert model.optimizer.learning_rate == 0.0025


def test_csv_logger_writes_what_keras_writes(tmp_path):
    keras = _keras()
    logs = [{"loss": 0.5, "accuracy": 0.75, "val_loss": 0.625},
            {"loss": 0.25, "accuracy": 0.875, "val_loss": 0.5}]
    for append in (False, True):
        files = {}
        for name, cls in (("keras", keras.callbacks.CSVLogger),
                          ("nncore", nn.callbacks.CSVLogger)):
            path = tmp_path / f"{name}.csv"
            for _ in range(2 if append else 1):  # appending: a second fit adds its rows
                cb = cls(str(path), separator=";", append=append)
                cb.on_train_begin()
                for epoch, entry in enumerate(logs):
                    cb.on_epoch_end(epoch, dict(entry))
                cb.on_train_end()
            files[name] = path.read_bytes()
        assert files["nncore"] == files["keras"]


def test_csv_logger_in_fit(tmp_path):
    x, y = _small_data()
    path = tmp_path / "log.csv"
    history = _small_model().fit(x, y, epochs=2, verbose=0, validation_split=0.25,
                                 callbacks=[nn.callbacks.CSVLogger(path)])
    rows = path.read_text().splitlines()
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert rows[2].split(",") == ["1"] + [str(history.history[k][1]) for k in
                                          ("accuracy", "loss", "val_accuracy", "val_loss")]


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_backup_and_restore_resumes_an_interrupted_fit_exactly(tmp_path, backend):
    """Shuffling, dropout masks and Adam's moments all continue where they stopped: the
    resumed run ends with the uninterrupted run's weights, bit for bit."""
    if backend == "native" and not nn.backends.native_available():
        pytest.skip("the native extension is not built")
    x, y = _small_data()
    reference = _small_model(backend)
    reference.fit(x, y, epochs=5, batch_size=8, verbose=0)

    def stop_after_epoch_2(epoch, logs):
        if epoch == 2:
            raise _Interrupt

    backup = nn.callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(_Interrupt):
        _small_model(backend).fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[
            backup, nn.callbacks.LambdaCallback(on_epoch_end=stop_after_epoch_2)])
    assert (tmp_path / "backup" / "backup.nnc").exists()
    seen = []
    resumed = _small_model(backend, seed=1)  # another start: the backup decides
    history = resumed.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[
        backup, nn.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))])
    assert seen == [3, 4] and len(history.history["loss"]) == 2
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "backup" / "backup.nnc").exists()  # deleted once fit completes


def test_save_weights_and_load_weights(tmp_path):
    x, y = _small_data()
    model = _small_model()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "m.weights.nnc"
    model.save_weights(path)
    other = _small_model(seed=5)
    other.load_weights(path)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"must end in `\.weights\.nnc`"):
        model.save_weights(tmp_path / "m.nnc")
    wider = nn.Sequential([nn.layers.Dense(7, input_dim=3), nn.layers.Dense(2)], seed=0,
                          dtype="float64")
    before = wider.get_weights()
    with pytest.raises(ValueError, match="shape"):
        wider.load_weights(path)
    for a, b in zip(wider.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # nothing written


def test_checkpoint_refuses_another_formats_extension_when_made():
    with pytest.raises(ValueError, match=r"not .*\(\.h5\)"):
        ModelCheckpoint("model-{epoch}.h5")


# --------------------------------------------------------------------------- gradients
def _deep(activation, initializer, depth=8, seed=0):
    layers = [nn.layers.Dense(16, input_dim=8, activation=activation,
                              kernel_initializer=initializer)]
    layers += [nn.layers.Dense(16, activation=activation, kernel_initializer=initializer)
               for _ in range(depth - 2)]
    layers.append(nn.layers.Dense(1, activation="sigmoid"))
    model = nn.Sequential(layers, seed=seed, dtype="float64")
    model.compile(nn.optimizers.SGD(0.0), "binary_crossentropy")  # lr 0: weights stay
    return model


def _vanishing_ratio(activation, initializer):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 8)), rng.integers(0, 2, 64)
    model = _deep(activation, initializer)
    history = model.fit(x, y, epochs=1, batch_size=64, verbose=0,
                        callbacks=[nn.callbacks.GradientMonitor(x)])
    norms = [history.history[f"grad_norm/{layer.name}"][0] for layer in model.layers]
    return norms[0] / norms[-1], history.history, model, x, y


def test_gradient_monitor_shows_the_course_s_vanishing_gradients():
    """Lesson 10: through 8 sigmoid layers the first layer's gradient is orders of
    magnitude below the last's; ReLU with He initialisation keeps it within a factor of
    ten or so."""
    sigmoid, _, _, _, _ = _vanishing_ratio("sigmoid", "glorot_uniform")
    relu, logs, model, x, y = _vanishing_ratio("relu", "he_normal")
    assert sigmoid < 1e-3 and relu > 1e-2
    assert {f"mean/{layer.name}" for layer in model.layers} <= set(logs)
    assert "dead/dense" in logs and "dead/dense_7" not in logs  # the sigmoid output layer


def test_gradient_monitor_norm_is_the_norm_of_the_gradient():
    """One batch, learning rate 0: the recorded norm is that of the finite-difference
    gradient of the loss with respect to the layer's weights."""
    from nncore.finite_differences import numerical_gradient

    _, logs, model, x, y = _vanishing_ratio("tanh", "glorot_uniform")
    layer = model.layers[-1]
    grads = [numerical_gradient(lambda _: model.evaluate(x, y, batch_size=64), p)
             for p in layer.params]
    expected = math.sqrt(sum(float(np.sum(g ** 2)) for g in grads))
    assert logs[f"grad_norm/{layer.name}"][0] == pytest.approx(expected, rel=1e-6)


def test_gradient_monitor_counts_dead_relus():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((30, 3))
    model = nn.Sequential([nn.layers.Dense(4, input_dim=3, activation="relu"),
                           nn.layers.Dense(1)], seed=0)
    model.compile(nn.optimizers.SGD(0.0), "mse")
    model.build(3)
    bias = model.layers[0].bias
    bias[:2] = -100.0  # two units that no input can wake
    history = model.fit(x, x[:, :1], epochs=1, verbose=0,
                        callbacks=[nn.callbacks.GradientMonitor(x)])
    assert history.history["dead/dense"] == [0.5]
    outputs = model.layer_outputs(x)
    assert history.history["mean/dense_1"][0] == pytest.approx(float(outputs[1].mean()))
