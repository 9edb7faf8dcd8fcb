"""The Trainer on N ranks (N = 1 too): DDP, a DistributedSampler, checkpoints by rank 0.

Usage: trainer.py MODE OUT [EPOCHS]
  fit     train EPOCHS epochs (checkpoints every 2 steps under OUT/rank<r>); resume from OUT/rank0
          when it holds a checkpoint (a restarted job, any number of processes)
  signal  as fit, but rank <last> gets a SIGTERM at step 5: every rank stops after one step
  stop    early stopping after epoch 2, and a NaN loss on the last rank only at step 3
          (nan_policy='skip_step': every rank skips that step)
  kill    the last rank dies at step 5 (the others must fail within the 1.5 s timeout)
  raise   the last rank's loss raises ValueError at step 5 (uncaught: the job must end at
          once, long before the 120 s timeout)
Each rank prints one JSON line: its history, weights digest, files written.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import signal
import sys
from pathlib import Path

import numpy as np
from _common import emit

import deepgrad as dg
import deepgrad.distributed as dist
from deepgrad import nn
from deepgrad.data import DataLoader, Subset, TensorDataset
from deepgrad.data.distributed import DistributedSampler
from deepgrad.train import Callback, CSVLogger, EarlyStopping, ModelCheckpoint, Trainer

mode, out = sys.argv[1], Path(sys.argv[2])
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
timeout = {"kill": 1.5, "raise": 120.0}.get(mode, 30.0)
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=timeout))
rank, size = dist.get_rank(), dist.get_world_size()
last = size - 1

data_rng = np.random.default_rng(0)
x = data_rng.standard_normal((48, 3)).astype(np.float32)
y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
train_set = TensorDataset(dg.tensor(x[:36]), dg.tensor(y[:36]))
val_set = TensorDataset(dg.tensor(x[36:]), dg.tensor(y[36:]))

dg.manual_seed(1)
model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
ddp = dist.DistributedDataParallel(model, bucket_cap_mb=1e-4)
opt = dg.optim.SGD(ddp.parameters(), lr=0.3, momentum=0.5)
sampler = DistributedSampler(train_set, seed=3)  # shuffled, the same order for any world size
train = DataLoader(train_set, batch_size=12 // size, sampler=sampler)
val = DataLoader(Subset(val_set, range(rank, len(val_set), size)), batch_size=5)


class Fault(Callback):
    """What goes wrong on the last rank, by mode."""

    def on_batch_start(self, trainer, logs):
        if rank == last and size > 1 and trainer.global_step + 1 == 5:
            if mode == "kill":
                os._exit(3)  # dies without a word to MPI
            if mode == "signal":
                os.kill(os.getpid(), signal.SIGTERM)


def loss_fn(output, target):
    loss = nn.functional.cross_entropy(output, target)
    if mode == "stop" and rank == last and size > 1 and trainer.global_step + 1 == 3:
        return loss * float("nan")  # a NaN on one rank only
    if mode == "raise" and rank == last and size > 1 and trainer.global_step + 1 == 5:
        raise ValueError("a bad batch on the last rank")
    return loss


folder = out / f"rank{rank}"
if rank == 0:
    folder.mkdir(parents=True, exist_ok=True)  # CSVLogger on another rank would fail: none runs
checkpoint = ModelCheckpoint(folder / "best.safetensors", save_last=True, every_n_steps=2)
callbacks = [CSVLogger(folder / "metrics.csv"), checkpoint, Fault()]
if mode == "stop":
    callbacks.append(EarlyStopping(patience=0, min_delta=10.0))
trainer = Trainer(
    ddp,
    loss_fn,
    opt,
    metrics=["accuracy"],
    callbacks=callbacks,
    progress=False,
    nan_policy="skip_step" if mode == "stop" else "raise",
)
resume = out / "rank0" if (out / "rank0" / "last.latest.json").exists() else None
error = None
try:
    trainer.fit(train, val, epochs=epochs, resume_from=resume)
except (KeyboardInterrupt, dist.DistBackendError) as exc:
    error = f"{type(exc).__name__}: {exc}"
weights = b"".join(p.detach().numpy().tobytes() for p in model.parameters())
emit(
    rank=rank,
    size=size,
    error=error,
    resumed=resume is not None,
    epochs=[
        {k: v for k, v in e.items() if k != "time" and isinstance(v, (int, float))}
        for e in trainer.history.epochs
    ],
    steps=[s["loss"] for s in trainer.history.steps],
    stop_reason=trainer.history.stop_reason,
    global_step=trainer.global_step,
    skipped=trainer.skipped_steps,
    digest=hashlib.sha256(weights).hexdigest(),
    weights=[float(v) for v in np.frombuffer(weights, np.float32)],
    files=sorted(p.name for p in folder.iterdir()) if folder.exists() else [],
)
if mode == "kill" and error is not None:
    sys.exit(1)
