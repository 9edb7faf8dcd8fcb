"""The Bernoulli distribution on {0, 1}."""

from __future__ import annotations

from functools import cached_property

from deepgrad.autograd.tensor import Tensor
from deepgrad.distributions.distribution import (
    Distribution,
    TensorLike,
    broadcast_params,
    check_logits,
    check_parameter,
    eps_for,
)
from deepgrad.ops import elementwise as ew
from deepgrad.ops.creation import rand


class Bernoulli(Distribution):
    """Bern(p): 1 with probability p, 0 with probability 1 - p; p = ``probs`` or sigmoid(``logits``).

    probability:  P(X = x) = p^x (1 - p)^(1 - x),  x in {0, 1}
    log-prob:     log P(X = x) = x l - softplus(l) = -BCEWithLogits(l, x),  l = logit(p)
    entropy:      H = -p log p - (1 - p) log(1 - p) = softplus(l) - p l
    mean, var:    p,  p (1 - p)

    The log-probability is computed from the logits as -((max(l, 0) - x l) + log1p(e^-|l|)),
    which stays exact where sigmoid saturates (|l| > ~17 in float32). Not reparameterizable.

    Args:
        probs: p in [0, 1], a tensor or a number.
        logits: l = log(p / (1 - p)), a tensor or a number. Give exactly one of probs and logits.
        validate_args: check the parameters and that log_prob's values are 0 or 1.
            Default: None (on).

    Shape:
        batch_shape = param.shape; event_shape = (); samples have the parameter's float dtype.

    Example:
        >>> import deepgrad as dg
        >>> from deepgrad.distributions import Bernoulli
        >>> d = Bernoulli(logits=dg.tensor([0.0, 100.0]))
        >>> d.probs
        tensor([0.5, 1. ])
        >>> d.log_prob(dg.tensor([1.0, 0.0]))
        tensor([  -0.6931, -100.    ])
    """

    has_rsample = False
    _params = (("probs", 0), ("logits", 0))

    def __init__(
        self,
        probs: TensorLike | None = None,
        logits: TensorLike | None = None,
        validate_args: bool | None = None,
    ) -> None:
        if (probs is None) == (logits is None):
            raise ValueError(
                "Bernoulli: give exactly one of probs and logits (got "
                f"{'both' if probs is not None else 'neither'}); e.g. Bernoulli(logits=scores)."
            )
        if logits is None:
            (self.probs,) = broadcast_params("Bernoulli", probs)
            shape = self.probs.shape
        else:
            (self.logits,) = broadcast_params("Bernoulli", logits)
            shape = self.logits.shape
        self._given = "probs" if logits is None else "logits"
        super().__init__(shape, (), validate_args)

    def _check_parameters(self) -> None:
        if "probs" in self.__dict__:
            p = self.__dict__["probs"]
            check_parameter(
                "Bernoulli",
                "probs",
                p,
                (p._data >= 0) & (p._data <= 1),
                "in [0, 1]",
                "pass probabilities, or pass unbounded scores as logits",
            )
        else:
            check_logits("Bernoulli", self.__dict__["logits"])

    @cached_property
    def logits(self) -> Tensor:
        """l = log p - log(1 - p), with p clamped to [eps, 1 - eps] so that l stays finite."""
        eps = eps_for(self.probs.dtype)
        p = ew.clamp(self.probs, eps, 1 - eps)
        return p.log() - ew.log1p(-p)

    @cached_property
    def probs(self) -> Tensor:
        """p = sigmoid(l)."""
        return ew.sigmoid(self.logits)

    @property
    def param_shape(self) -> tuple:
        """The shape of ``probs`` (and ``logits``): here the batch shape."""
        return self._batch_shape

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        """1 where p > 1/2, 0 where p < 1/2, NaN at p = 1/2 (both are modes), as PyTorch."""
        p = self.probs
        return ew.where(p == 0.5, float("nan"), (p > 0.5).to(p.dtype))

    @property
    def variance(self) -> Tensor:
        """Var[X] = p (1 - p)."""
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()) -> Tensor:
        """1.0 where u < p for u ~ U[0, 1) from the default generator, else 0.0."""
        p = self.probs.detach()
        u = rand(self._extended_shape(sample_shape), dtype=p.dtype, device=p.device)
        return (u < p).to(p.dtype)

    def log_prob(self, value: TensorLike) -> Tensor:
        """log P(X = x) = x l - softplus(l), the negated binary cross-entropy with logits."""
        value = self._value(value)
        return -_bce_with_logits(self.logits, value)

    def entropy(self) -> Tensor:
        """H = softplus(l) - p l, the binary cross-entropy of p with itself."""
        return _bce_with_logits(self.logits, self.probs)

    def _in_support(self, value: Tensor):
        return (value._data == 0) | (value._data == 1)

    def _support_text(self) -> str:
        return "0 or 1"


def _bce_with_logits(logits: Tensor, target: TensorLike) -> Tensor:
    """-(t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))) = (max(l, 0) - l t) + log1p(e^-|l|).

    The first bracket is exact (it is 0 for t = 1, l > 0), so the small log1p term survives in
    float32; writing it as softplus(l) - l t would cancel it away. ``maximum`` splits the tie at
    l = 0 evenly, which gives the exact gradient there.
    """
    return (ew.maximum(logits, 0.0) - logits * target) + ew.log1p(ew.exp(-ew.abs(logits)))
