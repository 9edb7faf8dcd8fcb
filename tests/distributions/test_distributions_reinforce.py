"""REINFORCE with Categorical(logits=model(x)): the policy gradient of
loss = -(log_prob(action) * advantage).mean() equals the hand computation
d loss / d logits = -(advantage / N) (onehot(action) - softmax(logits)), and a few hundred steps
on a contextual bandit learn the rewarded actions."""

from __future__ import annotations

import numpy as np
import scipy.special

import deepgrad as dg
from deepgrad import nn
from deepgrad.distributions import Categorical


def test_policy_gradient_matches_hand_computation():
    dg.manual_seed(0)
    model = nn.Linear(4, 3).double()
    x = dg.randn(8, 4, dtype=dg.float64)
    advantage = dg.randn(8, dtype=dg.float64)
    policy = Categorical(logits=model(x))
    actions = policy.sample()
    loss = -(policy.log_prob(actions) * advantage).mean()
    loss.backward()

    xs, adv, a = x.numpy(), advantage.numpy(), actions.numpy()
    logits = xs @ model.weight.detach().numpy().T + model.bias.detach().numpy()
    probs = scipy.special.softmax(logits, axis=-1)
    onehot = np.eye(3)[a]
    dlogits = -(adv[:, None] / 8) * (onehot - probs)
    np.testing.assert_allclose(
        loss.item(), -(np.log(probs[np.arange(8), a]) * adv).mean(), rtol=1e-12
    )
    np.testing.assert_allclose(model.weight.grad.numpy(), dlogits.T @ xs, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(model.bias.grad.numpy(), dlogits.sum(0), rtol=1e-10, atol=1e-14)


def test_reinforce_learns_a_contextual_bandit():
    """Context k in {0, 1, 2} (one-hot) pays 1 for action k, else 0; baseline = mean reward."""
    dg.manual_seed(1)
    model = nn.Linear(3, 3)
    optimizer = dg.optim.SGD(model.parameters(), lr=0.5)
    eye = dg.eye(3)
    for _ in range(150):
        contexts = dg.randint(0, 3, (32,))
        x = eye[contexts]
        policy = Categorical(logits=model(x))
        actions = policy.sample()
        reward = (actions == contexts).float()
        loss = -(policy.log_prob(actions) * (reward - reward.mean())).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    best = Categorical(logits=model(eye)).probs.detach().numpy()
    assert (best.argmax(-1) == [0, 1, 2]).all()
    assert best.diagonal().min() > 0.9, best  # from about 1/3 at the start
