"""Fixtures of the CUDA tests: a fake CuPy for the device bookkeeping, and a skip for the real GPU tests."""

from __future__ import annotations

import pytest
from fake_cupy import install

import deepgrad as dg


@pytest.fixture
def fake_cuda(monkeypatch):
    """deepgrad sees a fake CuPy with one GPU for this test (see fake_cupy.py for what it can catch)."""
    dg.manual_seed(0)
    yield install(monkeypatch)
    dg.manual_seed(0)  # drop the default generator's fake CUDA streams before real CuPy may be used


@pytest.fixture
def fake_two_gpus(monkeypatch):
    dg.manual_seed(0)
    yield install(monkeypatch, count=2)
    dg.manual_seed(0)


@pytest.fixture
def real_cuda():
    """Skip unless real CuPy and a GPU are present (the tests that check GPU numerics and kernels)."""
    if not dg.cuda.is_available():
        pytest.skip(f"needs CuPy and a CUDA GPU: {dg.cuda.unavailable_reason()}")
    import cupy

    dg.manual_seed(0)
    return cupy


@pytest.fixture
def fake_cuda_kernels(monkeypatch):
    """The fake CuPy with ElementwiseKernel and ReductionKernel run by NumPy (fake_cupy_kernels.py)."""
    dg.manual_seed(0)
    yield install(monkeypatch, kernels=True)
    dg.manual_seed(0)
