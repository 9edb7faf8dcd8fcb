"""Collectives and point-to-point messages on tensors, over MPI (mpi4py's buffer interface).

Every operation is started non-blocking (``Iallreduce``, ``Ibcast`` ...) and then waited on by
polling ``Request.Test``, so a wait that outlasts the process group's ``timeout`` raises
``DistBackendError`` naming the operation and the ranks instead of hanging on a dead peer.
``async_op=True`` returns the ``Work`` handle instead of waiting.

CPU tensors are handed to MPI as they are: contiguous NumPy arrays, reduced in place
(``MPI.IN_PLACE``), with no copies beyond MPI's own. CuPy (CUDA) tensors are staged through host
memory: copied to a NumPy array, sent, and copied back when the operation completes.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import get_array_module
from deepgrad.distributed.group import ProcessGroup, _default_group

__all__ = [
    "DistBackendError",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "barrier",
    "broadcast",
    "irecv",
    "isend",
    "recv",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "send",
]


class DistBackendError(RuntimeError):
    """A collective or message failed in the backend: a timeout, a dead or stuck peer."""


class ReduceOp(enum.Enum):
    """How ``all_reduce`` and ``reduce_scatter`` combine the ranks' values, elementwise."""

    SUM = "sum"
    AVG = "avg"  # the sum divided by the world size (done after MPI's sum)
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


def _mpi_op(op: ReduceOp, group: ProcessGroup, caller: str) -> Any:
    """MPI's operation for ``op`` (None for the one-process group without MPI)."""
    if not isinstance(op, ReduceOp):
        raise TypeError(
            f"{caller}: op must be a deepgrad.distributed.ReduceOp (got {op!r}); use one of "
            f"{', '.join('ReduceOp.' + o.name for o in ReduceOp)}."
        )
    if group.comm is None:
        return None
    from mpi4py import MPI

    return {
        ReduceOp.SUM: MPI.SUM,
        ReduceOp.AVG: MPI.SUM,
        ReduceOp.PRODUCT: MPI.PROD,
        ReduceOp.MIN: MPI.MIN,
        ReduceOp.MAX: MPI.MAX,
    }[op]


class Work:
    """The handle of a started operation: ``wait()`` blocks until it is done (or times out).

    ``is_completed()`` tests without blocking. When the requests complete, the finishing step
    runs once (division for ``ReduceOp.AVG``, copies back to CuPy or into an output list).
    """

    def __init__(
        self,
        name: str,
        group: ProcessGroup,
        requests: list,
        finish: Callable[[], None] | None = None,
        peers: Sequence[int] | None = None,
    ) -> None:
        self.name = name
        self.group = group
        self._requests = requests
        self._finish = finish
        self._peers = peers
        self._done = False
        self.status: Any = None  # an MPI.Status for a receive, to learn the sender

    @property
    def source(self) -> int:
        """The sender's rank, for a completed receive."""
        return self.status.Get_source()

    def _test(self) -> bool:
        if self.status is not None and self._requests:
            return self._requests[0].Test(self.status)
        return _test_all(self._requests)

    def is_completed(self) -> bool:
        """Whether the operation finished (its results are then in place)."""
        if not self._done and self._test():
            self._complete()
        return self._done

    def wait(self, timeout: Any = None) -> bool:
        """Block until done; raise DistBackendError after the group's timeout (or ``timeout``).

        Args:
            timeout: a ``datetime.timedelta`` overriding the group's timeout for this wait.

        Returns:
            True, as PyTorch's ``Work.wait``.
        """
        if self._done:
            return True
        limit = (timeout or self.group.timeout).total_seconds()
        _poll(limit, self)
        self._complete()
        return True

    def _complete(self) -> None:
        self._done = True
        self._requests = []
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()

    def timeout_error(self, seconds: float) -> DistBackendError:
        """The DistBackendError for a wait that ran past ``seconds``; marks the group broken.

        The message names the operation, this rank and the peers it waited for, and says how to
        recover. Setting ``group.broken`` makes later collectives on the group refuse to run.

        Args:
            seconds: the timeout that expired, for the message.

        Returns:
            The error, for the caller to raise.
        """
        group = self.group
        peers = self._peers
        if peers is None:
            peers = [r for r in range(group.size) if r != group.rank]
        who = "rank" if len(peers) == 1 else "ranks"
        message = (
            f"{self.name}: timed out after {seconds:g} s on {group.rank_text()} waiting for "
            f"{who} {', '.join(map(str, peers))}; a peer died, hangs, or did not call "
            f"{self.name}. The process group is now unusable: exit, and restart from the last "
            "checkpoint (raise the timeout in init_process_group if the peers are only slow)."
        )
        group.broken = message
        return DistBackendError(message)


def _test_all(requests: list) -> bool:
    if not requests:
        return True
    from mpi4py import MPI

    return MPI.Request.Testall(requests)


def _poll(limit: float, work: Work) -> None:
    """Test the work's requests until all complete; raise the work's timeout error after ``limit`` s.

    The first millisecond spins (MPI progresses its shared-memory transfers inside Test); after
    that each test is followed by a short sleep, so a rank that waits long leaves its core to
    the ones still computing.
    """
    start = time.monotonic()
    spins = 0
    while not work._test():
        spins += 1
        if spins % 64:
            continue
        elapsed = time.monotonic() - start
        if elapsed > limit:
            raise work.timeout_error(limit)
        if elapsed > 1e-3:
            time.sleep(min(elapsed / 20, 1e-3))


# -- tensors as MPI buffers --------------------------------------------------------------------
class _Buffer:
    """A tensor's data as an MPI buffer: the array itself when possible, else a host copy.

    ``host`` is what MPI reads and writes; ``write_back()`` copies it into the tensor when it
    is a staging copy (CuPy array, non-contiguous view) and counts an in-place change.
    """

    def __init__(self, tensor: Tensor, caller: str, argument: str) -> None:
        if not isinstance(tensor, Tensor):
            raise TypeError(
                f"{caller}: {argument} must be a deepgrad Tensor (got {type(tensor).__name__})."
            )
        self.tensor = tensor
        array = tensor._data
        self.staged = not (
            isinstance(array, np.ndarray) and array.flags.c_contiguous and array.flags.writeable
        )
        if not self.staged:
            self.host = array
        elif isinstance(array, np.ndarray):
            self.host = np.ascontiguousarray(array).copy()
        else:  # CuPy: no CUDA-aware MPI path, so the data goes through host memory
            self.host = array.get()

    def write_back(self) -> None:
        if self.staged:
            array = self.tensor._data
            if isinstance(array, np.ndarray):
                if not array.flags.writeable:
                    self.tensor._data = array = array.copy()
                array[...] = self.host
            else:
                array[...] = get_array_module(array).asarray(self.host)
        self.tensor._version += 1


def _check_rank(rank: int, group: ProcessGroup, caller: str, argument: str) -> int:
    if not isinstance(rank, (int, np.integer)) or not 0 <= rank < group.size:
        raise ValueError(
            f"{caller}: {argument} must be a rank in [0, {group.size}) (got {rank!r}); the world "
            f"has {group.size} processes."
        )
    return int(rank)


def _run(work: Work, async_op: bool) -> Work | None:
    if async_op:
        return work
    work.wait()
    return None


def _same_layout(tensors: Sequence[Tensor], like: Tensor, caller: str, argument: str) -> None:
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor) or t.shape != like.shape or t.dtype != like.dtype:
            got = (t.shape, t.dtype) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(
                f"{caller}: {argument}[{i}] must be a Tensor of shape {like.shape} and dtype "
                f"{like.dtype} (got {got}); give one tensor per rank, all alike."
            )


# -- collectives -------------------------------------------------------------------------------
def all_reduce(
    tensor: Tensor,
    op: ReduceOp = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """tensor = op(tensor on rank 0, ..., tensor on rank N-1), elementwise, on every rank, in place.

    Args:
        tensor: the same shape and dtype on every rank; overwritten with the result.
        op: ``ReduceOp.SUM`` (default), ``AVG``, ``PRODUCT``, ``MIN`` or ``MAX``.
        group: the process group. Default: the world.
        async_op: return a ``Work`` handle instead of waiting. Default: False.

    Returns:
        The ``Work`` handle when ``async_op``, else None.

    Example:
        >>> import deepgrad as dg, deepgrad.distributed as dist
        >>> dist.init_process_group("mpi")
        >>> t = dg.tensor([1.0, 2.0])
        >>> dist.all_reduce(t, op=dist.ReduceOp.AVG)   # one process: the average is itself
        >>> t
        tensor([1., 2.])
        >>> dist.destroy_process_group()
    """
    group = group or _default_group("all_reduce")
    buffer = _Buffer(tensor, "all_reduce", "tensor")
    mpi_op = _mpi_op(op, group, "all_reduce")
    requests = []
    if group.comm is not None:
        from mpi4py import MPI

        requests.append(group.comm.Iallreduce(MPI.IN_PLACE, buffer.host, mpi_op))

    def finish() -> None:
        if op is ReduceOp.AVG:
            _divide(buffer.host, group.size)
        buffer.write_back()

    return _run(Work("all_reduce", group, requests, finish), async_op)


def _divide(array: np.ndarray, size: int) -> None:
    if array.dtype.kind in "fc":
        array /= size
    else:
        array //= size  # PyTorch rounds the integer average down as well


def broadcast(
    tensor: Tensor, src: int, group: ProcessGroup | None = None, async_op: bool = False
) -> Work | None:
    """tensor = tensor on rank ``src``, on every rank, in place.

    Args:
        tensor: the data to send on ``src``; overwritten on the other ranks.
        src: the rank that sends.
        group: the process group. Default: the world.
        async_op: return a ``Work`` handle instead of waiting. Default: False.
    """
    group = group or _default_group("broadcast")
    src = _check_rank(src, group, "broadcast", "src")
    buffer = _Buffer(tensor, "broadcast", "tensor")
    requests = [] if group.comm is None else [group.comm.Ibcast(buffer.host, root=src)]
    peers = None if group.rank == src else [src]
    return _run(Work("broadcast", group, requests, buffer.write_back, peers), async_op)


def all_gather(
    tensor_list: list[Tensor],
    tensor: Tensor,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """tensor_list[r] = tensor on rank r, for every rank r, on every rank.

    Args:
        tensor_list: one tensor per rank, each of ``tensor``'s shape and dtype; overwritten.
        tensor: this rank's contribution.
        group: the process group. Default: the world.
        async_op: return a ``Work`` handle instead of waiting. Default: False.
    """
    group = group or _default_group("all_gather")
    send = _Buffer(tensor, "all_gather", "tensor")
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != group.size:
        got = len(tensor_list) if isinstance(tensor_list, (list, tuple)) else type(tensor_list)
        raise ValueError(
            f"all_gather: tensor_list must hold one tensor per rank ({group.size}) (got {got})."
        )
    _same_layout(tensor_list, tensor, "all_gather", "tensor_list")
    gathered = np.empty((group.size, *send.host.shape), dtype=send.host.dtype)
    if group.comm is None:
        gathered[0] = send.host
        requests = []
    else:
        requests = [group.comm.Iallgather(send.host, gathered)]

    def finish() -> None:
        for out, part in zip(tensor_list, gathered):
            _assign(out, part)

    return _run(Work("all_gather", group, requests, finish), async_op)


def all_gather_into_tensor(
    output_tensor: Tensor,
    input_tensor: Tensor,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """output_tensor = concatenate(input_tensor of rank 0, ..., rank N-1) along dim 0.

    Args:
        output_tensor: ``world_size`` times ``input_tensor``'s size, written in place (no copy
            on CPU: MPI gathers straight into it).
        input_tensor: this rank's contribution.
        group: the process group. Default: the world.
        async_op: return a ``Work`` handle instead of waiting. Default: False.
    """
    group = group or _default_group("all_gather_into_tensor")
    send = _Buffer(input_tensor, "all_gather_into_tensor", "input_tensor")
    out = _Buffer(output_tensor, "all_gather_into_tensor", "output_tensor")
    if out.host.size != send.host.size * group.size or out.host.dtype != send.host.dtype:
        raise ValueError(
            f"all_gather_into_tensor: output_tensor must have world_size ({group.size}) times "
            f"the input's elements and its dtype (got output {output_tensor.shape} "
            f"{output_tensor.dtype}, input {input_tensor.shape} {input_tensor.dtype})."
        )
    if group.comm is None:
        out.host.reshape(-1)[...] = send.host.reshape(-1)
        requests = []
    else:
        requests = [group.comm.Iallgather(send.host, out.host)]
    return _run(Work("all_gather_into_tensor", group, requests, out.write_back), async_op)


def reduce_scatter(
    output: Tensor,
    input_list: list[Tensor],
    op: ReduceOp = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """output on rank r = op over ranks of input_list[r]: reduce, then keep this rank's part.

    Args:
        output: written in place; the shape and dtype of each ``input_list`` entry.
        input_list: one tensor per rank; entry r is this rank's contribution to rank r.
        op: how to combine. Default: ``ReduceOp.SUM``.
        group: the process group. Default: the world.
        async_op: return a ``Work`` handle instead of waiting. Default: False.
    """
    group = group or _default_group("reduce_scatter")
    out = _Buffer(output, "reduce_scatter", "output")
    if not isinstance(input_list, (list, tuple)) or len(input_list) != group.size:
        got = len(input_list) if isinstance(input_list, (list, tuple)) else type(input_list)
        raise ValueError(
            f"reduce_scatter: input_list must hold one tensor per rank ({group.size}) (got {got})."
        )
    _same_layout(input_list, output, "reduce_scatter", "input_list")
    packed = np.stack([_host(t) for t in input_list])
    return _reduce_scatter_block(packed, out, op, group, "reduce_scatter", async_op)


def reduce_scatter_tensor(
    output: Tensor,
    input: Tensor,
    op: ReduceOp = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """output on rank r = op over ranks of the r-th of ``world_size`` equal chunks of ``input``.

    Args:
        output: written in place; ``input``'s size divided by the world size.
        input: this rank's contributions to every rank, concatenated along dim 0.
        op: how to combine. Default: ``ReduceOp.SUM``.
        group: the process group. Default: the world.
        async_op: return a ``Work`` handle instead of waiting. Default: False.
    """
    group = group or _default_group("reduce_scatter_tensor")
    out = _Buffer(output, "reduce_scatter_tensor", "output")
    send = _Buffer(input, "reduce_scatter_tensor", "input")
    if send.host.size != out.host.size * group.size or send.host.dtype != out.host.dtype:
        raise ValueError(
            f"reduce_scatter_tensor: input must have world_size ({group.size}) times the output's "
            f"elements and its dtype (got input {input.shape} {input.dtype}, output "
            f"{output.shape} {output.dtype})."
        )
    return _reduce_scatter_block(send.host, out, op, group, "reduce_scatter_tensor", async_op)


def _reduce_scatter_block(packed, out: _Buffer, op, group, name: str, async_op: bool):
    mpi_op = _mpi_op(op, group, name)
    if group.comm is None:
        out.host.reshape(-1)[...] = packed.reshape(-1)
        requests = []
    else:
        requests = [group.comm.Ireduce_scatter_block(packed, out.host, mpi_op)]

    def finish() -> None:
        if op is ReduceOp.AVG:
            _divide(out.host, group.size)
        out.write_back()

    return _run(Work(name, group, requests, finish), async_op)


def barrier(group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Wait until every rank of the group has reached its barrier (or the timeout passes)."""
    group = group or _default_group("barrier")
    requests = [] if group.comm is None else [group.comm.Ibarrier()]
    return _run(Work("barrier", group, requests), async_op)


# -- point to point ----------------------------------------------------------------------------
def isend(tensor: Tensor, dst: int, group: ProcessGroup | None = None, tag: int = 0) -> Work:
    """Start sending ``tensor`` to rank ``dst``; the returned Work completes when it is sent."""
    group = group or _default_group("isend")
    dst = _check_peer(dst, group, "isend", "dst")
    buffer = _Buffer(tensor, "isend", "tensor")
    request = group.comm.Isend(buffer.host, dest=dst, tag=tag)
    return Work(f"send to rank {dst}", group, [request], None, [dst])


def irecv(
    tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0
) -> Work:
    """Start receiving into ``tensor`` from rank ``src`` (None: any rank).

    After ``wait()``, ``work.source`` is the sender's rank.
    """
    from mpi4py import MPI

    group = group or _default_group("irecv")
    if src is not None:
        src = _check_peer(src, group, "irecv", "src")
    buffer = _Buffer(tensor, "irecv", "tensor")
    source = MPI.ANY_SOURCE if src is None else src
    request = group.comm.Irecv(buffer.host, source=source, tag=tag)
    name = f"recv from rank {'any' if src is None else src}"
    work = Work(name, group, [request], buffer.write_back, None if src is None else [src])
    work.status = MPI.Status()
    return work


def send(tensor: Tensor, dst: int, group: ProcessGroup | None = None, tag: int = 0) -> None:
    """Send ``tensor`` to rank ``dst`` and wait until it is sent (or the timeout passes)."""
    isend(tensor, dst, group, tag).wait()


def recv(
    tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0
) -> int:
    """Receive into ``tensor`` from rank ``src`` (None: any rank); return the sender's rank."""
    work = irecv(tensor, src, group, tag)
    work.wait()
    return work.source


def _check_peer(rank: int, group: ProcessGroup, caller: str, argument: str) -> int:
    if group.comm is None or group.size == 1:
        raise ValueError(
            f"{caller}: a one-process group has no other rank to talk to (got {argument}={rank}); "
            "launch with mpiexec -n N, N >= 2."
        )
    rank = _check_rank(rank, group, caller, argument)
    if rank == group.rank:
        raise ValueError(
            f"{caller}: {argument} is this process's own rank ({rank}); pass another rank."
        )
    return rank


def _host(tensor: Tensor) -> np.ndarray:
    array = tensor._data
    return array if isinstance(array, np.ndarray) else array.get()


def _assign(tensor: Tensor, values: np.ndarray) -> None:
    array = tensor._data
    if isinstance(array, np.ndarray):
        if not array.flags.writeable:
            tensor._data = array = array.copy()
        array[...] = values
    else:
        array[...] = get_array_module(array).asarray(values)
    tensor._version += 1
