"""PyTorch programs run unchanged on deepgrad (issue 11).

Each file in ``programs/`` is an ordinary PyTorch program (``import torch``). It runs twice in a
subprocess: under PyTorch, and under ``torch_alias.py``, which makes ``torch`` mean deepgrad. The
last line it prints is JSON with its losses. Programs that start from the same weights and draw
no random numbers after that are ``deterministic`` and must agree within float32 tolerance; the
others must reach their final loss within the margin the program states.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]  # the checkout whose deepgrad is tested, not whichever one is installed
PROGRAMS = sorted(p for p in (HERE / "programs").glob("*.py") if not p.name.startswith("_"))


def run(program: Path, library: str, extra: list[str]) -> dict:
    launcher = [str(HERE / "torch_alias.py")] if library == "deepgrad" else []
    path = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    # One thread per library: the programs are tiny, and two BLAS pools spinning on a 2-core
    # machine cost PyTorch up to 10x (docs/performance.md, note 8). Results do not depend on it.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(path),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    result = subprocess.run(
        [sys.executable, *launcher, str(program), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=program.parent,
        check=False,
        env=env,
    )
    assert result.returncode == 0, f"{program.name} under {library}:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_runs_on_deepgrad_like_on_pytorch(program):
    pytest.importorskip("torch")
    ours = run(program, "deepgrad", [])
    theirs = run(program, "torch", [])
    assert len(ours["losses"]) == len(theirs["losses"])
    assert np.all(np.isfinite(ours["losses"]))
    if ours.get("deterministic"):
        np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=2e-3, atol=1e-5)
    else:
        margin = ours["margin"]
        assert abs(ours["losses"][-1] - theirs["losses"][-1]) <= margin, (ours, theirs)
