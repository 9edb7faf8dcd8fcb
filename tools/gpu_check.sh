#!/usr/bin/env bash
# The GPU checks of issue 7, as one script for a lent GPU machine (it needs CuPy and a CUDA GPU;
# deepgrad runs from the checkout through PYTHONPATH, its dependencies already installed there).
# Usage: bash tools/gpu_check.sh [OUTDIR]   -- logs and the benchmark JSON land in OUTDIR.
# Each phase has its own time limit, so one slow phase cannot hide the others' results.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-/tmp/gpu_check}}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import sys, numpy, cupy; print(sys.version.split()[0], 'numpy', numpy.__version__, 'cupy', cupy.__version__)"
python3 -c "import deepgrad as dg; print('deepgrad sees cuda:', dg.cuda.is_available(), dg.cuda.unavailable_reason() if not dg.cuda.is_available() else dg.cuda.get_device_name())"

echo "== 1. the CUDA tests on the real GPU (fake and real backends)"
timeout 150 python3 -m pytest tests/cuda tests/test_backends.py -q -p no:cacheprovider \
    -o addopts="" -rfEs --junitxml="$out/cuda_tests.xml" 2>&1 | tee "$out/cuda_tests.log" | tail -40

echo "== 2. GPU benchmarks: deepgrad on CUDA vs PyTorch on CUDA vs deepgrad on the CPU (8 threads)"
timeout 120 python3 benchmarks/run.py gpu_mlp gpu_lenet gpu_lstm --rounds 4 --threads 8 \
    --json "$out/gpu_bench.json" 2>&1 | tee "$out/gpu_bench.log"

echo "== 3. the whole suite with a GPU present (8 workers; CPU tests must not change)"
timeout 100 python3 -m pytest tests -q -p no:cacheprovider -o addopts="" -n 8 \
    --ignore=tests/cuda --ignore=tests/distributed --ignore=tests/compat 2>&1 | tee "$out/suite.log" | tail -15
