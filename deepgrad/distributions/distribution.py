"""The ``Distribution`` base class and the helpers its subclasses share.

A distribution holds parameter tensors of one broadcast shape, its ``batch_shape`` (many
independent distributions at once), and draws values of shape ``event_shape`` (``()`` for every
distribution here). A draw with ``sample(sample_shape)`` has shape
``sample_shape + batch_shape + event_shape``.

``sample`` returns values outside the graph. ``rsample`` (where ``has_rsample``) writes a draw as a
differentiable function of the parameters and parameter-free noise, ``x = g(theta, eps)`` (the
reparameterization trick, Kingma and Welling, 2014), so gradients flow to the parameters.

With ``validate_args`` on (the default, as PyTorch), impossible parameters raise ``ValueError`` at
construction and ``log_prob`` rejects values outside the support.
"""

from __future__ import annotations

import math

import numpy as np  # shape and dtype bookkeeping only

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError, is_floating
from deepgrad.ops import elementwise as ew
from deepgrad.ops import shape as sh
from deepgrad.ops.creation import tensor

float32 = np.dtype("float32")

TensorLike = Tensor | float | int


class Distribution:
    """A probability distribution with PyTorch's interface (``torch.distributions.Distribution``).

    Subclasses set ``has_rsample`` and implement ``log_prob`` and, where they exist in closed form,
    ``sample``/``rsample``, ``entropy``, ``mean``, ``variance`` and ``cdf``. They list their
    parameters in ``_params`` as ``(attribute, event dims of that parameter)`` so that ``expand``
    works for all of them.

    Args:
        batch_shape: the shape of the parameters after broadcasting.
        event_shape: the shape of one draw. Default: ``()``.
        validate_args: check the parameters and ``log_prob``'s values; None takes the class default
            (``Distribution.set_default_validate_args``, True unless changed).
    """

    has_rsample = False
    _validate_args_default = True
    _params: tuple = ()
    _support_hint = "pass values from the support"

    def __init__(
        self, batch_shape: tuple = (), event_shape: tuple = (), validate_args: bool | None = None
    ) -> None:
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        self._validate_args = self._validating(validate_args)
        if self._validate_args:
            self._check_parameters()

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument validation on or off for every distribution made afterwards."""
        if value not in (True, False):
            raise ValueError(
                f"set_default_validate_args: value must be True or False (got {value!r})"
            )
        Distribution._validate_args_default = value

    @staticmethod
    def _validating(validate_args: bool | None) -> bool:
        """Whether to validate: the argument, or the class default where it is None."""
        return Distribution._validate_args_default if validate_args is None else bool(validate_args)

    # -- shapes --------------------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple:
        """The shape over which parameters are batched (independent distributions)."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        """The shape of a single draw."""
        return self._event_shape

    def _extended_shape(self, sample_shape=()) -> tuple:
        """``sample_shape + batch_shape + event_shape``: the shape of ``sample(sample_shape)``."""
        if isinstance(sample_shape, (int, np.integer)):
            sample_shape = (int(sample_shape),)
        return tuple(sample_shape) + self._batch_shape + self._event_shape

    def expand(self, batch_shape) -> Distribution:
        """The same distribution with its parameters broadcast to ``batch_shape`` (no copies)."""
        batch_shape = tuple(batch_shape)
        new = type(self).__new__(type(self))
        for name, event_dims in self._params:
            if name in self.__dict__:  # lazily computed parameters are expanded only if present
                value = self.__dict__[name]
                shape = batch_shape + tuple(value.shape[len(value.shape) - event_dims :])
                try:
                    new.__dict__[name] = sh.expand(value, shape)
                except ValueError:
                    raise ShapeError(
                        f"{type(self).__name__}.expand: batch_shape {self._batch_shape} cannot be "
                        f"expanded to {batch_shape}; sizes must match or be 1."
                    ) from None
        for name, value in self.__dict__.items():
            new.__dict__.setdefault(name, value)
        new._batch_shape = batch_shape
        return new

    # -- the interface -------------------------------------------------------------------------
    def sample(self, sample_shape=()) -> Tensor:
        """A draw of shape ``sample_shape + batch_shape + event_shape``, outside the graph."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()) -> Tensor:
        """A reparameterized draw: a differentiable function of the parameters."""
        raise NotImplementedError(
            f"{type(self).__name__}: rsample is not available, the distribution is not "
            "reparameterizable (has_rsample is False); use sample() with a score-function "
            "estimator such as -(log_prob(sample) * advantage).mean()."
        )

    def sample_n(self, n: int) -> Tensor:
        """``sample((n,))`` (kept for old PyTorch code)."""
        return self.sample((n,))

    def log_prob(self, value: TensorLike) -> Tensor:
        """log p(value), of shape broadcast(value.shape, batch_shape + event_shape)."""
        raise NotImplementedError(f"{type(self).__name__}: log_prob is not implemented.")

    def cdf(self, value: TensorLike) -> Tensor:
        """P(X <= value)."""
        raise NotImplementedError(f"{type(self).__name__}: cdf is not implemented.")

    def entropy(self) -> Tensor:
        """H = -E[log p(X)], of shape ``batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__}: entropy is not implemented.")

    def perplexity(self) -> Tensor:
        """exp(entropy)."""
        return self.entropy().exp()

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__}: mean is not implemented.")

    @property
    def mode(self) -> Tensor:
        """argmax_x p(x), the most likely value, of shape ``batch_shape + event_shape``.

        Each distribution defines it; the base class raises NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__}: mode is not implemented.")

    @property
    def variance(self) -> Tensor:
        """Var[X] = E[(X - E[X])^2], elementwise, of shape ``batch_shape + event_shape``.

        Each distribution defines it; the base class raises NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__}: variance is not implemented.")

    @property
    def stddev(self) -> Tensor:
        """sqrt(variance)."""
        return self.variance.sqrt()

    # -- validation ----------------------------------------------------------------------------
    def _check_parameters(self) -> None:
        """Raise ValueError for impossible parameters (subclasses override)."""

    def _in_support(self, value: Tensor):
        """A bool array: where ``value`` lies in the support; here every number but NaN."""
        return value._data == value._data

    def _value(self, value: TensorLike) -> Tensor:
        """``value`` as a tensor, checked against the batch shape and (if validating) the support."""
        if not isinstance(value, Tensor):
            value = tensor(value, device=self._device())
        expected = self._batch_shape + self._event_shape
        try:
            np.broadcast_shapes(value.shape, expected)
        except ValueError:
            raise ShapeError(
                f"{type(self).__name__}.log_prob: value of shape {value.shape} does not broadcast "
                f"with batch_shape + event_shape {expected}; give a value whose trailing sizes "
                "match or are 1."
            ) from None
        if self._validate_args:
            bad = ~self._in_support(value)
            if bad.any():
                raise ValueError(
                    f"{type(self).__name__}.log_prob: value must lie in the support "
                    f"({self._support_text()}) (got {value._data[bad][:5].tolist()}"
                    f"{' ...' if int(bad.sum()) > 5 else ''}); {self._support_hint}."
                )
        return value

    def _support_text(self) -> str:
        return "real numbers"

    def _device(self):
        for name, _ in self._params:
            if name in self.__dict__:
                return self.__dict__[name].device
        return None

    def __repr__(self) -> str:
        parts = []
        given = getattr(self, "_given", None)  # probs or logits: the one the caller passed
        for name, _ in self._params:
            if name in self.__dict__ and given in (None, name):
                value = self.__dict__[name]
                shown = value.item() if value.numel() == 1 else value.shape
                parts.append(f"{name}: {shown}")
        return f"{type(self).__name__}({', '.join(parts)})"


def broadcast_params(name: str, *values: TensorLike) -> tuple[Tensor, ...]:
    """The parameters as tensors of one floating dtype and one broadcast shape.

    Python numbers take the dtype of the tensor parameters, float32 when all are numbers (so a
    float scale never upcasts a float32 loc, and float64 tensors stay float64). Integer tensors
    become float32. Expanding is differentiable: gradients sum back to each parameter's shape.
    """
    tensors = [v for v in values if isinstance(v, Tensor)]
    floats = [t.dtype for t in tensors if is_floating(t.dtype)]
    dtype = np.result_type(*floats) if floats else float32
    device = tensors[0].device if tensors else None
    converted = []
    for v in values:
        if isinstance(v, Tensor):
            converted.append(v if v.dtype == dtype else v.to(dtype))
        else:
            converted.append(tensor(v, dtype=dtype, device=device))
    shapes = [t.shape for t in converted]
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError(
            f"{name}: parameter shapes {shapes} cannot be broadcast together; "
            "sizes must match or be 1 in every trailing dimension."
        ) from None
    return tuple(t if t.shape == shape else sh.expand(t, shape) for t in converted)


def check_parameter(dist: str, name: str, value: Tensor, ok, requirement: str, fix: str) -> None:
    """Raise ValueError naming the parameter, its bad values and the fix where ``ok`` is False."""
    bad = ~ok
    if bad.any():
        shown = value._data[bad][:5].tolist()
        raise ValueError(
            f"{dist}: {name} must be {requirement} (got {shown}{' ...' if int(bad.sum()) > 5 else ''} "
            f"in {name} of shape {value.shape}); {fix}."
        )


def softplus(x: Tensor) -> Tensor:
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|), which never overflows.

    ``maximum`` (unlike relu) splits the tie at x = 0 evenly, so the gradient there is the exact
    sigmoid(0) = 1/2.
    """
    return ew.maximum(x, 0.0) + ew.log1p(ew.exp(-ew.abs(x)))


def check_logits(dist: str, logits: Tensor) -> None:
    """Logits may be any real numbers, but not NaN."""
    check_parameter(
        dist,
        "logits",
        logits,
        logits._data == logits._data,
        "real numbers (not NaN)",
        "check the computation that produced logits",
    )


def eps_for(dtype) -> float:
    """The machine epsilon of ``dtype``: probabilities are clamped to [eps, 1 - eps] before log."""
    return float(np.finfo(dtype).eps)


LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

__all__ = [
    "LOG_SQRT_2PI",
    "Distribution",
    "broadcast_params",
    "check_parameter",
    "eps_for",
    "softplus",
]
