"""DLPack: deepgrad.from_dlpack and Tensor.__dlpack__ share memory with NumPy and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg


def test_from_dlpack_of_a_numpy_array_shares_its_memory():
    array = np.zeros((2, 3), dtype=np.float32)
    tensor = dg.from_dlpack(array)
    assert tensor.shape == (2, 3) and tensor.dtype == dg.float32 and not tensor.requires_grad
    tensor[1, 2] = 5.0
    assert array[1, 2] == 5.0
    array[0, 0] = -1.0
    assert tensor[0, 0].item() == -1.0


def test_numpy_from_dlpack_of_a_tensor_shares_its_memory():
    tensor = dg.arange(6, dtype=dg.int64).reshape(2, 3)
    array = np.from_dlpack(tensor)
    assert array.dtype == np.int64 and array.shape == (2, 3)
    array[0, 1] = 42
    assert tensor[0, 1].item() == 42
    tensor[1, 2] = -7
    assert array[1, 2] == -7


def test_strided_views_keep_their_strides():
    base = dg.arange(12.0).reshape(3, 4)
    view = np.from_dlpack(base.t())
    np.testing.assert_array_equal(view, np.arange(12.0).reshape(3, 4).T)
    view[0, 1] = 100.0
    assert base[1, 0].item() == 100.0


def test_dlpack_device_and_refusals():
    assert dg.ones(2).__dlpack_device__() == (1, 0)
    with pytest.raises(BufferError, match="requires grad.*detach"):
        dg.ones(2, requires_grad=True).__dlpack__()
    shared = np.from_dlpack(dg.ones(2, requires_grad=True).detach())
    assert shared.tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="expected an object with __dlpack__.*got list"):
        dg.from_dlpack([1.0, 2.0])


def test_copy_true_gives_its_own_memory_and_copy_false_refuses_a_device_change():
    array = np.ones(3, dtype=np.float32)
    copied = dg.from_dlpack(array, copy=True)
    copied[0] = 9.0
    assert array[0] == 1.0
    same = dg.from_dlpack(array, device="cpu")
    same[0] = 3.0
    assert array[0] == 3.0


@pytest.mark.parity
def test_torch_and_deepgrad_share_memory_both_ways():
    torch = pytest.importorskip("torch")
    theirs = torch.zeros(2, 3)
    ours = dg.from_dlpack(theirs)
    ours[0, 1] = 4.0
    assert theirs[0, 1].item() == 4.0
    theirs[1, 2] = 6.0
    assert ours[1, 2].item() == 6.0

    ours = dg.arange(4.0)
    theirs = torch.from_dlpack(ours)
    theirs[3] = -1.0
    assert ours[3].item() == -1.0
    with pytest.raises(BufferError, match="requires grad"):
        torch.from_dlpack(dg.ones(2, requires_grad=True))
    with pytest.raises(BufferError):  # PyTorch's own rule, which deepgrad's matches
        dg.from_dlpack(torch.ones(2, requires_grad=True))
