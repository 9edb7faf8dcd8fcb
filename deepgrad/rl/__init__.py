"""Reinforcement learning: a NumPy CartPole and two agents that learn it, REINFORCE and DQN.

- ``cartpole``: ``CartPole`` (CartPole-v1's dynamics and gymnasium's reset/step interface) and
  ``make_env("numpy" | "gym")``;
- ``common``: discounted returns, the ``EpisodeLog`` of returns (and the solved test), the
  ``EpisodeStream`` a Trainer iterates over, greedy evaluation;
- ``reinforce``: ``PolicyNetwork`` and ``ReinforceUpdater`` (policy gradient with a baseline);
- ``dqn``: ``QNetwork``, ``ReplayBuffer``, ``linear_schedule``, ``td_targets``,
  ``soft_update`` and ``DQNUpdater``.

An agent is a model (``nn.Module``) plus an ``Updater`` (``deepgrad.train``) that plays episodes
and takes optimizer steps, so ``Trainer.fit`` runs it with its callbacks, checkpoints and
records. This package sits above ``train/`` for that reason (docs/architecture.md).

Example:
    >>> import deepgrad as dg
    >>> from deepgrad.train import Trainer
    >>> _ = dg.manual_seed(0)
    >>> env, log = CartPole(), EpisodeLog()
    >>> model = PolicyNetwork(4, 2)
    >>> trainer = Trainer(model, lambda out, y: out, dg.optim.Adam(model.parameters(), lr=5e-3),
    ...                   updater=ReinforceUpdater(), progress=False)
    >>> history = trainer.fit(EpisodeStream(env, log, steps_per_epoch=5), epochs=2)
    >>> len(log.returns)
    10
"""

from __future__ import annotations

from deepgrad.rl.cartpole import Box, CartPole, Discrete, cartpole_dynamics, make_env
from deepgrad.rl.common import (
    SOLVED_RETURN,
    SOLVED_WINDOW,
    EpisodeLog,
    EpisodeStream,
    EpisodeUpdater,
    discounted_returns,
    greedy_returns,
)
from deepgrad.rl.dqn import (
    DQNUpdater,
    QNetwork,
    ReplayBuffer,
    linear_schedule,
    soft_update,
    td_targets,
)
from deepgrad.rl.reinforce import BASELINES, PolicyNetwork, ReinforceUpdater, mlp, play_episode

__all__ = [
    "BASELINES",
    "SOLVED_RETURN",
    "SOLVED_WINDOW",
    "Box",
    "CartPole",
    "DQNUpdater",
    "Discrete",
    "EpisodeLog",
    "EpisodeStream",
    "EpisodeUpdater",
    "PolicyNetwork",
    "QNetwork",
    "ReinforceUpdater",
    "ReplayBuffer",
    "cartpole_dynamics",
    "discounted_returns",
    "greedy_returns",
    "linear_schedule",
    "make_env",
    "mlp",
    "play_episode",
    "soft_update",
    "td_targets",
]
