"""deepgrad.distributed on 2 processes under mpiexec (issue 15): collectives, DDP, SyncBatchNorm,
DistributedSampler, and a dead or hung rank reported within the timeout."""

from __future__ import annotations

import json
import time

import pytest
from mpi_launch import rank_records, run_mpi


@pytest.fixture(scope="module")
def collectives() -> list[dict]:
    """One run of scripts/collectives.py (each rank asserts its own results too)."""
    return rank_records(run_mpi("collectives.py"))


def test_every_collective_gives_its_result_on_every_rank(collectives):
    zero, one = collectives
    for name in ("SUM", "AVG", "PRODUCT", "MAX", "MIN", "int_sum", "broadcast", "all_gather"):
        assert zero["results"][name] == one["results"][name], name
    assert zero["results"]["SUM"] == [3.0, -6.0, 9.0]
    assert zero["results"]["AVG"] == [1.5, -3.0, 4.5]
    assert zero["results"]["PRODUCT"] == [2.0, 8.0, 18.0]
    assert zero["results"]["MAX"] == [2.0, -2.0, 6.0] and zero["results"]["MIN"] == [1.0, -4.0, 3.0]
    assert zero["results"]["broadcast"] == [2.0, -4.0, 6.0]  # rank 1's (= rank + 1) * base
    assert zero["results"]["reduce_scatter"] == [3.0, 3.0] and one["results"]["reduce_scatter"] == [
        6.0,
        6.0,
    ]
    assert zero["results"]["recv"] == [2.0, -4.0, 6.0] and one["results"]["recv"] == [
        1.0,
        -2.0,
        3.0,
    ]


def test_distributed_sampler_shards_cover_the_data_once_per_epoch(collectives):
    zero, one = collectives
    assert zero["len"] == one["len"] == 6  # ceil(11 / 2): one index repeated as padding
    orders = []
    for epoch in ("0", "1"):
        a, b = zero["shards"][epoch], one["shards"][epoch]
        assert len(a) == len(b) == 6
        assert sorted(set(a) | set(b)) == list(range(11))
        # interleaving the shards gives the epoch's order: every index once, then one pad
        order = [i for pair in zip(a, b) for i in pair]
        assert sorted(order[:11]) == list(range(11)) and order[11] == order[0]
        orders.append(order)
    assert orders[0] != orders[1]  # set_epoch reshuffles


@pytest.fixture(scope="module")
def ddp_runs() -> dict[str, list[dict]]:
    """scripts/ddp.py with the buckets reduced in shared memory, then by MPI's Iallreduce."""
    return {path: rank_records(run_mpi("ddp.py", path)) for path in ("shared", "mpi")}


@pytest.mark.parametrize("path", ["shared", "mpi"])
def test_ddp_matches_one_process_on_the_whole_batch_and_keeps_ranks_identical(ddp_runs, path):
    zero, one = ddp_runs[path]
    assert zero["paths"] == one["paths"] == [True, True, True]  # the reduction asked for
    assert zero["buckets"] > 1  # small buckets: several all-reduces, started in order
    assert zero["digests"] == one["digests"]  # identical parameters after every step
    # gradient_as_bucket_view: the same steps, bit for bit, with every .grad in a bucket
    assert zero["viewed_digests"] == one["viewed_digests"] == zero["digests"]
    assert zero["views"] == one["views"] == [True] * len(zero["views"])
    assert len(set(zero["digests"])) == len(zero["digests"])  # and they did change
    assert zero["diffs"][0] == 0.0  # rank 0's initial weights were broadcast
    assert max(zero["diffs"]) < 1e-5  # 2 ranks at batch B == 1 process at batch 2B
    assert zero["grad_diff"] < 1e-6  # no_sync accumulation, then one averaged step
    assert zero["local_digest"] != one["local_digest"]  # inside no_sync: no communication
    assert "unused.bias, unused.weight" in zero["unused_error"]
    assert "find_unused_parameters=True" in zero["unused_error"]
    assert zero["state_keys"] == ["module.0.bias", "module.0.weight"]
    # Buckets [layer 3, layer 2's bias], [layer 2's weight] start before the first layer's
    # backward (the probe just after it runs first), on both ranks.
    expected = ["all_reduce of 67", "all_reduce of 512", "probe"]
    expected += ["all_reduce of 32", "all_reduce of 320"]
    assert zero["overlap_events"] == one["overlap_events"] == expected


def test_ddp_reductions_in_shared_memory_and_by_mpi_give_the_same_bits(ddp_runs):
    shared, mpi = ddp_runs["shared"], ddp_runs["mpi"]
    # 2 ranks: both add a + b (exactly b + a), so every step's parameters agree bit for bit
    assert shared[0]["digests"] == mpi[0]["digests"]
    assert shared[0]["viewed_digests"] == mpi[0]["viewed_digests"]
    assert shared[0]["auto_shared"] and shared[1]["auto_shared"]  # one node: the default


def test_shared_memory_all_reduce_sums_in_rank_order_on_three_ranks():
    records = rank_records(run_mpi("shared_memory.py", n=3), n=3)  # each rank asserts its sums
    assert records[0]["digests"] == records[1]["digests"] == records[2]["digests"]
    assert len(records[0]["digests"]) == 5
    assert "was freed" in records[0]["freed_error"]


def test_sync_batchnorm_equals_batchnorm_on_the_concatenated_batch():
    records = rank_records(run_mpi("syncbn.py"))  # the script asserts values and gradients
    assert all(r["ok"] for r in records)
    assert records[0]["max_y"] != records[1]["max_y"]  # each rank normalized its own samples


def _fault(mode: str, launcher_args: tuple = ()) -> tuple[dict, float]:
    start = time.monotonic()
    result = run_mpi("faults.py", mode, "1.5", timeout=30, launcher_args=launcher_args)
    elapsed = time.monotonic() - start
    assert result.returncode != 0, result.stdout + result.stderr
    records = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert len(records) == 1, result.stdout + result.stderr
    assert "DistBackendError" in result.stderr
    return records[0], elapsed


def test_a_dead_rank_is_reported_within_the_timeout():
    # -disable-auto-cleanup: mpiexec would otherwise kill rank 0 as soon as rank 1 exits,
    # which is MPI's own answer to a dead process; here rank 0 must find out by itself.
    record, elapsed = _fault("exit", launcher_args=("-disable-auto-cleanup",))
    assert record["rank"] == 0 and 1.4 < record["waited"] < 10
    assert "all_reduce: timed out after 1.5 s on rank 0 of 2 waiting for rank 1" in record["error"]
    assert elapsed < 25  # it exited instead of hanging in MPI_Finalize


def test_a_hung_rank_is_reported_and_the_job_ends():
    record, elapsed = _fault("hang")
    assert record["rank"] == 0 and "waiting for rank 1" in record["error"]
    assert elapsed < 25  # rank 0 failed, so mpiexec ended the hung rank 1 (it sleeps 120 s)


def test_an_uncaught_exception_on_one_rank_ends_the_job_at_once():
    start = time.monotonic()
    result = run_mpi("faults.py", "raise", "120", timeout=60)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert not result.stdout.strip()  # rank 0 never got past its all_reduce
    assert "ValueError: bad batch on rank 1" in result.stderr  # the traceback, as usual
    assert "rank 1 of 2 raised ValueError: bad batch on rank 1; ending every process" in (
        result.stderr
    )
    assert elapsed < 30  # aborted, not left to rank 0's 120 s timeout
