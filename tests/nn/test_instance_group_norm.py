"""Instance and group normalization (F.instance_norm, F.group_norm, nn.InstanceNorm1d/2d/3d,
nn.GroupNorm): formulas, float64 gradient checks, running statistics, unbatched input, errors, and
PyTorch parity of outputs, gradients and running statistics (marked ``parity``)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import gradcheck
from deepgrad.backend import ShapeError

RNG = np.random.default_rng(3)


def _t(shape, requires_grad=True, scale=1.0, shift=0.0):
    return dg.tensor(RNG.standard_normal(shape) * scale + shift, requires_grad=requires_grad)


def test_instance_norm_normalizes_each_sample_and_channel():
    x = _t((3, 4, 10), False, scale=5.0, shift=2.0)
    y = F.instance_norm(x).numpy()
    np.testing.assert_allclose(y.mean(axis=2), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=2), 1, atol=1e-5)


def test_group_norm_with_one_group_per_channel_is_instance_norm_and_one_group_is_layer_norm():
    x = _t((2, 6, 5), False)
    np.testing.assert_allclose(F.group_norm(x, 6).numpy(), F.instance_norm(x).numpy(), atol=1e-12)
    np.testing.assert_allclose(
        F.group_norm(x, 1).numpy(), F.layer_norm(x, (6, 5)).numpy(), atol=1e-12
    )


def test_gradchecks():
    w, b = _t((3,)), _t((3,))
    assert gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (_t((2, 3, 4)), w, b))
    assert gradcheck(lambda x: F.instance_norm(x), (_t((2, 3, 2, 3)),))
    w, b = _t((4,)), _t((4,))
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (_t((2, 4, 3)), w, b))
    assert gradcheck(lambda x: F.group_norm(x, 2), (_t((2, 4, 2, 2)),))


def test_instance_norm_layer_defaults_and_unbatched_input():
    layer = nn.InstanceNorm1d(3)
    assert layer.weight is None and layer.running_mean is None and dict(layer.state_dict()) == {}
    x = _t((3, 7), False)
    np.testing.assert_allclose(layer(x).numpy(), layer(x.unsqueeze(0)).numpy()[0])
    assert nn.InstanceNorm2d(2)(dg.randn(2, 5, 5)).shape == (2, 5, 5)
    assert nn.InstanceNorm3d(2, affine=True)(dg.randn(1, 2, 3, 3, 3)).shape == (1, 2, 3, 3, 3)
    with pytest.raises(
        ShapeError, match=r"InstanceNorm2d: expected a 4-D input .* \(got shape \(2, 5\)\)"
    ):
        nn.InstanceNorm2d(2)(dg.randn(2, 5))


def test_instance_norm_channel_mismatch_warns_without_parameters_and_raises_with_them():
    with pytest.warns(UserWarning, match="input has 4 channels but num_features is 3"):
        nn.InstanceNorm1d(3)(dg.randn(2, 4, 5))
    with pytest.raises(ShapeError, match="expected C = num_features = 3"):
        nn.InstanceNorm1d(3, affine=True)(dg.randn(2, 4, 5))


def test_instance_norm_running_statistics_train_then_eval():
    layer = nn.InstanceNorm1d(2, momentum=0.5, track_running_stats=True)
    x = _t((4, 2, 6), False, scale=3.0, shift=1.0)
    layer(x)
    data = x.numpy()
    expected_mean = 0.5 * data.mean(axis=2).mean(axis=0)
    expected_var = 0.5 + 0.5 * data.var(axis=2, ddof=1).mean(axis=0)
    np.testing.assert_allclose(layer.running_mean.numpy(), expected_mean, rtol=1e-6)
    np.testing.assert_allclose(layer.running_var.numpy(), expected_var, rtol=1e-6)
    layer.eval()
    view = (1, 2, 1)
    expected = (data - expected_mean.reshape(view)) / np.sqrt(expected_var.reshape(view) + 1e-5)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_group_norm_validates():
    with pytest.raises(ValueError, match="num_channels 6 must be divisible by num_groups 4"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ShapeError, match="C = num_channels = 6"):
        nn.GroupNorm(3, 6)(dg.randn(2, 4, 3))
    with pytest.raises(ValueError, match="positive divisor of the 6 channels"):
        F.group_norm(dg.randn(2, 6), 4)
    assert repr(nn.GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True)"


@pytest.mark.parity
@pytest.mark.parametrize(
    "name,kwargs,shape",
    [
        ("InstanceNorm1d", dict(num_features=3), (2, 3, 7)),
        (
            "InstanceNorm1d",
            dict(num_features=3, affine=True, track_running_stats=True, momentum=0.3),
            (2, 3, 7),
        ),
        ("InstanceNorm2d", dict(num_features=3, affine=True), (2, 3, 4, 5)),
        ("InstanceNorm2d", dict(num_features=3, track_running_stats=True), (3, 4, 5)),
        ("InstanceNorm3d", dict(num_features=2, affine=True), (1, 2, 3, 2, 4)),
        ("GroupNorm", dict(num_groups=2, num_channels=4), (3, 4, 5)),
        ("GroupNorm", dict(num_groups=3, num_channels=6, eps=1e-3, affine=False), (2, 6, 2, 3)),
    ],
)
def test_layers_match_torch_in_train_and_eval(name, kwargs, shape):
    torch = pytest.importorskip("torch")
    layer = getattr(nn, name)(**kwargs).double()
    tlayer = getattr(torch.nn, name)(**kwargs).double()
    if getattr(layer, "weight", None) is not None:
        with dg.no_grad():
            layer.weight.copy_(dg.tensor(RNG.uniform(0.5, 1.5, layer.weight.shape)))
            layer.bias.copy_(dg.tensor(RNG.standard_normal(layer.bias.shape)))
    state = {k: torch.tensor(v.detach().numpy()) for k, v in layer.state_dict().items()}
    tlayer.load_state_dict(state)
    for mode in ("train", "eval"):
        getattr(layer, mode)()
        getattr(tlayer, mode)()
        x = RNG.standard_normal(shape) * 2 + 1
        xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = layer(xd), tlayer(xt)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-10)
        g = RNG.standard_normal(shape)
        (y * dg.tensor(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), atol=1e-10)
        for pname, p in layer.named_parameters():
            np.testing.assert_allclose(
                p.grad.numpy(), dict(tlayer.named_parameters())[pname].grad.numpy(), atol=1e-10
            )
            p.grad = None
        tlayer.zero_grad()
        tstate = tlayer.state_dict()
        for key, value in layer.state_dict().items():
            if key != "num_batches_tracked":
                np.testing.assert_allclose(
                    value.numpy(), tstate[key].numpy(), atol=1e-12, err_msg=key
                )
