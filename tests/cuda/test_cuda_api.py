"""deepgrad.cuda without a GPU (clear answers and errors) and with the fake CuPy (the calls CuPy gets)."""

from __future__ import annotations

import sys
import types

import pytest
from fake_cupy import allocated, state

import deepgrad as dg
from deepgrad import nn
from deepgrad.backend import DeviceError
from deepgrad.backend import device as device_module


def _reload_loader(monkeypatch, cupy_module):
    """Run deepgrad's lazy CuPy loader again with ``cupy_module`` (None: CuPy not installed)."""
    monkeypatch.setitem(sys.modules, "cupy", cupy_module)
    monkeypatch.setattr(device_module, "_cupy", None)
    monkeypatch.setattr(device_module, "_cupy_error", None)
    monkeypatch.setattr(device_module, "_cupy_checked", False)


@pytest.fixture
def no_cupy(monkeypatch):
    _reload_loader(monkeypatch, None)  # `import cupy` raises ModuleNotFoundError


def _fake_runtime(count=None, error=None):
    def get_device_count():
        if error is not None:
            raise error
        return count

    return types.SimpleNamespace(
        cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_device_count))
    )


# -- no CuPy: questions answer no, actions say why and how to install --------------------------------------
def test_questions_answer_no_without_cupy(no_cupy):
    assert dg.cuda.is_available() is False
    assert dg.cuda.device_count() == 0
    assert dg.cuda.memory_allocated() == 0
    assert dg.cuda.memory_reserved() == 0
    dg.cuda.empty_cache()
    assert "CuPy is not installed" in dg.cuda.unavailable_reason()


@pytest.mark.parametrize(
    "action",
    [
        lambda: dg.cuda.synchronize(),
        lambda: dg.cuda.current_device(),
        lambda: dg.cuda.get_device_name(),
        lambda: dg.cuda.set_device(0),
        lambda: dg.zeros(2, device="cuda"),
        lambda: dg.randn(2, device="cuda"),
        lambda: dg.tensor([1.0]).to("cuda"),
        lambda: dg.tensor([1.0]).cuda(),
        lambda: nn.Linear(2, 3).to("cuda"),
        lambda: dg.tensor([1.0], device="cuda:0"),
    ],
    ids=[
        "synchronize",
        "current_device",
        "get_device_name",
        "set_device",
        "zeros",
        "randn",
        "to",
        "cuda",
        "module_to",
        "tensor",
    ],
)
def test_actions_without_cupy_say_why_and_how_to_install(no_cupy, action):
    with pytest.raises(
        DeviceError, match=r"CuPy is not installed.*pip install deepgrad\[cuda12\].*\[cuda13\]"
    ):
        action()


def test_seeding_without_a_gpu_keeps_the_seed(no_cupy):
    dg.cuda.manual_seed(123)
    assert dg.cuda.initial_seed() == 123
    dg.cuda.manual_seed_all(7)
    assert dg.cuda.initial_seed() == 7
    dg.manual_seed(5)  # the global seed seeds both streams again
    assert dg.cuda.initial_seed() == 5


def test_cupy_without_a_gpu_says_so(monkeypatch):
    _reload_loader(monkeypatch, _fake_runtime(count=0))
    assert not dg.cuda.is_available()
    with pytest.raises(
        DeviceError, match="CuPy is installed but no CUDA GPU was found.*device='cpu'"
    ):
        dg.ones(1, device="cuda")


def test_broken_driver_names_the_error_and_the_fix(monkeypatch):
    _reload_loader(monkeypatch, _fake_runtime(error=RuntimeError("cudaErrorInsufficientDriver")))
    with pytest.raises(DeviceError, match=r"cudaErrorInsufficientDriver.*nvidia-smi.*cupy-cuda12x"):
        dg.cuda.synchronize()


def test_unparsable_devices_are_rejected():
    with pytest.raises(DeviceError, match="cannot parse 'gpu'"):
        dg.zeros(1, device="gpu")
    with pytest.raises(DeviceError, match="cannot parse 'cuda:x'"):
        dg.device("cuda:x")


# -- with the fake CuPy ----------------------------------------------------------------------------------
def test_device_queries(fake_cuda):
    assert dg.cuda.is_available() and dg.cuda.unavailable_reason() is None
    assert dg.cuda.device_count() == 1
    assert dg.cuda.current_device() == 0
    assert dg.cuda.get_device_name() == "Fake GPU 0"
    assert dg.cuda.get_device_name("cuda:0") == "Fake GPU 0"
    before = state().get("synchronized", 0)
    dg.cuda.synchronize()
    assert state()["synchronized"] == before + 1
    with allocated(4096):
        assert dg.cuda.memory_allocated() == 4096
        assert dg.cuda.memory_reserved() == 4096
    dg.cuda.empty_cache()
    assert state()["freed"]


def test_device_arguments_are_checked(fake_cuda):
    with pytest.raises(
        DeviceError, match=r"cuda:3 does not exist \(got 1 CUDA device\(s\)\); use cuda:0..cuda:0"
    ):
        dg.cuda.set_device(3)
    with pytest.raises(DeviceError, match="expected a CUDA device"):
        dg.cuda.synchronize("cpu")
    with pytest.raises(DeviceError, match="only 1 CUDA device"):
        dg.zeros(1, device="cuda:1")


def test_tensors_are_made_on_the_current_device(fake_two_gpus):
    with pytest.raises(
        DeviceError, match=r"current CUDA device \(cuda:0\).*deepgrad.cuda.device\(1\)"
    ):
        dg.zeros(2, device="cuda:1")
    with dg.cuda.device(1) as dev:
        assert dev == dg.device("cuda:1")
        assert dg.cuda.current_device() == 1
        x = dg.zeros(2, device="cuda:1")
        assert x.device == dg.device("cuda:1")
    assert dg.cuda.current_device() == 0
    y = x.to("cuda:0")  # a copy across GPUs
    assert y.device == dg.device("cuda:0") and y._data is not x._data
    assert x.to("cuda:1") is x
    dg.cuda.set_device(1)
    assert dg.cuda.current_device() == 1
    assert dg.zeros(2, device="cuda").device == dg.device("cuda:1")  # "cuda" is the current device
    assert dg.ones(2).to("cuda").device.index == 1
    with pytest.raises(DeviceError, match="memory pool belongs to the current device cuda:1"):
        dg.cuda.memory_allocated(0)
    dg.cuda.set_device(0)
    assert dg.device("cuda") == dg.device("cuda:0")
