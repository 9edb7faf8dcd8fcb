"""The memory policy (glibc thresholds) and the shared scalar constants of the op dispatcher."""

import sys

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.backend import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt only")
def test_keep_and_release_freed_memory_round_trip():
    assert memory.release_freed_memory() is True
    assert memory.is_keeping_freed_memory() is False
    assert memory.keep_freed_memory() is True
    assert memory.is_keeping_freed_memory() is True


def test_import_turns_the_policy_on_where_supported():
    if memory._libc() is None:
        pytest.skip("no glibc here")
    assert memory.is_keeping_freed_memory()


def test_shared_scalar_constants_cannot_be_changed_in_place():
    x = dg.ones(3)
    y = x * 2.0  # the 0-d 2.0 is cached and shared by every op that uses it
    z = dg.zeros(3) + 2.0
    z += 1.0  # must write into z's own array only
    assert z.tolist() == [3.0, 3.0, 3.0]
    assert (x * 2.0).tolist() == [2.0, 2.0, 2.0]
    assert y.tolist() == [2.0, 2.0, 2.0]


def test_scalar_constant_keeps_the_tensor_dtype():
    for dtype in ("float32", "float64", "float16"):
        t = dg.ones(2, dtype=dtype)
        assert (t * 0.1).dtype == np.dtype(dtype)
        assert (0.1 + t).dtype == np.dtype(dtype)
    assert (dg.arange(3) * 0.5).dtype == np.float32


def test_inplace_fast_path_writes_into_the_same_array():
    p = dg.ones(4, requires_grad=True)
    array = p._data
    with dg.no_grad():
        p -= 0.5 * dg.ones(4)
        p *= 2
    assert p._data is array
    assert p.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert p._version == 2
