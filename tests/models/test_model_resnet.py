"""ResNet (and its plain twin): shapes, depth, gradients, and a short training run on digits."""

from __future__ import annotations

import pytest
from model_helpers import directional_gradcheck, mnist_arrays

import deepgrad as dg
from deepgrad import nn
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.models import ResNet
from deepgrad.nn import functional as F
from deepgrad.optim import Adam
from deepgrad.train import Trainer


def test_shapes_stages_and_depth():
    net = ResNet(num_classes=7, blocks=(1, 2, 1), channels=(4, 8, 16))
    assert net(dg.randn(3, 1, 28, 28)).shape == (3, 7)
    assert net(dg.randn(3, 784)).shape == (3, 7)
    assert net.depth == 2 + 2 * 4
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) + 1 == net.depth  # main-path convolutions and the Linear
    blocks = [m for m in net.modules() if isinstance(m, nn.BasicBlock)]
    assert [(b.in_channels, b.out_channels, b.stride) for b in blocks] == [
        (4, 4, 1),
        (4, 8, 2),
        (8, 8, 1),
        (8, 16, 2),
    ]
    # stages 2 and 3 change the shape: their first block projects
    assert [b.downsample is not None for b in blocks] == [False, True, False, True]
    x = net.layer2(net.layer1(net.stem(dg.randn(1, 1, 28, 28))))
    assert x.shape == (1, 8, 14, 14) and net.layer3(x).shape == (1, 16, 7, 7)


def test_the_plain_twin_has_the_same_layers_without_shortcuts():
    residual = ResNet(blocks=(2, 2, 2), channels=(4, 8, 8))
    plain = ResNet(blocks=(2, 2, 2), channels=(4, 8, 8), plain=True)
    assert plain.depth == residual.depth == 14
    assert all(
        not b.residual and b.downsample is None
        for b in plain.modules()
        if isinstance(b, nn.BasicBlock)
    )
    main = {k: v.shape for k, v in residual.state_dict().items() if "downsample" not in k}
    assert {k: v.shape for k, v in plain.state_dict().items()} == main


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ResNet(blocks=(2, 2)), r"ResNet: blocks must be 3 positive ints \(got \(2, 2\)\)"),
        (lambda: ResNet(channels=(4, 0, 8)), "ResNet: channels must be 3 positive ints"),
        (lambda: ResNet(init="he"), "ResNet: unknown init 'he'"),
    ],
)
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("plain", [False, True])
def test_gradients_match_finite_differences_in_float64(plain):
    dg.manual_seed(0)
    net = ResNet(blocks=(1, 1, 1), channels=(2, 3, 4), plain=plain).double()
    x = dg.randn(3, 1, 12, 12, dtype=dg.float64, requires_grad=True)
    y = dg.tensor([3, 7, 1])
    # training mode: the gradient flows through the batch statistics too
    directional_gradcheck(lambda: F.cross_entropy(net(x), y), [*net.parameters(), x])


def test_a_small_resnet_learns_digits_in_three_epochs():
    x, y, xt, yt = mnist_arrays(1000, 500, flat=False)
    dg.manual_seed(0)
    net = ResNet(blocks=(1, 1, 1), channels=(8, 16, 32))
    trainer = Trainer(
        net, F.cross_entropy, Adam(net.parameters(), lr=1e-2), metrics=["accuracy"], progress=False
    )
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=25, shuffle=True), epochs=3)
    assert trainer.evaluate(DataLoader(TensorDataset(xt, yt), batch_size=500))["accuracy"] >= 0.85
