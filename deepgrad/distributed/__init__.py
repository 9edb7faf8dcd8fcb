"""Data-parallel training over MPI: process groups, collectives, DistributedDataParallel.

Launch N processes with ``mpiexec -n N python3 train.py`` (or Slurm's ``srun``); each calls
``init_process_group("mpi")`` and gets its ``get_rank()`` of ``get_world_size()``. Names and
semantics follow ``torch.distributed``. See docs/distributed.md.
"""

from __future__ import annotations

from deepgrad.distributed.collectives import (
    DistBackendError,
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    irecv,
    isend,
    recv,
    reduce_scatter,
    reduce_scatter_tensor,
    send,
)
from deepgrad.distributed.ddp import DistributedDataParallel
from deepgrad.distributed.group import (
    Backend,
    GroupMember,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
)
from deepgrad.distributed.sync_batchnorm import SyncBatchNorm

__all__ = [
    "Backend",
    "DistBackendError",
    "DistributedDataParallel",
    "GroupMember",
    "ProcessGroup",
    "ReduceOp",
    "SyncBatchNorm",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "irecv",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "isend",
    "recv",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "send",
]
