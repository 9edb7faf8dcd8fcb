"""Probability distributions with PyTorch's API (``torch.distributions``).

``Normal`` and ``Uniform`` have ``rsample`` (reparameterized draws that gradients flow through);
``Categorical`` and ``Bernoulli`` are trained through ``log_prob`` (score-function / REINFORCE
estimators). ``kl_divergence(p, q)`` has closed forms for every pair of the same family, and
``register_kl`` adds more. Draws come from the default generator, so ``deepgrad.manual_seed``
makes them repeatable.

Example:
    >>> import deepgrad as dg
    >>> from deepgrad.distributions import Categorical
    >>> _ = dg.manual_seed(0)
    >>> policy = Categorical(logits=dg.zeros(4, 3, requires_grad=True))
    >>> action = policy.sample()
    >>> loss = -(policy.log_prob(action) * dg.ones(4)).mean()
    >>> loss.backward()
"""

from __future__ import annotations

from deepgrad.distributions.bernoulli import Bernoulli
from deepgrad.distributions.categorical import Categorical
from deepgrad.distributions.distribution import Distribution
from deepgrad.distributions.kl import kl_divergence, register_kl
from deepgrad.distributions.normal import Normal
from deepgrad.distributions.uniform import Uniform

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Normal",
    "Uniform",
    "kl_divergence",
    "register_kl",
]
