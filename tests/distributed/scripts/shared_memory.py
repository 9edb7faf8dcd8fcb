"""shared_memory.shared_all_reduce on N ranks: exact sums in rank order, several buffers at once.

Each rank asserts its own results (exit status non-zero on a failure) and prints them as JSON.
"""

from __future__ import annotations

import datetime
import hashlib

import numpy as np
from _common import emit

import deepgrad.distributed as dist
from deepgrad.distributed.shared_memory import SharedBuffer, node_communicator, shared_all_reduce

dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=20))
group = dist.GroupMember.WORLD
rank, world = dist.get_rank(), dist.get_world_size()
assert node_communicator(group) is not None  # every rank of the test runs on this machine


def contribution(r: int, size: int, dtype: str, seed: int) -> np.ndarray:
    values = np.random.default_rng([seed, r]).standard_normal(size) * 10**r
    return values.astype(dtype)


def rank_order_sum(size: int, dtype: str, seed: int) -> np.ndarray:
    total = contribution(0, size, dtype, seed)
    for r in range(1, world):
        total = total + contribution(r, size, dtype, seed)  # left to right, in the dtype
    return total


digests = {}
# Sizes below, at and across the 64-byte chunk boundaries (some ranks get an empty chunk).
for seed, (size, dtype) in enumerate(
    [(1, "float32"), (5, "float64"), (17, "float32"), (1000, "float32"), (4099, "int64")]
):
    buffer = SharedBuffer(size, dtype, group)
    for step in range(3):  # the same window, reused: each reduction sees only its own data
        buffer.local[:] = contribution(rank, size, dtype, 10 * seed + step)
        shared_all_reduce(buffer)
        expected = rank_order_sum(size, dtype, 10 * seed + step)
        assert buffer.local.tobytes() == expected.tobytes(), (size, dtype, step)
    digests[f"{size} {dtype}"] = hashlib.sha256(buffer.local.tobytes()).hexdigest()[:16]
    buffer.free()

# Several reductions in flight, waited for in the reverse order, tested in between.
buffers = [SharedBuffer(300 + 64 * i, "float32", group) for i in range(3)]
for i, b in enumerate(buffers):
    b.local[:] = rank + i
works = [shared_all_reduce(b, async_op=True) for b in buffers]
works[1].is_completed()
for work in reversed(works):
    assert work.wait() is True and work.is_completed()
for i, b in enumerate(buffers):
    assert (b.local == sum(r + i for r in range(world))).all(), i

freed = buffers[0]
freed.free()
try:
    shared_all_reduce(freed)
    freed_error = None
except RuntimeError as exc:
    freed_error = str(exc)

emit(rank=rank, world=world, digests=digests, freed_error=freed_error)
dist.destroy_process_group()
