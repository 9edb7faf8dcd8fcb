"""deepgrad.amp.GradScaler: scaling, unscaling, skipped steps, backoff/growth, checkpoints, misuse,
PyTorch parity, and a float16 training run on the CPU. The step/skip/growth tests take the ``device``
fixture (tests/conftest.py): they run on the CPU and, where CuPy finds a GPU, on CUDA too."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.amp import GradScaler, autocast


def _setup(lr=0.1, optimizer=dg.optim.SGD, device="cpu", **scaler_args):
    w = dg.tensor([1.0, -2.0, 0.5], device=device, requires_grad=True)
    return w, optimizer([w], lr=lr), GradScaler(**scaler_args)


def _set_grad(w, values):
    w.grad = dg.tensor(values, dtype=w.dtype, device=w.device)


def test_scale_multiplies_and_backward_scales_the_gradients():
    w, _, scaler = _setup(init_scale=256.0)
    loss = (w * w).sum()
    scaled = scaler.scale(loss)
    assert scaled.item() == pytest.approx(256.0 * loss.item())
    scaled.backward()
    np.testing.assert_allclose(w.grad.numpy(), 256.0 * 2 * np.array([1.0, -2.0, 0.5]))
    pair = scaler.scale([loss, loss * 2])
    assert isinstance(pair, list) and pair[1].item() == pytest.approx(512.0 * loss.item())
    with pytest.raises(TypeError, match="outputs must be a Tensor"):
        scaler.scale(3.0)


def test_scaling_a_float16_loss_does_not_overflow():
    loss = dg.tensor(2.5, dtype=dg.float16)
    scaled = GradScaler().scale(loss)  # 2.5 * 65536 > 65504, float16's largest value
    assert scaled.dtype == dg.float32 and scaled.item() == 2.5 * 65536


def test_step_unscales_and_steps_when_finite(device):
    w, opt, scaler = _setup(init_scale=1024.0, device=device)
    scaler.scale((w * w).sum()).backward()
    scaler.step(opt)
    np.testing.assert_allclose(w.grad.numpy(), [2.0, -4.0, 1.0])  # unscaled in place
    np.testing.assert_allclose(w.detach().numpy(), [0.8, -1.6, 0.4], rtol=1e-6)
    scaler.update()
    assert scaler.get_scale() == 1024.0


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_step_is_skipped_on_inf_or_nan_and_the_scale_backs_off(bad, device):
    w, opt, scaler = _setup(optimizer=dg.optim.Adam, init_scale=2.0**16, device=device)
    _set_grad(w, [1.0, 1.0, 1.0])
    scaler.step(opt)  # a first, clean step creates Adam's state
    scaler.update()
    before = w.detach().numpy().copy()
    state = {
        k: (v.numpy().copy() if isinstance(v, dg.Tensor) else v) for k, v in opt.state[w].items()
    }
    _set_grad(w, [1.0, bad, 1.0])
    assert scaler.step(opt) is None
    scaler.update()
    np.testing.assert_array_equal(w.detach().numpy(), before)
    for key, value in opt.state[w].items():
        np.testing.assert_array_equal(
            value.numpy() if isinstance(value, dg.Tensor) else value, state[key]
        )
    assert scaler.get_scale() == 2.0**15


def test_growth_after_growth_interval_clean_steps_and_reset_by_an_overflow(device):
    w, opt, scaler = _setup(
        init_scale=4.0, growth_factor=3.0, backoff_factor=0.25, growth_interval=3, device=device
    )
    scales = []
    for grads in (
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 1],
        [1, math.inf, 1],
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 1],
    ):
        _set_grad(w, [float(g) for g in grads])
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    assert scales == [4.0, 4.0, 12.0, 12.0, 3.0, 3.0, 3.0, 9.0]


def test_unscale_before_clipping_then_step():
    w, opt, scaler = _setup(init_scale=8.0)
    _set_grad(w, [8.0 * 3.0, 8.0 * 4.0, 0.0])
    scaler.unscale_(opt)
    norm = nn.utils.clip_grad_norm_([w], max_norm=1.0)
    assert norm.item() == pytest.approx(5.0)
    scaler.step(opt)  # does not unscale again
    np.testing.assert_allclose(
        w.detach().numpy(), [1.0 - 0.1 * 0.6, -2.0 - 0.1 * 0.8, 0.5], rtol=1e-5
    )
    scaler.update()


def test_misuse_is_reported():
    w, opt, scaler = _setup()
    _set_grad(w, [1.0, 1.0, 1.0])
    with pytest.raises(RuntimeError, match="no inf/nan check was recorded"):
        scaler.update()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already called on this optimizer"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step: already called"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="called after step"):
        scaler.unscale_(opt)
    scaler.update()
    scaler.step(opt)  # a new iteration may begin
    scaler.update(new_scale=3.0)
    assert scaler.get_scale() == 3.0


def test_float16_gradients_are_refused():
    w = dg.tensor([1.0, 2.0], dtype=dg.float16, requires_grad=True)
    opt = dg.optim.SGD([w], lr=0.1)
    _set_grad(w, [1.0, 1.0])
    with pytest.raises(ValueError, match="gradient is float16.*keep the parameters float32"):
        GradScaler().step(opt)


def test_constructor_validation():
    usual = r"; a power of two such as 2\.0\*\*16 is usual\.$"
    for kwargs, message in [
        ({"init_scale": 0.0}, r"^GradScaler: init_scale must be > 0 \(got 0\.0\)" + usual),
        ({"init_scale": math.inf}, r"^GradScaler: init_scale must be finite \(got inf\)" + usual),
        (
            {"growth_factor": 1.0},
            r"^GradScaler: growth_factor must be > 1 \(got 1\.0\); it grows the scale\.$",
        ),
        (
            {"backoff_factor": 1.5},
            r"backoff_factor must be in \(0, 1\) \(got 1\.5\); it shrinks the scale\.$",
        ),
        (
            {"growth_interval": 0},
            r"^GradScaler: growth_interval must be a positive int \(got 0\)\.$",
        ),
        ({"device": "gpu"}, r"^GradScaler: device must be 'cpu' or 'cuda' \(got 'gpu'\)\.$"),
    ]:
        with pytest.raises(ValueError, match=message):
            GradScaler(**kwargs)
    for kwargs, message in [
        ({"enabled": "yes"}, r"^GradScaler: enabled must be True or False \(got 'yes'\)\.$"),
        (
            {"init_scale": "1024"},
            r"^GradScaler: init_scale must be a number \(got str '1024'\)" + usual,
        ),
        ({"growth_interval": 2.0}, r"growth_interval must be a positive int \(got float 2\.0\)\.$"),
    ]:
        with pytest.raises(TypeError, match=message):
            GradScaler(**kwargs)
    scaler = GradScaler(device="cpu", init_scale=np.float32(8.0))
    assert scaler.get_scale() == 8.0 and type(scaler.get_scale()) is float
    with pytest.raises(
        ValueError, match=r"^GradScaler\.update: new_scale must be finite \(got inf\)" + usual
    ):
        scaler.update(new_scale=math.inf)
    with pytest.raises(
        ValueError, match=r"^GradScaler\.update: new_scale must be > 0 \(got -1\.0\)" + usual
    ):
        scaler.update(new_scale=-1.0)


def test_state_dict_round_trip_and_disabled_scaler():
    w, opt, scaler = _setup(init_scale=16.0, growth_interval=5)
    for _ in range(3):
        _set_grad(w, [1.0, 1.0, 1.0])
        scaler.step(opt)
        scaler.update()
    state = scaler.state_dict()
    assert state == {
        "scale": 16.0,
        "growth_factor": 2.0,
        "backoff_factor": 0.5,
        "growth_interval": 5,
        "_growth_tracker": 3,
    }
    restored = GradScaler()
    restored.load_state_dict(state)
    assert restored.state_dict() == state
    with pytest.raises(KeyError, match="missing keys"):
        restored.load_state_dict({"scale": 1.0})

    off = GradScaler(enabled=False)
    loss = (w * w).sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    _set_grad(w, [1.0, math.inf, 1.0])
    off.step(opt)  # a disabled scaler steps whatever the gradients are
    assert not np.isfinite(w.detach().numpy()).all()
    off.update()
    with pytest.raises(RuntimeError, match="state dict is empty"):
        GradScaler().load_state_dict({})


@pytest.mark.parity
def test_scale_trajectory_and_updates_match_torch():
    torch = pytest.importorskip("torch")
    pattern = [0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]  # 1: an inf gradient this iteration
    settings = {
        "init_scale": 32.0,
        "growth_factor": 2.0,
        "backoff_factor": 0.5,
        "growth_interval": 3,
    }
    w = dg.tensor([1.0, -1.0], requires_grad=True)
    ours, opt = GradScaler(device="cpu", **settings), dg.optim.SGD([w], lr=0.1)
    tw = torch.tensor([1.0, -1.0], requires_grad=True)
    theirs, topt = torch.amp.GradScaler("cpu", **settings), torch.optim.SGD([tw], lr=0.1)
    for overflow in pattern:
        for param, scaler, _make in ((w, ours, dg.tensor), (tw, theirs, torch.tensor)):
            loss = scaler.scale((param * param).sum())
            loss.backward()
            if overflow:
                param.grad[0] = math.inf
        ours.step(opt)
        theirs.step(topt)
        ours.update()
        theirs.update()
        opt.zero_grad()
        topt.zero_grad()
        assert ours.get_scale() == theirs.get_scale()
        np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-6)
    assert ours.state_dict() == theirs.state_dict()


def test_float16_autocast_training_with_the_scaler_learns():
    dg.manual_seed(0)
    x = dg.randn(256, 2)
    y = ((x[:, 0] * x[:, 1]) > 0).long()  # XOR-like quadrants
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    opt = dg.optim.Adam(model.parameters(), lr=0.02)
    scaler = GradScaler(device="cpu", init_scale=2.0**16)
    for _ in range(150):
        opt.zero_grad()
        with autocast("cpu", dtype=dg.float16):
            loss = F.cross_entropy(model(x), y)
        assert loss.dtype == dg.float32
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    assert all(p.dtype == dg.float32 for p in model.parameters())
    with dg.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    assert accuracy > 0.9
    assert scaler.get_scale() >= 1.0
