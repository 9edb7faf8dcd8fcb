"""The normal (Gaussian) distribution N(loc, scale^2)."""

from __future__ import annotations

import math

from deepgrad.autograd.tensor import Tensor
from deepgrad.distributions.distribution import (
    LOG_SQRT_2PI,
    Distribution,
    TensorLike,
    broadcast_params,
    check_parameter,
)
from deepgrad.ops import elementwise as ew
from deepgrad.ops.creation import randn


class Normal(Distribution):
    """N(mu, sigma^2) with mu = ``loc`` and sigma = ``scale``, batched over broadcast parameters.

    density:      p(x) = exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))
    log-density:  log p(x) = -(x - mu)^2 / (2 sigma^2) - log sigma - log sqrt(2 pi)
    entropy:      H = 1/2 + log sqrt(2 pi) + log sigma
    cdf:          F(x) = (1 + erf((x - mu) / (sigma sqrt 2))) / 2
    rsample:      x = mu + sigma * eps, eps ~ N(0, 1), so dx/dmu = 1 and dx/dsigma = eps.

    Args:
        loc: the mean mu, a tensor or a number.
        scale: the standard deviation sigma > 0, a tensor or a number (broadcasts with loc).
        validate_args: check scale > 0 and that log_prob's values are not NaN. Default: None (on).

    Shape:
        batch_shape = broadcast(loc.shape, scale.shape); event_shape = ().

    Example:
        >>> import deepgrad as dg
        >>> from deepgrad.distributions import Normal
        >>> d = Normal(dg.tensor([0.0, 1.0]), 2.0)
        >>> d.batch_shape, d.sample((5,)).shape
        ((2,), (5, 2))
        >>> d.log_prob(dg.tensor([0.0, 1.0]))
        tensor([-1.6121, -1.6121])
    """

    has_rsample = True
    _params = (("loc", 0), ("scale", 0))

    def __init__(
        self, loc: TensorLike, scale: TensorLike, validate_args: bool | None = None
    ) -> None:
        self.loc, self.scale = broadcast_params("Normal", loc, scale)
        super().__init__(self.loc.shape, (), validate_args)

    def _check_parameters(self) -> None:
        loc, scale = self.loc, self.scale
        check_parameter(
            "Normal",
            "loc",
            loc,
            loc._data == loc._data,
            "a real number (not NaN)",
            "check the computation that produced loc",
        )
        check_parameter(
            "Normal",
            "scale",
            scale,
            scale._data > 0,
            "> 0",
            "pass a positive scale, e.g. log_scale.exp() or F.softplus(raw) + 1e-6",
        )

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        """mode = loc, where the density peaks."""
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        """Var[X] = scale^2."""
        return self.scale.square()

    def rsample(self, sample_shape=()) -> Tensor:
        """x = loc + scale * eps with eps ~ N(0, 1) from the default generator; differentiable."""
        eps = randn(
            self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device
        )
        return self.loc + eps * self.scale

    def log_prob(self, value: TensorLike) -> Tensor:
        """log p(x) = -(x - mu)^2 / (2 sigma^2) - log sigma - log sqrt(2 pi)."""
        value = self._value(value)
        z = (value - self.loc) / self.scale
        return -0.5 * z.square() - self.scale.log() - LOG_SQRT_2PI

    def cdf(self, value: TensorLike) -> Tensor:
        """F(x) = (1 + erf((x - mu) / (sigma sqrt 2))) / 2."""
        value = self._value(value)
        return 0.5 * (1 + ew.erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def entropy(self) -> Tensor:
        """H = 1/2 + log sqrt(2 pi) + log sigma."""
        return 0.5 + LOG_SQRT_2PI + self.scale.log()
