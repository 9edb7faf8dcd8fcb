"""Deep Q-learning (DQN; Mnih et al., 2015): a replay buffer, a target network, epsilon-greedy.

A network Q_theta(s, .) scores every action. The agent acts epsilon-greedily: a uniformly random
action with probability epsilon (decayed linearly over the first steps), else argmax_a Q(s, a).
Every transition (s, a, r, s', terminal) goes into a replay buffer; each training step samples a
minibatch from it uniformly and regresses Q on the one-step target of a frozen copy Q_target:

    y    = r + gamma (1 - terminal) max_a' Q_target(s', a')
    loss = mean Huber(Q_theta(s, a) - y)       (quadratic within |d| < 1, linear outside)

Q_target follows Q_theta: copied every ``target_update`` updates (tau = 1), or moved a fraction
tau of the way at each update (Polyak averaging, tau << 1). Truncation by the time limit is not
a terminal state, so its target still bootstraps from s' (on CartPole-v1, whose episodes are cut
at 500 steps, ending the targets there would teach that balancing leads to a return of 0).
With ``double=True`` the next action is chosen by Q_theta and scored by Q_target (double DQN;
van Hasselt et al., 2016).

With ``n_step = n > 1`` a stored transition spans n moves (multi-step targets; Sutton, 1988;
Hessel et al., 2018): its reward is r_t + gamma r_{t+1} + ... + gamma^(n-1) r_{t+n-1} and the
target bootstraps from s_{t+n} with gamma^n. Near an episode's end the transitions are shorter
(k < n moves, gamma^k), and one that reaches a terminal state does not bootstrap. A failure far
ahead (on CartPole, the cart drifting to the edge of the track) then reaches the values of the
states that lead to it n times sooner than through one-step targets.

Reference: V. Mnih et al., "Human-level control through deep reinforcement learning",
Nature 518, 2015.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad import nn
from deepgrad.autograd.grad_mode import no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.nn import functional as F
from deepgrad.nn.utils import clip_grad_norm_
from deepgrad.ops.creation import tensor
from deepgrad.rl.common import EpisodeStream, EpisodeUpdater
from deepgrad.rl.reinforce import mlp


class QNetwork(nn.Module):
    """Q(s, .): an MLP from an observation to one value per action.

    Args:
        obs_dim: the size of an observation. n_actions: the number of actions.
        hidden: hidden layer sizes. Default: (128, 128).
        activation: makes the activation layer between them. Default: ``nn.ReLU``.

    Shape:
        obs (N, obs_dim) -> (N, n_actions).

    Example:
        >>> import deepgrad as dg
        >>> QNetwork(4, 2)(dg.zeros(5, 4)).shape
        (5, 2)
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: tuple[int, ...] = (128, 128),
        activation: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.sizes = (obs_dim, *hidden, n_actions)
        self.net = mlp(self.sizes, activation)

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs)


class ReplayBuffer:
    """A ring buffer of the last ``capacity`` transitions, sampled uniformly with replacement.

    A transition is (obs, action, reward, next_obs, terminal, steps): ``steps`` is the number of
    moves from ``obs`` to ``next_obs`` (1, or up to n with n-step returns, whose ``reward`` is
    then the discounted sum of the rewards of those moves).

    Args:
        capacity: the most transitions kept; the oldest is overwritten first.
        obs_dim: the size of an observation.
        seed: seeds the sampling generator. Default: 0.

    Example:
        >>> buffer = ReplayBuffer(100, obs_dim=4)
        >>> buffer.push(np.zeros(4), 1, 1.0, np.ones(4), False)
        >>> obs, actions, rewards, next_obs, terminal, steps = buffer.sample(8)
        >>> obs.shape, actions.tolist()[:2]
        ((8, 4), [1, 1])
    """

    def __init__(self, capacity: int, obs_dim: int, seed: int = 0) -> None:
        if capacity < 1:
            raise ValueError(f"ReplayBuffer: capacity must be >= 1 (got {capacity!r}).")
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminal = np.zeros(capacity, dtype=np.float32)
        self.steps = np.ones(capacity, dtype=np.int64)
        self.position = 0
        self.size = 0
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def push(
        self,
        obs: np.ndarray,
        action: int,
        reward: float,
        next_obs: np.ndarray,
        terminal: bool,
        steps: int = 1,
    ) -> None:
        i = self.position
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.terminal[i], self.steps[i] = next_obs, float(terminal), steps
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> tuple[np.ndarray, ...]:
        """(obs, actions, rewards, next_obs, terminal, steps) of ``batch_size`` stored
        transitions."""
        if self.size == 0:
            raise RuntimeError("ReplayBuffer.sample: the buffer is empty; push transitions first.")
        index = self.rng.integers(0, self.size, size=batch_size)
        return (
            self.obs[index],
            self.actions[index],
            self.rewards[index],
            self.next_obs[index],
            self.terminal[index],
            self.steps[index],
        )


def linear_schedule(step: int, start: float, end: float, decay_steps: int) -> float:
    """value(step) = start + (end - start) min(1, step / decay_steps): linear, then constant.

    The exploration rate epsilon and (with ``lr_end``) the learning rate follow it.

    Example:
        >>> [round(linear_schedule(s, 1.0, 0.1, 10), 6) for s in (0, 5, 10, 50)]
        [1.0, 0.55, 0.1, 0.1]
    """
    if decay_steps <= 0:
        return end
    fraction = min(1.0, step / decay_steps)
    return start + (end - start) * fraction


def td_targets(
    target_net: nn.Module,
    online_net: nn.Module | None,
    rewards: np.ndarray,
    next_obs: np.ndarray,
    terminal: np.ndarray,
    gamma: float | np.ndarray,
) -> Tensor:
    """y = r + gamma (1 - terminal) max_a' Q_target(s', a'); with ``online_net`` (double DQN)
    y = r + gamma (1 - terminal) Q_target(s', argmax_a' Q_online(s', a')). ``gamma`` may be one
    discount per transition (gamma^k for a k-step transition). No graph is recorded."""
    with no_grad():
        x = tensor(next_obs)
        q_next = target_net(x).numpy()
        if online_net is None:
            best = q_next.max(axis=1)
        else:
            choice = online_net(x).numpy().argmax(axis=1)
            best = q_next[np.arange(len(choice)), choice]
    return tensor((rewards + gamma * (1.0 - terminal) * best).astype(np.float32))


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """theta_target <- tau theta + (1 - tau) theta_target, parameter by parameter (Polyak
    averaging); tau = 1 copies ``source`` into ``target``."""
    if tau == 1.0:
        target.load_state_dict(source.state_dict())
        return
    with no_grad():
        for target_param, param in zip(target.parameters(), source.parameters()):
            target_param.mul_(1.0 - tau).add_(param, alpha=tau)


class DQNUpdater(EpisodeUpdater):
    """One Trainer step: one episode, with a gradient step on a replay minibatch after every move.

    Before the first episode, ``learning_starts`` transitions of uniformly random moves fill the
    buffer (those episodes are logged too). Then each environment step is followed by one
    minibatch update (Huber loss, gradients clipped to norm ``max_grad_norm``), and every
    ``target_update`` updates the target network moves towards the online one:
    theta_target <- tau theta + (1 - tau) theta_target (tau = 1: a copy; tau < 1: Polyak
    averaging, a target that follows slowly and smoothly).

    Args:
        batch_size: minibatch size. buffer_size: replay capacity. gamma: discount factor.
        epsilon_start, epsilon_end, epsilon_decay: the linear schedule over environment steps
            counted from the end of the random warm-up.
        target_update: updates between target-network updates. tau: their step (1: a copy).
        lr_end: if set, the optimizer's learning rate falls linearly from its initial value to
            ``lr_end`` over the first ``lr_decay`` environment steps after the warm-up.
        learning_starts: random transitions collected before learning.
        max_grad_norm: gradient clipping (None: none). double: double-DQN targets.
        n_step: moves per stored transition (n-step targets; 1: one-step DQN).
        seed: seeds exploration and replay sampling. stop_when_solved: as ``EpisodeUpdater``.

    Logs per step: ``loss`` (mean TD loss of the episode's updates), ``return``, ``epsilon``;
    at the end of an epoch ``greedy_return`` too (``EpisodeUpdater.finish_step``).
    """

    def __init__(
        self,
        batch_size: int = 64,
        buffer_size: int = 50_000,
        gamma: float = 0.99,
        epsilon_start: float = 1.0,
        epsilon_end: float = 0.01,
        epsilon_decay: int = 10_000,
        target_update: int = 500,
        tau: float = 1.0,
        lr_end: float | None = None,
        lr_decay: int = 80_000,
        learning_starts: int = 1000,
        max_grad_norm: float | None = 10.0,
        double: bool = True,
        n_step: int = 1,
        seed: int = 0,
        stop_when_solved: bool = True,
    ) -> None:
        super().__init__(stop_when_solved)
        if n_step < 1:
            raise ValueError(f"DQNUpdater: n_step must be >= 1 (got {n_step!r}).")
        if not 0.0 <= epsilon_end <= epsilon_start <= 1.0:
            raise ValueError(
                f"DQNUpdater: need 0 <= epsilon_end <= epsilon_start <= 1 "
                f"(got {epsilon_start}, {epsilon_end})."
            )
        if not 0.0 < tau <= 1.0:
            raise ValueError(f"DQNUpdater: tau must be in (0, 1] (got {tau!r}).")
        self.batch_size, self.gamma, self.double = batch_size, gamma, double
        self.epsilon_start, self.epsilon_end = epsilon_start, epsilon_end
        self.epsilon_decay, self.target_update = epsilon_decay, target_update
        self.tau, self.lr_end, self.lr_decay = tau, lr_end, lr_decay
        self.learning_starts, self.max_grad_norm = max(learning_starts, batch_size), max_grad_norm
        self.buffer_size, self.n_step = buffer_size, n_step
        self.buffer: ReplayBuffer | None = None
        self._window: deque[tuple[np.ndarray, int, float]] = deque()  # the moves not yet stored
        self.target: nn.Module | None = None
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.env_steps = 0  # steps after the warm-up (the epsilon schedule's clock)
        self.updates = 0
        self._pending_target: dict[str, Any] | None = None

    @property
    def epsilon(self) -> float:
        return linear_schedule(
            self.env_steps, self.epsilon_start, self.epsilon_end, self.epsilon_decay
        )

    def act(self, model: nn.Module, obs: np.ndarray, epsilon: float, n_actions: int) -> int:
        """epsilon-greedy: a random action with probability epsilon, else argmax_a Q(obs, a)."""
        if self.rng.random() < epsilon:
            return int(self.rng.integers(n_actions))
        with no_grad():
            return int(model(tensor(obs[None])).numpy()[0].argmax())

    def update(self, trainer: Any, batch: EpisodeStream) -> dict[str, float]:
        model = trainer.model
        if self.buffer is None:
            self._start(model, batch)
        losses: list[float] = []
        episode_return, length = self._episode(model, batch, losses, trainer)
        batch.log.add(episode_return, length)
        logs = {
            "loss": float(np.mean(losses)),
            "return": episode_return,
            "epsilon": self.epsilon,
            "size": 1,
        }
        return self.finish_step(trainer, batch, logs)

    def _start(self, model: nn.Module, stream: EpisodeStream) -> None:
        """Make the buffer and the target network; fill the buffer with random moves."""
        obs_dim = int(np.prod(stream.env.observation_space.shape))
        self.buffer = ReplayBuffer(self.buffer_size, obs_dim, seed=self.seed)
        self.target = copy.deepcopy(model)
        if self._pending_target is not None:  # a resumed run: the checkpoint's target network
            self.target.load_state_dict(self._pending_target)
            self._pending_target = None
        n_actions = stream.env.action_space.n
        while len(self.buffer) < self.learning_starts:
            obs, done, episode_return, length = stream.reset(), False, 0.0, 0
            while not done:
                action = int(self.rng.integers(n_actions))
                next_obs, reward, terminated, truncated, _ = stream.env.step(action)
                next_obs = np.asarray(next_obs, dtype=np.float32)
                done = terminated or truncated
                self.store(obs, action, float(reward), next_obs, terminated, done)
                obs = next_obs
                episode_return, length = episode_return + float(reward), length + 1
            stream.log.add(episode_return, length)

    def _episode(
        self, model: nn.Module, stream: EpisodeStream, losses: list[float], trainer: Any
    ) -> tuple[float, int]:
        obs, done, episode_return, length = stream.reset(), False, 0.0, 0
        n_actions = stream.env.action_space.n
        while not done:
            action = self.act(model, obs, self.epsilon, n_actions)
            next_obs, reward, terminated, truncated, _ = stream.env.step(action)
            next_obs = np.asarray(next_obs, dtype=np.float32)
            done = terminated or truncated
            self.store(obs, action, float(reward), next_obs, terminated, done)
            obs = next_obs
            episode_return, length = episode_return + float(reward), length + 1
            self.env_steps += 1
            losses.append(self.train_step(model, trainer))
        return episode_return, length

    def store(
        self,
        obs: np.ndarray,
        action: int,
        reward: float,
        next_obs: np.ndarray,
        terminated: bool,
        done: bool,
    ) -> None:
        """Add one move to the buffer as ``n_step``-move transitions: once n moves are waiting,
        the oldest is stored with their discounted reward; at the episode's end (``done``) every
        waiting move is, each with the moves left after it (bootstrapping unless terminated)."""
        assert self.buffer is not None, "internal: call _start first"
        self._window.append((obs, action, reward))
        if not done and len(self._window) < self.n_step:
            return
        while self._window:
            rewards = [r for _, _, r in self._window]
            ret = float(np.polyval(rewards[::-1], self.gamma))  # sum_k gamma^k r_k
            first_obs, first_action, _ = self._window.popleft()
            self.buffer.push(first_obs, first_action, ret, next_obs, terminated, len(rewards))
            if not done:
                return

    def train_step(self, model: nn.Module, trainer: Any) -> float:
        """One minibatch update of Q (and the periodic target update); returns the loss."""
        assert self.buffer is not None and self.target is not None, "internal: call _start first"
        obs, actions, rewards, next_obs, terminal, steps = self.buffer.sample(self.batch_size)
        # gamma^k for a k-move transition (one-step: the scalar, as the targets always were)
        discount = self.gamma if self.n_step == 1 else self.gamma ** steps.astype(np.float64)
        y = td_targets(
            self.target, model if self.double else None, rewards, next_obs, terminal, discount
        )
        q = model(tensor(obs)).gather(1, tensor(actions[:, None])).squeeze(1)
        loss = F.huber_loss(q, y)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.call_hook("on_backward_end", {"loss": float(loss.item())})
        if self.max_grad_norm is not None:
            clip_grad_norm_(model.parameters(), self.max_grad_norm)
        if self.lr_end is not None:
            self._decay_lr(trainer.optimizer, self.lr_end)
        trainer.optimizer.step()
        self.updates += 1
        if self.updates % self.target_update == 0:
            soft_update(self.target, model, self.tau)
        return float(loss.item())

    def _decay_lr(self, optimizer: Any, lr_end: float) -> None:
        """lr = linear from each group's initial lr to ``lr_end`` over ``lr_decay`` env steps."""
        for group in optimizer.param_groups:
            start = group.setdefault("initial_lr", group["lr"])  # kept in the optimizer's state
            group["lr"] = linear_schedule(self.env_steps, start, lr_end, self.lr_decay)

    def state_dict(self) -> dict[str, Any]:
        """Counters and the target network (the replay buffer is not kept: a resumed run
        refills it with random moves)."""
        state: dict[str, Any] = {"env_steps": self.env_steps, "updates": self.updates}
        if self.target is not None:
            state["target"] = self.target.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.env_steps, self.updates = int(state["env_steps"]), int(state["updates"])
        self._pending_target = state.get("target")


__all__ = [
    "DQNUpdater",
    "QNetwork",
    "ReplayBuffer",
    "linear_schedule",
    "soft_update",
    "td_targets",
]
