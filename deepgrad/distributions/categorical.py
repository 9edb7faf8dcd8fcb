"""The categorical distribution over K classes {0, ..., K-1}."""

from __future__ import annotations

from functools import cached_property

import numpy as np  # dtype bookkeeping only

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import ShapeError
from deepgrad.distributions.distribution import (
    Distribution,
    TensorLike,
    broadcast_params,
    check_logits,
    check_parameter,
    eps_for,
)
from deepgrad.ops import elementwise as ew
from deepgrad.ops.composite import logsumexp
from deepgrad.ops.creation import full, rand
from deepgrad.ops.fused import softmax
from deepgrad.ops.index import take_along_dim


class Categorical(Distribution):
    """Cat(p): class k in {0, ..., K-1} with probability p_k; K is the last dimension of the parameter.

    probability:  P(X = k) = p_k,  p_k = probs_k / sum_j probs_j  or  p = softmax(logits)
    log-prob:     log P(X = k) = logits_k - logsumexp(logits)
    entropy:      H = -sum_k p_k log p_k  (0 log 0 taken as 0)
    sample:       inverse CDF, k = #{j : p_0 + ... + p_j <= u} with u ~ U[0, 1)

    Not reparameterizable: ``rsample`` raises NotImplementedError; train through ``log_prob``
    (REINFORCE: loss = -(log_prob(action) * advantage).mean()).

    Args:
        probs: non-negative weights of shape (*batch, K), normalized over the last dimension.
        logits: unnormalized log-probabilities of shape (*batch, K), normalized by logsumexp.
            Give exactly one of probs and logits.
        validate_args: check the parameters and that log_prob's values are classes in [0, K).
            Default: None (on).

    Shape:
        batch_shape = param.shape[:-1]; event_shape = (); samples are int64.

    Example:
        >>> import deepgrad as dg
        >>> from deepgrad.distributions import Categorical
        >>> d = Categorical(probs=dg.tensor([2.0, 1.0, 1.0]))
        >>> d.probs
        tensor([0.5 , 0.25, 0.25])
        >>> d.log_prob(dg.tensor([0, 2])).exp()
        tensor([0.5 , 0.25])
        >>> d.sample((4,)).dtype
        dtype('int64')
    """

    has_rsample = False
    _params = (("probs", 1), ("logits", 1))

    def __init__(
        self,
        probs: TensorLike | None = None,
        logits: TensorLike | None = None,
        validate_args: bool | None = None,
    ) -> None:
        if (probs is None) == (logits is None):
            raise ValueError(
                "Categorical: give exactly one of probs and logits (got "
                f"{'both' if probs is not None else 'neither'}); e.g. Categorical(logits=scores)."
            )
        (param,) = broadcast_params("Categorical", probs if logits is None else logits)
        if param.ndim < 1:
            raise ShapeError(
                f"Categorical: {'probs' if logits is None else 'logits'} must have at least one "
                f"dimension, the K classes (got shape {param.shape}); e.g. probs=dg.tensor([0.2, 0.8])."
            )
        if logits is None:
            if self._validating(validate_args):
                self._check_probs(param)
            self.probs = param / param.sum(dim=-1, keepdim=True)
        else:
            self.logits = param - logsumexp(param, dim=-1, keepdim=True)
        self._num_events = param.shape[-1]
        self._given = "probs" if logits is None else "logits"
        super().__init__(param.shape[:-1], (), validate_args)

    @staticmethod
    def _check_probs(probs: Tensor) -> None:
        data = probs._data
        check_parameter(
            "Categorical",
            "probs",
            probs,
            data >= 0,
            ">= 0",
            "pass non-negative class weights (normalized over the last dim), or scores as logits",
        )

    def _check_parameters(self) -> None:
        if "logits" in self.__dict__:
            check_logits("Categorical", self.__dict__["logits"])

    @cached_property
    def logits(self) -> Tensor:
        """log p, with p clamped to [eps, 1 - eps] first so that a zero probability stays finite."""
        eps = eps_for(self.probs.dtype)
        return ew.clamp(self.probs, eps, 1 - eps).log()

    @cached_property
    def probs(self) -> Tensor:
        """p = softmax(logits) over the last dimension."""
        return softmax(self.logits, dim=-1)

    @property
    def param_shape(self) -> tuple:
        """The shape of the parameter given (``probs`` or ``logits``): batch shape + (K,)."""
        return self.__dict__.get("probs", self.__dict__.get("logits")).shape

    @property
    def mean(self) -> Tensor:
        """Undefined for classes: NaN, as PyTorch."""
        return full(
            self._batch_shape, float("nan"), dtype=self.probs.dtype, device=self.probs.device
        )

    @property
    def variance(self) -> Tensor:
        """Undefined for classes: NaN, as PyTorch."""
        return self.mean

    @property
    def mode(self) -> Tensor:
        """The most probable class (the first one on ties)."""
        return self.probs.argmax(dim=-1)

    def sample(self, sample_shape=()) -> Tensor:
        """int64 classes of shape sample_shape + batch_shape, drawn by the inverse CDF."""
        shape = self._extended_shape(sample_shape)
        probs = self.probs.detach()
        xp = probs.xp
        # Summing in float64 leaves a rounding gap of ~1e-16, the chance of drawing a class of
        # probability 0; dividing by the total makes the last entry exactly 1 > u, so k <= K - 1.
        cdf = xp.cumsum(probs._data, axis=-1, dtype=xp.float64)
        cdf = cdf / cdf[..., -1:]
        u = rand(shape + (1,), dtype="float64", device=probs.device)._data
        classes = (cdf <= u).sum(axis=-1).astype(xp.int64)
        return Tensor._make(classes, None)

    def log_prob(self, value: TensorLike) -> Tensor:
        """log P(X = k) = logits_k - logsumexp(logits), picked by gather; broadcasts value and batch."""
        value = self._value(value)
        index = value.long().unsqueeze(-1)
        logits = self.logits
        extra = index.ndim - logits.ndim
        if extra > 0:
            logits = logits.reshape((1,) * extra + logits.shape)
        elif extra < 0:
            index = index.reshape((1,) * -extra + index.shape)
        return take_along_dim(logits, index, dim=-1).squeeze(-1)

    def entropy(self) -> Tensor:
        """H = -sum_k p_k log p_k; logits of -inf are clamped to the dtype's minimum so 0 log 0 = 0."""
        logits = ew.clamp(self.logits, min=float(np.finfo(self.logits.dtype).min))
        return -(logits * self.probs).sum(dim=-1)

    def _in_support(self, value: Tensor):
        data = value._data
        return (data % 1 == 0) & (data >= 0) & (data < self._num_events)

    def _support_text(self) -> str:
        return f"integers 0 .. {self._num_events - 1}"
