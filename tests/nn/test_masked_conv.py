"""MaskedConv2d (PixelCNN) and CausalConv1d (WaveNet): causality checked through autograd, the
mask's effect on the weight gradient, shapes, float64 gradient checks and errors."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.autograd import gradcheck
from deepgrad.nn.masked_conv import causal_mask


def _input_grad(layer, x, index):
    """d y[index] / d x, as a NumPy array."""
    x = x.detach().requires_grad_(True)
    layer(x)[index].backward()
    return x.grad.numpy()


def test_causal_masks_in_raster_order():
    a = causal_mask((3, 3), "A").numpy()
    b = causal_mask((3, 3), "B").numpy()
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    tall = causal_mask((5, 3), "A").numpy()  # centre (2, 1): two full rows, then one tap
    assert tall.sum() == 7 and tall[2].tolist() == [1, 0, 0] and tall[3:].sum() == 0


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_output_pixel_never_sees_itself_or_later_pixels_in_any_channel(mask_type):
    dg.manual_seed(0)
    conv = nn.MaskedConv2d(3, 4, 5, mask_type=mask_type, padding=2).double()
    x = dg.randn(1, 3, 7, 7, dtype=dg.float64)
    order = np.arange(49).reshape(7, 7)
    for out_channel, i, j in [(0, 3, 3), (2, 0, 0), (3, 6, 1), (1, 4, 6)]:
        g = np.abs(_input_grad(conv, x, (0, out_channel, i, j))[0])  # (3, 7, 7)
        here = i * 7 + j
        blocked = order >= here if mask_type == "A" else order > here
        assert g[:, blocked].max() == 0.0, (mask_type, out_channel, i, j)
        # each input channel reaches it through the taps it is allowed (when any lie in the image)
        seen = ~blocked & (np.abs(order // 7 - i) <= 2) & (np.abs(order % 7 - j) <= 2)
        if seen.any():
            assert (g[:, seen].reshape(3, -1).max(axis=1) > 0).all()
        if mask_type == "B":
            assert (g[:, i, j] > 0).all()  # B sees its own pixel in every input channel


def test_gradients_of_masked_weights_are_zero():
    dg.manual_seed(1)
    conv = nn.MaskedConv2d(2, 3, 3, mask_type="A", padding=1)
    conv(dg.randn(4, 2, 6, 6)).square().sum().backward()
    grad, mask = conv.weight.grad.numpy(), conv.mask.numpy()
    assert np.all(grad[..., mask == 0] == 0.0)
    assert np.all(np.abs(grad[..., mask == 1]) > 0)


def test_masked_conv_is_a_conv2d_with_the_masked_weight():
    dg.manual_seed(2)
    conv = nn.MaskedConv2d(2, 5, (3, 5), mask_type="B", stride=2, padding=(1, 2), dilation=1)
    assert isinstance(conv, nn.Conv2d)
    x = dg.randn(2, 2, 9, 8)
    expected = dg.nn.functional.conv2d(
        x, conv.weight * conv.mask, conv.bias, stride=2, padding=(1, 2)
    )
    y = conv(x)
    assert y.shape == (2, 5, 5, 4)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    assert "mask_type='B'" in repr(conv)


def test_the_mask_is_a_buffer_that_follows_the_dtype_but_is_not_saved():
    conv = nn.MaskedConv2d(1, 2, 3, mask_type="A")
    assert "mask" not in conv.state_dict() and "mask" in dict(conv.named_buffers())
    assert conv.double().mask.dtype == dg.float64


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv_gradcheck_float64(mask_type):
    dg.manual_seed(3)
    conv = nn.MaskedConv2d(2, 2, 3, mask_type=mask_type, padding=1, dilation=1).double()
    x = dg.randn(1, 2, 4, 4, dtype=dg.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: conv(x) * 1.0, (x, conv.weight, conv.bias))


def test_masked_conv_rejects_a_bad_mask_type_and_even_kernels():
    with pytest.raises(
        ValueError, match="MaskedConv2d: mask_type must be 'A' or 'B' \\(got 'C'\\)"
    ):
        nn.MaskedConv2d(1, 1, 3, mask_type="C")
    with pytest.raises(ValueError, match="MaskedConv2d: kernel_size must be odd .*\\(3, 4\\)"):
        nn.MaskedConv2d(1, 1, (3, 4))
    with pytest.raises(ValueError, match="odd"):
        nn.MaskedConv2d(1, 1, 2, mask_type="B")
    with pytest.raises(ValueError, match="causal_mask: mask_type must be 'A' or 'B'"):
        causal_mask((3, 3), "a")


# -- CausalConv1d ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("kernel_size", "dilation"), [(1, 1), (2, 1), (2, 4), (3, 2)])
def test_causal_conv_keeps_the_length_and_matches_a_loop(kernel_size, dilation):
    dg.manual_seed(4)
    conv = nn.CausalConv1d(2, 3, kernel_size, dilation=dilation)
    x = dg.randn(2, 2, 11)
    y = conv(x).detach().numpy()
    assert y.shape == (2, 3, 11) and conv(x[0]).shape == (3, 11)
    w, b, xs = conv.weight.detach().numpy(), conv.bias.detach().numpy(), x.numpy()
    expected = np.zeros_like(y) + b[None, :, None]
    for t in range(11):
        for k in range(kernel_size):
            s = t - (kernel_size - 1 - k) * dilation  # tap k reads step s
            if s >= 0:
                expected[:, :, t] += np.einsum("oc,nc->no", w[:, :, k], xs[:, :, s])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_causal_conv_output_step_sees_only_its_past_taps():
    dg.manual_seed(5)
    conv = nn.CausalConv1d(2, 2, 3, dilation=3).double()
    x = dg.randn(1, 2, 16, dtype=dg.float64)
    for t in (0, 5, 15):
        g = np.abs(_input_grad(conv, x, (0, 1, t))[0]).max(axis=0)
        taps = {t - m * 3 for m in range(3)} & set(range(16))
        assert set(np.flatnonzero(g)) == taps


def test_causal_conv_gradcheck_float64():
    dg.manual_seed(6)
    conv = nn.CausalConv1d(2, 3, 2, dilation=2).double()
    x = dg.randn(2, 2, 6, dtype=dg.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: conv(x) * 1.0, (x, conv.weight, conv.bias))
