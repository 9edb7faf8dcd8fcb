"""Preprocessing fitted on training data and applied to any split.

Every transform here is fitted once (``fit(train_x)``), then applied to the
training, validation and test data alike (``transform(x)`` or ``t(x)``), undone by
``inverse_transform``, and saved with the model through ``state_dict()`` /
``load_state_dict()`` (a dict of deepgrad Tensors, like a Module's). They take
NumPy arrays or deepgrad Tensors and give back the same kind, as float (integer
input such as uint8 pixels comes back as float32). Samples are along the first
axis; one sample without a batch axis is accepted too.

| transform | y = | removes |
|---|---|---|
| ``Standardize`` | (x - mean) / std, per feature | different scales |
| ``MinMaxScale`` | (x - min) / (max - min) * (hi - lo) + lo | different ranges |
| ``PCA`` | (x - mean) V_k | all but the k directions of largest variance |
| ``PCAWhitening`` | (x - mean) V_k / sqrt(lambda_k + eps) | correlation; rotates to the principal axes |
| ``ZCAWhitening`` | (x - mean) V diag(1/sqrt(lambda + eps)) V^T | correlation; stays close to x |

V, lambda: eigenvectors and eigenvalues of the training covariance (x - mean)^T (x - mean) / (n - 1),
found from the covariance when there are at least as many samples as features and from the
SVD of the centered data otherwise (an n x d problem instead of d x d). Before that
allocation, the memory it needs is compared with what the machine has available: if it
would not fit, ``fit`` raises ``MemoryError`` naming the sizes, before allocating anything.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError, get_array_module
from deepgrad.backend.validation import non_negative_float, positive_int


def _unwrap(x, owner: str):
    """(array, was_tensor) for a Tensor, a NumPy/CuPy array or array-like."""
    if isinstance(x, Tensor):
        return x._data, True
    if isinstance(x, np.ndarray) or hasattr(x, "__cuda_array_interface__"):
        return x, False
    try:
        return np.asarray(x), False
    except Exception as error:
        raise TypeError(
            f"{owner}: expected a NumPy array or a deepgrad Tensor (got {type(x).__name__})"
        ) from error


def _float(array, xp):
    return array if array.dtype.kind == "f" else array.astype(xp.float32)


def _wrap(array, was_tensor: bool):
    return Tensor._make(array, None) if was_tensor else array


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"


class Preprocessor:
    """Base class: ``fit``, ``transform``, ``inverse_transform``, ``fit_transform``, state dicts.

    Subclasses define ``_fit(array)``, ``_transform(array, xp)``, ``_inverse(array, xp)`` and
    the list ``_state_keys`` of the fitted arrays they keep as attributes.
    """

    _state_keys: tuple[str, ...] = ()
    takes_generator = False

    def __init__(self):
        self._cache: dict = {}

    @property
    def fitted(self) -> bool:
        return all(getattr(self, k, None) is not None for k in self._state_keys)

    def _require_fitted(self, what: str) -> None:
        if not self.fitted:
            raise RuntimeError(
                f"{type(self).__name__}.{what}: call fit(training_data) first (or load_state_dict)"
            )

    def _param(self, name: str, xp, dtype):
        """A fitted array on the backend and in the dtype of the data (cached)."""
        key = (name, xp.__name__, np.dtype(dtype).str)
        if key not in self._cache:
            self._cache[key] = xp.asarray(getattr(self, name), dtype=dtype)
        return self._cache[key]

    def fit(self, x) -> Preprocessor:
        """Learn the statistics of ``x`` (samples along the first axis); returns self."""
        array, _ = _unwrap(x, f"{type(self).__name__}.fit")
        if type(array) is not np.ndarray:
            array = array.get()
        if array.ndim < 1 or array.shape[0] < 2:
            raise ShapeError(
                f"{type(self).__name__}.fit: needs at least 2 samples along the first axis (got shape {array.shape})"
            )
        self._cache = {}
        self._fit(np.asarray(array))
        return self

    def transform(self, x):
        """Apply the fitted transform to ``x`` (a batch or one sample); same kind as ``x``."""
        self._require_fitted("transform")
        array, was_tensor = _unwrap(x, f"{type(self).__name__}.transform")
        xp = get_array_module(array)
        return _wrap(self._transform(_float(array, xp), xp), was_tensor)

    def inverse_transform(self, y):
        """Undo ``transform`` (exactly, up to rounding, unless components were dropped)."""
        self._require_fitted("inverse_transform")
        array, was_tensor = _unwrap(y, f"{type(self).__name__}.inverse_transform")
        xp = get_array_module(array)
        return _wrap(self._inverse(_float(array, xp), xp), was_tensor)

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def __call__(self, x):
        return self.transform(x)

    def state_dict(self) -> dict:
        """The fitted statistics as deepgrad Tensors (float64), ready to save with a model."""
        self._require_fitted("state_dict")
        return {k: Tensor._make(np.array(getattr(self, k)), None) for k in self._state_keys}

    def load_state_dict(self, state: dict) -> None:
        """Restore fitted statistics from ``state_dict()`` output (Tensors or arrays)."""
        name = type(self).__name__
        missing = [k for k in self._state_keys if k not in state]
        unexpected = [k for k in state if k not in self._state_keys]
        if missing or unexpected:
            raise KeyError(
                f"{name}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}; "
                f"a {name} state has exactly {list(self._state_keys)}"
            )
        values = {}
        for k in self._state_keys:
            v = state[k]
            v = v._data if isinstance(v, Tensor) else v
            values[k] = np.array(
                v.get() if hasattr(v, "get") and not isinstance(v, np.ndarray) else v,
                dtype=np.float64,
            )
        self._check_state(values)
        for k, v in values.items():
            setattr(self, k, v)
        self._cache = {}

    def _check_state(self, values: dict) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({'fitted' if self.fitted else 'not fitted'})"


def _dims(dim, owner: str) -> tuple[int, ...]:
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims or 0 not in dims or any(not isinstance(d, int) or d < 0 for d in dims):
        raise ValueError(
            f"{owner}: dim must contain 0, the sample axis, and only non-negative ints (got {dim!r}); "
            "e.g. dim=0 for per-feature statistics, dim=(0, 2, 3) for per-channel statistics of images"
        )
    return dims


class _Elementwise(Preprocessor):
    """Shared by Standardize and MinMaxScale: statistics over ``dim``, broadcast back."""

    def __init__(self, dim):
        super().__init__()
        self.dim = _dims(dim, type(self).__name__)

    def _reduce(self, array: np.ndarray, fn) -> np.ndarray:
        if max(self.dim) >= array.ndim:
            raise ShapeError(
                f"{type(self).__name__}.fit: dim {self.dim} does not fit data of shape {array.shape}"
            )
        return fn(array.astype(np.float64), axis=self.dim, keepdims=True)[0]

    def _check_shape(self, array, owner: str) -> None:
        ref = getattr(self, self._state_keys[0])
        trailing = ref.shape
        if not _broadcastable(array.shape, trailing):
            raise ShapeError(
                f"{type(self).__name__}.{owner}: data of shape {array.shape} does not match the fitted feature "
                f"shape {trailing}; transform data shaped like the training data"
            )


def _broadcastable(shape: tuple, trailing: tuple) -> bool:
    if len(shape) < len(trailing):
        return False
    tail = shape[len(shape) - len(trailing) :]
    return all(t == 1 or s == t for s, t in zip(tail, trailing))


class Standardize(_Elementwise):
    """y = (x - mean) / std, with mean and std per feature of the training data.

    Features with zero variance (e.g. MNIST's always-blank border pixels) get std = 1, so they
    map to 0 instead of to inf or nan.

    Args:
        dim: the axes to average over; must include 0 (the samples). Default: 0 (one mean and std
            per feature). ``dim=(0, 2, 3)`` on (N, C, H, W) images gives one per channel.

    Example:
        >>> import numpy as np
        >>> s = Standardize().fit(np.array([[1.0, 10.0], [3.0, 30.0]]))
        >>> s.transform(np.array([[2.0, 20.0], [3.0, 30.0]])).tolist()
        [[0.0, 0.0], [1.0, 1.0]]
    """

    _state_keys = ("mean", "std")

    def __init__(self, dim: int | tuple[int, ...] = 0):
        super().__init__(dim)
        self.mean = None
        self.std = None

    def _fit(self, array):
        self.mean = self._reduce(array, np.mean)
        std = self._reduce(array, np.std)
        self.std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(self.mean)), std, 1.0)

    def _transform(self, array, xp):
        self._check_shape(array, "transform")
        return (array - self._param("mean", xp, array.dtype)) / self._param("std", xp, array.dtype)

    def _inverse(self, array, xp):
        self._check_shape(array, "inverse_transform")
        return array * self._param("std", xp, array.dtype) + self._param("mean", xp, array.dtype)


class MinMaxScale(_Elementwise):
    """y = (x - min) / (max - min) * (high - low) + low, per feature of the training data.

    Features that are constant in the training data get max - min = 1.

    Args:
        feature_range: (low, high) of the output. Default: (0, 1).
        dim: the axes to take min and max over; must include 0. Default: 0.

    Example:
        >>> import numpy as np
        >>> MinMaxScale((-1, 1)).fit_transform(np.array([[0.0], [5.0], [10.0]])).ravel().tolist()
        [-1.0, 0.0, 1.0]
    """

    _state_keys = ("data_min", "data_max", "feature_range")

    def __init__(
        self, feature_range: tuple[float, float] = (0.0, 1.0), dim: int | tuple[int, ...] = 0
    ):
        super().__init__(dim)
        low, high = (float(v) for v in feature_range)
        if not low < high:
            raise ValueError(
                f"MinMaxScale: feature_range must be (low, high) with low < high (got {feature_range})"
            )
        self.feature_range = np.array([low, high])
        self.data_min = None
        self.data_max = None

    def _fit(self, array):
        self.data_min = self._reduce(array, np.min)
        self.data_max = self._reduce(array, np.max)

    def _scale(self):
        span = self.data_max - self.data_min
        return np.where(span > 0, span, 1.0)

    def _transform(self, array, xp):
        self._check_shape(array, "transform")
        low, high = self.feature_range
        if "scale" not in self._cache:
            self._cache["scale"] = (high - low) / self._scale()
        scale = xp.asarray(self._cache["scale"], dtype=array.dtype)
        return (array - self._param("data_min", xp, array.dtype)) * scale + array.dtype.type(low)

    def _inverse(self, array, xp):
        self._check_shape(array, "inverse_transform")
        low, high = self.feature_range
        scale = xp.asarray(self._scale() / (high - low), dtype=array.dtype)
        return (array - array.dtype.type(low)) * scale + self._param("data_min", xp, array.dtype)


class _Spectral(Preprocessor):
    """Shared by PCA, PCAWhitening and ZCAWhitening: mean, principal axes and variances.

    Fitted state: ``mean`` (feature shape), ``components`` (k, d) rows = principal axes by
    decreasing variance, ``variances`` (k,) = the eigenvalues lambda, ``eps`` (0-d).
    """

    _state_keys = ("mean", "components", "variances", "eps")
    flattens_output = True

    def __init__(self, n_components: int | None, eps: float, max_memory: int | None):
        super().__init__()
        name = type(self).__name__
        if n_components is not None:
            n_components = positive_int(
                n_components, "n_components", name, fix="pass None to keep them all"
            )
        eps = non_negative_float(eps, "eps", name)
        if max_memory is not None:
            positive_int(
                max_memory, "max_memory", name, fix="a number of bytes, or None for no limit"
            )
        self.n_components = n_components
        self.eps = np.array(eps)
        self.max_memory = max_memory
        self.mean = None
        self.components = None
        self.variances = None

    @property
    def feature_shape(self) -> tuple:
        return self.mean.shape

    def _memory_needed(self, n: int, d: int) -> tuple[int, str]:
        if n >= d:
            # centered copy + covariance + eigenvectors + LAPACK workspace, float64
            return 8 * (n * d + 3 * d * d), f"a {d} x {d} covariance matrix and its eigenvectors"
        k = n
        return 8 * (2 * n * d + k * d + 4 * k * k), f"the SVD of the centered {n} x {d} data"

    def _fit(self, array):
        name = type(self).__name__
        n = array.shape[0]
        flat = array.reshape(n, -1)
        d = flat.shape[1]
        if self.n_components is not None and self.n_components > min(n, d):
            raise ValueError(
                f"{name}.fit: n_components={self.n_components} is more than min(samples, features) = "
                f"min({n}, {d}); use at most {min(n, d)}"
            )
        needed, what = self._memory_needed(n, d)
        limit = self.max_memory if self.max_memory is not None else available_memory()
        if limit is not None and needed > limit:
            raise MemoryError(
                f"{name}.fit: {n} samples x {d} features: {what} needs about {_gib(needed)}, "
                f"but only {_gib(limit)} is available. Reduce the features first (e.g. PCA(n_components=...) "
                "on downsampled images, or smaller images), or fit on fewer samples"
                + (
                    " (fewer samples than features switches to the SVD of the data)."
                    if n >= d
                    else "."
                )
            )
        mean = flat.mean(axis=0, dtype=np.float64)
        centered = flat - mean
        if n >= d:
            cov = centered.T @ centered
            cov /= n - 1
            variances, vectors = np.linalg.eigh(cov)
            order = np.argsort(variances)[::-1]
            variances, components = variances[order], vectors[:, order].T
        else:
            _, singular, components = np.linalg.svd(centered, full_matrices=False)
            variances = singular**2 / (n - 1)
        k = self.n_components or len(variances)
        self.mean = mean.reshape(array.shape[1:])
        self.components = np.ascontiguousarray(components[:k])
        self.variances = np.maximum(variances[:k], 0.0)

    @property
    def epsilon(self) -> np.ndarray:
        """Deprecated name of ``eps``."""
        _warn_epsilon(type(self).__name__)
        return self.eps

    def load_state_dict(self, state: dict) -> None:
        """As ``Preprocessor.load_state_dict``; a state saved under the old key ``epsilon`` loads too."""
        if "epsilon" in state and "eps" not in state:
            state = {("eps" if k == "epsilon" else k): v for k, v in state.items()}
        super().load_state_dict(state)

    def _check_state(self, values):
        c, v = values["components"], values["variances"]
        if (
            c.ndim != 2
            or v.shape != (c.shape[0],)
            or int(np.prod(values["mean"].shape)) != c.shape[1]
        ):
            raise ShapeError(
                f"{type(self).__name__}.load_state_dict: inconsistent shapes: mean {values['mean'].shape}, "
                f"components {c.shape}, variances {v.shape}"
            )
        self.n_components = c.shape[0]

    def _flat(self, array, owner: str):
        """(samples x features matrix, whether a batch axis was added) for a batch or one sample."""
        shape = self.feature_shape
        if array.shape == shape:
            return array.reshape(1, -1), True
        if array.shape[1:] != shape:
            raise ShapeError(
                f"{type(self).__name__}.{owner}: data of shape {array.shape} does not match the fitted feature "
                f"shape {shape}; pass (N, *{shape}) or one sample of shape {shape}"
            )
        return array.reshape(array.shape[0], -1), False

    def _scales(self, power: float):
        return (self.variances + float(self.eps)) ** power

    def _project(self, array, xp, scale):
        """(x - mean) V_k * scale: (N, k)."""
        flat, single = self._flat(array, "transform")
        mean = self._param("mean", xp, array.dtype).reshape(1, -1)
        vt = self._param("components", xp, array.dtype)
        y = (flat - mean) @ vt.T
        if scale is not None:
            y = y * xp.asarray(scale, dtype=array.dtype)
        return y[0] if single else y

    def _unproject(self, array, xp, scale):
        k = self.components.shape[0]
        single = array.ndim == 1
        y = array.reshape(1, -1) if single else array
        if y.ndim != 2 or y.shape[1] != k:
            raise ShapeError(
                f"{type(self).__name__}.inverse_transform: expected (N, {k}) or ({k},) (got {tuple(array.shape)})"
            )
        if scale is not None:
            y = y * xp.asarray(scale, dtype=array.dtype)
        x = y @ self._param("components", xp, array.dtype) + self._param(
            "mean", xp, array.dtype
        ).reshape(1, -1)
        x = x.reshape(-1, *self.feature_shape)
        return x[0] if single else x


_WARNED_EPSILON: set[str] = set()


def _warn_epsilon(owner: str) -> None:
    """One DeprecationWarning per class and process for the old argument name ``epsilon``."""
    if owner not in _WARNED_EPSILON:
        _WARNED_EPSILON.add(owner)
        warnings.warn(
            f"{owner}: 'epsilon' is deprecated and will be removed; use 'eps' (PyTorch's name).",
            DeprecationWarning,
            stacklevel=3,
        )


def _eps_or_epsilon(owner: str, eps: float | None, epsilon: float | None) -> float:
    """``eps``, or the value given under the deprecated name ``epsilon`` (warned once)."""
    if epsilon is None:
        return 1e-5 if eps is None else eps
    _warn_epsilon(owner)
    if eps is not None:
        raise TypeError(
            f"{owner}: got both eps={eps} and epsilon={epsilon} (the old name); pass only eps."
        )
    return epsilon


class PCA(_Spectral):
    """y = (x - mean) V_k: the coordinates along the k directions of largest variance.

    For dimensionality reduction (e.g. 2-D plots of MNIST) and as a cheap first step before
    whitening high-dimensional data.

    Args:
        n_components: k, how many principal axes to keep. Default: all (min(samples, features)).
        max_memory: bytes that fitting may use. Default: the memory available now.

    Shape:
        input (N, *F) or (*F); output (N, k) or (k,).

    Attributes:
        components: (k, d) principal axes, by decreasing variance.
        variances: (k,) variance of the training data along each axis.
        explained_variance_ratio: (k,) each axis's share of the total variance.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(100, 5)) * [10, 1, 1, 1, 1]
        >>> PCA(2).fit(x).transform(x).shape
        (100, 2)
    """

    def __init__(self, n_components: int | None = None, max_memory: int | None = None):
        super().__init__(n_components, 0.0, max_memory)
        self._total_variance = None

    def _fit(self, array):
        super()._fit(array)
        self._total_variance = float(array.reshape(array.shape[0], -1).var(axis=0, ddof=1).sum())

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        """lambda_k / sum_j var(x_j): each kept axis's share of the training data's total variance.

        The ratios sum to 1 when every axis is kept, to less when ``n_components`` drops some
        (as scikit-learn's ``explained_variance_ratio_``). Shape (k,). Raises RuntimeError
        before ``fit``.
        """
        self._require_fitted("explained_variance_ratio")
        total = (
            self._total_variance
            if self._total_variance is not None
            else float(self.variances.sum())
        )
        return self.variances / total

    def _transform(self, array, xp):
        return self._project(array, xp, None)

    def _inverse(self, array, xp):
        return self._unproject(array, xp, None)


class PCAWhitening(_Spectral):
    """y = (x - mean) V_k / sqrt(lambda_k + eps): decorrelated features of unit variance.

    The output axes are the principal axes (a rotation of the input), so the features no
    longer mean pixels. ``ZCAWhitening`` rotates back.

    Args:
        n_components: k, the number of principal axes kept. Default: all (min(samples, features)).
        eps: added to each variance: avoids dividing by ~0 and damps the amplification of
            low-variance (noisy) directions. Default: 1e-5.
        max_memory: bytes that fitting may use. Default: the memory available now.
        epsilon: deprecated name of ``eps`` (warns once).

    Shape:
        input (N, *F) or (*F); output (N, k) or (k,).
    """

    def __init__(
        self,
        n_components: int | None = None,
        eps: float | None = None,
        max_memory: int | None = None,
        *,
        epsilon: float | None = None,
    ) -> None:
        super().__init__(n_components, _eps_or_epsilon("PCAWhitening", eps, epsilon), max_memory)

    def _transform(self, array, xp):
        return self._project(array, xp, self._scales(-0.5))

    def _inverse(self, array, xp):
        return self._unproject(array, xp, self._scales(0.5))


class ZCAWhitening(_Spectral):
    """y = (x - mean) W with W = V diag(1 / sqrt(lambda + eps)) V^T (symmetric whitening).

    Of all whitening transforms, ZCA changes the data least (it minimizes E||y - (x - mean)||^2),
    so whitened images still look like images, with edges enhanced ("remove correlation
    between neighbouring pixels"). Directions with no variance in the training data (lambda = 0,
    e.g. when there are fewer samples than features) are scaled by 1 / sqrt(eps), as the full
    d x d matrix W would do; the d x d matrix itself is never formed when there are fewer
    samples than features.

    Args:
        eps: added to each variance. Larger values whiten less and amplify noise less;
            for pixels in [0, 1] 1e-2 to 1e-1 is typical. Default: 1e-5.
        max_memory: bytes that fitting may use. Default: the memory available now.
        epsilon: deprecated name of ``eps`` (warns once).

    Shape:
        input (N, *F) or (*F); output the same shape.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(500, 3)) @ [[2, 1, 0], [0, 1, 0], [0, 0, 3]]
        >>> y = ZCAWhitening(eps=0).fit_transform(x)
        >>> bool(np.allclose(np.cov(y, rowvar=False), np.eye(3), atol=1e-8))
        True
    """

    def __init__(
        self,
        eps: float | None = None,
        max_memory: int | None = None,
        *,
        epsilon: float | None = None,
    ) -> None:
        super().__init__(None, _eps_or_epsilon("ZCAWhitening", eps, epsilon), max_memory)

    def _apply(self, array, xp, power: float):
        flat, single = self._flat(array, "transform" if power < 0 else "inverse_transform")
        vt = self._param("components", xp, array.dtype)
        full = vt.shape[0] == vt.shape[1]
        if power < 0:
            flat = flat - self._param("mean", xp, array.dtype).reshape(1, -1)
        scale = self._scales(power)
        if full:
            y = ((flat @ vt.T) * xp.asarray(scale, dtype=array.dtype)) @ vt
        else:
            # the complement of the k principal axes has variance 0: scale it by eps**power
            rest = float(self.eps) ** power if float(self.eps) > 0 else 0.0
            y = (
                flat * array.dtype.type(rest)
                + ((flat @ vt.T) * xp.asarray(scale - rest, dtype=array.dtype)) @ vt
            )
        if power > 0:
            y = y + self._param("mean", xp, array.dtype).reshape(1, -1)
        y = y.reshape(-1, *self.feature_shape)
        return y[0] if single else y

    def _transform(self, array, xp):
        return self._apply(array, xp, -0.5)

    def _inverse(self, array, xp):
        return self._apply(array, xp, 0.5)


__all__ = [
    "Preprocessor",
    "Standardize",
    "MinMaxScale",
    "PCA",
    "PCAWhitening",
    "ZCAWhitening",
    "available_memory",
]
