"""What both agents share: discounted returns, the log of episode returns, the episode stream that
the Trainer iterates over, and the base class of an updater that plays episodes.

How reinforcement learning fits ``Trainer.fit``: the "data" of a run is the environment. The
training loader (``EpisodeStream``) yields the environment once per Trainer step, and the
agent's ``Updater`` plays one or more episodes in it and takes its optimizer steps. An epoch is
a fixed number of such steps, so callbacks, checkpoints, the epoch records and the Doctor work as
for supervised learning; the episode returns (the learning curve) go to an ``EpisodeLog``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.ops.creation import tensor
from deepgrad.train.updater import Updater

SOLVED_RETURN = 475.0  # CartPole-v1's threshold: the mean return of 100 consecutive episodes
SOLVED_WINDOW = 100


def discounted_returns(rewards: Sequence[float], gamma: float) -> np.ndarray:
    """G_t = r_t + gamma G_{t+1}, G_T = 0: the return from each step of one episode to its end.

    Args:
        rewards: r_0, ..., r_{T-1} of one episode.
        gamma: the discount factor in [0, 1].

    Returns:
        float64 array (T,) of G_0, ..., G_{T-1}.

    Example:
        >>> discounted_returns([1.0, 1.0, 1.0], 0.5)
        array([1.75, 1.5 , 1.  ])
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"discounted_returns: gamma must be in [0, 1] (got {gamma!r}).")
    returns = np.empty(len(rewards), dtype=np.float64)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


class EpisodeLog:
    """The return and length of every episode played, and whether the task counts as solved.

    Args:
        threshold: the mean return that solves the task. Default: 475 (CartPole-v1).
        window: over this many consecutive episodes. Default: 100.

    Attributes:
        returns, lengths: one entry per episode, in order.
        solved_at: the number of episodes played when the mean of the last ``window`` returns
            first reached ``threshold``; None until then.
    """

    def __init__(self, threshold: float = SOLVED_RETURN, window: int = SOLVED_WINDOW) -> None:
        self.threshold, self.window = float(threshold), int(window)
        self.returns: list[float] = []
        self.lengths: list[int] = []
        self.solved_at: int | None = None

    def add(self, episode_return: float, length: int) -> None:
        self.returns.append(float(episode_return))
        self.lengths.append(int(length))
        if self.solved_at is None and self.moving_average() >= self.threshold:
            self.solved_at = len(self.returns)

    def moving_average(self) -> float:
        """The mean of the last ``window`` returns (-inf before ``window`` episodes)."""
        if len(self.returns) < self.window:
            return -float("inf")
        return float(np.mean(self.returns[-self.window :]))

    def state_dict(self) -> dict[str, Any]:
        return {
            "returns": tensor(np.array(self.returns, dtype=np.float64)),
            "lengths": tensor(np.array(self.lengths, dtype=np.int64)),
            "solved_at": -1 if self.solved_at is None else self.solved_at,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.returns = [float(v) for v in _array(state["returns"])]
        self.lengths = [int(v) for v in _array(state["lengths"])]
        self.solved_at = None if int(state["solved_at"]) < 0 else int(state["solved_at"])


def _array(value: Any) -> np.ndarray:
    return value.numpy() if isinstance(value, Tensor) else np.asarray(value)


class EpisodeStream:
    """The training "loader" of an RL run: yields itself ``steps_per_epoch`` times per epoch.

    Args:
        env: the environment (``CartPole`` or a gymnasium one).
        log: the ``EpisodeLog`` the updater writes each episode to.
        steps_per_epoch: Trainer steps (updates) per epoch.
        seed: the first episode is reset with this seed; later ones continue its generator.
        eval_env: a second environment for the greedy evaluation at the end of every epoch
            (``EpisodeUpdater``); None: no evaluation. Default: None.
        eval_episodes: greedy episodes per evaluation. Default: 10.
        eval_seed: the first evaluation episode's reset seed, the same at every evaluation, so
            that all epochs are scored on the same starting states. Default: 10_000.

    Attributes:
        position: the index of the current step within its epoch (0 to steps_per_epoch - 1).
    """

    def __init__(
        self,
        env: Any,
        log: EpisodeLog,
        steps_per_epoch: int,
        seed: int = 0,
        eval_env: Any = None,
        eval_episodes: int = 10,
        eval_seed: int = 10_000,
    ) -> None:
        if steps_per_epoch < 1 or eval_episodes < 1:
            raise ValueError(
                f"EpisodeStream: steps_per_epoch and eval_episodes must be >= 1 (got "
                f"{steps_per_epoch!r}, {eval_episodes!r}); pass eval_env=None for no evaluation."
            )
        self.env, self.log, self.steps_per_epoch = env, log, steps_per_epoch
        self.eval_env, self.eval_episodes, self.eval_seed = eval_env, eval_episodes, eval_seed
        self.position = 0
        self._seed: int | None = seed

    def reset(self) -> np.ndarray:
        """Start an episode; the first one is seeded. Returns the first observation."""
        obs, _ = self.env.reset(seed=self._seed)
        self._seed = None
        return np.asarray(obs, dtype=np.float32)

    @property
    def epoch_ends(self) -> bool:
        """Whether the current step is the last of its epoch."""
        return self.position == self.steps_per_epoch - 1

    def evaluate(self, model: Any) -> float:
        """The mean return of ``eval_episodes`` greedy episodes of ``model`` in ``eval_env``."""
        if self.eval_env is None:
            raise RuntimeError(
                "EpisodeStream.evaluate: no evaluation environment; pass eval_env to the stream."
            )
        return float(
            np.mean(greedy_returns(model, self.eval_env, self.eval_episodes, self.eval_seed))
        )

    def __len__(self) -> int:
        return self.steps_per_epoch

    def __iter__(self) -> Iterator[EpisodeStream]:
        for position in range(self.steps_per_epoch):
            self.position = position
            yield self


def greedy_returns(model: Any, env: Any, episodes: int, seed: int = 0) -> list[float]:
    """The returns of ``episodes`` episodes played greedily: a = argmax of ``model(obs)``, whose
    outputs are action scores (a policy's logits or Q-values). The first reset uses ``seed``."""
    was_training = model.training
    model.eval()
    returns = []
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed if i == 0 else None)
            done, total = False, 0.0
            while not done:
                with no_grad():
                    scores = model(tensor(np.asarray(obs, dtype=np.float32)[None])).numpy()
                obs, reward, terminated, truncated, _ = env.step(int(scores[0].argmax()))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    finally:
        model.train(was_training)
    return returns


class EpisodeUpdater(Updater):
    """An updater that plays whole episodes; it stops the run once the log says solved.

    At the last step of every epoch (and at the step that solves the task), when the stream has
    an ``eval_env``, ``finish_step`` adds ``greedy_return`` to the step's logs: the mean return of
    the greedy policy over the stream's evaluation episodes. It is the epoch record's
    ``greedy_return``, the score that picks the best checkpoint: the training returns of an
    epoch mix exploration and a network that changed during it, and a single episode reaching
    500 says little about the next ones.

    Args:
        stop_when_solved: ask the Trainer to stop when the ``EpisodeLog`` reaches its threshold.
    """

    def __init__(self, stop_when_solved: bool = True) -> None:
        self.stop_when_solved = stop_when_solved

    def check_solved(self, trainer: Any, log: EpisodeLog) -> None:
        if self.stop_when_solved and log.solved_at is not None and not trainer.stop_requested:
            trainer.request_stop(
                f"solved: mean return {log.moving_average():.1f} >= {log.threshold:g} over the "
                f"last {log.window} episodes, after {log.solved_at} episodes"
            )

    def finish_step(
        self, trainer: Any, stream: EpisodeStream, logs: dict[str, float]
    ) -> dict[str, float]:
        """The solved check, then ``greedy_return`` in ``logs`` where the epoch or the run ends."""
        self.check_solved(trainer, stream.log)
        if stream.eval_env is not None and (stream.epoch_ends or trainer.stop_requested):
            logs["greedy_return"] = stream.evaluate(trainer.model)
        return logs


__all__ = [
    "SOLVED_RETURN",
    "SOLVED_WINDOW",
    "EpisodeLog",
    "EpisodeStream",
    "EpisodeUpdater",
    "discounted_returns",
    "greedy_returns",
]
