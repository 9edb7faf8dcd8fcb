"""deepgrad.backends (torch.backends): the flags PyTorch programs set are kept, and harmless."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.backends import cudnn


@pytest.fixture
def restore_flags():
    saved = (
        cudnn.enabled,
        cudnn.benchmark,
        cudnn.deterministic,
        cudnn.allow_tf32,
        dg.backends.cuda.matmul.allow_tf32,
        dg.backends.mkldnn.enabled,
        dg.backends.cuda.flash_sdp_enabled(),
    )
    yield
    cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32 = saved[:4]
    dg.backends.cuda.matmul.allow_tf32, dg.backends.mkldnn.enabled = saved[4:6]
    dg.backends.cuda.enable_flash_sdp(saved[6])


def test_pytorch_defaults_and_answers():
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == (
        True,
        False,
        False,
        True,
    )
    assert cudnn.is_available() is False and cudnn.version() is None
    assert dg.backends.mps.is_available() is False and dg.backends.mps.is_built() is False
    assert dg.backends.mkldnn.is_available() is False and dg.backends.mkldnn.enabled is True
    assert dg.backends.cuda.is_built() == dg.cuda.is_available()
    matmul = dg.backends.cuda.matmul
    assert matmul.allow_tf32 is False
    assert matmul.allow_fp16_reduced_precision_reduction is True
    assert matmul.allow_bf16_reduced_precision_reduction is True


def test_flags_read_back_what_was_set_and_change_no_result(restore_flags):
    dg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1))
    x = dg.randn(3, 1, 4, 4)
    before = model(x).detach().numpy()
    cudnn.benchmark = True
    cudnn.deterministic = True
    cudnn.enabled = False
    dg.backends.cuda.matmul.allow_tf32 = True
    dg.backends.mkldnn.enabled = False
    dg.backends.cuda.enable_flash_sdp(False)
    assert (cudnn.benchmark, cudnn.deterministic, cudnn.enabled) == (True, True, False)
    assert dg.backends.cuda.matmul.allow_tf32 is True and not dg.backends.cuda.flash_sdp_enabled()
    np.testing.assert_array_equal(model(x).detach().numpy(), before)


def test_cudnn_flags_context_restores(restore_flags):
    cudnn.benchmark = True
    with cudnn.flags(enabled=True, benchmark=False, deterministic=True):
        assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (True, False, True)
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (True, True, False)


def test_a_misspelt_matmul_flag_raises():
    with pytest.raises(AttributeError):
        dg.backends.cuda.matmul.allow_tf23 = True


def test_sdp_switches_round_trip(restore_flags):
    cuda = dg.backends.cuda
    for enable, enabled in (
        (cuda.enable_mem_efficient_sdp, cuda.mem_efficient_sdp_enabled),
        (cuda.enable_math_sdp, cuda.math_sdp_enabled),
    ):
        enable(False)
        assert enabled() is False
        enable(True)
        assert enabled() is True
