"""Recipes trained by several processes: ``deepgrad train RECIPE`` under ``mpiexec -n N``.

``start_processes`` (called by the command) recognizes an MPI launch by the variables MPI
launchers set (``PMI_RANK``: MPICH's Hydra and Slurm's PMI; ``OMPI_COMM_WORLD_RANK``: Open MPI;
``PMIX_RANK``: PMIx, Slurm's ``srun --mpi=pmix``) and initializes the process group. A run then
trains data-parallel (``data_parallel``): the model is wrapped in ``DistributedDataParallel``,
the training set is sharded by a ``DistributedSampler`` seeded with the run's seed, validation
and test sets are split into disjoint parts (rank r takes samples r, r + N, ...), and rank 0
alone writes the run folder (``rank0``).

The recipe's ``batch_size`` is the global batch, split evenly over the N processes (each rank
trains on ``batch_size / N`` samples per step), so a run has the same effective batch and
learning rate with any number of processes. (PyTorch's ``DataLoader(batch_size=...)`` in a DDP
script is per process; deepgrad's ``DataLoader`` keeps that meaning. Only the recipe's setting,
which names the run's optimization, is global.)
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import Any, TypeVar

from deepgrad.data import DataLoader, Subset
from deepgrad.data.distributed import DistributedSampler
from deepgrad.experiments.config import RecipeError, RunConfig
from deepgrad.train import StandardUpdater, Trainer
from deepgrad.train.distributed import broadcast_json, world

__all__ = ["LAUNCH_VARIABLES", "data_parallel", "launched_by_mpi", "rank0", "start_processes"]

# Set for every process by the MPI launchers: Hydra (MPICH, Slurm PMI-2), Open MPI, PMIx.
LAUNCH_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
DEFAULT_TIMEOUT = 300.0  # seconds a rank waits for the others before failing (--dist-timeout)

T = TypeVar("T")


def launched_by_mpi() -> bool:
    """Whether an MPI launcher (mpiexec, mpirun, srun) started this process."""
    return any(name in os.environ for name in LAUNCH_VARIABLES)


def start_processes(timeout: float = DEFAULT_TIMEOUT) -> tuple[int, int]:
    """Initialize the process group when launched by MPI; return (rank, world size).

    Not launched by MPI (or already initialized): nothing to do. Launched as one process
    (``mpiexec -n 1``): the group of one is left uninitialized, as a plain run.

    Args:
        timeout: seconds any collective may wait for the other ranks; past it the run fails
            with an error naming the rank it waited for, instead of hanging.
    """
    import deepgrad.distributed as dist

    if not launched_by_mpi() or dist.is_initialized():
        return world()
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=timeout))
    if dist.get_world_size() == 1:
        dist.destroy_process_group()
    return world()


def rank0(work: Callable[[], T], what: str) -> T:
    """``work()`` run by rank 0 alone (claiming the run folder, writing a file); its result
    (anything JSON can carry) or its error is shared with every rank, so all go on or all fail.
    """
    rank, size = world()
    if size == 1:
        return work()
    error: BaseException | None = None
    outcome: dict[str, Any] = {}
    if rank == 0:
        try:
            outcome = {"value": work()}
        except Exception as exc:
            error = exc
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
    shared = broadcast_json(outcome)
    if error is not None:
        raise error
    if "error" in shared:
        raise RecipeError(f"{what} failed on rank 0: {shared['error']}")
    return shared["value"]


def data_parallel(
    config: RunConfig, trainer: Trainer, loaders: tuple
) -> tuple[DataLoader, DataLoader | None, DataLoader | None]:
    """Make ``trainer`` train data-parallel over the process group, and shard ``loaders``.

    Wraps ``trainer.model`` in ``DistributedDataParallel`` (rank 0's weights go to every rank;
    not for one process, which resumes a data-parallel run with the same global order)
    and returns (training loader of this rank's shard at ``batch_size / N``, this rank's part
    of the validation and of the test set).

    Raises:
        RecipeError: the recipe trains with its own updater (a GAN's, an agent's), its data is
            not a data set of samples, or ``batch_size`` is not a multiple of the world size.
    """
    from deepgrad.distributed import DistributedDataParallel

    rank, size = world()
    train, val, test = loaders
    if type(trainer.updater) is not StandardUpdater or not isinstance(train, DataLoader):
        raise RecipeError(
            f"recipe {config.recipe} trains with its own updater or data stream, which "
            f"DistributedDataParallel does not cover (got {size} processes); train it as one "
            "process (without mpiexec)"
        )
    if config.batch_size % size:
        raise RecipeError(
            f"--batch-size {config.batch_size} is the global batch, split evenly over the "
            f"{size} processes; give a multiple of {size}"
        )
    if size > 1:
        trainer.model = DistributedDataParallel(trainer.model)
    sampler = DistributedSampler(train.dataset, size, rank, shuffle=True, seed=config.seed)
    sharded = DataLoader(
        train.dataset,
        batch_size=config.batch_size // size,
        sampler=sampler,
        drop_last=train.drop_last,
        collate_fn=train.collate_fn,
        generator=train.generator,  # draws the epochs' base seeds; checkpoints keep its state
    )
    return sharded, _part(val, rank, size), _part(test, rank, size)


def _part(loader: DataLoader | None, rank: int, size: int) -> DataLoader | None:
    """Samples rank, rank + size, ... of an evaluation loader's data set: disjoint parts, no
    padding, so the sums the Trainer adds up over the ranks are those of the whole set."""
    if loader is None:
        return None
    part = Subset(loader.dataset, range(rank, len(loader.dataset), size))
    return DataLoader(part, batch_size=loader.batch_size, collate_fn=loader.collate_fn)
