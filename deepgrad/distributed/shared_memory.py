"""All-reduce through MPI-3 shared memory, for a process group whose ranks all run on one node.

``SharedBuffer(size, dtype, group)`` allocates one flat array per rank inside one MPI
shared-memory window (``MPI.Win.Allocate_shared`` on the node's communicator, from
``Split_type(COMM_TYPE_SHARED)``), which every rank of the node maps: each rank reads and
writes the others' arrays with plain loads and stores, without MPI copying the data.
``shared_all_reduce(buffer)`` then sums the ranks' arrays in place:

1. a barrier: every rank has written its contribution into its own array;
2. the arrays are cut into one contiguous chunk per rank (at cache-line boundaries); rank r
   sums chunk r over the ranks, in rank order (``x_0 + x_1 + ... + x_{N-1}``, left to right,
   accumulated in rank 0's array), and copies the sum into every other rank's array: a
   reduce-scatter and an all-gather in one pass, with each sum computed once, so every rank
   holds the same bits;
3. a barrier: every chunk is written; each rank's array holds the sum.

For two ranks the result is bit-identical to MPI's ``Allreduce`` (``a + b == b + a`` exactly);
for more ranks MPI may add in another order, so the two can differ in the last bits.

The barriers are non-blocking (``Ibarrier``) and polled like every other collective, so a dead
peer raises ``DistBackendError`` after the group's timeout. Each buffer has its own duplicate
of the node communicator: the two barriers of one reduction are then always matched with the
same ones on the other ranks, however reductions of several buffers interleave.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.distributed.collectives import Work
from deepgrad.distributed.group import ProcessGroup

__all__ = ["SharedBuffer", "node_communicator", "shared_all_reduce"]

_CACHE_LINE = 64  # bytes: chunks start on a line of their own, so two ranks never write one


def node_communicator(group: ProcessGroup) -> Any:
    """The group's ranks as a communicator whose processes share memory, or None.

    None when the group has no MPI communicator or one process, or when its ranks run on more
    than one node. Collective: every rank of the group must call it (the first call splits the
    communicator; the answer is kept on the group).

    Args:
        group: the process group.

    Returns:
        An mpi4py communicator with the group's ranks in the same order, or None.
    """
    if group.comm is None or group.size == 1:
        return None
    if group.node_comm is None:
        from mpi4py import MPI

        node = group.comm.Split_type(MPI.COMM_TYPE_SHARED, key=group.rank)
        everyone_here = node.Get_size() == group.size
        # Every rank must give the same answer: a node holding all ranks means every one sees it.
        group.node_comm = node if everyone_here else False
        if not everyone_here:
            node.Free()
    return group.node_comm or None


class SharedBuffer:
    """One flat array of ``size`` elements per rank, in a shared-memory window all ranks map.

    Attributes:
        local: this rank's array: write the contribution here; after ``shared_all_reduce`` it
            holds the sum.
        segments: every rank's array, by rank (the others' are readable and writable here).
        group: the process group.

    Args:
        size: the number of elements of each rank's array.
        dtype: the NumPy dtype.
        group: the process group; all its ranks must share a node (``node_communicator``).
            Collective: every rank creates its buffer at the same point, with the same size.
    """

    def __init__(self, size: int, dtype: Any, group: ProcessGroup) -> None:
        node = node_communicator(group)
        if node is None:
            raise RuntimeError(
                f"SharedBuffer: the ranks of {group!r} do not all share one node's memory; use "
                "the MPI all-reduce (all_reduce) for groups that span nodes."
            )
        from mpi4py import MPI

        self.group = group
        self.dtype = np.dtype(dtype)
        self.size = int(size)
        self.comm = node.Dup()
        info = MPI.Info.Create()
        info.Set("alloc_shared_noncontig", "true")  # each rank's array on its own pages
        nbytes = max(self.size, 1) * self.dtype.itemsize
        self.window: Any = MPI.Win.Allocate_shared(
            nbytes, self.dtype.itemsize, info, comm=self.comm
        )
        info.Free()
        self.window.Lock_all(MPI.MODE_NOCHECK)  # the unified model: loads/stores + Sync
        self.segments = [self._segment(r) for r in range(group.size)]
        self.local: Any = self.segments[group.rank]
        line = max(1, _CACHE_LINE // self.dtype.itemsize)
        n, parts = self.size, group.size
        cuts = [(n * r // parts) // line * line for r in range(parts)]
        self.bounds = list(zip(cuts, [*cuts[1:], n]))

    def _segment(self, rank: int) -> np.ndarray:
        memory: Any = self.window.Shared_query(rank)[0]
        return np.frombuffer(memory, self.dtype, self.size)

    def free(self) -> None:
        """Release the window and its communicator (collective: every rank calls it)."""
        if self.window is not None:
            self.segments, self.local = [], None
            self.window.Unlock_all()
            self.window.Free()
            self.comm.Free()
            self.window = None


class _SharedAllReduceWork(Work):
    """The Work of one ``shared_all_reduce``: barrier, sum this rank's chunk, barrier."""

    def __init__(self, buffer: SharedBuffer) -> None:
        buffer.window.Sync()  # this rank's contribution, visible to the others
        super().__init__("all_reduce", buffer.group, [buffer.comm.Ibarrier()])
        self.buffer = buffer
        self._summed = False

    def _test(self) -> bool:
        from mpi4py import MPI

        if not MPI.Request.Testall(self._requests):
            return False
        buffer = self.buffer
        buffer.window.Sync()
        if self._summed:
            return True
        lo, hi = buffer.bounds[buffer.group.rank]
        _sum_chunk(buffer.segments, lo, hi)
        buffer.window.Sync()
        self._summed = True
        self._requests = [buffer.comm.Ibarrier()]
        return False


def _sum_chunk(segments: list[np.ndarray], lo: int, hi: int) -> None:
    """segments[r][lo:hi] = segments[0][lo:hi] + ... + segments[N-1][lo:hi] for every r,
    added left to right in rank order (accumulated in rank 0's array, then copied)."""
    total = segments[0][lo:hi]
    for segment in segments[1:]:
        np.add(total, segment[lo:hi], out=total)
    for segment in segments[1:]:
        segment[lo:hi] = total


def shared_all_reduce(buffer: SharedBuffer, async_op: bool = False) -> Work | None:
    """buffer.local = sum over ranks r of buffer.segments[r], on every rank, in place.

    Args:
        buffer: the shared buffer; every rank has written its contribution into ``local``.
        async_op: return the ``Work`` handle (its ``is_completed`` and ``wait`` advance the
            reduction) instead of waiting. Default: False.

    Returns:
        The ``Work`` handle when ``async_op``, else None.

    Example:
        >>> import deepgrad.distributed as dist
        >>> from deepgrad.distributed.shared_memory import SharedBuffer, shared_all_reduce
        >>> dist.init_process_group("mpi")                   # under mpiexec -n 2:
        >>> buffer = SharedBuffer(3, "float32", dist.GroupMember.WORLD)  # doctest: +SKIP
        >>> buffer.local[:] = dist.get_rank() + 1                        # doctest: +SKIP
        >>> shared_all_reduce(buffer)                                    # doctest: +SKIP
        >>> buffer.local                                                 # doctest: +SKIP
        array([3., 3., 3.], dtype=float32)
        >>> dist.destroy_process_group()
    """
    if buffer.window is None:
        raise RuntimeError(
            "shared_all_reduce: the buffer was freed; create a new SharedBuffer for more "
            "reductions."
        )
    work = _SharedAllReduceWork(buffer)
    if async_op:
        return work
    work.wait()
    return None
