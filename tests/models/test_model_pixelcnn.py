"""PixelCNN and WaveNet: shapes, causality of the whole network (through autograd), the Bernoulli
NLL, windowed sampling equal to full-image sampling, float64 gradient checks and short training
runs to a stated level."""

from __future__ import annotations

import numpy as np
import pytest
from model_helpers import directional_gradcheck

import deepgrad as dg
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.models import PixelCNN, WaveNet
from deepgrad.optim import Adam
from deepgrad.train import Trainer


def _binary(shape, seed=0, dtype=dg.float32):
    return dg.tensor(
        (np.random.default_rng(seed).random(shape) < 0.4).astype(np.float64), dtype=dtype
    )


# -- PixelCNN -------------------------------------------------------------------------------------
@pytest.mark.parametrize("block", ["gated", "residual"])
def test_pixelcnn_shapes(block):
    model = PixelCNN(channels=8, blocks=2, block=block)
    x = _binary((3, 1, 9, 7))
    assert model(x).shape == (3, 1, 9, 7) and model.nll(x).shape == (3,)
    samples = model.sample(2, generator=dg.Generator().manual_seed(0), size=(5, 6)).numpy()
    assert samples.shape == (2, 1, 5, 6) and set(np.unique(samples)) <= {0.0, 1.0}
    assert PixelCNN(in_channels=2, channels=4, blocks=1)(_binary((1, 2, 5, 5))).shape == (
        1,
        2,
        5,
        5,
    )


@pytest.mark.parametrize("block", ["gated", "residual"])
def test_every_logit_depends_only_on_the_pixels_before_it(block):
    dg.manual_seed(0)
    model = PixelCNN(channels=6, blocks=3, block=block, first_kernel_size=5).double()
    x = _binary((1, 1, 8, 8), dtype=dg.float64)
    order = np.arange(64).reshape(8, 8)
    for i, j in [(0, 0), (0, 5), (3, 4), (7, 7), (5, 0)]:
        xg = x.detach().requires_grad_(True)
        model(xg)[0, 0, i, j].backward()
        g = np.abs(xg.grad.numpy()[0, 0])
        assert g[order >= i * 8 + j].max() == 0.0, (i, j)
        if (i, j) != (0, 0):
            assert g[order < i * 8 + j].max() > 0.0  # and it does use the past


def test_nll_is_the_summed_pixel_bce_and_the_loss_its_batch_mean():
    dg.manual_seed(1)
    model = PixelCNN(channels=4, blocks=1)
    x = _binary((4, 1, 6, 6))
    logits = model(x).detach().numpy().astype(np.float64)
    xs = x.numpy()
    bce = np.logaddexp(0.0, logits) - xs * logits
    expected = bce.reshape(4, -1).sum(axis=1)
    np.testing.assert_allclose(model.nll(x).numpy(), expected, rtol=1e-5)
    assert float(model.loss(model(x), x)) == pytest.approx(expected.mean(), rel=1e-5)


def test_windowed_sampling_draws_what_full_image_sampling_draws():
    dg.manual_seed(2)
    model = PixelCNN(channels=4, blocks=2, first_kernel_size=3).double()
    assert model.reach == 3
    fast = model.sample(3, generator=dg.Generator().manual_seed(7), size=(7, 9))
    # the naive loop: the whole image through the network for every pixel, same random stream
    gen = dg.Generator().manual_seed(7)
    x = dg.zeros(3, 1, 7, 9, dtype=dg.float64)
    with dg.no_grad():
        for i in range(7):
            for j in range(9):
                x[:, :, i, j] = dg.bernoulli(model(x)[:, :, i, j].sigmoid(), generator=gen)
    assert np.array_equal(fast.numpy(), x.numpy())
    again = model.sample(3, generator=dg.Generator().manual_seed(7), size=(7, 9))
    assert np.array_equal(fast.numpy(), again.numpy())


@pytest.mark.parametrize("block", ["gated", "residual"])
def test_pixelcnn_gradients_match_finite_differences_in_float64(block):
    dg.manual_seed(3)
    model = PixelCNN(channels=4, blocks=2, block=block, first_kernel_size=3).double()
    x = _binary((2, 1, 5, 5), dtype=dg.float64)
    directional_gradcheck(lambda: model.loss(model(x), x), model.parameters())


def test_pixelcnn_rejects_bad_settings():
    with pytest.raises(ValueError, match="PixelCNN: block must be 'residual' or 'gated'"):
        PixelCNN(block="plain")
    with pytest.raises(ValueError, match="PixelCNN: channels"):
        PixelCNN(channels=0)
    with pytest.raises(ValueError, match="odd"):
        PixelCNN(kernel_size=4)


@pytest.mark.parametrize(("block", "level"), [("gated", 7.0), ("residual", 16.0)])
def test_pixelcnn_learns_images_whose_rows_are_constant(block, level):
    """8x8 images whose every row is one random bit: independent pixels cost 64 ln 2 = 44.4 nats,
    the autoregressive optimum (one bit per row, the rest copied from the left) 8 ln 2 = 5.5.
    Twelve epochs of 8 steps reach the stated level on held-out images."""
    rows = np.random.default_rng(0).integers(0, 2, (384, 1, 8, 1))
    x = np.broadcast_to(rows, (384, 1, 8, 8)).astype(np.float32).copy()
    dg.manual_seed(0)
    model = PixelCNN(channels=8, blocks=1, block=block, first_kernel_size=3)
    loader = DataLoader(
        TensorDataset(x[:256], x[:256]),
        batch_size=32,
        shuffle=True,
        generator=dg.Generator().manual_seed(0),
    )
    Trainer(model, model.loss, Adam(model.parameters(), lr=1e-2), progress=False).fit(
        loader, epochs=12
    )
    nll = float(model.nll(dg.tensor(x[256:])).mean())
    assert 5.0 < nll < level, nll  # above the optimum: no logit sees its own pixel


# -- WaveNet --------------------------------------------------------------------------------------
def test_wavenet_shapes_and_receptive_field():
    net = WaveNet(3, 5, residual_channels=4, skip_channels=6, dilations=(1, 2, 4, 8, 1))
    assert net(dg.randn(2, 3, 40)).shape == (2, 5, 40)
    assert net.receptive_field == 1 + 1 + 2 + 4 + 8 + 1 + 1
    assert WaveNet(kernel_size=3, dilations=(1, 2)).receptive_field == 2 * 4 + 1


def test_wavenet_output_step_sees_exactly_its_receptive_field():
    dg.manual_seed(4)
    net = WaveNet(1, 2, residual_channels=4, skip_channels=4, dilations=(1, 2, 4)).double()
    field = net.receptive_field
    x = dg.randn(1, 1, 24, dtype=dg.float64)
    for t in (0, 6, 20):
        xg = x.detach().requires_grad_(True)
        net(xg)[0, 1, t].backward()
        seen = np.flatnonzero(np.abs(xg.grad.numpy()[0, 0]) > 0)
        assert seen.max() == t and seen.min() == max(0, t - field + 1)


def test_wavenet_gradients_match_finite_differences_in_float64():
    dg.manual_seed(5)
    net = WaveNet(1, 3, residual_channels=3, skip_channels=4, dilations=(1, 2)).double()
    x = dg.randn(2, 1, 9, dtype=dg.float64)
    target = dg.tensor(np.random.default_rng(0).integers(0, 3, (2, 9)))
    loss = dg.nn.functional.cross_entropy
    directional_gradcheck(lambda: loss(net(x), target), net.parameters())


def test_wavenet_rejects_empty_dilations():
    with pytest.raises(ValueError, match="WaveNet: dilations is empty"):
        WaveNet(dilations=())


def test_wavenet_learns_to_continue_a_sequence_with_a_period_of_8():
    """x[t + 1] = x[t - 7]: random binary patterns repeated with period 8 are predictable after
    their first period only through a receptive field of 8 steps or more."""
    rng = np.random.default_rng(0)
    patterns = rng.integers(0, 2, (256, 8))
    seqs = np.tile(patterns, (1, 5))  # (256, 40)
    x = seqs[:, None, :-1].astype(np.float32)
    y = seqs[:, 1:].astype(np.int64)
    dg.manual_seed(0)
    net = WaveNet(1, 2, residual_channels=16, skip_channels=16, dilations=(1, 2, 4, 8))
    loader = DataLoader(
        TensorDataset(x[:192], y[:192]),
        batch_size=32,
        shuffle=True,
        generator=dg.Generator().manual_seed(0),
    )
    opt = Adam(net.parameters(), lr=1e-2)
    Trainer(net, dg.nn.functional.cross_entropy, opt, progress=False).fit(loader, epochs=15)
    with dg.no_grad():
        predicted = net(dg.tensor(x[192:])).numpy().argmax(axis=1)
    accuracy = (predicted[:, 7:] == y[192:, 7:]).mean()  # steps whose answer is in the past
    assert accuracy > 0.95, accuracy
