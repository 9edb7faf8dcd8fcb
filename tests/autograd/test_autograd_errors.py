"""Clear errors from autograd (DESIGN principle 8): what is wrong, the values, how to fix."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.autograd.tensor as tensor_module
from deepgrad import Device, DeviceError, DTypeError, Tensor


def test_backward_of_a_non_scalar_needs_a_gradient():
    x = dg.randn(2, 3, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=r"backward: .*only for one-element outputs \(got shape \(2, 3\)\); pass gradient=",
    ):
        (x * 2.0).backward()


def test_backward_gradient_of_the_wrong_shape():
    x = dg.randn(2, 3, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=r"gradient for tensor 0 has shape \(3,\) but the tensor has shape \(2, 3\)",
    ):
        (x * 2.0).backward(dg.ones(3))


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(
        RuntimeError,
        match=r"backward: tensor 0 \(shape \(\)\) does not require grad.*requires_grad=True",
    ):
        dg.tensor(2.0).backward()
    x = dg.tensor([1.0], requires_grad=True)
    with dg.no_grad():
        y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


@pytest.mark.parametrize(
    "make",
    [
        lambda: dg.tensor([1, 2, 3], requires_grad=True),
        lambda: dg.tensor([1, 2, 3]).requires_grad_(),
        lambda: dg.arange(3, requires_grad=True),
        lambda: dg.tensor([True, False], requires_grad=True),
    ],
    ids=["tensor", "requires_grad_", "arange", "bool"],
)
def test_integer_and_bool_tensors_cannot_require_grad(make):
    with pytest.raises(
        DTypeError,
        match=r"requires_grad: only floating-point tensors can require gradients \(got (int64|bool)\); .*\.float\(\)",
    ):
        make()


def test_setting_requires_grad_on_an_integer_tensor_is_checked_too():
    t = dg.tensor([1, 2])
    with pytest.raises(DTypeError, match=r"got int64"):
        t.requires_grad = True
    assert not t.requires_grad


class FakeCudaArray(np.ndarray):
    """A NumPy array that pretends to live on cuda:0 (CuPy is not installed here)."""


@pytest.fixture
def fake_cuda(monkeypatch):
    real = tensor_module.device_of

    def device_of(array):
        return Device("cuda", 0) if type(array) is FakeCudaArray else real(array)

    monkeypatch.setattr(tensor_module, "device_of", device_of)

    def make(values):
        return Tensor._make(np.asarray(values, dtype=np.float32).view(FakeCudaArray), None)

    return make


def test_mixing_devices_in_an_op_names_both(fake_cuda):
    on_gpu = fake_cuda([1.0, 2.0])
    on_cpu = dg.tensor([3.0, 4.0])
    assert str(on_gpu.device) == "cuda:0"
    with pytest.raises(
        DeviceError, match=r"add: .*different devices \(cuda:0 and cpu\).*\.to\(device\)"
    ):
        on_gpu + on_cpu
    with pytest.raises(DeviceError, match=r"mul: .*\(cpu and cuda:0\)"):
        on_cpu * on_gpu


def test_backward_gradient_on_another_device_names_both(fake_cuda):
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(
        DeviceError,
        match=r"backward: the gradient for tensor 0 is on cuda:0 but the tensor is on cpu",
    ):
        (x * 2.0).backward(fake_cuda([1.0, 1.0]))
