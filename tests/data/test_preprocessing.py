"""Standardize, MinMaxScale, PCA, PCA/ZCA whitening: statistics, round trips, state dicts, memory guard."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deepgrad
from deepgrad.backend import ShapeError
from deepgrad.data import TensorDataset
from deepgrad.data.preprocessing import PCA, MinMaxScale, PCAWhitening, Standardize, ZCAWhitening


def correlated(n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) + 2 * np.eye(d)
    return rng.normal(size=(n, d)) @ mixing + rng.normal(size=d) * 5


def test_standardize_per_feature_and_inverse():
    x = correlated()
    s = Standardize().fit(x)
    y = s.transform(x)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(s.inverse_transform(y), x, atol=1e-10)
    # fitted on training data, applied unchanged to another split
    other = correlated(seed=1)
    np.testing.assert_allclose(s(other), (other - x.mean(0)) / x.std(0), atol=1e-10)


def test_standardize_per_channel_images_and_single_samples():
    rng = np.random.default_rng(0)
    images = (
        rng.normal(size=(20, 3, 4, 4)) * np.array([1.0, 5.0, 0.1])[:, None, None]
        + np.array([0, 3, -2])[:, None, None]
    )
    s = Standardize(dim=(0, 2, 3)).fit(images)
    assert s.mean.shape == (3, 1, 1)
    y = s(images)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1, atol=1e-12)
    np.testing.assert_allclose(s(images[3]), y[3])


def test_standardize_constant_features_map_to_zero_not_nan():
    x = np.zeros((10, 3))
    x[:, 1] = np.arange(10)
    y = Standardize().fit_transform(x)
    assert np.isfinite(y).all() and (y[:, 0] == 0).all()


def test_uint8_input_gives_float32_and_tensors_stay_tensors():
    pixels = np.random.default_rng(0).integers(0, 256, size=(30, 8), dtype=np.uint8)
    s = Standardize().fit(pixels)
    assert s(pixels).dtype == np.float32
    t = deepgrad.tensor(pixels.astype(np.float32))
    out = s(t)
    assert isinstance(out, deepgrad.Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), s(pixels), rtol=1e-6, atol=1e-6)
    back = s.inverse_transform(out)
    assert isinstance(back, deepgrad.Tensor)
    np.testing.assert_allclose(back.numpy(), pixels, atol=1e-3)


def test_minmax_scale():
    x = correlated()
    m = MinMaxScale((-1.0, 2.0)).fit(x)
    y = m(x)
    np.testing.assert_allclose(y.min(axis=0), -1.0, atol=1e-12)
    np.testing.assert_allclose(y.max(axis=0), 2.0, atol=1e-12)
    np.testing.assert_allclose(m.inverse_transform(y), x, atol=1e-10)


@pytest.mark.parametrize("n, d", [(500, 6), (30, 50)])  # covariance route and SVD route
def test_pca_whitening_gives_identity_covariance(n, d):
    x = (
        correlated(n, d)
        if n > d
        else np.random.default_rng(0).normal(size=(n, d))
        @ np.random.default_rng(1).normal(size=(d, d))
    )
    k = min(n - 1, d)  # centering leaves rank n - 1
    w = PCAWhitening(n_components=k, eps=0.0).fit(x)
    y = w(x)
    assert y.shape == (n, k)
    np.testing.assert_allclose(np.cov(y, rowvar=False), np.eye(k), atol=1e-8)


def test_zca_whitening_identity_covariance_and_closest_to_the_data():
    x = correlated(800, 5)
    z = ZCAWhitening(eps=0.0).fit(x)
    y = z(x)
    assert y.shape == x.shape
    np.testing.assert_allclose(np.cov(y, rowvar=False), np.eye(5), atol=1e-8)
    # the whitening matrix is symmetric
    w = z.transform(np.eye(5) + x.mean(0)) - z.transform(x.mean(0)[None])
    np.testing.assert_allclose(w, w.T, atol=1e-10)
    # every other whitening is a rotation Q of ZCA's output; ZCA stays closest to the centered data
    centered = x - x.mean(0)
    zca_distance = np.linalg.norm(y - centered)
    rng = np.random.default_rng(0)
    for _ in range(10):
        q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
        assert zca_distance < np.linalg.norm(y @ q - centered)
    pca = PCAWhitening(eps=0.0).fit(x)
    assert zca_distance < np.linalg.norm(pca(x) - centered)


def test_zca_with_fewer_samples_than_features_matches_the_full_matrix():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 20))
    eps = 0.1
    z = ZCAWhitening(eps=eps).fit(x)
    assert z.components.shape == (12, 20)  # the SVD route: no 20 x 20 matrix
    cov = np.cov(x, rowvar=False)
    lam, v = np.linalg.eigh(cov)
    w = v @ np.diag(1 / np.sqrt(np.maximum(lam, 0) + eps)) @ v.T
    test = rng.normal(size=(7, 20))
    np.testing.assert_allclose(z(test), (test - x.mean(0)) @ w, atol=1e-8)
    np.testing.assert_allclose(z.inverse_transform(z(test)), test, atol=1e-8)


@pytest.mark.parametrize(
    "make", [lambda: PCAWhitening(eps=1e-3), lambda: ZCAWhitening(eps=1e-3), lambda: PCA()]
)
def test_inverse_transforms_round_trip(make):
    x = correlated(300, 6).astype(np.float32)
    t = make().fit(x)
    np.testing.assert_allclose(t.inverse_transform(t(x)), x, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(t.inverse_transform(t(x[5])), x[5], rtol=1e-4, atol=1e-3)


def test_pca_reduces_dimensions_and_orders_by_variance():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(300, 2)) * [5.0, 2.0]
    basis = np.linalg.qr(rng.normal(size=(10, 2)))[0].T  # 2 orthonormal directions in 10-D
    x = latent @ basis + 0.01 * rng.normal(size=(300, 10))
    p = PCA(2).fit(x)
    y = p(x)
    assert y.shape == (300, 2)
    assert p.variances[0] > p.variances[1]
    assert p.explained_variance_ratio.sum() > 0.999
    np.testing.assert_allclose(p.inverse_transform(y), x, atol=0.1)


def test_state_dict_round_trip_and_errors():
    x = correlated(200, 4)
    for make in (
        Standardize,
        lambda: MinMaxScale((0, 2)),
        lambda: PCA(3),
        lambda: ZCAWhitening(0.01),
    ):
        fitted = make().fit(x)
        state = fitted.state_dict()
        assert all(isinstance(v, deepgrad.Tensor) for v in state.values())
        fresh = make()
        fresh.load_state_dict(state)
        np.testing.assert_allclose(fresh(x), fitted(x))
    s = Standardize()
    with pytest.raises(KeyError, match=r"missing keys \['std'\]"):
        s.load_state_dict({"mean": np.zeros(3)})
    with pytest.raises(RuntimeError, match="call fit"):
        Standardize().transform(x)


def test_shape_mismatch_and_bad_arguments():
    s = Standardize().fit(np.zeros((5, 3)))
    with pytest.raises(ShapeError, match=r"does not match the fitted feature shape \(3,\)"):
        s(np.zeros((5, 4)))
    z = ZCAWhitening().fit(correlated(20, 3))
    with pytest.raises(ShapeError, match="does not match the fitted feature shape"):
        z(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="dim must contain 0"):
        Standardize(dim=1)
    with pytest.raises(
        ValueError, match=r"PCA: n_components must be a positive int \(got 0\); pass None"
    ):
        PCA(0)
    with pytest.raises(ValueError, match=r"eps must be >= 0 \(got -1.0\)"):
        ZCAWhitening(eps=-1.0)
    with pytest.raises(ValueError, match="more than min"):
        PCA(5).fit(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="low < high"):
        MinMaxScale((1, 1))


def test_memory_guard_raises_before_allocating():
    x = np.zeros((50, 40))
    with pytest.raises(
        MemoryError, match=r"50 samples x 40 features.*40 x 40 covariance.*PCA\(n_components"
    ):
        ZCAWhitening(max_memory=10_000).fit(x)
    with pytest.raises(MemoryError, match=r"SVD of the centered 10 x 40 data"):
        PCAWhitening(max_memory=1_000).fit(x[:10])
    # an image-sized problem would need a (150528 x 150528) covariance: refused up front, not by the OS
    huge = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(200_000, 150_528), strides=(0, 0))
    with pytest.raises(MemoryError, match="150528 x 150528 covariance"):
        ZCAWhitening().fit(huge)


def test_preprocessing_as_a_dataset_transform():
    x = correlated(40, 3).astype(np.float32)
    s = Standardize().fit(x)
    ds = TensorDataset(x, np.arange(40), transform=s)
    np.testing.assert_allclose(ds.get_batch(np.array([1, 2]))[0], s(x[1:3]))
    np.testing.assert_allclose(ds[1][0], s(x[1]))


# -- eps (PyTorch's name); epsilon is a deprecated alias -----------------------------------------------
@pytest.mark.parametrize("cls", [PCAWhitening, ZCAWhitening])
def test_epsilon_is_a_deprecated_alias_of_eps_that_warns_once(cls, monkeypatch):
    from deepgrad.data import preprocessing

    monkeypatch.setattr(preprocessing, "_WARNED_EPSILON", set())
    x = correlated(40, 3)
    with pytest.warns(DeprecationWarning, match=r"'epsilon' is deprecated.*use 'eps'"):
        old = cls(epsilon=0.5).fit(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = cls(epsilon=0.5).fit(x)  # the second use is silent
        new = cls(eps=0.5).fit(x)
    assert float(old.eps) == float(again.eps) == 0.5
    np.testing.assert_array_equal(old.transform(x), new.transform(x))
    assert (
        float(new.epsilon) == 0.5
        and "eps" in new.state_dict()
        and "epsilon" not in new.state_dict()
    )
    with pytest.raises(TypeError, match="pass only eps"):
        cls(eps=0.1, epsilon=0.2)


def test_a_state_saved_under_the_old_key_epsilon_still_loads():
    x = correlated(40, 3)
    fitted = ZCAWhitening(eps=0.25).fit(x)
    state = {("epsilon" if k == "eps" else k): v for k, v in fitted.state_dict().items()}
    restored = ZCAWhitening()
    restored.load_state_dict(state)
    assert float(restored.eps) == 0.25
    np.testing.assert_allclose(restored.transform(x), fitted.transform(x))
