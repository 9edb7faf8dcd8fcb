"""F.pad / F.interpolate / F.pixel_shuffle / pixel_unshuffle and their layers (padding layers,
Upsample, PixelShuffle): float64 gradient checks, errors, and PyTorch parity of values and
gradients (marked ``parity``)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import gradcheck
from deepgrad.backend import ShapeError

RNG = np.random.default_rng(11)


def _t(shape, requires_grad=True):
    return dg.tensor(RNG.standard_normal(shape), dtype="float64", requires_grad=requires_grad)


def _parity(dg_fn, torch_fn, x, atol=1e-5):
    """Run both on the same float32 input; compare outputs and input gradients of sum(y * v)."""
    torch = pytest.importorskip("torch")
    y = dg_fn(dg.tensor(x, requires_grad=True))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch_fn(tx)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=atol, rtol=1e-5)
    v = RNG.standard_normal(y.shape).astype(x.dtype)
    xd = dg.tensor(x, requires_grad=True)
    (dg_fn(xd) * dg.tensor(v)).sum().backward()
    (ty * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(xd.grad.numpy(), tx.grad.numpy(), atol=atol, rtol=1e-5)


def test_F_pad_is_deepgrad_pad():
    assert F.pad is dg.pad


INTERPOLATE_CASES = [
    ((2, 3, 5, 6), dict(size=(7, 4), mode="nearest")),
    ((2, 3, 5, 6), dict(scale_factor=(1.7, 0.6), mode="nearest")),
    ((2, 3, 7), dict(scale_factor=2.5, mode="nearest-exact")),
    ((2, 3, 5, 6), dict(size=(8, 9), mode="bilinear", align_corners=False)),
    ((2, 3, 5, 6), dict(scale_factor=0.6, mode="bilinear", align_corners=True)),
    ((2, 3, 5, 6), dict(scale_factor=2, mode="bilinear")),
    ((2, 3, 5, 6), dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    ((2, 3, 7), dict(size=11, mode="linear", align_corners=True)),
    ((1, 2, 3, 4, 5), dict(size=(4, 5, 2), mode="trilinear")),
    ((1, 2, 3, 4, 5), dict(scale_factor=2, mode="nearest")),
    ((2, 3, 5, 6), dict(size=(3, 4), mode="area")),
    ((2, 3, 5, 6), dict(size=(1, 1), mode="bilinear")),
]


@pytest.mark.parity
@pytest.mark.parametrize("shape,kwargs", INTERPOLATE_CASES, ids=str)
def test_interpolate_matches_torch(shape, kwargs):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal(shape).astype(np.float32)
    _parity(
        lambda t: F.interpolate(t, **kwargs),
        lambda t: torch.nn.functional.interpolate(t, **kwargs),
        x,
    )


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((1, 2, 3, 4), dict(size=(5, 3), mode="bilinear")),
        ((1, 2, 3, 4), dict(size=(5, 7), mode="bilinear", align_corners=True)),
        ((1, 1, 2, 3, 2), dict(scale_factor=1.5, mode="trilinear")),
        ((2, 1, 4), dict(size=7, mode="nearest")),
    ],
    ids=str,
)
def test_interpolate_gradcheck(shape, kwargs):
    assert gradcheck(lambda x: F.interpolate(x, **kwargs), (_t(shape),))


def test_interpolate_linear_is_exact_on_a_ramp():
    # Linear interpolation with align_corners=True reproduces a linear function exactly.
    x = dg.tensor(np.arange(5.0).reshape(1, 1, 5))
    y = F.interpolate(x, size=9, mode="linear", align_corners=True)
    np.testing.assert_allclose(y.numpy().ravel(), np.linspace(0, 4, 9))


def test_interpolate_errors():
    x = dg.randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="unknown mode 'bicubicx'"):
        F.interpolate(x, size=2, mode="bicubicx")
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(x, size=2, mode="nearest", align_corners=True)
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(x, size=2, mode="area", align_corners=False)
    with pytest.raises(
        ShapeError, match=r"mode 'linear' expects an input with 3 dimensions.*\(1, 2, 3, 4\)"
    ):
        F.interpolate(x, size=2, mode="linear")
    with pytest.raises(ValueError, match="one value per spatial dimension"):
        F.interpolate(x, size=(2, 3, 4))
    with pytest.raises(ValueError, match="antialias=True needs mode"):
        F.interpolate(x, size=2, mode="nearest", antialias=True)
    with pytest.raises(ValueError, match=r"antialias=True needs .*4-D.*\(1, 2, 3\)"):
        F.interpolate(dg.randn(1, 2, 3), size=2, mode="linear", antialias=True)
    with pytest.raises(ValueError, match=r"antialias=True needs .*\(1, 2, 3, 4, 5\)"):
        F.interpolate(dg.randn(1, 2, 3, 4, 5), size=2, mode="bilinear", antialias=True)
    with pytest.raises(ShapeError, match="mode 'bicubic' expects an input with 4 dimensions"):
        F.interpolate(dg.randn(1, 2, 3), size=2, mode="bicubic")
    with pytest.raises(ValueError, match="'lanczos' needs antialias=True"):
        F.interpolate(x, size=2, mode="lanczos")
    with pytest.raises(ValueError, match="'lanczos' does not support align_corners=True"):
        F.interpolate(x, size=2, mode="lanczos", antialias=True, align_corners=True)
    with pytest.raises(ValueError, match="empty output"):
        F.interpolate(x, scale_factor=0.1)


# Bicubic, Lanczos and antialiased resampling (4-D): downsampling and upsampling, integer and
# non-integer factors, both align_corners, size and recompute_scale_factor.
RESAMPLE_CASES = [
    ((2, 3, 9, 11), dict(scale_factor=0.4)),
    ((2, 3, 9, 11), dict(scale_factor=(0.5, 0.77))),
    ((1, 2, 5, 6), dict(scale_factor=(2.0, 1.6))),
    ((1, 2, 12, 7), dict(size=(5, 13))),
    ((1, 2, 6, 7), dict(size=(1, 1))),
    ((1, 2, 10, 9), dict(scale_factor=0.45, recompute_scale_factor=True)),
]
RESAMPLE_MODES = [
    ("bilinear", True, False),
    ("bilinear", True, True),
    ("bicubic", True, False),
    ("bicubic", True, True),
    ("bicubic", False, False),
    ("bicubic", False, True),
    ("lanczos", True, None),
]


@pytest.mark.parity
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("mode,antialias,align_corners", RESAMPLE_MODES, ids=str)
@pytest.mark.parametrize("shape,kwargs", RESAMPLE_CASES, ids=str)
def test_interpolate_bicubic_and_antialias_match_torch(
    shape, kwargs, mode, antialias, align_corners, dtype
):
    torch = pytest.importorskip("torch")
    kwargs = dict(kwargs, mode=mode, antialias=antialias, align_corners=align_corners)
    x = RNG.standard_normal(shape).astype(dtype)
    atol = 1e-5 if dtype == np.float32 else 1e-12
    _parity(
        lambda t: F.interpolate(t, **kwargs),
        lambda t: torch.nn.functional.interpolate(t, **kwargs),
        x,
        atol=atol,
    )
    assert F.interpolate(dg.tensor(x), **kwargs).dtype == dg.tensor(x).dtype


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(size=(2, 3), mode="bilinear", antialias=True),
        dict(scale_factor=(0.6, 1.5), mode="bicubic", antialias=True, align_corners=True),
        dict(size=(5, 2), mode="bicubic"),
        dict(scale_factor=0.5, mode="lanczos", antialias=True),
    ],
    ids=str,
)
def test_interpolate_resample_gradcheck(kwargs):
    assert gradcheck(lambda x: F.interpolate(x, **kwargs), (_t((1, 2, 4, 5)),))


def test_antialias_downsampling_averages_and_upsampling_interpolates():
    x = _t((1, 1, 8, 8), requires_grad=False)
    # Halving with the widened triangle: each output pixel is the 1-3-3-1 weighted mean of 4
    # input pixels per axis (renormalized at the edges), not the 2-pixel bilinear sample.
    y = F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True).numpy()[0, 0]
    taps = np.array([1.0, 3.0, 3.0, 1.0]) / 8.0
    inner = taps @ x.numpy()[0, 0, 1:5, 1:5] @ taps
    np.testing.assert_allclose(y[1, 1], inner, rtol=1e-12)
    # A constant image stays constant whatever the filter.
    ones = dg.ones(1, 1, 7, 9, dtype="float64")
    for mode in ("bilinear", "bicubic", "lanczos"):
        out = F.interpolate(ones, scale_factor=(0.3, 1.7), mode=mode, antialias=True)
        np.testing.assert_allclose(out.numpy(), 1.0, rtol=1e-12)
    # Upsampling with the triangle and pixel centres is plain bilinear interpolation.
    up = dict(scale_factor=2.5, mode="bilinear")
    np.testing.assert_allclose(
        F.interpolate(x, antialias=True, **up).numpy(),
        F.interpolate(x, **up).numpy(),
        atol=1e-12,
    )


def test_pixel_shuffle_round_trip_and_gradcheck():
    x = _t((2, 8, 3, 2))
    assert F.pixel_shuffle(x, 2).shape == (2, 2, 6, 4)
    np.testing.assert_array_equal(
        F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2).detach().numpy(), x.detach().numpy()
    )
    assert F.pixel_shuffle(_t((9, 2, 2)), 3).shape == (1, 6, 6)  # unbatched
    assert gradcheck(lambda t: F.pixel_shuffle(t, 2), (_t((1, 4, 2, 3)),))
    assert gradcheck(lambda t: F.pixel_unshuffle(t, 2), (_t((1, 1, 4, 2)),))
    with pytest.raises(ShapeError, match="divisible by upscale_factor"):
        F.pixel_shuffle(dg.randn(1, 3, 2, 2), 2)
    with pytest.raises(ShapeError, match="divisible by downscale_factor"):
        F.pixel_unshuffle(dg.randn(1, 1, 3, 2), 2)
    with pytest.raises(ValueError, match="upscale_factor must be a positive int"):
        nn.PixelShuffle(0)


@pytest.mark.parity
def test_pixel_shuffle_layers_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 18, 3, 4)).astype(np.float32)
    _parity(nn.PixelShuffle(3), torch.nn.PixelShuffle(3), x)
    x = RNG.standard_normal((2, 3, 4, 6)).astype(np.float32)
    _parity(nn.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2), x)


PAD_LAYERS = [
    ("ZeroPad1d", (2, 1), (2, 3, 5)),
    ("ZeroPad2d", (1, 0, 2, 1), (2, 3, 4, 5)),
    ("ZeroPad3d", 1, (1, 2, 3, 4, 5)),
    ("ConstantPad1d", 2, (2, 3, 5)),
    ("ConstantPad2d", (0, 1, 2, 0), (2, 3, 4, 5)),
    ("ConstantPad3d", (1, 0, 0, 1, 1, 1), (1, 2, 3, 4, 5)),
    ("ReflectionPad1d", (3, 1), (2, 3, 5)),
    ("ReflectionPad2d", (1, 2, 3, 0), (2, 3, 4, 5)),
    ("ReflectionPad3d", 1, (1, 2, 3, 4, 5)),
    ("ReplicationPad1d", (3, 1), (2, 3, 5)),
    ("ReplicationPad2d", 2, (2, 3, 4, 5)),
    ("ReplicationPad3d", (1, 2, 0, 1, 2, 0), (1, 2, 3, 4, 5)),
    ("CircularPad1d", (3, 1), (2, 3, 5)),
    ("CircularPad2d", (1, 2, 3, 0), (2, 3, 4, 5)),
    ("CircularPad3d", 1, (1, 2, 3, 4, 5)),
]


@pytest.mark.parity
@pytest.mark.parametrize("name,padding,shape", PAD_LAYERS, ids=[p[0] for p in PAD_LAYERS])
def test_padding_layers_match_torch(name, padding, shape):
    torch = pytest.importorskip("torch")
    args = (padding, 2.5) if name.startswith("Constant") else (padding,)
    layer, torch_layer = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    _parity(layer, torch_layer, RNG.standard_normal(shape).astype(np.float32))


def test_padding_layers_gradcheck_and_repr():
    assert gradcheck(nn.ReflectionPad2d((1, 2, 2, 1)), (_t((1, 2, 3, 4)),))
    assert gradcheck(nn.CircularPad1d(2), (_t((2, 3)),))
    assert gradcheck(nn.ConstantPad2d(1, 3.0), (_t((2, 2, 2)),))
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ConstantPad1d((1, 2), 0.5)) == "ConstantPad1d(padding=(1, 2), value=0.5)"
    with pytest.raises(ValueError, match=r"ReflectionPad2d: padding must be an int or 4 ints"):
        nn.ReflectionPad2d((1, 2))
    with pytest.raises(ValueError, match="reflect padding"):
        nn.ReflectionPad1d(3)(dg.randn(1, 1, 3))


@pytest.mark.parity
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(scale_factor=2, mode="nearest"),
        dict(size=(7, 5), mode="bilinear", align_corners=True),
        dict(scale_factor=1.5, mode="bilinear"),
        dict(scale_factor=1.5, mode="bicubic", align_corners=True),
    ],
    ids=str,
)
def test_upsample_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    _parity(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), x)


@pytest.mark.parity
def test_fixed_mode_upsampling_layers_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    _parity(nn.UpsamplingNearest2d(scale_factor=2), torch.nn.UpsamplingNearest2d(scale_factor=2), x)
    _parity(nn.UpsamplingBilinear2d(size=(6, 9)), torch.nn.UpsamplingBilinear2d(size=(6, 9)), x)


def test_upsample_validates_at_construction():
    with pytest.raises(ValueError, match="Upsample: unknown mode 'cubic'"):
        nn.Upsample(scale_factor=2, mode="cubic")
    with pytest.raises(ValueError, match="Upsample: give exactly one of size and scale_factor"):
        nn.Upsample()
    assert repr(nn.Upsample(scale_factor=2.0)) == "Upsample(scale_factor=2.0, mode='nearest')"


def test_identity_flatten_unflatten_exist():
    x = dg.randn(2, 3, 4)
    assert nn.Identity(54, unused="x")(x) is x
    assert nn.Unflatten(1, (3, 4))(nn.Flatten()(x)).shape == (2, 3, 4)
