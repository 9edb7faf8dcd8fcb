"""Data-parallel scaling of an MNIST-sized MLP over MPI: ``python3 benchmarks/distributed_scaling.py``.

Runs the same training step under ``mpiexec -n 1`` and ``-n 2`` (one thread per process, a
synthetic MNIST-shaped batch of B samples per process) and prints:
- samples/s for each process count, and the speed-up of 2 processes over 1;
- the communication fraction: (DDP step - the same step under no_sync) / DDP step;
- how much of one blocking all-reduce of the whole gradient the bucketed overlap hides;
- all-reduce latency and bandwidth measured here, and a ring all-reduce model for 8-256
  workers on a 10 and a 100 Gbit/s network (docs/distributed.md states its assumptions).

Options: --batch B (per process, default 128), --steps S (timed, default 30), --hidden H (512),
--bucket-cap-mb C (DDP's bucket size, default 25: one bucket for this model, so nothing to
overlap; 1 gives four buckets, the first three reduced while backward goes on).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def worker(batch: int, steps: int, hidden: int, bucket_cap_mb: float) -> None:
    import numpy as np

    import deepgrad as dg
    import deepgrad.distributed as dist
    import deepgrad.nn.functional as F
    from deepgrad import nn
    from deepgrad.optim import SGD

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    dg.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(784, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 10),
    )
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
    opt = SGD(ddp.parameters(), lr=0.01)
    rng = np.random.default_rng(rank)
    x = dg.tensor(rng.standard_normal((batch, 784)).astype(np.float32))
    y = dg.tensor(rng.integers(0, 10, batch))

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        opt.step()

    def timed(fn, n: int) -> float:
        for _ in range(3):
            fn()
        dist.barrier()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        dist.barrier()
        return (time.perf_counter() - start) / n

    def local_step() -> None:
        with ddp.no_sync():
            step()

    flat = dg.zeros(sum(p.numel() for p in model.parameters()))
    t_ddp = timed(step, steps)
    lead = launch_lead(ddp, x, y, F, steps)
    t_local = timed(local_step, steps)
    t_allreduce = timed(lambda: dist.all_reduce(flat), steps)
    sizes = [2**k for k in range(1, 23, 3)]  # float32 elements: 8 B ... 16 MiB
    curve = [(4 * n, timed(lambda n=n: dist.all_reduce(dg.zeros(n)), 20)) for n in sizes]
    if rank == 0:
        print(
            json.dumps(
                {
                    "world": world,
                    "batch": batch,
                    "params": int(flat.numel()),
                    "buckets": len(ddp._buckets),
                    "t_ddp": t_ddp,
                    "t_local": t_local,
                    "t_allreduce": t_allreduce,
                    "curve": curve,
                    "lead": lead,
                }
            )
        )


def launch_lead(ddp: Any, x: Any, y: Any, F: Any, steps: int) -> list:
    """Per bucket, the mean time from its all-reduce's start to the last bucket's start (when
    backward's compute is over: the window in which it can overlap that compute), and the
    mean time of backward (waits included), last."""
    import deepgrad.distributed.ddp as ddp_module

    real = ddp_module.all_reduce
    starts: list = []

    def recording(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        starts.append(time.perf_counter())
        return real(tensor, *args, **kwargs)

    ddp_module.all_reduce = recording
    sums = [0.0] * (len(ddp._buckets) + 1)
    for _ in range(steps):
        ddp.zero_grad()
        loss = F.cross_entropy(ddp(x), y)
        starts.clear()
        begin = time.perf_counter()
        loss.backward()
        end = time.perf_counter()
        for i, t in enumerate(starts):
            sums[i] += starts[-1] - t
        sums[-1] += end - begin
    ddp_module.all_reduce = real
    return [total / steps for total in sums]


def launch(n: int, args: argparse.Namespace) -> dict:
    beside = Path(sys.executable).with_name("mpiexec")
    mpiexec = str(beside) if beside.exists() else "mpiexec"
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONPATH=str(ROOT),
    )
    command = [
        mpiexec,
        "-n",
        str(n),
        sys.executable,
        __file__,
        "--worker",
        "--batch",
        str(args.batch),
        "--steps",
        str(args.steps),
        "--hidden",
        str(args.hidden),
        "--bucket-cap-mb",
        str(args.bucket_cap_mb),
    ]
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def ring_model(params: int, workers: int, gbit: float, latency: float) -> float:
    """Ring all-reduce of ``params`` float32: 2 (p-1) steps of latency plus 2 (p-1)/p of the
    bytes over each link."""
    nbytes = 4 * params
    return 2 * (workers - 1) * latency + 2 * (workers - 1) / workers * nbytes / (gbit * 1e9 / 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--bucket-cap-mb", type=float, default=25.0)
    args = parser.parse_args()
    if args.worker:
        worker(args.batch, args.steps, args.hidden, args.bucket_cap_mb)
        return
    one, two = launch(1, args), launch(2, args)
    rate1 = one["batch"] / one["t_ddp"]
    rate2 = 2 * two["batch"] / two["t_ddp"]
    comm = two["t_ddp"] - two["t_local"]
    print(
        f"MLP 784-{args.hidden}-{args.hidden}-10, {two['params']} parameters, batch {args.batch}"
        f" per process, one thread each, {two['buckets']} gradient bucket(s)"
    )
    print(f"1 process : {rate1:8.0f} samples/s (step {1e3 * one['t_ddp']:.2f} ms)")
    print(
        f"2 processes: {rate2:8.0f} samples/s (step {1e3 * two['t_ddp']:.2f} ms); "
        f"speed-up {rate2 / rate1:.2f}x"
    )
    print(
        f"communication: {1e3 * comm:.2f} ms of the 2-process step "
        f"({100 * comm / two['t_ddp']:.0f}%); one blocking all-reduce of the whole gradient "
        f"takes {1e3 * two['t_allreduce']:.2f} ms, so overlap hides "
        f"{100 * max(0.0, 1 - comm / two['t_allreduce']):.0f}% of it"
    )
    *windows, backward = two["lead"]
    print(
        f"overlap window: the {len(windows)} buckets' all-reduces start "
        + ", ".join(f"{1e3 * w:.2f}" for w in windows)
        + f" ms before the last one (backward, waits included: {1e3 * backward:.2f} ms)"
    )
    (b0, t0), (b1, t1) = two["curve"][0], two["curve"][-1]
    bandwidth = (b1 - b0) / (t1 - t0)
    print(
        f"all-reduce here (2 processes, shared memory): latency {1e6 * t0:.1f} us, "
        f"bandwidth {bandwidth / 1e9:.2f} GB/s"
    )
    compute = two["t_local"]
    print("ring all-reduce model, compute per step as measured, no overlap (upper bound):")
    for gbit, latency in ((10, 20e-6), (100, 5e-6)):
        cells = []
        for p in (8, 16, 32, 64, 128, 256):
            t = ring_model(two["params"], p, gbit, latency)
            cells.append(f"p={p}: {p * compute / (compute + t):.0f}x")
        print(f"  {gbit:3d} Gbit/s, latency {1e6 * latency:.0f} us: " + ", ".join(cells))


if __name__ == "__main__":
    main()
