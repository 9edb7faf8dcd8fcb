"""Augmentations: shapes/dtypes, identities, rot90, seeds, elastic distortion, composition, loader use."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad
from deepgrad.backend import ShapeError
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.data.augment import (
    Compose,
    ElasticDistortion,
    GaussianNoise,
    RandomApply,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomScale,
    RandomTranslation,
    affine,
)


def gen(seed=0):
    return deepgrad.Generator().manual_seed(seed)


def images(n=6, c=2, h=12, w=12, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)


def blobs(n=5, size=32, width=3.0):
    """Smooth images (a Gaussian bump off-centre), where bilinear resampling is accurate."""
    r, c = np.mgrid[:size, :size]
    out = np.empty((n, 1, size, size), np.float32)
    for i in range(n):
        out[i, 0] = np.exp(-((r - 12 - i) ** 2 + (c - 18 + i) ** 2) / (2 * width**2))
    return out


ALL = [
    lambda: RandomRotation(30),
    lambda: RandomTranslation(fraction=0.2),
    lambda: RandomScale((0.8, 1.2)),
    lambda: ElasticDistortion(8, 3),
    lambda: GaussianNoise(0.1),
    lambda: RandomHorizontalFlip(0.5),
    lambda: RandomCrop(12, padding=2),
    lambda: Compose([RandomRotation(10), RandomTranslation(pixels=1), ElasticDistortion(5, 2)]),
    lambda: RandomApply(RandomRotation(45), p=0.5),
]


@pytest.mark.parametrize("make", ALL)
@pytest.mark.parametrize("shape", [(6, 2, 12, 12), (3, 12, 12), (12, 12)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_shape_and_dtype_preserved(make, shape, dtype):
    x = (np.random.default_rng(0).random(shape) * 200).astype(dtype)
    y = make()(x, generator=gen())
    assert y.shape == x.shape and y.dtype == x.dtype


def test_tensors_in_tensors_out():
    x = deepgrad.tensor(images())
    y = RandomRotation(20)(x, generator=gen())
    assert isinstance(y, deepgrad.Tensor) and y.shape == x.shape and y.dtype == np.float32


@pytest.mark.parametrize(
    "make",
    [
        lambda: RandomRotation(0),
        lambda: RandomTranslation(pixels=0),
        lambda: RandomTranslation(fraction=0.0),
        lambda: RandomScale((1.0, 1.0)),
        lambda: ElasticDistortion(alpha=0.0, sigma=4.0),
        lambda: GaussianNoise(0.0),
        lambda: RandomHorizontalFlip(0.0),
        lambda: RandomCrop(12, padding=0),
        lambda: RandomApply(RandomRotation(40), p=0.0),
        lambda: Compose(
            [RandomRotation(0), RandomTranslation(pixels=0), ElasticDistortion(0.0, 2)]
        ),
    ],
)
def test_zero_strength_is_the_identity(make):
    x = images()
    np.testing.assert_allclose(make()(x, generator=gen()), x, rtol=0, atol=1e-6)


@pytest.mark.parametrize("angle, k", [(90, 1), (-90, -1), (180, 2), (270, 3)])
def test_rotation_by_multiples_of_90_matches_rot90(angle, k):
    x = images(h=9, w=9)
    expected = np.rot90(x, k=k, axes=(2, 3))
    np.testing.assert_allclose(RandomRotation((angle, angle))(x), expected, atol=1e-5)
    np.testing.assert_allclose(affine(x, angle=angle), expected, atol=1e-5)
    np.testing.assert_allclose(affine(x[0, 0], angle=angle), expected[0, 0], atol=1e-5)


def test_integer_translation_shifts_pixels_and_fills_with_zero():
    x = images(h=10, w=10)
    y = affine(x, translate=(2, -3))
    expected = np.zeros_like(x)
    expected[:, :, 2:, :7] = x[:, :, :8, 3:]
    np.testing.assert_allclose(y, expected, atol=1e-6)
    filled = affine(x, translate=(2, 0), fill=0.5)
    assert np.all(filled[:, :, :2] == 0.5)


def test_per_image_parameters_in_affine():
    x = images(n=2, c=1, h=7, w=7)
    y = affine(x, angle=[0, 90])
    np.testing.assert_allclose(y[0], x[0], atol=1e-6)
    np.testing.assert_allclose(y[1], np.rot90(x[1], axes=(1, 2)), atol=1e-5)


def test_scale_zooms_about_the_centre():
    x = blobs(1)
    y = affine(x, scale=2.0)
    # the bump moves twice as far from the centre (15.5, 15.5) and gets twice as wide
    r, c = np.mgrid[:32, :32]
    cr, cc = 15.5, 15.5
    expected = np.exp(-((cr + (r - cr) / 2 - 12) ** 2 + (cc + (c - cc) / 2 - 18) ** 2) / (2 * 9.0))
    np.testing.assert_allclose(y[0, 0], expected, atol=0.03)  # bilinear flattens the peak a little


@pytest.mark.parametrize("make", ALL)
def test_repeatable_under_a_seed(make):
    x = images()
    t = make()
    a, b, c = t(x, generator=gen(1)), t(x, generator=gen(1)), t(x, generator=gen(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    deepgrad.manual_seed(5)
    d = t(x)
    deepgrad.manual_seed(5)
    np.testing.assert_array_equal(t(x), d)
    seeded = make()
    seeded.generator = gen(1)
    np.testing.assert_array_equal(seeded(x), a)


def test_each_image_gets_its_own_parameters():
    x = np.repeat(images(n=1), 4, axis=0)
    y = RandomRotation(45)(x, generator=gen())
    assert len({y[i].tobytes() for i in range(4)}) == 4


def test_elastic_displacement_is_smooth_and_scales_with_alpha():
    t1, t2 = ElasticDistortion(alpha=10, sigma=4), ElasticDistortion(alpha=20, sigma=4)
    f1 = t1._draw(3, 28, 28, gen(0).np)
    f2 = t2._draw(3, 28, 28, gen(0).np)
    np.testing.assert_allclose(f2, 2 * f1, rtol=1e-5)
    assert f1.shape == (3, 2, 28, 28)
    # smoothing: neighbouring displacements are far more alike than independent noise would be
    neighbour = np.corrcoef(f1[:, 0, :, :-1].ravel(), f1[:, 0, :, 1:].ravel())[0, 1]
    assert neighbour > 0.9
    rough = ElasticDistortion(alpha=10, sigma=0.3)._draw(3, 28, 28, gen(0).np)
    assert np.corrcoef(rough[:, 0, :, :-1].ravel(), rough[:, 0, :, 1:].ravel())[0, 1] < 0.5


def test_elastic_distortion_moves_pixels_by_its_field():
    x = blobs(2)
    t = ElasticDistortion(alpha=30, sigma=6)
    field = t._draw(2, 32, 32, gen(3).np)
    y = t(x, generator=gen(3))
    r, c = np.mgrid[:32, :32]
    for i in range(2):
        rr, cc = r + field[i, 0], c + field[i, 1]
        expected = np.exp(-((rr - 12 - i) ** 2 + (cc - 18 + i) ** 2) / (2 * 9.0))
        np.testing.assert_allclose(
            y[i, 0], expected, atol=0.03
        )  # bilinear flattens the peak a little


def test_compose_resamples_once_in_the_right_order():
    x = blobs(5, width=5.0)
    steps = [RandomRotation((60, 90)), RandomTranslation(pixels=5), ElasticDistortion(6, 4)]
    fused = Compose(steps)(x, generator=gen(4))
    g = gen(4)
    one_by_one = x
    for t in steps:
        one_by_one = t(one_by_one, generator=g)
    # the same random parameters, so the results differ only by interpolation error
    np.testing.assert_allclose(fused, one_by_one, atol=0.03)
    assert np.abs(fused - x).max() > 0.5


def test_compose_with_plain_callables_and_non_geometric_steps():
    x = images()
    t = Compose([RandomHorizontalFlip(1.0), lambda b: b * 2, GaussianNoise(0.0)])
    np.testing.assert_allclose(t(x), x[..., ::-1] * 2, atol=1e-6)


def test_crop_windows_come_from_the_padded_image():
    x = images(n=8, c=1, h=10, w=10)
    y = RandomCrop(7, padding=2)(x, generator=gen())
    assert y.shape == (8, 1, 7, 7)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for i in range(8):
        found = [
            (t, l)
            for t in range(8)
            for l in range(8)
            if np.array_equal(padded[i, :, t : t + 7, l : l + 7], y[i])
        ]
        assert found
        offsets.add(found[0])
    assert len(offsets) > 1
    with pytest.raises(ShapeError, match="does not fit"):
        RandomCrop(20)(x)


def test_flip_and_random_apply_choose_images():
    x = images(n=40, c=1)
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    y = RandomHorizontalFlip(0.5)(x, generator=gen())
    flipped = [np.array_equal(y[i], x[i, :, :, ::-1]) for i in range(40)]
    kept = [np.array_equal(y[i], x[i]) for i in range(40)]
    assert all(f or k for f, k in zip(flipped, kept)) and 5 < sum(flipped) < 35
    z = RandomApply(GaussianNoise(1.0), p=0.5)(x, generator=gen())
    unchanged = sum(np.array_equal(z[i], x[i]) for i in range(40))
    assert 5 < unchanged < 35
    assert not any(
        np.array_equal(a, b) for a, b in zip(RandomApply(GaussianNoise(1.0), p=1.0)(x), x)
    )


def test_gaussian_noise_statistics_and_clip():
    x = np.full((20, 1, 32, 32), 0.5, np.float32)
    y = GaussianNoise(0.1)(x, generator=gen())
    assert abs((y - x).std() - 0.1) < 0.005 and abs((y - x).mean()) < 0.005
    z = GaussianNoise(1.0, clip=(0.0, 1.0))(x, generator=gen())
    assert z.min() == 0.0 and z.max() == 1.0


def test_uint8_results_are_rounded_and_clipped():
    x = np.full((2, 1, 8, 8), 250, np.uint8)
    y = GaussianNoise(20.0)(x, generator=gen())
    assert y.dtype == np.uint8 and y.max() == 255 and y.min() < 250


def test_dataloader_prefetching_gives_the_same_augmented_batches():
    x = images(n=30, c=1, h=16, w=16)
    ds = TensorDataset(
        x, np.arange(30), transform=Compose([RandomRotation(20), ElasticDistortion(5, 3)])
    )

    def epoch(workers):
        loader = DataLoader(ds, batch_size=8, shuffle=True, generator=gen(9), num_workers=workers)
        return [b[0].numpy().copy() for b in loader]

    plain, threaded = epoch(0), epoch(2)
    for a, b in zip(plain, threaded):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(plain[0], x[: len(plain[0])])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: RandomRotation(-5), "degrees must be"),
        (lambda: RandomRotation((10, 5)), "low <= high"),
        (lambda: RandomTranslation(), "exactly one of fraction= or pixels="),
        (lambda: RandomTranslation(fraction=0.1, pixels=2), "exactly one"),
        (lambda: RandomScale((0, 1)), "must be > 0"),
        (lambda: ElasticDistortion(sigma=0), "sigma must be"),
        (lambda: GaussianNoise(-1), "std must be"),
        (
            lambda: RandomHorizontalFlip(1.5),
            r"RandomHorizontalFlip: p must be in \[0, 1\] \(got 1.5\)",
        ),
        (lambda: ElasticDistortion(alpha=True), r"alpha must be a number \(got bool True\)"),
        (
            lambda: RandomCrop(8, padding=-1),
            r"RandomCrop: padding must be a non-negative int \(got -1\)",
        ),
        (lambda: RandomRotation(5, order=2), "order must be"),
        (lambda: RandomCrop(0), "size must be positive"),
        (lambda: RandomApply(RandomCrop(4)), "cannot apply to only some"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_bad_input_shape():
    with pytest.raises(ShapeError, match=r"expected images \(N, C, H, W\).*got shape \(784,\)"):
        RandomRotation(5)(np.zeros(784, np.float32))


def test_cubic_interpolation_runs_per_image():
    x = blobs(3)
    y = RandomRotation((90, 90), order=3)(x)
    np.testing.assert_allclose(y, np.rot90(x, axes=(2, 3)), atol=1e-4)
