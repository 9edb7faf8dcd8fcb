"""The process group: which process this is (rank), how many there are (world size), and the
MPI communicator behind them.

MPI (through mpi4py) is the engine. A program launched with ``mpiexec -n N`` (or Slurm's
``srun``) has N processes; ``init_process_group("mpi")`` makes ``MPI.COMM_WORLD`` the default
group. Without mpi4py, or run as a plain ``python3 script.py``, the group has one process and
every collective returns its input (world size 1), so the same script runs anywhere.
"""

from __future__ import annotations

import atexit
import datetime
import os
import sys
import time
from typing import Any

__all__ = [
    "Backend",
    "GroupMember",
    "ProcessGroup",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
]

default_pg_timeout = datetime.timedelta(minutes=30)  # PyTorch's default
# Environment variables by which MPI launchers announce the world size (MPICH/Hydra, PMIx,
# Open MPI, Slurm): seeing one > 1 without mpi4py means N copies would run unaware of each other.
_LAUNCHER_SIZE_VARIABLES = ("PMI_SIZE", "PMIX_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS")


class Backend:
    """The backend names ``init_process_group`` accepts (only ``"mpi"``)."""

    MPI = "mpi"


class ProcessGroup:
    """A set of processes that take part in collectives together.

    Attributes:
        comm: the mpi4py communicator, or None for the one-process group without MPI.
        rank: this process's index in the group, 0 <= rank < size.
        size: how many processes the group has.
        timeout: how long a collective or point-to-point wait may take before it fails.
        broken: set once an operation timed out; the group may not be used again.
        node_comm: the ranks as a shared-memory communicator once ``shared_memory.
            node_communicator`` asked (False: they span nodes); None until then.
    """

    def __init__(self, comm: Any, timeout: datetime.timedelta) -> None:
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()
        self.timeout = timeout
        self.broken: str | None = None
        self.node_comm: Any = None

    def rank_text(self) -> str:
        """``"rank R of N"``: how error messages name this process within its group."""
        return f"rank {self.rank} of {self.size}"

    def __repr__(self) -> str:
        kind = "MPI" if self.comm is not None else "single process"
        return f"ProcessGroup({kind}, rank={self.rank}, size={self.size})"


class GroupMember:
    """``GroupMember.WORLD`` is the default group once ``init_process_group`` ran (else None)."""

    WORLD: ProcessGroup | None = None


def is_available() -> bool:
    """True: deepgrad.distributed always works (with one process when mpi4py is missing)."""
    return True


def is_mpi_available() -> bool:
    """Whether mpi4py (and so an MPI library) can be imported, i.e. several processes can work."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_initialized() -> bool:
    """Whether ``init_process_group`` has been called (and ``destroy_process_group`` not since)."""
    return GroupMember.WORLD is not None


def init_process_group(
    backend: str = "mpi",
    init_method: str | None = None,
    timeout: datetime.timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
) -> None:
    """Make every process of the MPI job (``MPI.COMM_WORLD``) the default process group.

    Args:
        backend: ``"mpi"``, the only backend. Default: ``"mpi"``.
        init_method: accepted for PyTorch compatibility; MPI's launcher already connects the
            processes, so it must be None or ``"env://"``. Default: None.
        timeout: how long any wait (collective, send, recv, barrier) may take before it raises
            ``DistBackendError`` naming the operation and the ranks, instead of hanging on a
            dead or stuck peer. Default: 30 minutes (PyTorch's).
        world_size, rank: optional checks against what MPI reports (-1: no check).

    Example:
        >>> import deepgrad.distributed as dist
        >>> dist.init_process_group("mpi")
        >>> dist.get_rank(), dist.get_world_size()   # under plain python3: one process
        (0, 1)
        >>> dist.destroy_process_group()
    """
    if backend is None or str(backend).lower() != Backend.MPI:
        raise ValueError(
            f"init_process_group: unknown backend {backend!r}; deepgrad.distributed runs on MPI, "
            "pass backend='mpi' and launch with mpiexec -n N."
        )
    if init_method not in (None, "env://"):
        raise ValueError(
            f"init_process_group: init_method {init_method!r} is not supported; MPI's launcher "
            "(mpiexec, srun) connects the processes, so leave init_method=None."
        )
    if GroupMember.WORLD is not None:
        raise RuntimeError(
            "init_process_group: the default process group is already initialized; call "
            "destroy_process_group() first."
        )
    timeout = default_pg_timeout if timeout is None else timeout
    if not isinstance(timeout, datetime.timedelta) or timeout.total_seconds() <= 0:
        raise ValueError(
            f"init_process_group: timeout must be a positive datetime.timedelta (got {timeout!r})."
        )
    group = ProcessGroup(_world_communicator(), timeout)
    for name, wanted, got in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
        if wanted != -1 and wanted != got:
            raise ValueError(
                f"init_process_group: {name}={wanted} but MPI reports {got}; launch with "
                f"mpiexec -n <world_size>, or leave {name} at -1."
            )
    GroupMember.WORLD = group


def _world_communicator() -> Any:
    """``MPI.COMM_WORLD``, or None when mpi4py is missing and no launcher asked for more."""
    try:
        from mpi4py import MPI
    except ImportError:
        sizes = {v: os.environ[v] for v in _LAUNCHER_SIZE_VARIABLES if v in os.environ}
        if any(s.isdigit() and int(s) > 1 for s in sizes.values()):
            raise RuntimeError(
                f"init_process_group: launched as one of several processes ({sizes}) but mpi4py "
                "is not installed, so they cannot talk; pip install 'deepgrad[distributed]'."
            ) from None
        return None
    _install_exit_guard()
    return MPI.COMM_WORLD


_exit_guard_installed = False


def _install_exit_guard() -> None:
    """Make a failing process end the job instead of leaving its peers to wait.

    - An uncaught exception prints its traceback as usual, then a line naming this rank and
      the exception, and ends every process of the job (``MPI_Abort``), as mpi4py's
      ``python -m mpi4py`` runner does: the peers waiting for this rank in a collective exit
      within seconds instead of at their timeout (``sys.excepthook``, wrapping the one set now).
    - After a timeout, leave without MPI_Finalize, which would wait forever for the dead peer.
      atexit runs handlers last-registered first, so this one (registered after mpi4py's
      import) runs before mpi4py finalizes MPI.
    """
    global _exit_guard_installed
    if not _exit_guard_installed:
        atexit.register(_exit_if_broken)
        sys.excepthook = _abort_on_uncaught(sys.excepthook)
        _exit_guard_installed = True


def _abort_on_uncaught(previous: Any) -> Any:
    """``sys.excepthook`` that reports with ``previous``, then aborts a job of several processes."""

    def hook(kind: type[BaseException], value: BaseException, traceback: Any) -> None:
        previous(kind, value, traceback)
        # A collective already timed out: its error named the missing rank, and exiting lets
        # mpiexec end the rest as before (an abort could cut the launcher's copy of stderr).
        _exit_if_broken()
        from mpi4py import MPI

        if not MPI.Is_initialized() or MPI.Is_finalized():
            return
        comm = MPI.COMM_WORLD
        if comm.Get_size() < 2:
            return
        text = " ".join(str(value).split()).rstrip(".")
        sys.stderr.write(
            f"deepgrad.distributed: rank {comm.Get_rank()} of {comm.Get_size()} raised "
            f"{kind.__name__}{': ' + text if text else ''}; ending every process of the job "
            "(MPI_Abort) so that none waits for this one.\n"
        )
        sys.stdout.flush()
        sys.stderr.flush()
        # The launcher forwards output asynchronously and drops what it has not read yet when
        # the job is aborted: a moment for it to read the traceback above.
        time.sleep(0.3)
        comm.Abort(1)

    return hook


def _exit_if_broken() -> None:
    group = GroupMember.WORLD
    if group is not None and group.broken:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


def _default_group(caller: str) -> ProcessGroup:
    group = GroupMember.WORLD
    if group is None:
        raise RuntimeError(
            f"{caller}: the default process group has not been initialized; call "
            "deepgrad.distributed.init_process_group('mpi') first."
        )
    if group.broken:
        raise RuntimeError(
            f"{caller}: the process group is unusable after an earlier failure ({group.broken}); "
            "exit and restart the job."
        )
    return group


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (default: the world), 0 <= rank < world size."""
    return (group or _default_group("get_rank")).rank


def get_world_size(group: ProcessGroup | None = None) -> int:
    """How many processes ``group`` (default: the world) has."""
    return (group or _default_group("get_world_size")).size


def get_backend(group: ProcessGroup | None = None) -> str:
    """The backend's name: ``"mpi"``."""
    if group is None:
        _default_group("get_backend")
    return Backend.MPI


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Forget the default group, so ``init_process_group`` may run again.

    MPI itself stays initialized until the interpreter exits (mpi4py finalizes it then), since
    MPI cannot be initialized twice in one process.
    """
    if group is not None and group is not GroupMember.WORLD:
        raise ValueError(
            "destroy_process_group: only the default group exists in deepgrad.distributed; call "
            "it with no argument."
        )
    if GroupMember.WORLD is not None and GroupMember.WORLD.broken:
        return  # keep it marked broken: the exit guard must skip MPI_Finalize
    GroupMember.WORLD = None
