"""Fixtures of the train tests; the helpers live in train_helpers.py."""

from __future__ import annotations

import pytest
from train_helpers import moons

import deepgrad as dg


@pytest.fixture
def moons_data():
    dg.manual_seed(0)
    return moons(512, 0.1, 0), moons(256, 0.1, 1)
