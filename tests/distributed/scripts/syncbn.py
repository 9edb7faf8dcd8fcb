"""SyncBatchNorm on N ranks against BatchNorm on the concatenated batch: outputs, input
gradients, parameter gradients (summed over ranks) and running statistics."""

from __future__ import annotations

import datetime

import numpy as np
from _common import emit

import deepgrad as dg
import deepgrad.distributed as dist
from deepgrad import nn

dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=20))
rank, world = dist.get_rank(), dist.get_world_size()
B, C = 3, 4
data = np.random.default_rng(5)
X = (data.standard_normal((world * B, C, 5)) * 3 + 1).astype(np.float64)
W = data.standard_normal((world * B, C, 5)).astype(np.float64)  # loss = sum(y * W)
mine = slice(rank * B, (rank + 1) * B)

sync = nn.SyncBatchNorm(C, dtype=dg.float64)
plain = nn.BatchNorm1d(C, dtype=dg.float64)
with dg.no_grad():
    for m in (sync, plain):
        m.weight.copy_(dg.tensor(np.linspace(0.5, 2.0, C)))
        m.bias.copy_(dg.tensor(np.linspace(-1.0, 1.0, C)))

for step in range(2):  # two steps: running statistics advance twice
    x = dg.tensor(X[mine] + step, requires_grad=True)
    y = sync(x)
    (y * dg.tensor(W[mine])).sum().backward()
    x_full = dg.tensor(X + step, requires_grad=True)
    y_full = plain(x_full)
    (y_full * dg.tensor(W)).sum().backward()

    np.testing.assert_allclose(
        y.detach().numpy(), y_full.detach().numpy()[mine], rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        x.grad.detach().numpy(), x_full.grad.detach().numpy()[mine], rtol=1e-9, atol=1e-12
    )
for name in ("weight", "bias"):
    g = getattr(sync, name).grad.clone()
    dist.all_reduce(g)  # each rank holds its own loss's share
    np.testing.assert_allclose(
        g.detach().numpy(), getattr(plain, name).grad.detach().numpy(), rtol=1e-9
    )
for name in ("running_mean", "running_var"):
    np.testing.assert_allclose(
        getattr(sync, name).detach().numpy(), getattr(plain, name).detach().numpy(), rtol=1e-10
    )
assert int(sync.num_batches_tracked.item()) == 2
sync.eval()
plain.eval()
np.testing.assert_allclose(
    sync(dg.tensor(X[mine])).detach().numpy(), plain(dg.tensor(X[mine])).detach().numpy()
)

converted = nn.SyncBatchNorm.convert_sync_batchnorm(
    nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
)
assert type(converted[1]).__name__ == "SyncBatchNorm"
emit(rank=rank, ok=True, max_y=float(np.abs(y.detach().numpy()).max()))
dist.destroy_process_group()
