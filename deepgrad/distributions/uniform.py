"""The continuous uniform distribution U(low, high)."""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.distributions.distribution import (
    Distribution,
    TensorLike,
    broadcast_params,
    check_parameter,
)
from deepgrad.ops import elementwise as ew
from deepgrad.ops.creation import rand


class Uniform(Distribution):
    """U(a, b) with a = ``low`` < b = ``high``: every x in [a, b) is equally likely.

    density:      p(x) = 1 / (b - a) for a <= x < b, else 0
    log-density:  log p(x) = -log(b - a) inside, -inf outside
    entropy:      H = log(b - a)
    mean, var:    (a + b) / 2,  (b - a)^2 / 12
    cdf:          F(x) = clamp((x - a) / (b - a), 0, 1)
    rsample:      x = a + (b - a) u, u ~ U[0, 1), so dx/da = 1 - u and dx/db = u.

    Args:
        low: a, a tensor or a number.
        high: b > a, a tensor or a number (broadcasts with low).
        validate_args: check low < high, and that log_prob's values lie in [low, high] (else
            ValueError, as PyTorch; with validate_args=False they get log_prob = -inf).
            Default: None (on).

    Shape:
        batch_shape = broadcast(low.shape, high.shape); event_shape = ().

    Example:
        >>> import deepgrad as dg
        >>> from deepgrad.distributions import Uniform
        >>> d = Uniform(0.0, dg.tensor([1.0, 4.0]))
        >>> d.entropy()
        tensor([0.    , 1.3863])
        >>> Uniform(0.0, 1.0, validate_args=False).log_prob(dg.tensor([0.5, 2.0]))
        tensor([  0., -inf])
    """

    has_rsample = True
    _params = (("low", 0), ("high", 0))
    _support_hint = (
        "pass values in [low, high], or validate_args=False to get log_prob = -inf outside"
    )

    def __init__(
        self, low: TensorLike, high: TensorLike, validate_args: bool | None = None
    ) -> None:
        self.low, self.high = broadcast_params("Uniform", low, high)
        super().__init__(self.low.shape, (), validate_args)

    def _check_parameters(self) -> None:
        low, high = self.low, self.high
        check_parameter(
            "Uniform",
            "high",
            high,
            low._data < high._data,
            "> low",
            f"pass low < high everywhere (low={low._data.reshape(-1)[:5].tolist()})",
        )

    @property
    def mean(self) -> Tensor:
        return (self.low + self.high) / 2

    @property
    def mode(self) -> Tensor:
        """Every point is a mode: NaN, as PyTorch."""
        return self.low * float("nan")

    @property
    def variance(self) -> Tensor:
        """Var[X] = (high - low)^2 / 12."""
        return (self.high - self.low).square() / 12

    @property
    def stddev(self) -> Tensor:
        return (self.high - self.low) / 12**0.5

    def rsample(self, sample_shape=()) -> Tensor:
        """x = low + (high - low) u with u ~ U[0, 1) from the default generator; differentiable."""
        u = rand(self._extended_shape(sample_shape), dtype=self.low.dtype, device=self.low.device)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: TensorLike) -> Tensor:
        """log p(x) = -log(high - low) for low <= x < high, else -inf."""
        value = self._value(value)
        inside = (value >= self.low) & (value < self.high)
        # where(...) - log, not where(..., -log, ...): log 1 - log 1 is 0.0, not -0.0.
        return ew.where(inside, 0.0, float("-inf")) - (self.high - self.low).log()

    def cdf(self, value: TensorLike) -> Tensor:
        """F(x) = clamp((x - low) / (high - low), 0, 1)."""
        value = self._value(value)
        return ew.clamp((value - self.low) / (self.high - self.low), 0.0, 1.0)

    def icdf(self, value: TensorLike) -> Tensor:
        """F^-1(q) = low + q (high - low)."""
        return self.low + value * (self.high - self.low)

    def entropy(self) -> Tensor:
        """H = log(high - low)."""
        return (self.high - self.low).log()

    def _in_support(self, value: Tensor):
        low, high = self.low._data, self.high._data
        return (value._data >= low) & (value._data <= high)

    def _support_text(self) -> str:
        return "the closed interval [low, high]"
