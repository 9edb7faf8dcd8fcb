"""DistributedDataParallel on N ranks against one process on the whole batch.

Every rank also trains the single-process reference (rank 0's initial weights, batch N*B) and
prints, per step, a digest of its DDP parameters (must be identical on all ranks) and the
largest difference from the reference (must be within float32 tolerance).

``ddp.py shared`` reduces the buckets in MPI shared memory, ``ddp.py mpi`` with MPI's
Iallreduce (DDP's ``shared_memory`` argument).
"""

from __future__ import annotations

import datetime
import hashlib
import sys

import numpy as np
from _common import emit

import deepgrad as dg
import deepgrad.distributed as dist
import deepgrad.distributed.ddp as ddp_module
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import Function
from deepgrad.nn.parallel import DistributedDataParallel
from deepgrad.optim import SGD

dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=20))
rank, world = dist.get_rank(), dist.get_world_size()
SHARED = {"shared": True, "mpi": False}[sys.argv[1]]
B, STEPS = 8, 4
data = np.random.default_rng(0)
X = data.standard_normal((STEPS + 1, world * B, 10)).astype(np.float32)
Y = data.standard_normal((STEPS + 1, world * B, 3)).astype(np.float32)


def mlp(seed: int) -> nn.Module:
    dg.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 3)
    )


def digest(module: nn.Module) -> str:
    h = hashlib.sha256()
    for p in module.parameters():
        h.update(p.detach().numpy().tobytes())
    return h.hexdigest()[:16]


def max_diff(a: nn.Module, b: nn.Module) -> float:
    return max(
        float(np.abs(p.detach().numpy() - q.detach().numpy()).max())
        for p, q in zip(a.parameters(), b.parameters())
    )


mine = slice(rank * B, (rank + 1) * B)
# Different seeds per rank: DDP must broadcast rank 0's initial weights.
ddp = DistributedDataParallel(  # ~600-byte buckets
    mlp(100 + rank), bucket_cap_mb=600 / 2**20, shared_memory=SHARED
)
reference = mlp(100)
opt = SGD(ddp.parameters(), lr=0.1, momentum=0.9)
ref_opt = SGD(reference.parameters(), lr=0.1, momentum=0.9)
# The same training with the gradients as views of the buckets (no copy back); from the
# second step on, zero_grad(set_to_none=False) lets backward accumulate into the buckets.
viewed = DistributedDataParallel(
    mlp(100 + rank), bucket_cap_mb=600 / 2**20, gradient_as_bucket_view=True, shared_memory=SHARED
)
viewed_opt = SGD(viewed.parameters(), lr=0.1, momentum=0.9)
digests, diffs = [digest(ddp.module)], [max_diff(ddp.module, reference)]
viewed_digests, views = [digest(viewed.module)], []
for step in range(STEPS):
    opt.zero_grad()
    F.mse_loss(ddp(dg.tensor(X[step, mine])), dg.tensor(Y[step, mine])).backward()
    opt.step()
    viewed_opt.zero_grad(set_to_none=step == 0)
    F.mse_loss(viewed(dg.tensor(X[step, mine])), dg.tensor(Y[step, mine])).backward()
    views.append(
        all(
            any(np.shares_memory(p.grad.numpy(), b.flat.numpy()) for b in viewed._buckets)
            for p in viewed.parameters()
        )
    )
    viewed_opt.step()
    viewed_digests.append(digest(viewed.module))
    ref_opt.zero_grad()
    F.mse_loss(reference(dg.tensor(X[step])), dg.tensor(Y[step])).backward()
    ref_opt.step()
    digests.append(digest(ddp.module))
    diffs.append(max_diff(ddp.module, reference))

# no_sync: two half batches, the first without communication; with each loss halved the
# averaged accumulated gradient equals the reference's full-batch gradient.
opt.zero_grad()
ref_opt.zero_grad()
x, y = X[STEPS, mine], Y[STEPS, mine]
with ddp.no_sync():
    (F.mse_loss(ddp(dg.tensor(x[: B // 2])), dg.tensor(y[: B // 2])) / 2).backward()
local_grads = [p.grad.detach().numpy().copy() for p in ddp.parameters()]
(F.mse_loss(ddp(dg.tensor(x[B // 2 :])), dg.tensor(y[B // 2 :])) / 2).backward()
F.mse_loss(reference(dg.tensor(X[STEPS])), dg.tensor(Y[STEPS])).backward()
grad_diff = max(
    float(np.abs(p.grad.detach().numpy() - q.grad.detach().numpy()).max())
    for p, q in zip(ddp.parameters(), reference.parameters())
)
# After no_sync the gradients were local: they differ between ranks (different data).
local_digest = hashlib.sha256(b"".join(g.tobytes() for g in local_grads)).hexdigest()[:16]


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Linear(4, 2)
        self.unused = nn.Linear(4, 2)

    def forward(self, x):
        return self.used(x)


dg.manual_seed(1)
branchy = DistributedDataParallel(Branchy(), find_unused_parameters=True, shared_memory=SHARED)
branchy(dg.ones(3, 4) * (rank + 1)).sum().backward()
unused_grad = branchy.module.unused.weight.grad
used_grad = branchy.module.used.weight.grad.detach().numpy()
expected_used = np.full((2, 4), 3.0 * (world + 1) / 2)  # mean over ranks of 3 * (rank + 1)
np.testing.assert_allclose(used_grad, expected_used, rtol=1e-6)
assert unused_grad is not None and not unused_grad.detach().numpy().any()

strict = DistributedDataParallel(Branchy(), shared_memory=SHARED)
strict(dg.ones(3, 4)).sum().backward()
try:
    strict(dg.ones(3, 4))
    unused_error = None
except RuntimeError as exc:
    unused_error = str(exc)


# Overlap: each bucket's all-reduce starts during backward, once its gradients are final.
class Probe(Function, register=False):
    """y = x.   dx = dy, recording in ``events`` that the backward ran."""

    @staticmethod
    def forward(ctx, x, events=None):
        ctx.events = events
        return x.copy()

    @staticmethod
    def backward(ctx, dy):
        ctx.events.append("probe")
        return dy


class ProbeModule(nn.Module):
    def __init__(self, events: list) -> None:
        super().__init__()
        self.events = events

    def forward(self, x):
        return Probe.apply(x, events=self.events)


events: list = []
real_all_reduce, real_shared_all_reduce = ddp_module.all_reduce, ddp_module.shared_all_reduce


def recording_all_reduce(tensor, *args, **kwargs):
    events.append(f"all_reduce of {tensor.numel()}")
    return real_all_reduce(tensor, *args, **kwargs)


def recording_shared_all_reduce(buffer, *args, **kwargs):
    events.append(f"all_reduce of {buffer.size}")
    return real_shared_all_reduce(buffer, *args, **kwargs)


ddp_module.all_reduce = recording_all_reduce
ddp_module.shared_all_reduce = recording_shared_all_reduce
dg.manual_seed(2)
probed = nn.Sequential(
    nn.Linear(10, 32),
    ProbeModule(events),
    nn.Tanh(),
    nn.Linear(32, 16),
    nn.Tanh(),
    nn.Linear(16, 3),
)
overlapped = DistributedDataParallel(probed, bucket_cap_mb=600 / 2**20, shared_memory=SHARED)
F.mse_loss(overlapped(dg.tensor(X[0, mine])), dg.tensor(Y[0, mine])).backward()
ddp_module.all_reduce, ddp_module.shared_all_reduce = real_all_reduce, real_shared_all_reduce
# Which reduction each DDP used, and what the default (shared_memory=None) picks here.
paths = [
    all((b.shared is not None) == SHARED for b in d._buckets) for d in (ddp, viewed, overlapped)
]
auto_shared = all(b.shared is not None for b in DistributedDataParallel(mlp(3))._buckets)

emit(
    rank=rank,
    overlap_events=events,
    buckets=len(ddp._buckets),
    digests=digests,
    viewed_digests=viewed_digests,
    views=views,
    diffs=diffs,
    grad_diff=grad_diff,
    local_digest=local_digest,
    unused_error=unused_error,
    state_keys=sorted(ddp.state_dict())[:2],
    paths=paths,
    auto_shared=auto_shared,
)
dist.destroy_process_group()
