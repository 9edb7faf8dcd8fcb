"""benchmarks/soak.py: its quick run passes, and its verdict catches growth after the warm-up."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"
MB = 1024 * 1024


@pytest.fixture
def soak(monkeypatch):
    """The script as a module (its BLAS-thread defaults are undone after the test)."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "2")
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script prepends its checkout
    spec = importlib.util.spec_from_file_location("soak_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "soak_script", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _samples(soak, rss_mb: list[float], fds: list[int] | None = None, warmup: int = 2):
    samples = soak.Samples("t", "steps", warmup)
    for i, mb in enumerate(rss_mb):
        counts = {} if fds is None else {"fds": fds[i]}
        samples.rows.append((i, int(mb * MB), counts))
    return samples


def test_quick_run_exits_0_and_prints_the_summary() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        cwd=SCRIPT.parent.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for part in ("train", "loader/threads", "loader/processes"):
        assert f"[{part}] RSS MB: first " in out
        assert f"[{part}] PASS" in out
    assert "workers were ['thread']" in out and "workers were ['process']" in out
    assert "[loader/processes] children: baseline 0, last 0" in out
    assert "[train] of which the History's per-step log (kept by design): " in out
    assert out.rstrip().endswith("# soak PASS")


def test_verdict_passes_flat_rss_and_ignores_the_warm_up(soak) -> None:
    ok, lines = soak.verdict(_samples(soak, [50, 90, 100, 102, 101, 104.9]), 0.05)
    assert ok, lines
    assert "baseline (steps 2) 100.0" in lines[1] and "max +4.90%" in lines[1]


def test_verdict_fails_rss_growth_after_the_warm_up(soak) -> None:
    ok, lines = soak.verdict(_samples(soak, [90, 95, 100, 103, 105.5, 101]), 0.05)
    assert not ok
    assert "GROWS" in lines[1] and "last +1.00%, max +5.50%" in lines[1]
    assert lines[-1] == "[t] FAIL"


def test_verdict_reports_growth_net_of_the_history_but_judges_the_raw_rss(soak) -> None:
    samples = _samples(soak, [90, 95, 100, 103, 106])
    samples.kept = [0, 0, 0, 3 * MB, 6 * MB]
    ok, lines = soak.verdict(samples, 0.05)
    assert not ok
    assert "6.0 MB at the end, 3145728 B/step" in lines[2]
    assert "net of it: last +0.00%, max +0.00%" in lines[2]


def test_verdict_fails_a_count_that_grows(soak) -> None:
    ok, lines = soak.verdict(_samples(soak, [100] * 5, fds=[9, 6, 6, 7, 6]), 0.05)
    assert not ok
    assert "[t] fds: baseline 6, last 6, max after warm-up 7, max overall 9" in lines[2]
    ok, _ = soak.verdict(_samples(soak, [100] * 5, fds=[9, 6, 6, 6, 5]), 0.05)
    assert ok


def test_settled_counts_waits_for_teardown_only_as_long_as_told(soak) -> None:
    now = soak.live_counts()
    assert set(now) == {"threads", "tasks", "children", "fds"} and now["threads"] >= 1
    start = time.monotonic()
    higher = {key: value + 100 for key, value in now.items()}
    assert soak.settled_counts(higher, 5.0)["threads"] == now["threads"]
    assert time.monotonic() - start < 1.0  # met at once: no waiting
    lower = {key: value - 1 for key, value in now.items()}
    start = time.monotonic()
    soak.settled_counts(lower, 0.05)  # cannot be met: returns after the wait
    assert 0.05 <= time.monotonic() - start < 2.0
