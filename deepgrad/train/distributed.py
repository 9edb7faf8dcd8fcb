"""The Trainer under data parallelism: which process writes, and the values all processes share.

Launched as N processes (``mpiexec -n N``) with a process group initialized
(``deepgrad.distributed.init_process_group``) and the model wrapped in
``DistributedDataParallel``, a ``Trainer`` on every rank trains its own shard, and:

- only rank 0 writes: callbacks marked ``main_process_only`` (the progress bar and the loggers)
  run on rank 0 alone, and checkpoints are written by rank 0 (the others take part in what
  the checkpoint reduces, then skip the write);
- every step's logs (loss, size, the updater's other values) are summed over the ranks, weighted
  by the batch sizes, before the ``nan_policy`` looks at them, so a NaN on one rank skips or
  stops the step on all of them, and the step's recorded loss is that of the global batch;
- a SIGINT or SIGTERM on any rank travels with that sum, so every rank stops after the same step;
- metrics are merged across ranks (``Metric.sync``: sums and counts added up) before they are
  computed, so the epoch's values are those of all samples, exact and the same everywhere, and
  early stopping decides the same on every rank.

Everything here is a no-op for one process, and ``deepgrad.distributed`` is only imported when
a program has imported it already (a plain install never imports mpi4py).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from deepgrad.autograd import Tensor
from deepgrad.train.metrics import Metric

__all__ = [
    "all_reduce_sum",
    "broadcast_json",
    "broadcast_module",
    "gather_arrays",
    "set_sampler_epoch",
    "sync_metrics",
    "unwrap_model",
    "world",
]


def world() -> tuple[int, int]:
    """(rank, world size) of the default process group; (0, 1) when there is none.

    Reads the group without checking it, so it answers even after a collective timed out (the
    Trainer's cleanup asks which rank it is on while the error propagates).
    """
    group_module = sys.modules.get("deepgrad.distributed.group")
    group = None if group_module is None else group_module.GroupMember.WORLD
    return (0, 1) if group is None else (group.rank, group.size)


def unwrap_model(model: Any) -> Any:
    """The module inside a ``DistributedDataParallel`` wrapper (else ``model``): checkpoints hold
    its weights without the wrapper's ``module.`` prefix, so they load with any process count."""
    ddp = sys.modules.get("deepgrad.distributed.ddp")
    if ddp is not None and isinstance(model, ddp.DistributedDataParallel):
        return model.module
    return model


def all_reduce_sum(values: np.ndarray) -> np.ndarray:
    """The elementwise float64 sum of ``values`` over all ranks (one MPI all-reduce)."""
    from deepgrad.distributed import all_reduce

    tensor = Tensor._make(np.array(values, dtype=np.float64).ravel(), None)
    all_reduce(tensor)
    return tensor._data.reshape(np.shape(values))


def gather_arrays(array: np.ndarray) -> list[np.ndarray]:
    """Every rank's ``array`` (each of the same shape), in rank order, as float64.

    One all-reduce of a (world size, size) table in which each rank fills its own row: exact,
    since every entry is a sum of one value and zeros.
    """
    rank, size = world()
    flat = np.asarray(array, dtype=np.float64).ravel()
    table = np.zeros((size, flat.size))
    table[rank] = flat
    rows = all_reduce_sum(table)
    return [row.reshape(np.shape(array)) for row in rows]


def sync_metrics(metrics: list[Metric]) -> None:
    """Merge every rank's running sums into each metric (see ``Metric.sync``); one process: no-op."""
    if world()[1] > 1:
        for metric in metrics:
            metric.sync(gather_arrays)


def broadcast_module(module: Any) -> None:
    """Give every rank rank 0's parameters and buffers (e.g. after rank 0 loaded best weights)."""
    if world()[1] > 1:
        from deepgrad.distributed import broadcast

        for tensor in [*module.parameters(), *module.buffers()]:
            broadcast(tensor, 0)


def broadcast_json(value: Any) -> Any:
    """Rank 0's ``value`` (anything JSON can write) on every rank; one process: ``value``."""
    if world()[1] == 1:
        return value
    from deepgrad.distributed import broadcast

    rank = world()[0]
    data = np.frombuffer(json.dumps(value).encode(), np.uint8) if rank == 0 else None
    length = Tensor._make(np.array([0 if data is None else data.size], np.int64), None)
    broadcast(length, 0)
    buffer = Tensor._make(np.zeros(int(length._data[0]), np.uint8), None)
    if data is not None:
        buffer._data[...] = data
    broadcast(buffer, 0)
    return json.loads(buffer._data.tobytes().decode())


def set_sampler_epoch(loader: Any, epoch: int) -> None:
    """Call ``set_epoch(epoch)`` on the loader's sampler (or its batch sampler's), when it has one:
    a ``DistributedSampler`` then draws the epoch's shared order without the user calling it."""
    batch_sampler = getattr(loader, "batch_sampler", None)
    for owner in (getattr(loader, "sampler", None), getattr(batch_sampler, "sampler", None)):
        set_epoch = getattr(owner, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)
            return


class DataParallelRun:
    """The Trainer's part under data parallelism: its rank, and the step logs all ranks share.

    A part of ``Trainer`` (a mixin kept beside the helpers it uses); it reads and writes the
    Trainer's global_step and stop flags and is not used on its own.
    """

    # The Trainer's attributes this part uses (set in Trainer.__init__), declared for type checkers.
    global_step: int
    _stop_requested: bool
    _signal: str | None
    _pending_signal: str | None
    _reduced_step: int

    @property
    def rank(self) -> int:
        """This process's rank in the default process group (0 without one)."""
        return world()[0]

    @property
    def world_size(self) -> int:
        """How many processes train together (1 without a process group)."""
        return world()[1]

    @property
    def is_main_process(self) -> bool:
        """Whether this process is rank 0, the one that prints and writes files."""
        return world()[0] == 0

    def reduce_step_logs(self, logs: dict[str, float]) -> dict[str, float]:
        """The step's logs over all ranks: each value the size-weighted mean over every rank's
        batch, ``size`` the global batch size; one process: ``logs`` as they are.

        ``StandardUpdater`` calls it before looking at the loss, so ``nan_policy`` decides on the
        global loss and every rank skips or stops the same step; the Trainer calls it after an
        updater that did not (once per step either way). A SIGINT or SIGTERM received on any
        rank since the last step travels in the same all-reduce: every rank then stops after
        this step. Every rank must log the same keys.
        """
        if world()[1] == 1 or self._reduced_step == self.global_step + 1:
            return logs
        from deepgrad.train.updater import loss_and_size

        _, size = loss_and_size(logs)
        keys = sorted(key for key in logs if key != "size")
        pending = self._pending_signal
        values = [float(logs[key]) * size for key in keys]
        flags = [float(pending == "SIGINT"), float(pending == "SIGTERM")]
        total = all_reduce_sum(np.array([*values, size, *flags]))
        self._reduced_step = self.global_step + 1
        global_size = float(total[len(keys)])
        reduced: dict[str, float] = {
            key: float(total[i]) / (global_size or 1.0) for i, key in enumerate(keys)
        }
        reduced["size"] = round(global_size)
        sigint, sigterm = total[-2:]
        if sigint or sigterm:
            self._signal = pending or ("SIGTERM" if sigterm else "SIGINT")
            self._stop_requested = True
        return reduced
