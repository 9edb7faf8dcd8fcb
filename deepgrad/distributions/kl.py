"""KL(p || q) = E_p[log p(X) - log q(X)] in closed form, looked up by the pair of types.

``kl_divergence(p, q)`` finds the function registered for the most specific pair of classes in
the two method-resolution orders (an exact pair before a pair of base classes), as PyTorch does.
Register a new pair with the ``register_kl`` decorator.
"""

from __future__ import annotations

from collections.abc import Callable

from deepgrad.autograd.tensor import Tensor
from deepgrad.distributions.bernoulli import Bernoulli
from deepgrad.distributions.categorical import Categorical
from deepgrad.distributions.distribution import Distribution, softplus
from deepgrad.distributions.normal import Normal
from deepgrad.distributions.uniform import Uniform
from deepgrad.ops import elementwise as ew

_KL_REGISTRY: dict[tuple[type, type], Callable] = {}

INF = float("inf")


def register_kl(type_p: type, type_q: type) -> Callable:
    """Decorator: register ``fn(p, q) -> Tensor`` as KL(p || q) for p of type_p and q of type_q.

    Example:
        >>> from deepgrad.distributions import Normal, register_kl
        >>> class Narrow(Normal):
        ...     pass
        >>> @register_kl(Narrow, Narrow)
        ... def _kl_narrow(p, q):
        ...     return (p.loc - q.loc).abs()
        >>> kl_divergence(Narrow(0.0, 1.0), Narrow(3.0, 1.0))
        tensor(3.)
    """
    for t in (type_p, type_q):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise TypeError(
                f"register_kl: expected subclasses of Distribution (got {t!r}); "
                "pass the classes themselves, e.g. register_kl(Normal, Normal)."
            )

    def decorator(fn: Callable) -> Callable:
        _KL_REGISTRY[type_p, type_q] = fn
        return fn

    return decorator


def _lookup(type_p: type, type_q: type) -> Callable | None:
    """The function of the registered pair nearest to (type_p, type_q) in their MROs."""
    best, best_rank = None, None
    for i, base_p in enumerate(type_p.__mro__):
        for j, base_q in enumerate(type_q.__mro__):
            fn = _KL_REGISTRY.get((base_p, base_q))
            if fn is not None and (best_rank is None or (i + j, i) < best_rank):
                best, best_rank = fn, (i + j, i)
    return best


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p || q) = E_p[log p(X) - log q(X)] >= 0, of shape broadcast(p.batch_shape, q.batch_shape).

    Infinite where q gives probability zero to a set that p does not (q's support does not cover
    p's). Differentiable with respect to both distributions' parameters.

    Raises:
        NotImplementedError: no closed form is registered for the pair of types.

    Example:
        >>> from deepgrad.distributions import Normal
        >>> kl_divergence(Normal(0.0, 1.0), Normal(1.0, 1.0))
        tensor(0.5)
    """
    fn = _lookup(type(p), type(q))
    if fn is None:
        raise NotImplementedError(
            f"kl_divergence: no KL(p || q) is registered for p={type(p).__name__} and "
            f"q={type(q).__name__}; register one with @register_kl({type(p).__name__}, "
            f"{type(q).__name__}) or estimate it by sampling, (p.log_prob(x) - q.log_prob(x)).mean()."
        )
    return fn(p, q)


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    """KL = log(s_q / s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2."""
    var_ratio = (p.scale / q.scale).square()
    t1 = ((p.loc - q.loc) / q.scale).square()
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    """KL = sum_k p_k (log p_k - log q_k); a term is 0 where p_k = 0 and inf where q_k = 0 < p_k."""
    terms = p.probs * (p.logits - q.logits)
    terms = ew.where(q.probs == 0, INF, terms)
    terms = ew.where(p.probs == 0, 0.0, terms)
    return terms.sum(dim=-1)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    """KL = p log(p / q) + (1 - p) log((1 - p) / (1 - q)), on logits: log p = -softplus(-l)."""
    ones = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    ones = ew.where(q.probs == 0, INF, ones)
    ones = ew.where(p.probs == 0, 0.0, ones)
    zeros = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    zeros = ew.where(q.probs == 1, INF, zeros)
    zeros = ew.where(p.probs == 1, 0.0, zeros)
    return ones + zeros


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform) -> Tensor:
    """KL = log((b_q - a_q) / (b_p - a_p)) if [a_p, b_p] lies inside [a_q, b_q], else inf."""
    result = ((q.high - q.low) / (p.high - p.low)).log()
    outside = (q.low > p.low) | (q.high < p.high)
    return ew.where(outside, INF, result)
