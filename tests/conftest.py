"""Shared test helpers: the devices a test can run on.

``DEVICES`` lists "cpu" and, when CuPy and a GPU are present, "cuda" (marked ``cuda``), so
``@pytest.mark.parametrize("device", DEVICES)`` runs a test on every device this machine has;
the ``device`` fixture does the same for tests that take a ``device`` argument.
"""

from __future__ import annotations

import pytest

import deepgrad.cuda

DEVICES = ["cpu"] + ([pytest.param("cuda", marks=pytest.mark.cuda)] if deepgrad.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Each device of this machine in turn: "cpu", then "cuda" where CuPy and a GPU are present."""
    return request.param
