"""deepgrad.accelerator (torch.accelerator): answers without a GPU and with the fake CuPy's GPUs."""

from __future__ import annotations

import pytest
from fake_cupy import state
from test_cuda_api import _reload_loader

import deepgrad as dg
from deepgrad.backend import DeviceError


@pytest.fixture
def no_cupy(monkeypatch):
    _reload_loader(monkeypatch, None)


def test_without_a_gpu_there_is_no_accelerator(no_cupy):
    assert dg.accelerator.is_available() is False
    assert dg.accelerator.device_count() == 0
    assert dg.accelerator.current_accelerator() is None
    assert dg.accelerator.current_accelerator(check_available=True) is None
    with dg.accelerator.device_index(None):  # None changes nothing and needs no GPU
        pass


@pytest.mark.parametrize(
    "action",
    [
        lambda: dg.accelerator.current_device_index(),
        lambda: dg.accelerator.set_device_index(0),
        lambda: dg.accelerator.synchronize(),
        lambda: dg.accelerator.device_index(0).__enter__(),
    ],
    ids=["current_device_index", "set_device_index", "synchronize", "device_index"],
)
def test_actions_without_a_gpu_say_why(no_cupy, action):
    with pytest.raises(
        DeviceError, match=r"no accelerator is available \(CuPy is not installed.*use 'cpu'"
    ):
        action()


def test_the_official_examples_idiom_picks_the_cpu(no_cupy):
    device = dg.accelerator.current_accelerator().type if dg.accelerator.is_available() else "cpu"
    assert dg.zeros(2, device=device).device == dg.device("cpu")


def test_with_gpus_the_accelerator_is_cuda(fake_two_gpus):
    assert dg.accelerator.is_available() is True
    assert dg.accelerator.device_count() == 2
    accelerator = dg.accelerator.current_accelerator()
    assert accelerator.type == "cuda" and accelerator == dg.device("cuda:0")
    assert dg.zeros(2, device=accelerator.type).device == dg.device("cuda:0")
    assert dg.accelerator.current_device_index() == 0
    with dg.accelerator.device_index(1):
        assert dg.accelerator.current_device_index() == 1
    assert dg.accelerator.current_device_index() == 0
    dg.accelerator.set_device_index(1)
    assert dg.cuda.current_device() == 1
    dg.accelerator.set_device_index(0)
    before = state().get("synchronized", 0)
    dg.accelerator.synchronize()
    assert state()["synchronized"] == before + 1
