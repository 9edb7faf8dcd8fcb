"""REINFORCE with a baseline (Williams, 1992): the Monte-Carlo policy gradient.

For episodes s_0, a_0, r_0, ..., s_{T-1}, a_{T-1}, r_{T-1} played with the policy pi_theta(a | s):

    G_t  = sum_{k >= t} gamma^(k-t) r_k                      (discounted return from step t)
    A_t  = G_t - b(s_t)                                       (advantage; b is the baseline)
    loss = -mean_t log pi_theta(a_t | s_t) A_t  -  beta H(pi_theta(. | s_t))
           + mean_t (V_phi(s_t) - G_t)^2                      (only with the learned baseline)

The baseline does not bias the gradient (E[grad log pi(a | s)] = 0) but reduces its variance.
``baseline="value"`` learns b(s) = V_phi(s) with a second network regressed on G_t;
``baseline="mean"`` uses a running mean of the returns; ``baseline="none"`` is plain REINFORCE,
A_t = G_t, for comparison. In every case the advantages of a batch are divided by their standard
deviation, which keeps the step size independent of the return's scale (CartPole's returns grow
from about 20 to 500 as the agent learns).

Reference: R. J. Williams, "Simple statistical gradient-following algorithms for connectionist
reinforcement learning", Machine Learning 8, 1992.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np

from deepgrad import nn
from deepgrad.autograd.grad_mode import no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.distributions import Categorical
from deepgrad.nn import functional as F
from deepgrad.ops.creation import tensor
from deepgrad.rl.common import EpisodeStream, EpisodeUpdater, discounted_returns

BASELINES = ("value", "mean", "none")


def mlp(sizes: tuple[int, ...], activation: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of the given sizes with ``activation()`` between them (none after the last).

    Example:
        >>> mlp((4, 8, 2), nn.ELU)
        Sequential(
          (0): Linear(in_features=4, out_features=8, bias=True)
          (1): ELU(alpha=1.0)
          (2): Linear(in_features=8, out_features=2, bias=True)
        )
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class PolicyNetwork(nn.Module):
    """pi(a | s) = softmax(f(s)) with an MLP f, and optionally a value network V(s) beside it.

    Args:
        obs_dim: the size of an observation (4 for CartPole).
        n_actions: the number of discrete actions (2 for CartPole).
        hidden: hidden layer sizes of both networks. Default: (128,).
        value: also build the value network ``value_net`` (for ``baseline="value"``).

    Shape:
        obs (N, obs_dim) -> logits (N, n_actions); ``value(obs)`` -> (N,).

    Example:
        >>> import deepgrad as dg
        >>> net = PolicyNetwork(4, 2)
        >>> net(dg.zeros(3, 4)).shape, net.value(dg.zeros(3, 4)).shape
        ((3, 2), (3,))
    """

    def __init__(
        self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (128,), value: bool = True
    ) -> None:
        super().__init__()
        self.sizes = (obs_dim, *hidden, n_actions)
        self.policy_net = mlp(self.sizes)
        self.value_net = mlp((obs_dim, *hidden, 1)) if value else None

    def forward(self, obs: Tensor) -> Tensor:
        return self.policy_net(obs)

    def value(self, obs: Tensor) -> Tensor:
        if self.value_net is None:
            raise RuntimeError(
                "PolicyNetwork.value: this network has no value head; build it with value=True."
            )
        return self.value_net(obs).squeeze(-1)

    def distribution(self, obs: Tensor) -> Categorical:
        """The policy's Categorical distribution over actions at ``obs``."""
        return Categorical(logits=self(obs))

    def act(self, obs: np.ndarray) -> int:
        """An action sampled from pi(. | obs) for one observation (no graph is recorded)."""
        with no_grad():
            return int(self.distribution(tensor(obs[None])).sample().item())


def play_episode(model: PolicyNetwork, stream: EpisodeStream) -> tuple[np.ndarray, list, list]:
    """One episode with actions drawn from the policy: (observations, actions, rewards)."""
    obs = stream.reset()
    observations, actions, rewards = [], [], []
    done = False
    while not done:
        action = model.act(obs)
        next_obs, reward, terminated, truncated, _ = stream.env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(float(reward))
        obs = np.asarray(next_obs, dtype=np.float32)
        done = terminated or truncated
    stream.log.add(sum(rewards), len(rewards))
    return np.stack(observations), actions, rewards


class ReinforceUpdater(EpisodeUpdater):
    """One Trainer step: play ``episodes`` episodes, then one optimizer step on the REINFORCE loss.

    Args:
        episodes: episodes per update (the batch). Default: 1.
        gamma: discount factor. Default: 0.99.
        baseline: "value" (a learned V(s)), "mean" (running mean of the returns) or "none"
            (A_t = G_t). Default: "value".
        entropy_coef: beta, the weight of the entropy bonus. Default: 0.
        mean_momentum: the running mean's update b <- b + (1 - m)(mean G - b). Default: 0.9.
        stop_when_solved: stop the run when the episode log says solved. Default: True.

    Logs per step: ``loss`` (the total above), ``return`` (the batch's mean episode return),
    ``entropy`` (the policy's mean entropy), ``size`` (the number of episodes); at the end of an
    epoch ``greedy_return`` too (``EpisodeUpdater.finish_step``).
    """

    def __init__(
        self,
        episodes: int = 1,
        gamma: float = 0.99,
        baseline: str = "value",
        entropy_coef: float = 0.0,
        mean_momentum: float = 0.9,
        stop_when_solved: bool = True,
    ) -> None:
        super().__init__(stop_when_solved)
        if baseline not in BASELINES:
            raise ValueError(
                f"ReinforceUpdater: unknown baseline {baseline!r}; allowed: {', '.join(BASELINES)}."
            )
        if episodes < 1 or not 0.0 <= gamma <= 1.0:
            raise ValueError(
                f"ReinforceUpdater: need episodes >= 1 and gamma in [0, 1] "
                f"(got episodes={episodes}, gamma={gamma})."
            )
        self.episodes, self.gamma, self.baseline = episodes, gamma, baseline
        self.entropy_coef, self.mean_momentum = entropy_coef, mean_momentum
        self.running_mean: float | None = None

    def update(self, trainer: Any, batch: EpisodeStream) -> dict[str, float]:
        model = trainer.model
        states, actions, returns, episode_returns = [], [], [], []
        for _ in range(self.episodes):
            obs, acts, rewards = play_episode(model, batch)
            states.append(obs)
            actions.extend(acts)
            returns.append(discounted_returns(rewards, self.gamma))
            episode_returns.append(sum(rewards))
        x = tensor(np.concatenate(states))
        g = np.concatenate(returns)
        loss, entropy = self.loss(model, x, tensor(np.array(actions, dtype=np.int64)), g)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.call_hook("on_backward_end", {"loss": float(loss.item())})
        trainer.optimizer.step()
        logs = {
            "loss": float(loss.item()),
            "return": float(np.mean(episode_returns)),
            "entropy": entropy,
            "size": self.episodes,
        }
        return self.finish_step(trainer, batch, logs)

    def loss(
        self, model: PolicyNetwork, x: Tensor, actions: Tensor, returns: np.ndarray
    ) -> tuple[Tensor, float]:
        """The REINFORCE loss of one batch (see the module) and the policy's mean entropy."""
        dist = model.distribution(x)
        target = tensor(returns.astype(np.float32))
        if self.baseline == "value":
            value = model.value(x)
            advantage = returns - value.detach().numpy()
            value_loss = F.mse_loss(value, target)
        elif self.baseline == "mean":
            mean = float(returns.mean())
            b = mean if self.running_mean is None else self.running_mean
            self.running_mean = b + (1.0 - self.mean_momentum) * (mean - b)
            advantage = returns - b
            value_loss = None
        else:
            advantage, value_loss = returns, None
        advantage = advantage / (advantage.std() + 1e-8)
        entropy = dist.entropy().mean()
        loss = -(dist.log_prob(actions) * tensor(advantage.astype(np.float32))).mean()
        loss = loss - self.entropy_coef * entropy
        if value_loss is not None:
            loss = loss + value_loss
        return loss, float(entropy.item())

    def state_dict(self) -> dict[str, Any]:
        started = self.running_mean is not None
        return {"running_mean": self.running_mean if started else 0.0, "started": started}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.running_mean = float(state["running_mean"]) if state["started"] else None


__all__ = ["BASELINES", "PolicyNetwork", "ReinforceUpdater", "mlp", "play_episode"]
