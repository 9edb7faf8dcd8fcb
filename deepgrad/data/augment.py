"""Data augmentation for images: random rotations, shifts, zooms, elastic distortions, noise, crops, flips.

Every transform takes a batch (N, C, H, W), one image (C, H, W) or one grey image (H, W),
as a NumPy array or a deepgrad Tensor, and returns the same kind, shape and dtype. Random
parameters are drawn per image, from the transform's ``generator`` (or the one passed
to the call, which ``DataLoader`` does for each batch, or deepgrad's default generator),
so results are repeatable under ``deepgrad.manual_seed``.

Geometric transforms map each output pixel to a point of the input image and sample it
there (SciPy's ``map_coordinates``, bilinear by default): for a batch, the sampling
points of all images are built at once and sampled in one call. ``Compose`` goes one
step further: consecutive geometric transforms (rotation, translation, scaling, elastic
distortion) are chained as coordinate maps and the image is resampled once, which is
both faster and sharper than resampling after each.

Augmentations run on the CPU, before ``DataLoader(device=...)`` moves batches to a GPU.

Example:
    >>> import numpy as np, deepgrad
    >>> augment = Compose([RandomRotation(15), RandomTranslation(pixels=2), ElasticDistortion(34, 4)])
    >>> batch = np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)
    >>> out = augment(batch, generator=deepgrad.Generator().manual_seed(0))
    >>> out.shape, out.dtype
    ((8, 1, 28, 28), dtype('float32'))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, ShapeError
from deepgrad.backend.random import Generator, default_generator
from deepgrad.backend.validation import (
    non_negative_float,
    non_negative_int,
    one_of,
    positive_float,
    probability,
)


# -- helpers ----------------------------------------------------------------------------------
def _unwrap(x, owner: str) -> tuple[np.ndarray, bool]:
    if isinstance(x, Tensor):
        array, was_tensor = x._data, True
    else:
        array, was_tensor = x, False
    if hasattr(array, "__cuda_array_interface__"):
        raise DeviceError(
            f"{owner}: augmentation runs on the CPU (got a CUDA array); augment before moving data to the GPU, "
            "e.g. let DataLoader(..., device='cuda') move the augmented batches"
        )
    return np.asarray(array), was_tensor


def _as_batch(array: np.ndarray, owner: str) -> np.ndarray:
    if array.ndim == 4:
        return array
    if array.ndim == 3:
        return array[None]
    if array.ndim == 2:
        return array[None, None]
    raise ShapeError(
        f"{owner}: expected images (N, C, H, W), (C, H, W) or (H, W) (got shape {array.shape}); "
        "reshape flat vectors to images first, e.g. x.reshape(-1, 1, 28, 28)"
    )


def _working(batch: np.ndarray) -> np.ndarray:
    """Float data to compute on: float32 unless the input is float64."""
    return batch if batch.dtype in (np.float32, np.float64) else batch.astype(np.float32)


def _restore(result: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if result.dtype == dtype:
        return result
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.rint(result), info.min, info.max).astype(dtype)
    if dtype.kind == "b":
        return result > 0.5
    return result.astype(dtype)


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).np


def _range(
    value, owner: str, name: str, symmetric_about: float | None = 0.0
) -> tuple[float, float]:
    """A number v -> (about - v, about + v); a pair -> itself."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if symmetric_about is None or value < 0:
            raise ValueError(
                f"{owner}: {name} must be a non-negative number or a (low, high) pair (got {value!r})"
            )
        return symmetric_about - float(value), symmetric_about + float(value)
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: {name} must be a number or a (low, high) pair (got {value!r})"
        ) from None
    if low > high:
        raise ValueError(f"{owner}: {name} must have low <= high (got {value!r})")
    return low, high


def _pair(value, owner: str, name: str) -> tuple[float, float]:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value), float(value)
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: {name} must be a number or a (height, width) pair (got {value!r})"
        ) from None
    return a, b


# -- the base classes -------------------------------------------------------------------------
class Transform:
    """Base class of the augmentations: ``t(images, generator=None)``.

    Subclasses define ``_apply(batch, rng) -> batch`` on float arrays (N, C, H, W).
    """

    takes_generator = True

    def __init__(self, generator: Generator | None = None):
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(
                f"{type(self).__name__}: generator must be a deepgrad.Generator (got {type(generator).__name__})"
            )
        self.generator = generator

    def __call__(self, images, generator: Generator | None = None):
        name = type(self).__name__
        array, was_tensor = _unwrap(images, name)
        batch = _as_batch(array, name)
        out = self._apply(_working(batch), _rng(generator or self.generator))
        # the last two axes may change size (RandomCrop); the leading ones are the input's
        out = _restore(out, array.dtype).reshape(*array.shape[:-2], *out.shape[-2:])
        return Tensor._make(out, None) if was_tensor else out

    def _apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise TypeError(
            f"{type(self).__name__}: a Transform subclass must define _apply(batch, rng)"
        )

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{k}={v!r}"
            for k, v in vars(self).items()
            if k != "generator" and not k.startswith("_")
        )
        return f"{type(self).__name__}({fields})"


class GeometricTransform(Transform):
    """A transform that moves pixels: it maps each output pixel (row, col) to an input point.

    Subclasses define ``_draw(n, h, w, rng) -> params`` (the random parameters of n images) and
    ``_map(params, rows, cols, on_grid) -> (rows, cols)``: where output points (arrays (N, H, W))
    come from in the input. ``on_grid`` says that rows/cols are the plain pixel grid.

    Args:
        order: interpolation, 0 (nearest) or 1 (bilinear); 3 (cubic) is slower (one image at a time).
        fill: the value of pixels that come from outside the image. Default: 0.
    """

    def __init__(self, order: int = 1, fill: float = 0.0, generator: Generator | None = None):
        super().__init__(generator)
        one_of(
            order, (0, 1, 3), "order", type(self).__name__, fix="0 is nearest, 1 bilinear, 3 cubic"
        )
        self.order = order
        self.fill = float(fill)

    def _draw(self, n: int, h: int, w: int, rng: np.random.Generator):
        raise TypeError(f"{type(self).__name__}: a GeometricTransform subclass must define _draw")

    def _map(self, params, rows: np.ndarray, cols: np.ndarray, on_grid: bool):
        raise TypeError(f"{type(self).__name__}: a GeometricTransform subclass must define _map")

    def _apply(self, batch, rng):
        n, _, h, w = batch.shape
        return resample(batch, [(self, self._draw(n, h, w, rng))], self.order, self.fill)


def resample(batch: np.ndarray, steps: list, order: int = 1, fill: float = 0.0) -> np.ndarray:
    """Apply geometric steps ``[(transform, params), ...]`` (first applied first) with one resampling.

    Output pixel p takes the input value at M1(M2(...Mk(p))), Mi being step i's coordinate map.
    """
    n, c, h, w = batch.shape
    # the pixel grid as broadcastable (1, H, 1) and (1, 1, W): the first map makes them (N, H, W)
    rows = np.arange(h, dtype=np.float64).reshape(1, h, 1)
    cols = np.arange(w, dtype=np.float64).reshape(1, 1, w)
    on_grid = True
    for transform, params in reversed(steps):
        rows, cols = transform._map(params, rows, cols, on_grid)
        on_grid = False
    if on_grid:
        return batch.copy()
    rows, cols = np.broadcast_to(rows, (n, h, w)), np.broadcast_to(cols, (n, h, w))
    out = np.empty(batch.shape, dtype=batch.dtype)
    if order > 1:
        # a cubic spline along the stacked batch axis would blend neighbouring images: one at a time
        for i in range(n):
            for j in range(c):
                ndimage.map_coordinates(
                    batch[i, j],
                    np.stack([rows[i], cols[i]]),
                    output=out[i, j],
                    order=order,
                    mode="grid-constant",
                    cval=fill,
                )
        return out
    # Order 0/1 in one call for the whole batch: the images are stacked into one tall 2-D
    # image, each framed by a 1-pixel border of `fill`, and the sampling points are clipped
    # to their own framed image. Points beyond an edge then read `fill` and points within a
    # pixel of it blend with `fill`, as mode="grid-constant" does, and never another image.
    # (A 3-D map_coordinates over the stack does the same but takes ~2.5x as long.)
    images = n * c
    framed = np.full((images, h + 2, w + 2), fill, dtype=batch.dtype)
    framed[:, 1:-1, 1:-1] = batch.reshape(images, h, w)
    coords = np.empty((2, n, c, h, w), dtype=np.float64)
    np.add(
        np.clip(rows, -1.0, h)[:, None],
        (np.arange(images, dtype=np.float64) * (h + 2) + 1).reshape(n, c, 1, 1),
        out=coords[0],
    )
    coords[1] = np.clip(cols, -1.0, w)[:, None] + 1
    ndimage.map_coordinates(
        framed.reshape(images * (h + 2), w + 2),
        coords.reshape(2, images, h, w),
        output=out.reshape(images, h, w),
        order=order,
        mode="nearest",
    )
    return out


class _Affine(GeometricTransform):
    """Shared map of rotations, translations and zooms: in = A (out - center) + center + offset."""

    def _map(self, params, rows, cols, on_grid):
        a, b, c, d, dr, dc, (cr, cc) = params  # a..dc: (N, 1, 1) each; the image centre
        u, v = rows - cr, cols - cc
        return a * u + b * v + cr + dr, c * u + d * v + cc + dc

    @staticmethod
    def _params(n, h, w, a=1.0, b=0.0, c=0.0, d=1.0, dr=0.0, dc=0.0):
        matrix = tuple(
            np.broadcast_to(np.asarray(p, dtype=np.float64).reshape(-1, 1, 1), (n, 1, 1))
            for p in (a, b, c, d, dr, dc)
        )
        return (*matrix, ((h - 1) / 2.0, (w - 1) / 2.0))


class RandomRotation(_Affine):
    """Rotate each image by an angle drawn uniformly from ``degrees``, about its centre.

    Positive angles turn the image counter-clockwise (as ``numpy.rot90`` does).

    Args:
        degrees: d for angles in [-d, d], or a (low, high) pair.
        order, fill, generator: as in ``GeometricTransform``.

    Example:
        >>> import numpy as np
        >>> img = np.arange(16, dtype=np.float32).reshape(4, 4)
        >>> bool(np.allclose(RandomRotation((90, 90))(img), np.rot90(img), atol=1e-5))
        True
    """

    def __init__(
        self, degrees, order: int = 1, fill: float = 0.0, generator: Generator | None = None
    ):
        super().__init__(order, fill, generator)
        self.degrees = _range(degrees, "RandomRotation", "degrees")

    def _draw(self, n, h, w, rng):
        theta = np.deg2rad(rng.uniform(*self.degrees, size=n))
        cos, sin = np.cos(theta), np.sin(theta)
        return self._params(n, h, w, cos, sin, -sin, cos)


class RandomTranslation(_Affine):
    """Shift each image by a random offset, drawn uniformly per axis (sub-pixel shifts interpolate).

    Give exactly one of ``fraction`` or ``pixels``.

    Args:
        fraction: the largest shift as a fraction of the height and width (a number or a
            (height, width) pair), e.g. 0.1.
        pixels: the largest shift in pixels (a number or a pair), e.g. 2.
        order, fill, generator: as in ``GeometricTransform``.
    """

    def __init__(
        self,
        fraction=None,
        pixels=None,
        order: int = 1,
        fill: float = 0.0,
        generator: Generator | None = None,
    ):
        super().__init__(order, fill, generator)
        if (fraction is None) == (pixels is None):
            raise ValueError(
                f"RandomTranslation: give exactly one of fraction= or pixels= (got fraction={fraction!r}, "
                f"pixels={pixels!r})"
            )
        self.fraction = (
            None if fraction is None else _pair(fraction, "RandomTranslation", "fraction")
        )
        self.pixels = None if pixels is None else _pair(pixels, "RandomTranslation", "pixels")
        limits = self.fraction or self.pixels
        if min(limits) < 0 or (self.fraction is not None and max(limits) > 1):
            raise ValueError(
                f"RandomTranslation: shifts must be >= 0 (and fractions <= 1) (got {limits})"
            )

    def _draw(self, n, h, w, rng):
        max_r, max_c = (
            self.pixels if self.pixels is not None else (self.fraction[0] * h, self.fraction[1] * w)
        )
        shift_r = rng.uniform(-max_r, max_r, size=n)
        shift_c = rng.uniform(-max_c, max_c, size=n)
        return self._params(n, h, w, dr=-shift_r, dc=-shift_c)


class RandomScale(_Affine):
    """Zoom each image about its centre by a factor drawn uniformly from ``scale`` (> 1 enlarges).

    Args:
        scale: a (low, high) pair of factors, e.g. (0.9, 1.1).
        order, fill, generator: as in ``GeometricTransform``.
    """

    def __init__(
        self,
        scale=(0.9, 1.1),
        order: int = 1,
        fill: float = 0.0,
        generator: Generator | None = None,
    ):
        super().__init__(order, fill, generator)
        self.scale = _range(scale, "RandomScale", "scale", symmetric_about=None)
        if self.scale[0] <= 0:
            raise ValueError(f"RandomScale: scale factors must be > 0 (got {scale!r})")

    def _draw(self, n, h, w, rng):
        inverse = 1.0 / rng.uniform(*self.scale, size=n)
        return self._params(n, h, w, inverse, 0.0, 0.0, inverse)


class ElasticDistortion(GeometricTransform):
    """Elastic distortion (Simard, Steinkraus & Platt 2003): a smooth random displacement of every pixel.

    dx, dy ~ Uniform(-1, 1) per pixel, each smoothed by a Gaussian of standard deviation
    ``sigma`` pixels and multiplied by ``alpha``; output pixel p takes the input at p + (dy, dx).
    Small sigma gives a random jitter, large sigma an almost rigid shift; the paper's MNIST
    setting is sigma = 4, alpha = 34.

    Args:
        alpha: the displacement strength (pixels, before smoothing). Default: 34.
        sigma: the smoothing width in pixels. Default: 4.
        order, fill, generator: as in ``GeometricTransform``.

    Paper: "Best Practices for Convolutional Neural Networks Applied to Visual Document
    Analysis", ICDAR 2003.
    """

    def __init__(
        self,
        alpha: float = 34.0,
        sigma: float = 4.0,
        order: int = 1,
        fill: float = 0.0,
        generator: Generator | None = None,
    ):
        super().__init__(order, fill, generator)
        self.alpha = non_negative_float(alpha, "alpha", "ElasticDistortion")
        self.sigma = positive_float(sigma, "sigma", "ElasticDistortion")

    def _draw(self, n, h, w, rng):
        noise = rng.random((n, 2, h, w), dtype=np.float32)
        noise *= 2
        noise -= 1
        field = ndimage.gaussian_filter(
            noise, sigma=(0, 0, self.sigma, self.sigma), mode="constant"
        )
        field *= self.alpha
        return field

    def _map(self, field, rows, cols, on_grid):
        if on_grid:
            return rows + field[:, 0], cols + field[:, 1]
        # the field is known on the pixel grid: interpolate it at the (already moved) points
        n, h, w = field.shape[0], *field.shape[2:]
        rows, cols = np.broadcast_to(rows, (n, h, w)), np.broadcast_to(cols, (n, h, w))
        coords = np.empty((3, n, h, w))
        coords[0] = np.arange(n).reshape(n, 1, 1)
        coords[1], coords[2] = rows, cols
        shifted = [
            ndimage.map_coordinates(field[:, k], coords, order=1, mode="nearest") for k in range(2)
        ]
        return rows + shifted[0], cols + shifted[1]


class GaussianNoise(Transform):
    """y = x + noise, noise ~ N(0, std^2) per pixel, optionally clipped to a range.

    Args:
        std: the noise's standard deviation (in the data's units). A pair (low, high) draws one
            std per image from that range.
        clip: (low, high) to clip the result to, e.g. (0, 1) for pixels. Default: None.
        generator: as in ``Transform``.
    """

    def __init__(
        self, std, clip: tuple[float, float] | None = None, generator: Generator | None = None
    ):
        super().__init__(generator)
        if isinstance(std, (int, float)) and not isinstance(std, bool):
            self.std = (float(std), float(std))
        else:
            self.std = _range(std, "GaussianNoise", "std", symmetric_about=None)
        if self.std[0] < 0:
            raise ValueError(f"GaussianNoise: std must be >= 0 (got {std!r})")
        self.clip = (
            None if clip is None else _range(clip, "GaussianNoise", "clip", symmetric_about=None)
        )

    def _apply(self, batch, rng):
        n = batch.shape[0]
        std = (
            rng.uniform(*self.std, size=n)
            if self.std[0] != self.std[1]
            else np.full(n, self.std[0])
        )
        noise = rng.standard_normal(
            batch.shape, dtype=batch.dtype if batch.dtype == np.float64 else np.float32
        )
        noise *= std.astype(noise.dtype).reshape(n, 1, 1, 1)
        out = batch + noise
        if self.clip is not None:
            np.clip(out, *self.clip, out=out)
        return out


class RandomCrop(Transform):
    """Pad each image by ``padding`` pixels of ``fill``, then cut a ``size`` window at a random place.

    Args:
        size: the output (height, width), or one number for a square.
        padding: pixels added on every side first. Default: 0.
        fill: the value of the padding. Default: 0.
        generator: as in ``Transform``.

    Shape:
        (N, C, H, W) -> (N, C, size_h, size_w).
    """

    def __init__(
        self, size, padding: int = 0, fill: float = 0.0, generator: Generator | None = None
    ):
        super().__init__(generator)
        h, w = _pair(size, "RandomCrop", "size")
        if h < 1 or w < 1 or h != int(h) or w != int(w):
            raise ValueError(f"RandomCrop: size must be positive ints (got {size!r})")
        self.size = (int(h), int(w))
        self.padding = non_negative_int(padding, "padding", "RandomCrop")
        self.fill = float(fill)

    def _apply(self, batch, rng):
        n, _c, h, w = batch.shape
        p = self.padding
        out_h, out_w = self.size
        if out_h > h + 2 * p or out_w > w + 2 * p:
            raise ShapeError(
                f"RandomCrop: a {self.size} crop does not fit images of {(h, w)} with padding {p}; "
                "use a smaller size or more padding"
            )
        padded = (
            np.pad(batch, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill)
            if p
            else batch
        )
        top = rng.integers(0, h + 2 * p - out_h + 1, size=n)
        left = rng.integers(0, w + 2 * p - out_w + 1, size=n)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (out_h, out_w), axis=(2, 3))
        return windows[np.arange(n), :, top, left]


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p``.

    Args:
        p: the probability of flipping an image. Default: 0.5.
        generator: as in ``Transform``.
    """

    def __init__(self, p: float = 0.5, generator: Generator | None = None):
        super().__init__(generator)
        self.p = probability(p, "p", "RandomHorizontalFlip", closed=True)

    def _apply(self, batch, rng):
        flip = rng.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1]
        return out


class Compose(Transform):
    """Apply transforms one after the other; consecutive geometric ones resample only once.

    Args:
        transforms: the transforms, first applied first. Plain callables (x -> x) are allowed.

    Example:
        >>> import numpy as np
        >>> t = Compose([RandomRotation(0), RandomTranslation(pixels=0)])
        >>> x = np.random.default_rng(0).random((2, 1, 5, 5))
        >>> bool(np.array_equal(t(x), x))
        True
    """

    def __init__(self, transforms: Sequence[Callable], generator: Generator | None = None):
        super().__init__(generator)
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(
                    f"Compose: every transform must be callable (got {type(t).__name__})"
                )

    def _groups(self) -> list:
        groups: list = []
        for t in self.transforms:
            last = groups[-1] if groups else None
            if (
                isinstance(t, GeometricTransform)
                and isinstance(last, list)
                and (last[0].order, last[0].fill) == (t.order, t.fill)
            ):
                last.append(t)
            elif isinstance(t, GeometricTransform):
                groups.append([t])
            else:
                groups.append(t)
        return groups

    def _apply(self, batch, rng):
        for group in self._groups():
            if isinstance(group, list):
                n, _, h, w = batch.shape
                steps = [(t, t._draw(n, h, w, rng)) for t in group]
                batch = resample(batch, steps, group[0].order, group[0].fill)
            elif isinstance(group, Transform):
                batch = group._apply(batch, rng)
            else:
                batch = _working(_as_batch(np.asarray(group(batch)), "Compose"))
        return batch


class RandomApply(Transform):
    """Apply ``transform`` to each image with probability ``p`` (the others pass unchanged).

    Args:
        transform: the transform (a deepgrad augmentation or a callable on batches).
        p: the probability for each image. Default: 0.5.
        generator: as in ``Transform``.
    """

    def __init__(self, transform: Callable, p: float = 0.5, generator: Generator | None = None):
        super().__init__(generator)
        if not callable(transform):
            raise TypeError(
                f"RandomApply: transform must be callable (got {type(transform).__name__})"
            )
        if isinstance(transform, RandomCrop):
            raise ValueError(
                "RandomApply: a RandomCrop changes the image size, so it cannot apply to only some images"
            )
        self.transform = transform
        self.p = probability(p, "p", "RandomApply", closed=True)

    def _apply(self, batch, rng):
        chosen = np.nonzero(rng.random(batch.shape[0]) < self.p)[0]
        out = batch.copy()
        if len(chosen):
            if isinstance(self.transform, Transform):
                out[chosen] = self.transform._apply(batch[chosen], rng)
            else:
                out[chosen] = np.asarray(self.transform(batch[chosen]))
        return out


# -- deterministic (functional) forms ---------------------------------------------------------
class _FixedAffine(_Affine):
    def __init__(self, params, order, fill):
        super().__init__(order, fill)
        self._fixed = params

    def _draw(self, n, h, w, rng):
        return self._fixed


def affine(images, angle=0.0, translate=(0.0, 0.0), scale=1.0, order: int = 1, fill: float = 0.0):
    """Rotate (degrees, counter-clockwise), then zoom, then shift images, without randomness.

    Args:
        images: (N, C, H, W), (C, H, W) or (H, W); array or Tensor.
        angle: degrees, one number or one per image.
        translate: (down, right) shift in pixels, or an (N, 2) array of them.
        scale: zoom factor(s) about the centre.
        order, fill: interpolation order (0, 1, 3) and the value of pixels from outside.

    Example:
        >>> import numpy as np
        >>> img = np.eye(3, dtype=np.float32)
        >>> affine(img, translate=(0, 1)).tolist()
        [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """
    array, was_tensor = _unwrap(images, "affine")
    n, _, h, w = _as_batch(array, "affine").shape
    theta = np.deg2rad(np.broadcast_to(np.asarray(angle, dtype=np.float64), (n,)))
    inverse = 1.0 / np.broadcast_to(np.asarray(scale, dtype=np.float64), (n,))
    shift = np.broadcast_to(np.asarray(translate, dtype=np.float64).reshape(-1, 2), (n, 2))
    # output -> input: undo the shift, then the zoom and the rotation
    a, b = np.cos(theta) * inverse, np.sin(theta) * inverse
    c, d = -b, a
    dr = -(a * shift[:, 0] + b * shift[:, 1])
    dc = -(c * shift[:, 0] + d * shift[:, 1])
    out = _FixedAffine(_Affine._params(n, h, w, a, b, c, d, dr, dc), order, fill)(array)
    return Tensor._make(out, None) if was_tensor else out


__all__ = [
    "Transform",
    "GeometricTransform",
    "RandomRotation",
    "RandomTranslation",
    "RandomScale",
    "ElasticDistortion",
    "GaussianNoise",
    "RandomCrop",
    "RandomHorizontalFlip",
    "Compose",
    "RandomApply",
    "affine",
    "resample",
]
