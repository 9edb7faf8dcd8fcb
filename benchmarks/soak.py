"""Soak test: does a long run keep its memory, threads and processes flat?

``python3 benchmarks/soak.py [--quick] [--part train|loader|all] [options]``

Two parts, each judged on its own; the script exits 1 when either fails.

**train**: ``--steps`` (default 100 000) optimizer steps of an MLP 784-256-128-10
(``nn.Sequential`` of Linear and ReLU, cross-entropy, Adam lr 1e-3) on the 4 000 embedded MNIST
training digits, driven by ``deepgrad.train.Trainer`` (the loop users run, with the per-step
History and an "accuracy" metric) through a shuffling ``DataLoader`` with ``--batch`` samples
(default 64, ``drop_last``). A callback samples the process RSS every ``--every`` steps (default
1 000) and stops the run at ``--steps``.

**loader**: a ``DataLoader`` with ``num_workers=2`` through ``--epochs`` epochs (default 1 000)
of a small dataset (512 samples, batch 32, shuffled), once per kind of worker the loader has
(``--kinds``): ``threads``, the whole-batch path (``TensorDataset`` with ``get_batch``, whose
workers are threads), and ``processes``, the per-sample path (a ``Dataset`` with only
``__getitem__``, whose workers are processes started with the platform's method). Workers are
not persistent, so every epoch starts and ends its own; that is where a leak would show. Every
10th epoch is left after 3 batches (a ``break``, as early stopping does) with batches in flight,
so the iterator's deletion must end the workers. Every ``--every-epochs`` epochs (default 50),
between epochs, it samples RSS, live threads (``threading.active_count()``), the process's OS
tasks (``/proc/self/task``), live child processes (``multiprocessing.active_children()``) and
open file descriptors (``/proc/self/fd``).

Verdict: RSS is read from ``/proc/self/statm`` (no psutil). The first sample after the warm-up
(``--warmup`` steps, default 2 000; ``--warmup-epochs``, default 20) is the baseline; a part
passes when every later RSS sample stays within ``--tolerance`` (default 5%) of it and, for the
loader, no later count of threads, tasks, children or descriptors exceeds its baseline. A
loader's counts are taken once its teardown has ended (up to ``--settle`` seconds: the queues'
feeder threads and pipes of process workers end a few milliseconds after the loop does); the
counts right after the loop are printed too. The train part also prints how much of the growth
is the History's per-step log (one record per step, kept by design: about 85 B/step), and the
growth net of it; the verdict counts the raw RSS. ``--quick`` shrinks everything to a few
seconds (300 steps, 5 epochs) for the test suite. BLAS runs one thread unless
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` say otherwise.

Results (2-core shared development machine, load ~9, Python 3.11, fork, 2026-12):

- train, 100 000 steps (168 s alone, 1 434 s beside other jobs): RSS 96.2 MB at step 2 000,
  102.6 MB at step 100 000: +6.7%, FAIL. All of it is the History's per-step log (84 B/step,
  8.0 MB at the end); net of it the RSS does not grow (max +0.00%). The same run with the log's
  four columns held in ``array.array`` (8 B per value; an experiment, not in deepgrad) grew +0.5%.
- loader, 1 000 epochs each: threads +0.07% RSS, processes +0.00%; threads 1, OS tasks 1, child
  processes 0 and descriptors 6 at every sample of both, after teardown (right after an epoch's
  loop, process workers still had up to 2 feeder threads and 4 pipe descriptors closing).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# One BLAS thread unless the caller says otherwise: a soak measures memory, not speed, and on the
# shared 2-core development machine 2 OpenBLAS threads made a training step 16x slower.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the deepgrad of this checkout

import deepgrad as dg
from deepgrad import nn
from deepgrad.data import DataLoader, Dataset, TensorDataset
from deepgrad.data.datasets import load_embedded_mnist
from deepgrad.train import Callback, Trainer

_PAGE = os.sysconf("SC_PAGE_SIZE")
_MB = 1024.0 * 1024.0


def rss_bytes() -> int:
    """Resident set size of this process, from ``/proc/self/statm`` (second field, in pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def live_counts() -> dict[str, int]:
    """Threads, OS tasks, child processes and open file descriptors of this process, now."""
    return {
        "threads": threading.active_count(),
        "tasks": len(os.listdir("/proc/self/task")),
        "children": len(multiprocessing.active_children()),
        "fds": len(os.listdir("/proc/self/fd")),
    }


def settled_counts(target: dict[str, int], wait_s: float) -> dict[str, int]:
    """``live_counts()`` once none exceeds ``target``, or after ``wait_s`` seconds (a leak).

    A closed loader's teardown finishes asynchronously: its queues' feeder threads and pipes end
    a few milliseconds after the epoch's loop does (more on a loaded machine), so a count taken
    at once may include them; only what is still alive after the wait has leaked.
    """
    deadline = time.monotonic() + wait_s
    counts = live_counts()
    while any(counts[k] > target[k] for k in target) and time.monotonic() < deadline:
        time.sleep(0.01)
        counts = live_counts()
    return counts


@dataclass
class Samples:
    """What one part recorded: (x, rss, counts) rows, x being the step or the epoch."""

    name: str
    unit: str
    warmup: int
    rows: list[tuple[int, int, dict[str, int]]] = field(default_factory=list)
    seconds: float = 0.0
    at_once: dict[str, int] = field(default_factory=dict)  # max counts right after an epoch
    kept: list[int] = field(default_factory=list)  # bytes kept by design, per row (History)
    verbose: bool = False

    def add(self, x: int, counts: dict[str, int] | None = None) -> None:
        self.rows.append((x, rss_bytes(), counts or {}))
        if self.verbose:
            print(
                f"[{self.name}] {self.unit} {x}: RSS {self.rows[-1][1] / _MB:.1f} MB {counts or ''}"
            )
            sys.stdout.flush()

    def baseline_index(self) -> int:
        """The first sample at or after the warm-up (the last sample if none is)."""
        return next((i for i, row in enumerate(self.rows) if row[0] >= self.warmup), -1)


def verdict(samples: Samples, tolerance: float) -> tuple[bool, list[str]]:
    """Pass/fail and the summary lines of one part."""
    rss = [row[1] for row in samples.rows]
    base_i = samples.baseline_index()
    base = rss[base_i]
    growth_last, growth_max = _growth(rss, base_i)
    ok = growth_max <= tolerance
    x0 = samples.rows[base_i][0]
    head = (
        f"[{samples.name}] {samples.rows[-1][0]} {samples.unit} in {samples.seconds:.1f} s, "
        f"{len(rss)} samples"
    )
    memory = (
        f"[{samples.name}] RSS MB: first {rss[0] / _MB:.1f}, baseline ({samples.unit} {x0}) "
        f"{base / _MB:.1f}, last {rss[-1] / _MB:.1f}, max {max(rss) / _MB:.1f}; "
        f"growth after warm-up: last {growth_last:+.2%}, max {growth_max:+.2%} "
        f"(limit {tolerance:.0%}) -> {'flat' if ok else 'GROWS'}"
    )
    lines = [head, memory]
    if samples.kept:
        net_last, net_max = _growth([r - k for r, k in zip(rss, samples.kept)], base_i)
        per_step = (samples.kept[-1] - samples.kept[base_i]) / max(samples.rows[-1][0] - x0, 1)
        lines.append(
            f"[{samples.name}] of which the History's per-step log (kept by design): "
            f"{samples.kept[-1] / _MB:.1f} MB at the end, {per_step:.0f} B/step; RSS growth net of "
            f"it: last {net_last:+.2%}, max {net_max:+.2%} (the verdict counts the raw RSS)"
        )
    counts = [row[2] for row in samples.rows[base_i:]]
    for key in counts[0] if counts else ():
        values = [c[key] for c in counts]
        grows = max(values) > values[0]
        ok = ok and not grows
        peak = max(row[2][key] for row in samples.rows)
        lines.append(
            f"[{samples.name}] {key}: baseline {values[0]}, last {values[-1]}, max after warm-up "
            f"{max(values)}, max overall {peak} (right after an epoch, before teardown ends: "
            f"max {samples.at_once.get(key, peak)}) -> {'GROWS' if grows else 'flat'}"
        )
    lines.append(f"[{samples.name}] {'PASS' if ok else 'FAIL'}")
    return ok, lines


def _growth(values: list[int], base_i: int) -> tuple[float, float]:
    """Growth of the last and of the largest value from ``base_i`` on, relative to ``values[base_i]``."""
    base, after = values[base_i], values[base_i:]
    return (after[-1] - base) / base, (max(after) - base) / base


# -- part 1: training --------------------------------------------------------------------------
class _RSSSampler(Callback):
    """Samples RSS every ``every`` steps (and at step 0) and stops the run after ``steps``.

    With each sample it also counts the bytes of the History's per-step log (``trainer.history``
    keeps one record per step, by design): the column lists and the step number and loss objects
    each step adds (the epoch and lr objects are shared by many steps). It reads the History's
    private columns; when they change shape, the count is left out.
    """

    def __init__(self, samples: Samples, steps: int, every: int):
        self.samples, self.steps, self.every = samples, steps, every
        self._counted, self._element_bytes = 0, 0

    def on_fit_start(self, trainer, logs: dict) -> None:
        self._sample(trainer, 0)

    def on_batch_end(self, trainer, logs: dict) -> None:
        step = trainer.global_step
        if step % self.every == 0 or step == self.steps:
            self._sample(trainer, step)
        if step >= self.steps:
            trainer.request_stop(f"soak: reached {self.steps} steps")

    def _sample(self, trainer, step: int) -> None:
        kept = self._step_log_bytes(trainer.history)
        if kept is None:
            self.samples.kept = []
        elif step == 0 or self.samples.kept:
            self.samples.kept.append(kept)
        self.samples.add(step)

    def _step_log_bytes(self, history) -> int | None:
        columns = getattr(history, "_steps", None)
        if not isinstance(columns, dict) or not {"step", "loss"} <= set(columns):
            return None
        if all(hasattr(c, "itemsize") for c in columns.values()):  # array.array: values inline
            return sum(sys.getsizeof(c) for c in columns.values())
        n = len(columns["step"])
        for key in ("step", "loss"):  # counted once each, as they arrive
            self._element_bytes += sum(sys.getsizeof(v) for v in columns[key][self._counted : n])
        self._counted = n
        return self._element_bytes + sum(sys.getsizeof(c) for c in columns.values())


def soak_training(steps: int, batch: int, every: int, warmup: int, verbose: bool) -> Samples:
    """``steps`` Trainer steps of a 784-256-128-10 MLP on the embedded MNIST digits."""
    dg.manual_seed(0)
    images, labels = load_embedded_mnist(train=True)
    x = (images.reshape(len(images), -1) / np.float32(255.0)).astype(np.float32)
    loader = DataLoader(TensorDataset(x, labels), batch_size=batch, shuffle=True, drop_last=True)
    model = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    samples = Samples("train", "steps", warmup, verbose=verbose)
    trainer = Trainer(
        model,
        nn.CrossEntropyLoss(),
        dg.optim.Adam(model.parameters(), lr=1e-3),
        metrics=["accuracy"],
        callbacks=[_RSSSampler(samples, steps, every)],
        progress=False,
    )
    start = time.perf_counter()
    history = trainer.fit(loader, epochs=math.ceil(steps / len(loader)))
    samples.seconds = time.perf_counter() - start
    last = history.epochs[-1]
    print(
        f"[train] {trainer.epoch} epochs of {len(loader)} batches; last epoch loss "
        f"{last['loss']:.4f}, accuracy {last['accuracy']:.4f}; "
        f"{samples.seconds / max(trainer.global_step, 1) * 1e3:.2f} ms/step"
    )
    return samples


# -- part 2: data loader workers ---------------------------------------------------------------
class _PerSample(Dataset):
    """A map-style dataset with only ``__getitem__``: the loader's per-sample (process) path."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


_WORKER = {"threads": "thread", "processes": "process"}


def soak_loader(
    kind: str, epochs: int, every: int, warmup: int, settle_s: float, verbose: bool
) -> Samples:
    """``epochs`` epochs of a 2-worker DataLoader whose workers are ``kind`` (threads/processes)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 64), dtype=np.float32)
    y = rng.integers(0, 10, size=512)
    dataset = TensorDataset(x, y) if kind == "threads" else _PerSample(x, y)
    loader = DataLoader(dataset, batch_size=32, shuffle=True, num_workers=2)
    samples = Samples(f"loader/{kind}", "epochs", warmup, verbose=verbose)
    before = live_counts()
    samples.add(0, before)
    worker_kinds = set()
    start = time.perf_counter()
    total = 0.0
    for epoch in range(1, epochs + 1):
        iterator = iter(loader)
        worker_kinds.add("process" if iterator._pool.in_process else "thread")
        for k, (xb, yb) in enumerate(iterator):
            total += float(xb._data[0, 0]) + int(yb._data[-1])
            if epoch % 10 == 0 and k == 2:
                break  # left mid-epoch, with batches in flight: the iterator's deletion ends it
        del iterator, xb, yb
        if epoch % every == 0 or epoch == epochs:
            at_once = live_counts()
            for key, value in at_once.items():
                samples.at_once[key] = max(value, samples.at_once.get(key, 0))
            samples.add(epoch, settled_counts(before, settle_s))
    samples.seconds = time.perf_counter() - start
    print(
        f"[loader/{kind}] workers were {sorted(worker_kinds)}; {len(loader)} batches per epoch; "
        f"{samples.seconds / epochs * 1e3:.1f} ms/epoch (checksum {total:.3f})"
    )
    if worker_kinds != {_WORKER[kind]}:
        raise RuntimeError(f"soak: expected {kind} workers, the loader used {sorted(worker_kinds)}")
    return samples


# -- command line ------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--part", choices=("train", "loader", "all"), default="all", help="Default: all.")
    add("--steps", type=int, default=100_000, help="training steps. Default: 100000.")
    add("--batch", type=int, default=64, help="training batch size. Default: 64.")
    add("--every", type=int, default=1_000, help="sample RSS every N steps. Default: 1000.")
    add("--warmup", type=int, default=2_000, help="steps before the baseline. Default: 2000.")
    add("--epochs", type=int, default=1_000, help="loader epochs per kind. Default: 1000.")
    add("--every-epochs", type=int, default=50, help="sample every N epochs. Default: 50.")
    add("--warmup-epochs", type=int, default=20, help="epochs before the baseline. Default: 20.")
    add("--kinds", default="threads,processes", help="loader workers to soak. Default: both.")
    add("--settle", type=float, default=2.0, help="seconds to wait for teardown. Default: 2.")
    add("--tolerance", type=float, default=0.05, help="allowed RSS growth. Default: 0.05.")
    add("-v", "--verbose", action="store_true", help="print every sample as it is taken.")
    add("--quick", action="store_true", help="300 steps and 5 epochs (a few seconds).")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.quick:
        args.steps, args.every, args.warmup = 300, 50, 100
        args.epochs, args.every_epochs, args.warmup_epochs = 5, 1, 1
    kinds = [k for k in args.kinds.split(",") if k]
    if not set(kinds) <= {"threads", "processes"}:
        _parser().error(f"--kinds takes threads and/or processes (got {args.kinds!r})")
    for name in ("steps", "batch", "every", "epochs", "every_epochs"):
        if getattr(args, name) < 1:
            _parser().error(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    results: list[Samples] = []
    if args.part in ("train", "all"):
        results.append(soak_training(args.steps, args.batch, args.every, args.warmup, args.verbose))
    if args.part in ("loader", "all"):
        for kind in kinds:
            results.append(
                soak_loader(
                    kind,
                    args.epochs,
                    args.every_epochs,
                    args.warmup_epochs,
                    args.settle,
                    args.verbose,
                )
            )
    all_ok = True
    print("# soak summary")
    for samples in results:
        ok, lines = verdict(samples, args.tolerance)
        all_ok = all_ok and ok
        print("\n".join(lines))
    print(f"# soak {'PASS' if all_ok else 'FAIL'}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
