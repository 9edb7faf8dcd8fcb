"""DLPack with CUDA memory: from_dlpack hands CUDA data to CuPy, and CUDA tensors say so.

The fake CuPy checks the routing (device type 2 goes to cupy.from_dlpack and the result is a
CUDA tensor on the same memory); the real GPU test checks the exchange with CuPy itself.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg


def test_cuda_data_goes_through_cupy_and_shares_memory(fake_cuda):
    array = fake_cuda.zeros((2, 2), dtype=np.float32)
    tensor = dg.from_dlpack(array)
    assert tensor.device == dg.device("cuda:0")
    assert tensor.__dlpack_device__() == (2, 0)
    tensor[0, 1] = 3.0
    assert float(array[0, 1]) == 3.0


def test_cuda_data_moved_to_the_cpu_is_a_copy_and_copy_false_refuses(fake_cuda):
    array = fake_cuda.ones(3, dtype=np.float32)
    host = dg.from_dlpack(array, device="cpu")
    assert host.device == dg.device("cpu")
    host[0] = 5.0
    assert float(array[0]) == 1.0
    with pytest.raises(ValueError, match="copy=False.*needs a copy"):
        dg.from_dlpack(array, device="cpu", copy=False)


def test_real_cupy_arrays_and_cuda_tensors_share_memory(real_cuda):
    cupy = real_cuda
    array = cupy.zeros(4, dtype=cupy.float32)
    tensor = dg.from_dlpack(array)
    tensor[2] = 7.0
    assert float(array[2]) == 7.0
    back = cupy.from_dlpack(tensor)
    back[1] = -2.0
    assert tensor[1].item() == -2.0
