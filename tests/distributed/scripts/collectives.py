"""Every collective and point-to-point operation on N ranks, plus DistributedSampler's defaults.

Each rank asserts its own results (exit status non-zero on a failure) and prints them as JSON.
"""

from __future__ import annotations

import datetime

import numpy as np
from _common import emit

import deepgrad as dg
import deepgrad.distributed as dist
from deepgrad.data.distributed import DistributedSampler

dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=20))
rank, world = dist.get_rank(), dist.get_world_size()
ranks = np.arange(world, dtype=np.float32)
base = np.array([1.0, -2.0, 3.0], dtype=np.float32)


def mine(dtype=dg.float32) -> dg.Tensor:
    return dg.tensor(base * (rank + 1), dtype=dtype)


results = {}
for op, expected in [
    (dist.ReduceOp.SUM, base * (ranks + 1).sum()),
    (dist.ReduceOp.AVG, base * (ranks + 1).mean()),
    (dist.ReduceOp.PRODUCT, base**world * np.prod(ranks + 1)),
    (dist.ReduceOp.MAX, np.max(base[None] * (ranks[:, None] + 1), axis=0)),
    (dist.ReduceOp.MIN, np.min(base[None] * (ranks[:, None] + 1), axis=0)),
]:
    t = mine()
    dist.all_reduce(t, op=op)
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-6, err_msg=str(op))
    results[op.name] = t.tolist()

# Integer all_reduce, and the async form with is_completed/wait.
t = dg.tensor([rank + 1, 10], dtype=dg.int64)
work = dist.all_reduce(t, async_op=True)
assert work.wait() is True and work.is_completed()
assert t.tolist() == [world * (world + 1) // 2, 10 * world], t.tolist()
results["int_sum"] = t.tolist()

# broadcast from the last rank, to a non-contiguous view too
t = mine()
dist.broadcast(t, src=world - 1)
np.testing.assert_array_equal(t.numpy(), base * world)
view = dg.tensor(np.arange(12, dtype=np.float32).reshape(3, 4) * (rank + 1)).t()
dist.broadcast(view, src=0)
np.testing.assert_array_equal(view.numpy(), np.arange(12, dtype=np.float32).reshape(3, 4).T)
results["broadcast"] = t.tolist()

# all_gather and all_gather_into_tensor
outs = [dg.zeros(3) for _ in range(world)]
dist.all_gather(outs, mine())
for r, o in enumerate(outs):
    np.testing.assert_array_equal(o.numpy(), base * (r + 1))
flat = dg.zeros(world * 3)
dist.all_gather_into_tensor(flat, mine())
np.testing.assert_array_equal(flat.numpy(), np.concatenate([base * (r + 1) for r in range(world)]))
results["all_gather"] = [o.tolist() for o in outs]

# reduce_scatter: rank r sends (r + 1) * (s + 1) to rank s; rank s gets (s + 1) * sum(r + 1)
out = dg.zeros(2)
inputs = [dg.full((2,), float((rank + 1) * (s + 1))) for s in range(world)]
dist.reduce_scatter(out, inputs, op=dist.ReduceOp.SUM)
np.testing.assert_array_equal(out.numpy(), np.full(2, (rank + 1) * (ranks + 1).sum()))
out2 = dg.zeros(2)
dist.reduce_scatter_tensor(out2, dg.cat(inputs), op=dist.ReduceOp.AVG)
np.testing.assert_allclose(out2.numpy(), np.full(2, (rank + 1) * (ranks + 1).mean()))
results["reduce_scatter"] = out.tolist()

# send / recv around a ring; recv from any source reports the sender
right, left = (rank + 1) % world, (rank - 1) % world
box = dg.zeros(3)
if rank % 2 == 0:
    dist.send(mine(), dst=right)
    sender = dist.recv(box, src=None)
else:
    sender = dist.recv(box)
    dist.send(mine(), dst=right)
assert sender == left, (sender, left)
np.testing.assert_array_equal(box.numpy(), base * (left + 1))
req = dist.isend(mine(), dst=right, tag=7)
got = dg.zeros(3)
rreq = dist.irecv(got, src=left, tag=7)
req.wait()
rreq.wait()
np.testing.assert_array_equal(got.numpy(), base * (left + 1))
results["recv"] = box.tolist()

dist.barrier()

# DistributedSampler with the process group's rank and world size, padded and shuffled
sampler = DistributedSampler(range(11), seed=3)
shards = {}
for epoch in (0, 1):
    sampler.set_epoch(epoch)
    shards[epoch] = list(sampler)
emit(rank=rank, world=world, results=results, shards=shards, len=len(sampler))
dist.destroy_process_group()
