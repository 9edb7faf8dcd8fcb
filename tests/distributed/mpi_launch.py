"""Launch a script of tests/distributed/scripts under ``mpiexec -n N`` and collect its output."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent / "scripts"
ROOT = Path(__file__).resolve().parents[2]


def mpiexec() -> str | None:
    """The mpiexec next to this Python (the mpich wheel puts it there), else the one on PATH."""
    beside = Path(sys.executable).with_name("mpiexec")
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def require_mpi() -> str:
    """Skip (saying why) unless mpi4py imports and an mpiexec is found; return mpiexec."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py is not installed (pip install 'deepgrad[distributed]')")
    launcher = mpiexec()
    if launcher is None:
        pytest.skip("no mpiexec found next to python3 or on PATH (pip install mpich)")
    return launcher


def run_mpi(
    script: str, *args: str, n: int = 2, timeout: float = 60, launcher_args: tuple = ()
) -> subprocess.CompletedProcess:
    """Run ``mpiexec -n n python3 scripts/<script> args`` with one thread per process.

    The job runs in its own session: past ``timeout`` seconds the whole process group (mpiexec,
    its proxies, the ranks) is killed and the test fails as hung, instead of pytest hanging.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    command = [require_mpi(), *launcher_args, "-n", str(n), sys.executable, str(SCRIPTS / script)]
    process = subprocess.Popen(
        [*command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{script} {args} hung for {timeout} s\nstdout:\n{stdout}\nstderr:\n{stderr}")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def rank_records(result: subprocess.CompletedProcess, n: int = 2) -> list[dict]:
    """The JSON line each rank printed, ordered by rank; fails with the output otherwise."""
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode == 0 and len(records) == n, (
        f"exit status {result.returncode}, {len(records)} records\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return sorted(records, key=lambda r: r["rank"])
