"""Data-parallel scaling of an MNIST-sized MLP over MPI: ``python3 benchmarks/distributed_scaling.py``.

Runs the same training step under ``mpiexec -n 1`` and ``-n 2`` (one thread per process, a
synthetic MNIST-shaped batch of B samples per process) and prints:
- samples/s for each process count, and the speed-up of 2 processes over 1; DDP reduces its
  buckets as it chooses by default (in MPI shared memory on one node), and the 2-process run is
  repeated with MPI's Iallreduce (``shared_memory=False``) for comparison;
- the ceiling: two independent single-process runs of the same step (no MPI, no DDP) at the
  same time, their aggregate samples/s over one such process alone;
- the communication fraction: (DDP step - the same step under no_sync) / DDP step;
- the 2-process step without the all-reduce (no_sync), free-running and in lockstep (a barrier
  each step, no data): what compute alone reaches, apart from moving the gradient;
- where the 2-process step goes, per rank: forward, backward compute, packing gradients into
  the buckets, starting the all-reduce, waiting (for the slower rank, then for the transfer
  once both arrived), unpacking, optimizer;
- how much of one blocking all-reduce of the whole gradient the bucketed overlap hides;
- all-reduce latency and bandwidth measured here, and a ring all-reduce model for 8-256
  workers on a 10 and a 100 Gbit/s network (docs/distributed.md states its assumptions).

Every configuration runs --rounds times (alternating) and the best round of each is kept,
since other processes on a shared machine only ever make a round slower.

Options: --batch B (per process, default 128), --steps S (timed, default 100), --hidden H
(512), --bucket-cap-mb C (DDP's bucket size, default 25: one bucket for this model, so nothing
to overlap; 1 gives four buckets), --rounds R (3), --gradient-as-bucket-view (DDP's option),
--mpi-all-reduce (DDP's shared_memory=False: MPI's Iallreduce only).
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
PHASES = ("forward", "backward", "pack", "start", "test", "skew", "transfer", "unpack", "optim")
PHASE_NAMES = {
    "forward": "forward (zero_grad, model, loss)",
    "backward": "backward compute (DDP hooks excluded)",
    "pack": "pack gradients into buckets (x 1/N)",
    "start": "start the all-reduces",
    "test": "test started ones in later hooks",
    "skew": "wait for the slower rank",
    "transfer": "wait once both arrived (transfer)",
    "unpack": "unpack into .grad",
    "optim": "optimizer step",
}


def build(args: argparse.Namespace, rank: int) -> tuple:
    """The MLP, its loss function and one batch (the data differs per rank)."""
    import numpy as np

    import deepgrad as dg
    import deepgrad.nn.functional as F
    from deepgrad import nn

    dg.manual_seed(0)
    h = args.hidden
    model = nn.Sequential(
        nn.Linear(784, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 10)
    )
    rng = np.random.default_rng(rank)
    x = dg.tensor(rng.standard_normal((args.batch, 784)).astype(np.float32))
    y = dg.tensor(rng.integers(0, 10, args.batch))
    return model, F.cross_entropy, x, y


def timed(fn: Any, n: int, barrier: Any = None) -> tuple[float, float]:
    """Seconds of wall and of this process's CPU per call of ``fn``, over ``n`` calls."""
    for _ in range(3):
        fn()
    if barrier is not None:
        barrier()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    if barrier is not None:
        barrier()
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def solo_worker(args: argparse.Namespace) -> None:
    """The plain training step, no MPI and no DDP: one half of the ceiling measurement."""
    from deepgrad.optim import SGD

    model, loss_fn, x, y = build(args, 0)
    opt = SGD(model.parameters(), lr=0.01)

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    wall, cpu = timed(step, args.steps)
    print(json.dumps({"t_step": wall, "cpu": cpu}))


def worker(args: argparse.Namespace) -> None:
    import deepgrad as dg
    import deepgrad.distributed as dist
    from deepgrad import nn
    from deepgrad.optim import SGD

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    model, loss_fn, x, y = build(args, rank)
    ddp = nn.parallel.DistributedDataParallel(
        model,
        bucket_cap_mb=args.bucket_cap_mb,
        gradient_as_bucket_view=args.gradient_as_bucket_view,
        shared_memory=False if args.mpi_all_reduce else None,
    )
    opt = SGD(ddp.parameters(), lr=0.01)

    def step() -> None:
        opt.zero_grad()
        loss_fn(ddp(x), y).backward()
        opt.step()

    def local_step() -> None:
        with ddp.no_sync():
            step()

    def lockstep() -> None:  # the ranks wait for each other every step, but exchange no data
        local_step()
        dist.barrier()

    flat = dg.zeros(sum(p.numel() for p in model.parameters()))
    t_ddp, cpu_ddp = timed(step, args.steps, dist.barrier)
    phases = phase_times(ddp, opt, lambda: loss_fn(ddp(x), y), args.steps)
    lead = launch_lead(ddp, lambda: loss_fn(ddp(x), y), args.steps)
    t_local, _ = timed(local_step, args.steps, dist.barrier)
    t_lockstep, _ = timed(lockstep, args.steps, dist.barrier)
    t_allreduce, _ = timed(lambda: dist.all_reduce(flat), args.steps, dist.barrier)
    t_shared = shared_all_reduce_time(int(flat.numel()), args.steps)
    sizes = [2**k for k in range(1, 23, 3)]  # float32 elements: 8 B ... 16 MiB
    curve = [
        (4 * n, timed(lambda n=n: dist.all_reduce(dg.zeros(n)), 20, dist.barrier)[0]) for n in sizes
    ]
    if rank == 0:
        record = {"world": world, "batch": args.batch, "params": int(flat.numel())}
        record.update(buckets=len(ddp._buckets), t_ddp=t_ddp, cpu_ddp=cpu_ddp, t_local=t_local)
        record.update(t_lockstep=t_lockstep)
        record.update(t_allreduce=t_allreduce, curve=curve, lead=lead, phases=phases)
        record.update(t_shared=t_shared, shared=any(b.shared is not None for b in ddp._buckets))
        print(json.dumps(record))


def shared_all_reduce_time(size: int, steps: int) -> float | None:
    """Seconds per blocking shared-memory all-reduce of ``size`` float32 (None: no such path)."""
    import deepgrad.distributed as dist
    from deepgrad.distributed import shared_memory

    group = dist.GroupMember.WORLD
    if shared_memory.node_communicator(group) is None:
        return None
    buffer = shared_memory.SharedBuffer(size, "float32", group)
    buffer.local[:] = 1.0
    seconds, _ = timed(lambda: shared_memory.shared_all_reduce(buffer), steps, dist.barrier)
    buffer.free()
    return seconds


def phase_times(ddp: Any, opt: Any, forward: Any, steps: int) -> list[dict]:
    """Mean ms per step of each phase (``PHASES``), for every rank (rank 0 gets them all)."""
    import numpy as np

    import deepgrad as dg
    import deepgrad.distributed as dist
    import deepgrad.distributed.collectives as collectives
    import deepgrad.distributed.ddp as ddp_module

    spent = dict.fromkeys(PHASES, 0.0)
    arrivals: list[float] = []
    real = _instrument(ddp_module, collectives, spent, arrivals)
    try:
        for _ in range(3):
            opt.zero_grad()
            forward().backward()
        dist.barrier()
        for key in spent:
            spent[key] = 0.0
        arrivals.clear()
        for _ in range(steps):
            arrivals.append(0.0)
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = forward()
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            spent["optim"] += time.perf_counter() - t2
            spent["forward"] += t1 - t0
            spent["backward"] += t2 - t1
    finally:
        _restore(ddp_module, collectives, real)
    world = dist.get_world_size()
    everyone = dg.zeros(world * steps, dtype=dg.float64)
    dist.all_gather_into_tensor(everyone, dg.tensor(np.array(arrivals)))
    latest = everyone.numpy().reshape(world, steps).max(axis=0)
    skew = float(np.sum(latest - np.array(arrivals))) if any(arrivals) else 0.0
    wait = spent.pop("wait")
    spent["skew"], spent["transfer"] = skew, wait - skew
    spent["backward"] -= sum(spent[k] for k in ("pack", "start", "test", "unpack")) + wait
    mine = dg.tensor(np.array([1e3 * spent[k] / steps for k in PHASES]))
    table = dg.zeros(world * len(PHASES), dtype=dg.float64)
    dist.all_gather_into_tensor(table, mine)
    rows = table.numpy().reshape(world, len(PHASES))
    return [dict(zip(PHASES, map(float, row))) for row in rows]


def _instrument(ddp_module: Any, collectives: Any, spent: dict, arrivals: list) -> dict:
    """Wrap DDP's pack/unpack/all_reduce and the Work handle's test/wait with timers."""
    real = {
        "_pack": ddp_module._pack,
        "_unpack": ddp_module._unpack,
        "all_reduce": ddp_module.all_reduce,
        "shared_all_reduce": ddp_module.shared_all_reduce,
        "is_completed": collectives.Work.is_completed,
        "wait": collectives.Work.wait,
    }
    spent["wait"] = 0.0

    def timer(fn: Any, key: str) -> Any:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            if key == "wait" and arrivals and not arrivals[-1]:
                arrivals[-1] = start  # the first wait of the step: backward's compute is over
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - start

        return timed_call

    ddp_module._pack = timer(real["_pack"], "pack")
    ddp_module._unpack = timer(real["_unpack"], "unpack")
    ddp_module.all_reduce = timer(real["all_reduce"], "start")
    ddp_module.shared_all_reduce = timer(real["shared_all_reduce"], "start")
    collectives.Work.is_completed = timer(real["is_completed"], "test")
    collectives.Work.wait = timer(real["wait"], "wait")
    return real


def _restore(ddp_module: Any, collectives: Any, real: dict) -> None:
    ddp_module._pack, ddp_module._unpack = real["_pack"], real["_unpack"]
    ddp_module.all_reduce = real["all_reduce"]
    ddp_module.shared_all_reduce = real["shared_all_reduce"]
    collectives.Work.is_completed, collectives.Work.wait = real["is_completed"], real["wait"]


def launch_lead(ddp: Any, forward: Any, steps: int) -> list:
    """Per bucket, the mean time from its all-reduce's start to the last bucket's start (when
    backward's compute is over: the window in which it can overlap that compute), and the
    mean time of backward (waits included), last."""
    import deepgrad.distributed.ddp as ddp_module

    real = ddp_module.all_reduce, ddp_module.shared_all_reduce
    starts: list = []

    def recording(start: Any) -> Any:
        def call(tensor: Any, *args: Any, **kwargs: Any) -> Any:
            starts.append(time.perf_counter())
            return start(tensor, *args, **kwargs)

        return call

    ddp_module.all_reduce, ddp_module.shared_all_reduce = map(recording, real)
    sums = [0.0] * (len(ddp._buckets) + 1)
    for _ in range(steps):
        ddp.zero_grad()
        loss = forward()
        starts.clear()
        begin = time.perf_counter()
        loss.backward()
        end = time.perf_counter()
        for i, t in enumerate(starts):
            sums[i] += starts[-1] - t
        sums[-1] += end - begin
    ddp_module.all_reduce, ddp_module.shared_all_reduce = real
    return [total / steps for total in sums]


def worker_command(args: argparse.Namespace, *extra: str) -> list[str]:
    command = [sys.executable, __file__, "--worker", *extra]
    for name in ("batch", "steps", "hidden", "bucket_cap_mb"):
        command += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    if args.gradient_as_bucket_view:
        command.append("--gradient-as-bucket-view")
    if args.mpi_all_reduce:
        command.append("--mpi-all-reduce")
    return command


def environment() -> dict:
    return dict(
        os.environ,
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONPATH=str(ROOT),
    )


def launch(n: int, args: argparse.Namespace) -> dict:
    beside = Path(sys.executable).with_name("mpiexec")
    mpiexec = str(beside) if beside.exists() else "mpiexec"
    command = [mpiexec, "-n", str(n), *worker_command(args)]
    out = subprocess.run(
        command, capture_output=True, text=True, env=environment(), check=True
    ).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def launch_solo(n: int, args: argparse.Namespace) -> list[dict]:
    """``n`` independent single-process runs (no MPI) started together; each one's record."""
    command = worker_command(args, "--solo")
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment())
        for _ in range(n)
    ]
    return [json.loads(run.communicate()[0].splitlines()[-1]) for run in runs]


def ring_model(params: int, workers: int, gbit: float, latency: float) -> float:
    """Ring all-reduce of ``params`` float32: 2 (p-1) steps of latency plus 2 (p-1)/p of the
    bytes over each link."""
    nbytes = 4 * params
    return 2 * (workers - 1) * latency + 2 * (workers - 1) / workers * nbytes / (gbit * 1e9 / 8)


def measure(args: argparse.Namespace) -> dict:
    """Every configuration ``args.rounds`` times, interleaved; the fastest round of each."""
    best: dict = {}
    runs = {
        "one": lambda: launch(1, args),
        "two": lambda: launch(2, args),
        "solo": lambda: launch_solo(1, args)[0],
        "pair": lambda: launch_solo(2, args),
    }
    if not args.mpi_all_reduce:  # the reference: the same DDP with MPI's Iallreduce
        runs["two_mpi"] = lambda: launch(
            2, argparse.Namespace(**{**vars(args), "mpi_all_reduce": True})
        )

    def step_time(record: Any) -> float:
        if isinstance(record, list):  # the pair: the slower of the two
            return max(r["t_step"] for r in record)
        return record["t_ddp"] if "t_ddp" in record else record["t_step"]

    for _ in range(args.rounds):
        for name, run in runs.items():
            record = run()
            if name not in best or step_time(record) < step_time(best[name]):
                best[name] = record
    return best


def report(args: argparse.Namespace, best: dict) -> None:
    one, two, solo, pair = best["one"], best["two"], best["solo"], best["pair"]
    rate1 = one["batch"] / one["t_ddp"]
    rate2 = 2 * two["batch"] / two["t_ddp"]
    comm = two["t_ddp"] - two["t_local"]
    print(
        f"MLP 784-{args.hidden}-{args.hidden}-10, {two['params']} parameters, batch {args.batch}"
        f" per process, one thread each, {two['buckets']} gradient bucket(s), "
        f"gradient_as_bucket_view={args.gradient_as_bucket_view}; best of {args.rounds} rounds"
    )
    print(
        f"1 process  : {rate1:8.0f} samples/s (step {1e3 * one['t_ddp']:.2f} ms, "
        f"CPU {1e3 * one['cpu_ddp']:.2f} ms)"
    )
    how = "in shared memory" if two["shared"] else "by MPI's Iallreduce"
    print(
        f"2 processes: {rate2:8.0f} samples/s (step {1e3 * two['t_ddp']:.2f} ms, "
        f"CPU {1e3 * two['cpu_ddp']:.2f} ms); speed-up {rate2 / rate1:.2f}x (buckets reduced {how})"
    )
    if "two_mpi" in best:
        reference = best["two_mpi"]
        rate = 2 * reference["batch"] / reference["t_ddp"]
        print(
            f"2 processes, buckets reduced by MPI's Iallreduce: {rate:8.0f} samples/s (step "
            f"{1e3 * reference['t_ddp']:.2f} ms); speed-up {rate / rate1:.2f}x"
        )
    solo_rate = args.batch / solo["t_step"]
    pair_rate = sum(args.batch / r["t_step"] for r in pair)
    print(
        f"ceiling, no MPI: one plain process {solo_rate:.0f} samples/s; two independent ones "
        f"at once {pair_rate:.0f} samples/s together = {pair_rate / solo_rate:.2f}x of one, "
        f"{pair_rate / rate1:.2f}x of the 1-process DDP run"
    )
    blocking = two["t_shared"] if two["shared"] else two["t_allreduce"]
    shared = two["t_shared"]
    print(
        f"communication: {1e3 * comm:.2f} ms of the 2-process step "
        f"({100 * comm / two['t_ddp']:.0f}%); one blocking all-reduce of the whole gradient "
        f"takes {1e3 * blocking:.2f} ms ({how}), so overlap hides "
        f"{100 * max(0.0, 1 - comm / blocking):.0f}% of it"
    )
    if shared is not None:
        print(
            f"one all-reduce of the whole gradient: MPI's {1e3 * two['t_allreduce']:.3f} ms, "
            f"in shared memory {1e3 * shared:.3f} ms ({two['t_allreduce'] / shared:.1f}x faster)"
        )
    print(
        f"2 processes without the all-reduce (no_sync): step {1e3 * two['t_local']:.2f} ms, "
        f"{2 * one['t_ddp'] / two['t_local']:.2f}x; the same in lockstep (a barrier each step, "
        f"no data): {1e3 * two['t_lockstep']:.2f} ms, {2 * one['t_ddp'] / two['t_lockstep']:.2f}x"
    )
    report_phases(one["phases"], two["phases"])
    *windows, backward = two["lead"]
    print(
        f"overlap window: the {len(windows)} buckets' all-reduces start "
        + ", ".join(f"{1e3 * w:.2f}" for w in windows)
        + f" ms before the last one (backward, waits included: {1e3 * backward:.2f} ms)"
    )
    report_network(two)


def report_phases(one: list[dict], two: list[dict]) -> None:
    print("per phase, ms per step (instrumented run):   1 process | rank 0 | rank 1")
    for key in PHASES:
        cells = [one[0][key], *(r[key] for r in two)]
        print(f"  {PHASE_NAMES[key]:42s}" + " | ".join(f"{c:7.3f}" for c in cells))
    totals = [sum(one[0].values()), *(sum(r.values()) for r in two)]
    print(f"  {'step':42s}" + " | ".join(f"{c:7.3f}" for c in totals))


def report_network(two: dict) -> None:
    (b0, t0), (b1, t1) = two["curve"][0], two["curve"][-1]
    bandwidth = (b1 - b0) / (t1 - t0)
    print(
        f"MPI's all-reduce here (2 processes on one node): latency {1e6 * t0:.1f} us, "
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--solo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--bucket-cap-mb", type=float, default=25.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gradient-as-bucket-view", action="store_true")
    parser.add_argument("--mpi-all-reduce", action="store_true")
    args = parser.parse_args()
    if args.worker:
        solo_worker(args) if args.solo else worker(args)
        return
    report(args, measure(args))


if __name__ == "__main__":
    main()
