"""Shared test helpers: the devices a test can run on.

``DEVICES`` lists "cpu" and, when CuPy and a GPU are present, "cuda" (marked ``cuda``), so
``@pytest.mark.parametrize("device", DEVICES)`` runs a test on every device this machine has;
the ``device`` fixture does the same for tests that take a ``device`` argument.
"""

from __future__ import annotations

import os

import pytest

import deepgrad.cuda
from deepgrad.backend.kernels import numba_available

# The GEMM library choices stay in each test process: tests never write the user's cache, and a
# choice measured by another run cannot change which library a test multiplies with.
os.environ.setdefault("DEEPGRAD_BLAS_CACHE", "")

DEVICES = ["cpu"] + (
    [pytest.param("cuda", marks=pytest.mark.cuda)] if deepgrad.cuda.is_available() else []
)


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Each device of this machine in turn: "cpu", then "cuda" where CuPy and a GPU are present."""
    return request.param


NUMBA_MODES = [
    pytest.param(
        True,
        id="numba",
        marks=pytest.mark.skipif(not numba_available(), reason="numba not installed"),
    ),
    pytest.param(False, id="numpy"),
]


@pytest.fixture(params=NUMBA_MODES)
def numba_mode(request) -> bool:
    """Runs a test with deepgrad's numba kernels on (where numba is installed), then off."""
    from deepgrad.backend.kernels import use_numba

    with use_numba(request.param):
        yield request.param
