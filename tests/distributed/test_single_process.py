"""deepgrad.distributed in one process (no mpiexec), with and without mpi4py: world size 1."""

from __future__ import annotations

import datetime
import sys

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.distributed as dist
import deepgrad.distributed.ddp as ddp_module
from deepgrad import nn
from deepgrad.autograd import Function
from deepgrad.data.distributed import DistributedSampler


@pytest.fixture(params=["mpi4py", "no-mpi4py"])
def world(request, monkeypatch):
    """A one-process default group: MPI's singleton when mpi4py is here, else no MPI at all."""
    if request.param == "mpi4py":
        pytest.importorskip("mpi4py")
    else:
        monkeypatch.setitem(sys.modules, "mpi4py", None)  # `from mpi4py import MPI` fails
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=5))
    yield dist.GroupMember.WORLD
    dist.destroy_process_group()


def test_one_process_is_rank_0_of_1(world):
    assert dist.is_initialized() and dist.is_available()
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "mpi")
    with pytest.raises(RuntimeError, match="already initialized"):
        dist.init_process_group("mpi")


def test_collectives_of_one_process_return_their_input(world):
    for op in dist.ReduceOp:
        t = dg.tensor([1.0, -2.0])
        assert dist.all_reduce(t, op=op) is None
        assert t.tolist() == [1.0, -2.0]
    t = dg.tensor([4, 6])
    work = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    assert work.wait() and work.is_completed() and t.tolist() == [4, 6]
    dist.broadcast(t, src=0)
    outs = [dg.zeros(2)]
    dist.all_gather(outs, dg.tensor([1.0, 2.0]))
    assert outs[0].tolist() == [1.0, 2.0]
    out = dg.zeros(2)
    dist.reduce_scatter(out, [dg.tensor([3.0, 5.0])])
    assert out.tolist() == [3.0, 5.0]
    dist.barrier()


def test_bad_arguments_name_the_fix(world):
    with pytest.raises(ValueError, match=r"broadcast: src must be a rank in \[0, 1\) \(got 1\)"):
        dist.broadcast(dg.zeros(2), src=1)
    with pytest.raises(TypeError, match="all_reduce: op must be a deepgrad.distributed.ReduceOp"):
        dist.all_reduce(dg.zeros(2), op="sum")
    with pytest.raises(ValueError, match="one tensor per rank"):
        dist.all_gather([dg.zeros(2), dg.zeros(2)], dg.zeros(2))
    with pytest.raises(ValueError, match="no other rank"):
        dist.send(dg.zeros(2), dst=0)
    with pytest.raises(TypeError, match="tensor must be a deepgrad Tensor"):
        dist.all_reduce(np.zeros(2))


def test_shared_memory_needs_several_ranks_on_one_node(world):
    from deepgrad.distributed.shared_memory import SharedBuffer, node_communicator

    assert node_communicator(world) is None  # one process: nothing to share
    with pytest.raises(RuntimeError, match="SharedBuffer: the ranks of .* do not all share"):
        SharedBuffer(4, np.float32, world)
    with pytest.raises(ValueError, match="shared_memory must be None, True or False"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 1), shared_memory="yes")
    ddp = nn.parallel.DistributedDataParallel(nn.Linear(2, 1), shared_memory=True)
    assert all(b.shared is None for b in ddp._buckets)  # one process reduces nothing


def test_ddp_of_one_process_is_the_module(world):
    dg.manual_seed(0)
    plain = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    dg.manual_seed(0)
    ddp = nn.parallel.DistributedDataParallel(
        nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), bucket_cap_mb=1e-4
    )
    x = dg.randn(5, 3)
    plain(x).square().sum().backward()
    ddp(x).square().sum().backward()
    for p, q in zip(plain.parameters(), ddp.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert list(ddp.state_dict()) == ["module." + k for k in plain.state_dict()]
    with ddp.no_sync():
        ddp(x).sum().backward()  # accumulates, no communication


def test_ddp_gradient_as_bucket_view_writes_gradients_into_the_buckets(world):
    dg.manual_seed(0)
    plain = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    dg.manual_seed(0)
    ddp = nn.parallel.DistributedDataParallel(
        nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)),
        bucket_cap_mb=1e-4,
        gradient_as_bucket_view=True,
    )
    x = dg.randn(5, 3)
    flats = [b.flat.numpy() for b in ddp._buckets]
    for _ in range(2):  # the second pass accumulates straight into the buckets' views
        plain(x).square().sum().backward()
        ddp(x).square().sum().backward()
        for p, q in zip(plain.parameters(), ddp.parameters()):
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
            assert any(np.shares_memory(q.grad.numpy(), f) for f in flats)
    grads = [q.grad for q in ddp.parameters()]
    with ddp.no_sync():
        ddp(x).sum().backward()  # accumulates in place, in the buckets
    assert all(q.grad is g for q, g in zip(ddp.parameters(), grads))
    for q in ddp.parameters():
        q.grad = None  # zero_grad(set_to_none=True): the next pass copies in once
    ddp(x).square().sum().backward()
    plain.zero_grad()
    plain(x).square().sum().backward()
    for p, q in zip(plain.parameters(), ddp.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
        assert any(np.shares_memory(q.grad.numpy(), f) for f in flats)


class _Probe(Function, register=False):
    """y = x.   dx = dy, and the backward records ``name`` in ``events``."""

    @staticmethod
    def forward(ctx, x, events=None, name=""):
        ctx.events, ctx.name = events, name
        return x.copy()

    @staticmethod
    def backward(ctx, dy):
        ctx.events.append(ctx.name)
        return dy


class _ProbeModule(nn.Module):
    def __init__(self, events: list, name: str) -> None:
        super().__init__()
        self.events, self.name = events, name

    def forward(self, x):
        return _Probe.apply(x, events=self.events, name=self.name)


def test_ddp_starts_each_bucket_during_backward(world, monkeypatch):
    events: list = []
    real_all_reduce = ddp_module.all_reduce

    def recording_all_reduce(tensor, *args, **kwargs):
        events.append(f"all_reduce of {tensor.numel()}")
        return real_all_reduce(tensor, *args, **kwargs)

    monkeypatch.setattr(ddp_module, "all_reduce", recording_all_reduce)
    dg.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(3, 4), _ProbeModule(events, "backward between the layers"), nn.Linear(4, 2)
    )
    # 40-byte buckets: [layer 2's bias and weight], [layer 1's bias], [layer 1's weight]
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=40 / 2**20)
    x = _Probe.apply(dg.randn(5, 3, requires_grad=True), events=events, name="input's backward")
    ddp(x).square().sum().backward()
    assert events == [
        "all_reduce of 10",  # layer 2's gradients are final: reduced while layer 1 differentiates
        "backward between the layers",
        "all_reduce of 4",
        "all_reduce of 12",
        "input's backward",  # the graph's first node runs after every bucket has started
    ]
    assert all(p.grad is not None for p in ddp.parameters())


def test_sync_batchnorm_of_one_process_is_batchnorm(world):
    x = dg.randn(6, 3)
    sync, plain = nn.SyncBatchNorm(3), nn.BatchNorm1d(3)
    np.testing.assert_allclose(sync(x).detach().numpy(), plain(x).detach().numpy())
    np.testing.assert_allclose(sync.running_var.numpy(), plain.running_var.numpy())


def test_sampler_takes_rank_and_world_size_from_the_group(world):
    sampler = DistributedSampler(range(5), shuffle=False)
    assert (sampler.num_replicas, sampler.rank, list(sampler)) == (1, 0, [0, 1, 2, 3, 4])


def test_without_a_group_the_calls_say_to_initialize():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match=r"get_rank: .*init_process_group\('mpi'\)"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="DistributedSampler|get_world_size"):
        DistributedSampler(range(4))


def test_init_refuses_what_it_cannot_do(monkeypatch):
    with pytest.raises(ValueError, match="unknown backend 'nccl'"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="positive datetime.timedelta"):
        dist.init_process_group("mpi", timeout=5)
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setenv("PMI_SIZE", "4")
    with pytest.raises(RuntimeError, match="mpi4py is not installed"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_sampler_pads_and_drops_like_pytorch():
    shards = [list(DistributedSampler(range(10), 3, r, shuffle=False)) for r in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    dropped = [
        list(DistributedSampler(range(10), 3, r, shuffle=False, drop_last=True)) for r in range(3)
    ]
    assert dropped == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    for epoch in range(3):
        parts = []
        for r in range(4):
            s = DistributedSampler(range(13), 4, r, seed=7)
            s.set_epoch(epoch)
            parts.append(list(s))
        together = [i for p in parts for i in p]
        assert set(together) == set(range(13)) and len(together) == 16  # 3 padded repeats
    with pytest.raises(
        ValueError, match=r"invalid rank 3, rank should be in the interval \[0, 2\]"
    ):
        DistributedSampler(range(4), num_replicas=3, rank=3)


def test_utils_data_reexports_the_sampler():
    from deepgrad.utils.data import DistributedSampler as A
    from deepgrad.utils.data.distributed import DistributedSampler as B

    assert A is B is DistributedSampler


def test_post_accumulate_grad_hook_sees_the_accumulated_grad():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    assert seen == [[3.0, 3.0], [6.0, 6.0]]
    handle.remove()
    (w * 3).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="only a leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
