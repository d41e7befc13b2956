"""Training runs that tests/test_distributed.py makes twice: data-parallel under
``mpirun -n 2 python tests/mpi_scenarios.py OUT.npz``, and in one process inside pytest
(``run(name, parallel=False)``), then compares.

Each run returns its weights and history. Under mpirun, every rank seeds its model
differently (``seed + rank``): equal results then also prove that rank 0's weights and
random state were broadcast. The script checks that every rank ends with the same
weights, bit for bit, and rank 0 writes every run's results to OUT.npz.
"""
from __future__ import annotations

import sys

import numpy as np

import nncore as nn

SEED = 3
# name -> what it exercises. "dropout" is checked for agreement between ranks only: its
# masks are drawn per rank, so it differs from the one-process run by design.
SCENARIOS = {
    "sgd_float64": "SGD with momentum, 1 epoch, 103 rows in batches of 16 (last 7: 3 + 4)",
    "adam_float64": "Adam, 3 epochs, batches of 10 on 21 rows (the last batch has 1 row: "
                    "one rank has none), sample weights, L2, global_clipnorm, accuracy",
    "layers_float64": "the layer-by-layer path (Activation layer), numpy backend, MSE, "
                      "clipnorm, validation_split, 2 epochs, then train_on_batch",
    "adam_float32": "Adam in float32, 2 epochs, batches of 32 on 150 rows",
    "dropout": "Dropout(0.3): ranks agree; not compared with one process",
}


def _spirals(n: int, dtype: str):
    x, y = nn.datasets.make_spirals(n_samples=n, random_state=0)
    return x.astype(dtype), y


def run(name: str, parallel: bool) -> dict[str, np.ndarray]:
    """Train scenario ``name``; data-parallel over MPI.COMM_WORLD when ``parallel``."""
    from nncore import distributed

    seed = SEED + (distributed.rank() if parallel else 0)
    dtype = "float32" if name == "adam_float32" else "float64"

    def dense_stack(*extra, backend=None, n_in=2, n_out=3, **first):
        return nn.Sequential([nn.layers.Dense(16, input_dim=n_in, activation="relu", **first),
                              *extra, nn.layers.Dense(n_out, activation="softmax")],
                             seed=seed, dtype=dtype, backend=backend)

    logs: dict = {}
    if name == "sgd_float64":
        x, y = _spirals(103, dtype)
        model = dense_stack()
        model.compile(nn.optimizers.SGD(0.1, momentum=0.9),
                      "sparse_categorical_crossentropy")
        fit = dict(batch_size=16, epochs=1)
    elif name == "adam_float64":
        x, y = _spirals(21, dtype)
        model = dense_stack(kernel_regularizer=nn.regularizers.L2(1e-3))
        model.compile(nn.optimizers.Adam(0.01, global_clipnorm=0.5),
                      "sparse_categorical_crossentropy", ["accuracy"])
        sw = np.linspace(0.5, 1.5, len(x))
        fit = dict(batch_size=10, epochs=3, sample_weight=sw)
    elif name == "layers_float64":
        x, y = _spirals(50, dtype)
        y = np.eye(3)[y]
        model = nn.Sequential([nn.layers.Dense(8, input_dim=2),
                               nn.layers.Activation("tanh"), nn.layers.Dense(3)],
                              seed=seed, dtype=dtype, backend="numpy")
        model.compile(nn.optimizers.SGD(0.05, clipnorm=1.0), "mse", ["mae"])
        fit = dict(batch_size=8, epochs=2, validation_split=0.2)
    elif name == "adam_float32":
        x, y = _spirals(150, dtype)
        model = dense_stack()
        model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                      ["accuracy"])
        fit = dict(batch_size=32, epochs=2)
    elif name == "dropout":
        x, y = _spirals(64, dtype)
        model = dense_stack(nn.layers.Dropout(0.3))
        model.compile("adam", "sparse_categorical_crossentropy")
        fit = dict(batch_size=16, epochs=2)
    else:
        raise ValueError(f"unknown scenario {name!r}")
    rows, local = [0], model._gradients

    def counted(X, Y, sw):  # the rows whose gradients this process computes
        rows[0] += len(X)
        return local(X, Y, sw)
    model._gradients = counted
    if parallel:
        distributed.data_parallel(model)
    history = model.fit(x, y, verbose=0, **fit).history
    if name == "layers_float64":
        logs = model.train_on_batch(x[:9], y[:9], return_dict=True)
    out = {"rows": np.asarray(rows[0])}
    out.update({f"w{i}": w for i, w in enumerate(model.get_weights())})
    out.update({f"h_{key}": np.asarray(values) for key, values in history.items()})
    out.update({f"tob_{key}": np.asarray(value) for key, value in logs.items()})
    return out


def main(path: str) -> None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    results = {}
    for name in SCENARIOS:
        out = run(name, parallel=True)
        weights = np.concatenate([v.reshape(-1) for k, v in out.items() if k[0] == "w"])
        every = comm.gather(weights, root=0)
        rows = comm.gather(int(out.pop("rows")), root=0)
        if comm.rank == 0:
            if not all(np.array_equal(w, every[0]) for w in every):
                raise AssertionError(f"{name}: the ranks' weights differ")
            results.update({f"{name}/{key}": value for key, value in out.items()})
            results[f"{name}/rows"] = np.asarray(rows)
    results.update(mismatch(comm))
    if comm.rank == 0:
        np.savez(path, size=comm.size, **results)


def mismatch(comm) -> dict[str, np.ndarray]:
    """Ranks that call fit with different batch sizes: every rank must refuse at the
    first step (none may wait forever for the others), with the weights unchanged."""
    from nncore import distributed

    x, y = _spirals(20, "float64")
    model = nn.Sequential([nn.layers.Dense(3, input_dim=2, activation="softmax")], seed=0,
                          dtype="float64")
    model.compile("sgd", "sparse_categorical_crossentropy")
    distributed.data_parallel(model, comm)
    before = model.get_weights()
    try:
        model.fit(x, y, batch_size=10 + comm.rank, epochs=1, verbose=0)
        message = ""
    except ValueError as error:
        message = str(error)
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    every = comm.gather((message, unchanged), root=0)
    return {"mismatch/messages": np.asarray([m for m, _ in every or []]),
            "mismatch/unchanged": np.asarray([u for _, u in every or []])}


if __name__ == "__main__":
    main(sys.argv[1])
