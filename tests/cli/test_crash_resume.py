"""The crash test (issue 12): ``deepgrad train`` in a subprocess, interrupted at random (seeded)
moments by SIGKILL, SIGINT and SIGTERM, at least 6 times in a row, resumed with ``--resume`` in
between, ends with exactly the weights of an uninterrupted run.

SIGINT and SIGTERM stop the run at the next step boundary and save that state
(``last.step<N>.safetensors``); after a SIGKILL the run continues from its newest checkpoint, at
most ``--checkpoint-every`` steps old. A child that hangs is made to print every thread's stack
(faulthandler, on SIGABRT) into the failure message."""

from __future__ import annotations

import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import deepgrad
from deepgrad.train.checkpoint import latest_checkpoint, load_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

EPOCHS = 16
# moons with 840 training points in batches of 8: 105 steps per epoch, about 0.1 s an epoch; the
# progress lines (stderr, not a terminal) say when an epoch ends
SETTINGS = ["--batch-size", "8", "--set", "n=1200", "--set", "hidden=16x16", "--no-plots"]
CHECKPOINT_EVERY = 20  # a SIGKILL loses at most 20 steps
STEPS = EPOCHS * 105
SIGNALS = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)
INTERRUPTIONS = 6
ENV = {**os.environ, "PYTHONPATH": str(pathlib.Path(deepgrad.__file__).parents[1])}


def _start(argv: list[str]) -> subprocess.Popen:
    """Start ``python -m deepgrad.cli argv`` and wait until it ends its first epoch."""
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "deepgrad.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    for line in process.stderr:
        if line.startswith("epoch "):
            return process
    status, out, err = _finish(process)
    pytest.fail(f"deepgrad {' '.join(argv)} ended (status {status}) before an epoch: {out} {err}")


def _finish(process: subprocess.Popen, what: str = "") -> tuple[int, str, str]:
    """(exit status, the rest of stdout and stderr) of the process; a test failure if it hangs."""
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # faulthandler prints the stack of every thread
        try:
            _, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        pytest.fail(f"deepgrad train hung for 60 s {what}; its threads:\n{err[-6000:]}")
    return process.returncode, out, err


def _arrays(state, prefix: str = ""):
    """(name, array) of every tensor, array and number or string in a checkpoint, the history
    (wall times) aside."""
    if isinstance(state, dict):
        for key, value in state.items():
            if prefix or key != "history":
                yield from _arrays(value, f"{prefix}{key}.")
    elif isinstance(state, (list, tuple)):
        for index, value in enumerate(state):
            yield from _arrays(value, f"{prefix}{index}.")
    elif hasattr(state, "numpy") or isinstance(state, np.ndarray):
        yield prefix.rstrip("."), np.asarray(state.numpy() if hasattr(state, "numpy") else state)
    else:  # int, float, str, None: the random states' counters, the epoch, the step ...
        yield prefix.rstrip("."), np.asarray(state, dtype=object)


def _epoch_seconds(argv: list[str]) -> float:
    """Run ``argv`` uninterrupted; the seconds an epoch takes, from the times of its progress lines."""
    process = _start(argv)
    times = [time.perf_counter()]
    for line in process.stderr:
        if line.startswith("epoch "):
            times.append(time.perf_counter())
    status, _, err = _finish(process)
    assert status == 0 and len(times) == EPOCHS, err
    return (times[-1] - times[0]) / (EPOCHS - 1)


def test_interrupted_and_resumed_runs_end_with_the_weights_of_an_uninterrupted_one(tmp_path):
    reference, out = tmp_path / "reference", tmp_path / "run"
    started = time.perf_counter()
    epoch_seconds = _epoch_seconds(
        ["train", "moons", "--epochs", str(EPOCHS), *SETTINGS, "--out", str(reference)]
    )

    rng = random.Random(12)
    every = ["--checkpoint-every", str(CHECKPOINT_EVERY)]
    argv = ["train", "moons", "--epochs", str(EPOCHS), *SETTINGS, *every, "--out", str(out)]
    landed: list[tuple[str, float, int]] = []  # (signal, seconds after an epoch, checkpoint's step)
    for _ in range(INTERRUPTIONS):
        kind = SIGNALS[len(landed) % len(SIGNALS)]
        process = _start(argv)  # an epoch just ended (its checkpoint is being written)
        delay = rng.uniform(0.0, 1.2) * epoch_seconds  # during the write or in the next epoch
        time.sleep(delay)
        process.send_signal(kind)
        status, said, err = _finish(
            process, f"after {kind.name} {delay:.3f} s after an epoch ({landed})"
        )
        if (
            "trained in" in said
        ):  # it finished first: the run is complete, nothing more to interrupt
            pytest.fail(
                f"the run completed after {len(landed)} interruptions: {landed}; use more EPOCHS"
            )
        expected = -signal.SIGKILL if kind == signal.SIGKILL else 130
        assert status == expected, (kind.name, status, landed, said, err[-2000:])
        newest = latest_checkpoint(out)
        step = int(load_checkpoint(newest)["global_step"])
        if kind != signal.SIGKILL:  # stopped between two steps and saved that state
            assert f"after step {step}: state saved to {newest}" in said, (said, landed)
        landed.append((kind.name, round(delay, 3), step))
        argv = ["train", "--resume", str(out), "--no-plots", *every]
    assert len(landed) == INTERRUPTIONS and landed[-1][2] < STEPS, landed

    status, _, err = _finish(_start(argv), "resuming the last time")
    assert status == 0, err[-2000:]
    final, expected = (
        dict(_arrays(load_checkpoint(d / "last.safetensors"))) for d in (out, reference)
    )
    assert final.keys() == expected.keys() and any(k.startswith("model.") for k in final)
    for where in (final, expected):  # a path into its own run folder: compare the file names
        best = where.pop("callbacks.ModelCheckpoint.best_path")
        where["best_path"] = np.asarray(pathlib.Path(str(best)).name, dtype=object)
    different = [name for name in expected if not np.array_equal(final[name], expected[name])]
    assert not different, (different, landed)
    print("interruptions (signal, seconds after an epoch's end, newest checkpoint's step):", landed)
    assert {"global_step", "rng.python.0", "rng.numpy.2"} <= final.keys()
    assert int(final["global_step"]) == STEPS
    assert time.perf_counter() - started < 90  # about 20 s on a laptop
