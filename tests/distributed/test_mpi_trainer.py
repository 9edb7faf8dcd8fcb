"""The Trainer and ``deepgrad train`` on 2 processes under mpiexec (issue 15, parts 4-6):
rank 0 alone writes, metrics reduced over the ranks equal one process's, all ranks stop
together, a dead rank is reported within the timeout, and runs resume with another number of
processes from rank 0's checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from mpi_launch import ROOT, rank_records, run_mpi

from deepgrad.train.checkpoint import resolve_checkpoint

NUMBERS = ("loss", "accuracy", "val_loss", "val_accuracy")


def assert_same_epochs(got: list[dict], want: list[dict]) -> None:
    assert [e["epoch"] for e in got] == [e["epoch"] for e in want]
    for a, b in zip(got, want):
        for key in NUMBERS:
            assert a[key] == pytest.approx(b[key], abs=1e-6), (key, a, b)
        assert a["accuracy"] == b["accuracy"] and a["val_accuracy"] == b["val_accuracy"]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> dict:
    """The reference: the same script as one process, at the same global batch."""
    (record,) = rank_records(
        run_mpi("trainer.py", "fit", str(tmp_path_factory.mktemp("one")), n=1), n=1
    )
    return record


def test_two_ranks_record_one_process_history_and_only_rank_0_writes(tmp_path, one_process):
    zero, one = rank_records(run_mpi("trainer.py", "fit", str(tmp_path)))
    assert zero["error"] is None and zero["digest"] == one["digest"]  # replicas identical
    assert zero["epochs"] == one["epochs"] and zero["steps"] == one["steps"]  # same records
    # reduced loss, accuracy and validation = those of one process on the same data
    assert_same_epochs(zero["epochs"], one_process["epochs"])
    np.testing.assert_allclose(zero["steps"], one_process["steps"], atol=1e-6)
    np.testing.assert_allclose(zero["weights"], one_process["weights"], atol=1e-5)
    assert {"metrics.csv", "last.safetensors", "best.safetensors"} <= set(zero["files"])
    assert one["files"] == [] and not (tmp_path / "rank1").exists()  # rank 1 wrote nothing


def test_a_signal_on_one_rank_stops_both_and_one_process_resumes_inside_the_epoch(
    tmp_path, one_process
):
    zero, one = rank_records(run_mpi("trainer.py", "signal", str(tmp_path)))
    for record in (zero, one):  # rank 1 got SIGTERM before step 5: both stop after it
        assert record["error"].startswith("TrainingInterrupted: SIGTERM")
        assert record["global_step"] == 5
    assert "last.step00000005.safetensors" in zero["files"]  # mid-epoch 2 (3 steps an epoch)
    (resumed,) = rank_records(run_mpi("trainer.py", "fit", str(tmp_path), n=1), n=1)
    assert resumed["resumed"] and resumed["global_step"] == 6
    # the rest of epoch 2's global order, re-sharded for one process: the uninterrupted run
    np.testing.assert_allclose(resumed["weights"], one_process["weights"], atol=1e-5)
    assert_same_epochs(resumed["epochs"], one_process["epochs"])


def test_early_stopping_and_a_nan_on_one_rank_act_on_all_ranks(tmp_path):
    zero, one = rank_records(run_mpi("trainer.py", "stop", str(tmp_path), "4"))
    assert zero["digest"] == one["digest"]  # the NaN step was skipped on both ranks
    assert zero["skipped"] == one["skipped"] == 1
    assert len(zero["epochs"]) == len(one["epochs"]) == 2  # patience 0: stop after epoch 2
    assert zero["stop_reason"] == one["stop_reason"]
    assert zero["stop_reason"].startswith("early stopping: val_loss")
    assert np.isnan(zero["steps"][2]) and np.isnan(one["steps"][2])  # the global loss


def test_a_dead_rank_is_reported_within_the_timeout_and_the_job_resumes(tmp_path, one_process):
    start = time.monotonic()
    result = run_mpi(
        "trainer.py", "kill", str(tmp_path), timeout=40, launcher_args=("-disable-auto-cleanup",)
    )
    elapsed = time.monotonic() - start
    records = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert result.returncode != 0 and len(records) == 1, result.stdout + result.stderr
    (zero,) = records
    assert "timed out after 1.5 s on rank 0 of 2 waiting for rank 1" in zero["error"]
    assert elapsed < 30  # not hung
    assert "last.step00000004.safetensors" in zero["files"]  # rank 0's last checkpoint
    (resumed,) = rank_records(run_mpi("trainer.py", "fit", str(tmp_path), n=1), n=1)
    assert resumed["resumed"] and resumed["global_step"] == 6
    np.testing.assert_allclose(resumed["weights"], one_process["weights"], atol=1e-5)


def test_an_exception_on_one_rank_ends_the_job_at_once(tmp_path):
    start = time.monotonic()
    result = run_mpi("trainer.py", "raise", str(tmp_path), timeout=100)
    elapsed = time.monotonic() - start
    assert result.returncode != 0 and not result.stdout.strip(), result.stdout + result.stderr
    assert "rank 1 of 2 raised ValueError: a bad batch on the last rank; ending" in result.stderr
    assert elapsed < 60  # MPI_Abort, not rank 0's 120 s timeout
    # rank 0's checkpoints stay whole: the abort may cut the step-4 one short, not an older one
    state = resolve_checkpoint(tmp_path / "rank0")
    assert 2 <= state["global_step"] <= 4  # every 2 steps, and at the end of epoch 1 (3)


def test_deepgrad_train_runs_under_mpiexec_and_resumes_as_one_process(tmp_path):
    out = tmp_path / "run"
    args = ("train", "moons", "--epochs", "1", "--out", str(out), "--no-plots", "--quiet")
    result = run_mpi("cli.py", *args, "--checkpoint-every", "5", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("trained in") == 1  # only rank 0 prints
    assert "data-parallel: 2 process(es), batch 16 each" in result.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "completed" and results["epochs_run"] == 1
    assert (out / "last.safetensors").exists() and (out / "metrics.csv").exists()
    resumed = subprocess.run(
        [sys.executable, "-m", "deepgrad.cli", "train", "--resume", str(out), "--epochs", "2"]
        + ["--no-plots", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "data-parallel: 1 process(es), batch 32 each" in resumed.stdout
    assert json.loads((out / "results.json").read_text())["epochs_run"] == 2
