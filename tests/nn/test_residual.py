"""nn.BasicBlock: shapes, shortcuts, gradients in float64, and PyTorch parity (train and eval)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.backend import ShapeError
from deepgrad.nn import functional as F


def _directional_check(loss_of, tensors, eps=1e-6, seed=0):
    """<grad, v> against the central difference of the loss along a random direction v."""
    for t in tensors:
        t.grad = None
    loss_of().backward()
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(t.shape) for t in tensors]
    analytic = sum(float((t.grad.numpy() * v).sum()) for t, v in zip(tensors, vs))
    values = []
    for sign in (1.0, -1.0):
        with dg.no_grad():
            for t, v in zip(tensors, vs):
                t._data += sign * eps * v
            values.append(float(loss_of().item()))
            for t, v in zip(tensors, vs):
                t._data -= sign * eps * v
    numeric = (values[0] - values[1]) / (2 * eps)
    assert abs(analytic - numeric) <= 1e-8 + 1e-5 * abs(numeric), (analytic, numeric)


@pytest.mark.parametrize(
    ("c_in", "c_out", "stride", "size", "projection"),
    [(8, 8, 1, 9, False), (8, 16, 1, 9, True), (8, 8, 2, 9, True), (4, 6, 2, 8, True)],
)
def test_shapes_and_when_the_shortcut_is_a_projection(c_in, c_out, stride, size, projection):
    block = nn.BasicBlock(c_in, c_out, stride)
    y = block(dg.randn(2, c_in, size, size))
    out = -(-size // stride)
    assert y.shape == (2, c_out, out, out)
    assert (block.downsample is not None) == projection
    if projection:
        conv, bn = block.downsample
        assert conv.kernel_size == (1, 1) and conv.stride == (stride, stride) and conv.bias is None
        assert isinstance(bn, nn.BatchNorm2d)
    assert block.conv1.bias is None and block.conv2.bias is None
    assert float(y.min().item()) >= 0.0  # the last ReLU


def test_the_plain_block_has_no_shortcut_and_the_same_main_path():
    dg.manual_seed(0)
    residual = nn.BasicBlock(4, 8, stride=2)
    plain = nn.BasicBlock(4, 8, stride=2, residual=False)
    assert plain.downsample is None and "residual=False" in repr(plain)
    plain.load_state_dict(
        {k: v for k, v in residual.state_dict().items() if not k.startswith("downsample")}
    )
    x = dg.randn(3, 4, 6, 6)
    main_path = residual.bn2(residual.conv2(F.relu(residual.bn1(residual.conv1(x)))))
    np.testing.assert_allclose(
        plain(x).detach().numpy(), F.relu(main_path).detach().numpy(), rtol=1e-6
    )


def test_with_a_zero_residual_branch_the_block_is_relu_of_its_input():
    """bn2's gamma = beta = 0 makes F(x) = 0: y = relu(x), what a block learns when it is not needed."""
    block = nn.BasicBlock(3, 3)
    nn.init.zeros_(block.bn2.weight)
    x = dg.randn(2, 3, 5, 5)
    np.testing.assert_array_equal(block(x).detach().numpy(), np.maximum(x.numpy(), 0))


def test_bad_arguments_and_inputs_are_refused():
    with pytest.raises(ValueError, match="BasicBlock: out_channels must be a positive int"):
        nn.BasicBlock(3, 0)
    with pytest.raises(ValueError, match="BasicBlock: stride"):
        nn.BasicBlock(3, 3, stride=0)
    with pytest.raises(
        ShapeError, match=r"BasicBlock: input must be \(N, 3, H, W\) \(got shape \(2, 4, 5, 5\)\)"
    ):
        nn.BasicBlock(3, 3)(dg.randn(2, 4, 5, 5))


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize(("stride", "c_out"), [(1, 3), (2, 4)])
def test_gradients_match_finite_differences_in_float64(train, stride, c_out):
    dg.manual_seed(1)
    block = nn.BasicBlock(3, c_out, stride).double().train(train)
    if not train:  # non-trivial running statistics
        for bn in (m for m in block.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean._data[:] = np.linspace(-0.2, 0.3, c_out)
            bn.running_var._data[:] = np.linspace(0.5, 2.0, c_out)
    x = dg.randn(2, 3, 5, 5, dtype=dg.float64, requires_grad=True)
    weights = dg.randn(2, c_out, *block(x).shape[2:], dtype=dg.float64)
    # train mode: every forward updates the running statistics, which the loss does not read
    _directional_check(lambda: (block(x) * weights).sum(), [*block.parameters(), x])


def _torch_block(torch, block):
    """The same block written with torch.nn layers (torchvision's BasicBlock layout)."""
    tnn = torch.nn

    class Reference(tnn.Module):
        def __init__(self):
            super().__init__()
            c_in, c_out, s = block.in_channels, block.out_channels, block.stride
            self.conv1 = tnn.Conv2d(c_in, c_out, 3, s, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(c_out)
            self.conv2 = tnn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(c_out)
            self.downsample = None
            if block.downsample is not None:
                self.downsample = tnn.Sequential(
                    tnn.Conv2d(c_in, c_out, 1, s, bias=False), tnn.BatchNorm2d(c_out)
                )

        def forward(self, x):
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            identity = x if self.downsample is None else self.downsample(x)
            return torch.relu(out + identity)

    reference = Reference().double()
    state = {k: torch.tensor(v.numpy()) for k, v in block.state_dict().items()}
    reference.load_state_dict(state)
    return reference


@pytest.mark.parity
@pytest.mark.parametrize(("c_in", "c_out", "stride"), [(4, 4, 1), (4, 6, 2)])
def test_matches_torch_outputs_gradients_and_running_statistics(c_in, c_out, stride):
    torch = pytest.importorskip("torch")
    dg.manual_seed(2)
    block = nn.BasicBlock(c_in, c_out, stride).double()
    for p in block.parameters():  # move gamma, beta off 1, 0
        p._data += 0.1 * np.random.default_rng(0).standard_normal(p.shape)
    reference = _torch_block(torch, block)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, c_in, 7, 7))
    for train in (True, False):
        block.train(train)
        reference.train(train)
        xd = dg.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        y, yt = block(xd), reference(xt)
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-9, atol=1e-12)
        g = rng.standard_normal(y.shape)
        (y * dg.tensor(g)).sum().backward()
        (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
        theirs = dict(reference.named_parameters())
        for name, p in block.named_parameters():
            np.testing.assert_allclose(
                p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=name
            )
            p.grad, theirs[name].grad = None, None
    for name, buffer in block.named_buffers():
        np.testing.assert_allclose(
            buffer.numpy(), dict(reference.named_buffers())[name].numpy(), rtol=1e-12, err_msg=name
        )
