"""DistributedDataParallel: one model replica per process, gradients averaged by bucketed all-reduce.

Each process runs forward and backward on its own share of the batch. During backward, as each
parameter's gradient is final (a post-accumulate-grad hook), it is written into its bucket, a
contiguous flat array holding several parameters' gradients, divided by the world size in the
same pass; when a bucket is full its non-blocking all-reduce (summing: the sum of the divided
gradients is the average) starts at once, while the backward of the earlier layers is still
running (the engine accumulates each leaf as soon as its gradient is final). When every rank
runs on one node, the buckets live in MPI shared memory and are summed there in place
(``shared_memory.shared_all_reduce``); otherwise MPI's ``Iallreduce`` reduces them.
When the last bucket has started, the reductions are waited for in order and the averages
copied back into each ``param.grad`` (or, with ``gradient_as_bucket_view``, each ``.grad``
becomes its view of the bucket), so the optimizer sees gradients that are identical on every
rank.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import get_array_module, is_writeable
from deepgrad.distributed.collectives import ReduceOp, Work, all_reduce, broadcast
from deepgrad.distributed.group import ProcessGroup, _default_group
from deepgrad.distributed.shared_memory import SharedBuffer, node_communicator, shared_all_reduce
from deepgrad.nn.module import Module
from deepgrad.nn.parameter import Parameter

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Several parameters' gradients in one flat array, reduced by one all-reduce.

    ``views[i]`` is parameter i's part of the flat array in the parameter's shape: the
    gradient is written there (scaled by 1 / world size), and with ``gradient_as_bucket_view``
    it becomes the parameter's ``.grad``.
    """

    def __init__(self, params: list[tuple[str, Parameter]], group: ProcessGroup | None) -> None:
        self.names = [name for name, _ in params]
        self.params = [p for _, p in params]
        total = sum(p._data.size for p in self.params)
        self.shared: SharedBuffer | None = None
        if group is not None:  # the bucket lives in a shared-memory window
            self.shared = SharedBuffer(total, self.params[0]._data.dtype, group)
            self.flat = Tensor._make(self.shared.local, None)
        else:
            self.flat = Tensor._make(_empty_like_module(self.params[0]._data, total), None)
        self.views = []
        start = 0
        for p in self.params:
            size = p._data.size
            self.views.append(self.flat._data[start : start + size].reshape(p._data.shape))
            start += size
        self.ready = [False] * len(self.params)
        self.pending = len(self.params)
        self.work: Work | None = None

    def reset(self) -> None:
        self.ready = [False] * len(self.params)
        self.pending = len(self.params)
        self.work = None


def _empty_like_module(array: Any, size: int) -> Any:
    return get_array_module(array).empty(size, array.dtype)


class DistributedDataParallel(Module):
    """Data parallelism over processes: ``y = module(x)``, with gradients averaged over ranks.

    After ``loss.backward()`` every rank's ``param.grad`` holds the mean over ranks of the
    gradients computed there, so an optimizer step keeps the replicas identical. For ranks
    that each see a batch of B samples and a loss that is a mean over the batch, this is the
    gradient of the mean loss over all N*B samples: the same step as one process at batch N*B.

    Args:
        module: the model to replicate; its parameters and buffers are broadcast from rank 0
            when the wrapper is made.
        device_ids: accepted for PyTorch compatibility; the module stays on its own device.
            Default: None.
        output_device: accepted for PyTorch compatibility. Default: None.
        dim: accepted for PyTorch compatibility (inputs are not scattered). Default: 0.
        broadcast_buffers: broadcast the buffers (e.g. batch-norm running statistics) from
            rank 0 at the start of each forward, so every rank evaluates alike. Default: True.
        process_group: the group to average over. Default: the world.
        bucket_cap_mb: the size of a gradient bucket in MiB; smaller buckets start their
            reductions earlier, larger ones need fewer messages. Default: 25.
        find_unused_parameters: allow parameters that get no gradient in a backward pass (their
            contribution is their current ``.grad``, or zeros). Without it, such a parameter
            makes the next forward raise, naming it. Default: False.
        gradient_as_bucket_view: after each synchronized backward, every ``param.grad`` is a
            view of its bucket (no copy back from the bucket), as PyTorch's option; the
            gradient array is then reused by the next synchronized backward, so copy a
            ``.grad`` that must outlive the step. With ``zero_grad(set_to_none=False)`` the
            next backward accumulates straight into the bucket. Default: False.
        shared_memory: how buckets are reduced (a deepgrad option; PyTorch has none). None:
            in MPI shared memory when every rank of the group runs on one node and the
            parameters are NumPy arrays (``shared_memory.shared_all_reduce``: each rank sums
            its share of each bucket straight from the others' memory, then copies the sums
            to them), else with MPI's ``Iallreduce``; True: shared memory, an error where
            impossible; False: always ``Iallreduce``. The same on every rank. Default: None.

    Shape:
        as ``module``.

    Example:
        >>> import deepgrad as dg, deepgrad.distributed as dist
        >>> from deepgrad import nn
        >>> dist.init_process_group("mpi")
        >>> model = dist.DistributedDataParallel(nn.Linear(3, 1))
        >>> model(dg.ones(2, 3)).sum().backward()    # one process: gradients unchanged
        >>> model.module.bias.grad
        tensor([2.])
        >>> sorted(model.state_dict())
        ['module.bias', 'module.weight']
        >>> dist.destroy_process_group()
    """

    def __init__(
        self,
        module: Module,
        device_ids: list | None = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: ProcessGroup | None = None,
        bucket_cap_mb: float = 25,
        find_unused_parameters: bool = False,
        gradient_as_bucket_view: bool = False,
        shared_memory: bool | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel: module must be a deepgrad.nn.Module (got "
                f"{type(module).__name__})."
            )
        if not isinstance(bucket_cap_mb, (int, float)) or bucket_cap_mb <= 0:
            raise ValueError(
                f"DistributedDataParallel: bucket_cap_mb must be a positive number of MiB (got "
                f"{bucket_cap_mb!r}); the default is 25."
            )
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.bucket_cap_mb = bucket_cap_mb
        self.process_group = process_group or _default_group("DistributedDataParallel")
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._sync_module_states()
        shared = self._shared_memory_group(shared_memory, named)
        self._buckets = _make_buckets(named, int(bucket_cap_mb * 2**20), shared)
        self._hook_handles = [
            p.register_post_accumulate_grad_hook(self._grad_ready_hook(b, i))
            for b, bucket in enumerate(self._buckets)
            for i, p in enumerate(bucket.params)
        ]
        self._syncing = False  # this backward pass averages (set by forward)
        self._started = False  # a hook of this pass has run
        self._next_bucket = 0  # buckets start in index order, the same on every rank
        self._reached: set[int] = set()  # ids of the leaves the last forward's output uses

    def _shared_memory_group(
        self, wanted: bool | None, named: list[tuple[str, Parameter]]
    ) -> ProcessGroup | None:
        """The group when the buckets go to shared memory (see ``shared_memory``), else None."""
        if wanted not in (None, True, False):
            raise ValueError(
                f"DistributedDataParallel: shared_memory must be None, True or False (got "
                f"{wanted!r}); None picks shared memory where every rank is on one node."
            )
        group = self.process_group
        if wanted is False or group.size == 1 or not named:
            return None
        on_host = all(isinstance(p._data, np.ndarray) for _, p in named)
        node = node_communicator(group)  # collective: every rank asks
        if wanted and (node is None or not on_host):
            where = "NumPy parameters" if node is not None else "ranks on one node"
            raise ValueError(
                f"DistributedDataParallel: shared_memory=True needs {where} (got {group!r}, "
                f"parameters of type {type(named[0][1]._data).__name__}); pass "
                "shared_memory=None to use MPI's all-reduce there."
            )
        return group if node is not None and on_host else None

    # -- forward ---------------------------------------------------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self._started:
            message = self._unfinished_message()
            self._abandon_pass()
            raise RuntimeError(message)
        self._syncing = GradMode.enabled and self.require_backward_grad_sync
        if self._syncing:
            for bucket in self._buckets:
                bucket.reset()
            self._next_bucket = 0
        if self.broadcast_buffers and self.process_group.size > 1:
            _broadcast_all(list(self.module.buffers()), self.process_group)
        output = self.module(*inputs, **kwargs)
        if self._syncing and self.find_unused_parameters:
            self._reached = _reachable_leaves(output)
        return output

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Skip the gradient all-reduce for the backward passes of forwards run inside.

        Gradients then accumulate locally in ``.grad``; the first synchronized backward after
        the block averages the accumulated sums. Example::

            with ddp.no_sync():
                ddp(x1).mean().backward()      # local only
            ddp(x2).mean().backward()          # averages the sum of both passes' gradients
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # -- backward: buckets -------------------------------------------------------------------
    def _grad_ready_hook(self, bucket_index: int, index: int):
        def hook(param: Tensor) -> None:
            if self._syncing:
                self._mark_ready(bucket_index, index)

        return hook

    def _mark_ready(self, bucket_index: int, index: int) -> None:
        bucket = self._buckets[bucket_index]
        if bucket.ready[index]:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {bucket.names[index]} got a second gradient "
                "in one synchronized step (backward twice after one forward); run forward again "
                "before each backward, or wrap the extra passes in no_sync()."
            )
        if not self._started:
            self._started = True
            if self.find_unused_parameters:
                self._mark_unused_ready(bucket_index, index)
        _pack(bucket.views[index], bucket.params[index], self._scale)
        bucket.ready[index] = True
        bucket.pending -= 1
        self._launch_ready_buckets()

    def _mark_unused_ready(self, bucket_index: int, index: int) -> None:
        """With find_unused_parameters: the parameters the forward's output does not depend on
        get no gradient (and their hooks never run), so they are ready now."""
        for bucket in self._buckets:
            for i, p in enumerate(bucket.params):
                if id(p) not in self._reached:
                    _pack(bucket.views[i], p, self._scale)
                    bucket.ready[i] = True
                    bucket.pending -= 1

    @property
    def _scale(self) -> float:
        """The factor each gradient is multiplied by as it enters its bucket: the all-reduce
        then sums ``g / world_size`` over the ranks, i.e. averages, with no pass after it."""
        return 1.0 / self.process_group.size

    def _launch_ready_buckets(self) -> None:
        """Start the reductions of the buckets that are full, in index order, and give MPI a
        chance to progress those already started (MPICH moves data only inside MPI calls)."""
        buckets = self._buckets
        for bucket in buckets[: self._next_bucket]:
            if bucket.work is not None:
                bucket.work.is_completed()
        while self._next_bucket < len(buckets) and buckets[self._next_bucket].pending == 0:
            bucket = buckets[self._next_bucket]
            if bucket.shared is not None:
                bucket.work = shared_all_reduce(bucket.shared, async_op=True)
            else:
                bucket.work = all_reduce(
                    bucket.flat, ReduceOp.SUM, group=self.process_group, async_op=True
                )
            self._next_bucket += 1
        if self._next_bucket == len(buckets):
            self._finish()

    def _finish(self) -> None:
        """Wait for every bucket (in order) and give each ``.grad`` its average."""
        as_view = self.gradient_as_bucket_view
        for bucket in self._buckets:
            if bucket.work is not None:
                bucket.work.wait()
            for view, p in zip(bucket.views, bucket.params):
                _unpack(view, p, as_view)
        self._started = False

    def _abandon_pass(self) -> None:
        """Complete the reductions already started (every rank started the same ones), so no
        MPI request is left pending, and forget the unfinished pass."""
        for bucket in self._buckets[: self._next_bucket]:
            if bucket.work is not None:
                bucket.work.wait()
        self._started = False
        self._next_bucket = 0

    def _unfinished_message(self) -> str:
        missing = [
            name
            for bucket in self._buckets
            for name, ready in zip(bucket.names, bucket.ready)
            if not ready
        ]
        return (
            "DistributedDataParallel: the previous backward pass did not give a gradient to "
            f"{len(missing)} parameter(s) ({', '.join(missing[:8])}), so their all-reduce "
            "never ran; pass find_unused_parameters=True if some parameters are not used in "
            "every forward, or make the loss depend on all of them."
        )

    def _sync_module_states(self) -> None:
        states = list(self.module.parameters()) + list(self.module.buffers())
        if self.process_group.size > 1:
            _broadcast_all(states, self.process_group)


def _make_buckets(
    named: list[tuple[str, Parameter]], cap_bytes: int, shared: ProcessGroup | None
) -> list[_Bucket]:
    """Parameters in reverse registration order (the order backward tends to finish them),
    cut into buckets of at most ``cap_bytes`` each (a larger parameter gets its own), one
    dtype and device per bucket; in ``shared``'s shared memory when given."""
    buckets: list[_Bucket] = []
    current: list[tuple[str, Parameter]] = []
    size = 0
    for name, p in reversed(named):
        kind = (p._data.dtype, type(p._data))
        if current and (size + p._data.nbytes > cap_bytes or kind != _kind(current[0][1])):
            buckets.append(_Bucket(current, shared))
            current, size = [], 0
        current.append((name, p))
        size += p._data.nbytes
    if current:
        buckets.append(_Bucket(current, shared))
    return buckets


def _kind(p: Parameter) -> tuple:
    return (p._data.dtype, type(p._data))


def _broadcast_all(tensors: list[Tensor], group: ProcessGroup) -> None:
    works = [broadcast(t, 0, group=group, async_op=True) for t in tensors]
    for work in works:
        if work is not None:
            work.wait()


def _reachable_leaves(output: Any) -> set[int]:
    """The ids of the leaf tensors that the tensors in ``output`` (nested in tuples, lists,
    dicts) were computed from: a walk of the autograd graph."""
    from deepgrad.autograd.function import Context

    stack: list[Any] = [output]
    nodes: list[Any] = []
    leaves: set[int] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            if item.grad_fn is not None:
                nodes.append(item.grad_fn)
            elif item._requires_grad:
                leaves.add(id(item))
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    seen: set[int] = set()
    while nodes:
        node = nodes.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for parent in node.parents:
            if type(parent) is Context:
                nodes.append(parent)
            elif parent is not None:
                leaves.add(id(parent))
    return leaves


def _pack(view: Any, p: Parameter, scale: float) -> None:
    """``view = p.grad * scale`` (zeros without a gradient), in one pass over the data; a
    gradient that already is the bucket's view (accumulated in place) is scaled in place."""
    grad = p.grad
    if grad is None:
        view.fill(0)
    elif grad._data is view:
        if scale != 1:
            view *= scale
    elif scale != 1:
        get_array_module(view).multiply(grad._data, scale, out=view, casting="unsafe")
    else:
        view[...] = grad._data


def _unpack(view: Any, p: Parameter, as_view: bool) -> None:
    """Give ``p`` the bucket's average: its ``.grad`` becomes the view (``as_view``), else the
    values are copied into the ``.grad`` array it has (a fresh one if that is not writable)."""
    grad = p.grad
    if grad is not None and grad._data is view:
        return
    if grad is None or (as_view and not grad._requires_grad):
        p.grad = Tensor._make(view if as_view else view.copy(), None)
    elif grad._requires_grad or not is_writeable(grad._data):
        p.grad = Tensor._make(view.copy(), None)
    else:
        grad._data[...] = view
