"""Data that does not fit in memory (nncore/models/batches.py, nncore/datasets/streams.py):
fit, validation and evaluate on streams of batches (generators, CSVDataset) equal the same
work on arrays, and a 1 GB memory map trains with flat memory."""
import gzip
import os
import tracemalloc

import numpy as np
import pytest

import nncore as nn


def _model(backend="numpy", seed=0):
    model = nn.Sequential([nn.layers.Dense(5, input_dim=3, activation="tanh"),
                           nn.layers.Dense(2, activation="softmax")], seed=seed,
                          dtype="float64", backend=backend)
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def _data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    return x, (x[:, 0] + 0.3 * x[:, 1] > 0).astype(np.int64), rng.uniform(0.5, 2.0, n)


def _batches(x, y, w=None, size=8, repeat=True):
    while True:
        for s in range(0, len(x), size):
            yield (x[s:s + size], y[s:s + size]) if w is None else \
                (x[s:s + size], y[s:s + size], w[s:s + size])
        if not repeat:
            return


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_a_generator_trains_as_the_same_batches_from_arrays(backend):
    if backend == "native" and not nn.backends.native_available():
        pytest.skip("the native extension is not built")
    x, y, w = _data()
    steps = -(-len(x) // 8)
    reference = _model(backend)
    expected = reference.fit(x, y, batch_size=8, epochs=3, shuffle=False, sample_weight=w,
                             verbose=0, validation_data=(x[:20], y[:20]))
    model = _model(backend)
    history = model.fit(_batches(x, y, w), steps_per_epoch=steps, epochs=3, verbose=0,
                        validation_data=_batches(x[:20], y[:20]), validation_steps=3)
    assert history.history == expected.history
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.evaluate(_batches(x, y, w, repeat=False)) == \
        reference.evaluate(x, y, batch_size=8, sample_weight=w)


def test_a_finite_generator_stops_training_when_it_runs_out():
    x, y, _ = _data()
    model = _model()
    with pytest.warns(UserWarning, match="x ran out of batches after 0 of this epoch"):
        history = model.fit(_batches(x, y, repeat=False), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1  # one pass, then no empty epochs logged


def test_streams_refuse_what_does_not_apply():
    x, y, w = _data()
    model = _model()
    with pytest.raises(ValueError, match="x is a stream of batches"):
        model.fit(_batches(x, y), y, steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="x is a stream of batches"):
        model.fit(_batches(x, y), steps_per_epoch=2, validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match=r"must yield \(x, y\) or \(x, y, sample_weight\)"):
        model.fit(iter([x[:4]]), verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(_batches(x, y), steps_per_epoch=0, verbose=0)
    with pytest.raises(ValueError, match="y must hold|labels"):  # each batch is checked
        model.fit(iter([(x[:4], np.array([0, 1, 2, 5]))]), verbose=0)


# --------------------------------------------------------------------------- CSVDataset
def _write_csv(path, x, y, gz=False):
    lines = ["f0,f1,f2,target"] + [",".join(map(repr, map(float, row))) + f",{t}"
                                   for row, t in zip(x, y)]
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)


@pytest.mark.parametrize("gz", [False, True])
def test_a_csv_dataset_trains_as_its_rows_in_memory(tmp_path, gz):
    x, y, _ = _data()
    path = tmp_path / ("data.csv.gz" if gz else "data.csv")
    _write_csv(path, x, y, gz)
    data = nn.datasets.CSVDataset(path, label="target", batch_size=8, dtype="float64")
    assert sum(len(xb) for xb, _ in data) == len(x)  # a pass, and again: re-iterable
    np.testing.assert_array_equal(np.vstack([xb for xb, _ in data]), x)
    reference = _model()
    expected = reference.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    model = _model()
    history = model.fit(data, epochs=2, verbose=0, validation_data=data)
    assert history.history["loss"] == expected.history["loss"]
    assert history.history["val_loss"][-1] == pytest.approx(
        reference.evaluate(x, y, batch_size=8, return_dict=True)["loss"])
    by_index = nn.datasets.CSVDataset(path, label=-1, batch_size=50, dtype="float64")
    (xb, yb), = list(by_index)
    np.testing.assert_array_equal(yb, y)


def test_a_csv_dataset_names_what_is_wrong(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c\n1,2,0\n3,x,1\n")
    with pytest.raises(ValueError, match=r"bad.csv, line 3: every field must be a number"):
        list(nn.datasets.CSVDataset(path, label="c"))
    path.write_text("a,b,c\n1,2,0\n3,4\n")
    with pytest.raises(ValueError, match="line 3: 2 fields where the first row has 3"):
        list(nn.datasets.CSVDataset(path, label="c"))
    with pytest.raises(ValueError, match="no column named 'd'"):
        list(nn.datasets.CSVDataset(path, label="d"))
    with pytest.raises(ValueError, match="needs header=True"):
        nn.datasets.CSVDataset(path, label="c", header=False)
    with pytest.raises(TypeError, match="label"):
        nn.datasets.CSVDataset(path, label=1.5)


# --------------------------------------------------------------------------- memory maps
def _rss_anon_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")
def test_a_one_gigabyte_memory_map_trains_with_flat_memory(tmp_path):
    """1 GiB of float32 rows on disk (a sparse file: no time spent writing it): one epoch
    of fit, shuffled, allocates about one batch. Python's allocations (tracemalloc) and
    the process's anonymous memory (RssAnon: the file's pages are page cache, not the
    process's own) both stay within 64 MB; holding the data would take 1024 MB."""
    rows, cols = 262_144, 1024
    path = tmp_path / "big.npy"
    np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, cols)).flush()
    x = np.load(path, mmap_mode="r")
    y = np.zeros(rows, np.float32)
    model = nn.Sequential([nn.layers.Dense(1, input_dim=cols)], seed=0)
    model.compile(nn.optimizers.SGD(0.01), "mse")
    before = _rss_anon_mb()
    tracemalloc.start()
    try:
        model.fit(x, y, batch_size=4096, epochs=1, verbose=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak / 2**20 < 64, peak
    assert _rss_anon_mb() - before < 64
    assert len(model.history.history["loss"]) == 1
