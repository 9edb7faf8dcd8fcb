#!/usr/bin/env bash
# The container's install steps, in one place: the Dockerfile runs this script, and .ci/run runs
# it in a fresh virtual environment (docker/check.sh), so a broken step fails CI without Docker.
#
#   docker/install.sh [EXTRAS]     from the repository root, inside the target environment
#
# EXTRAS: deepgrad's extras, comma-separated. Default: plot,tensorboard,datasets (the labs,
# TensorBoard logs, dataset downloads); add cuda12 or cuda13 on a CUDA base image.
set -euo pipefail
extras="${1:-plot,tensorboard,datasets}"
python3 -m pip install --upgrade "pip>=24"
python3 -m pip install ".[${extras}]" "jupyterlab>=4.2,<5" "tensorboard>=2.14,<3" "ipykernel>=6,<8"
# The labs and the TensorBoard server must start in this environment (checked from another
# folder, so that the installed deepgrad is imported, not the source tree).
(cd / && python3 -c "import deepgrad, matplotlib, pooch, tensorboardX; print('deepgrad', deepgrad.__file__)")
jupyter lab --version
tensorboard --version_tb
