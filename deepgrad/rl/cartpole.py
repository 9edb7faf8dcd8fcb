"""CartPole in NumPy: a pole hinged on a cart that moves along a track (Barto, Sutton & Anderson, 1983).

The state is s = (x, x_dot, theta, theta_dot): the cart's position and velocity, the pole's angle
from upright (radians) and its angular velocity. An action pushes the cart with a force F = +10 N
(action 1) or -10 N (action 0). With m_c = 1 kg the cart, m_p = 0.1 kg the pole, l = 0.5 m half the
pole's length, M = m_c + m_p and g = 9.8 m/s^2, the equations of motion (frictionless) are

    temp          = (F + m_p l theta_dot^2 sin theta) / M
    theta_acc     = (g sin theta - cos theta * temp) / (l (4/3 - m_p cos^2 theta / M))
    x_acc         = temp - m_p l theta_acc cos theta / M

integrated with explicit Euler steps of tau = 0.02 s (position first, from the old velocity):

    x <- x + tau x_dot;    x_dot <- x_dot + tau x_acc
    theta <- theta + tau theta_dot;    theta_dot <- theta_dot + tau theta_acc

Every step earns a reward of 1. The episode terminates when |x| > 2.4 or |theta| > 12 degrees and
is truncated after 500 steps: the settings of gymnasium's ``CartPole-v1``, whose reset/step
interface this class shares, so an agent trains on either (``make_env``).

Reference: A. G. Barto, R. S. Sutton, C. W. Anderson, "Neuronlike adaptive elements that can solve
difficult learning control problems", IEEE Trans. SMC 13(5), 1983.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

GRAVITY = 9.8
CART_MASS = 1.0
POLE_MASS = 0.1
HALF_LENGTH = 0.5
FORCE = 10.0
TAU = 0.02
X_LIMIT = 2.4
THETA_LIMIT = 12 * 2 * math.pi / 360  # 12 degrees in radians
MAX_STEPS = 500
RESET_BOUND = 0.05  # the initial state is drawn from U(-0.05, 0.05)^4


class Discrete:
    """The actions {0, ..., n-1} (gymnasium's ``spaces.Discrete``): ``n`` and ``sample()``."""

    def __init__(self, n: int, rng: np.random.Generator | None = None) -> None:
        self.n = n
        self._rng = rng if rng is not None else np.random.default_rng()

    def sample(self) -> int:
        """A uniformly random action."""
        return int(self._rng.integers(self.n))

    def contains(self, action: Any) -> bool:
        return isinstance(action, (int, np.integer)) and 0 <= int(action) < self.n


class Box:
    """A box of observations (gymnasium's ``spaces.Box``): ``shape``, ``low``, ``high``."""

    def __init__(self, low: np.ndarray, high: np.ndarray) -> None:
        self.low, self.high = low, high
        self.shape = low.shape
        self.dtype = low.dtype


def cartpole_dynamics(state: np.ndarray, force: float, tau: float = TAU) -> np.ndarray:
    """One Euler step of the cart-pole equations (see the module): the next (x, x_dot, theta,
    theta_dot) from ``state`` under ``force`` (newtons). Works on float64 arrays of shape (4,)."""
    x, x_dot, theta, theta_dot = state
    total_mass = CART_MASS + POLE_MASS
    pole_moment = POLE_MASS * HALF_LENGTH
    sin, cos = math.sin(theta), math.cos(theta)
    temp = (force + pole_moment * theta_dot**2 * sin) / total_mass
    theta_acc = (GRAVITY * sin - cos * temp) / (
        HALF_LENGTH * (4.0 / 3.0 - POLE_MASS * cos**2 / total_mass)
    )
    x_acc = temp - pole_moment * theta_acc * cos / total_mass
    return np.array(
        (
            x + tau * x_dot,
            x_dot + tau * x_acc,
            theta + tau * theta_dot,
            theta_dot + tau * theta_acc,
        ),
        dtype=np.float64,
    )


class CartPole:
    """CartPole-v1 in NumPy, with gymnasium's reset/step interface.

    ``reset(seed=s)`` draws the start state from ``U(-0.05, 0.05)^4`` with
    ``numpy.random.default_rng(s)`` (the generator gymnasium seeds the same way), so a seeded
    episode is the same state by state as gymnasium's; ``reset()`` without a seed continues the
    generator. ``step(action)`` returns ``(obs, reward, terminated, truncated, info)``.

    Args:
        max_steps: truncate an episode after this many steps. Default: 500 (CartPole-v1).

    Attributes:
        observation_space: a ``Box`` of shape (4,) (float32 observations).
        action_space: ``Discrete(2)``: 0 pushes left, 1 pushes right.
        state: the float64 state (x, x_dot, theta, theta_dot); None before ``reset``.

    Example:
        >>> env = CartPole()
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((4,), dtype('float32'))
        >>> obs, reward, terminated, truncated, info = env.step(1)
        >>> reward, terminated, truncated
        (1.0, False, False)
    """

    def __init__(self, max_steps: int = MAX_STEPS) -> None:
        if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
            raise ValueError(f"CartPole: max_steps must be an integer >= 1 (got {max_steps!r}).")
        self.max_steps = max_steps
        high = np.array(
            [2 * X_LIMIT, np.finfo(np.float32).max, 2 * THETA_LIMIT, np.finfo(np.float32).max],
            dtype=np.float32,
        )
        self.observation_space = Box(-high, high)
        self.np_random = np.random.default_rng()
        self.action_space = Discrete(2, self.np_random)
        self.state: np.ndarray | None = None
        self.steps = 0
        self._done = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: ``(observation, info)``; ``seed`` reseeds the generator."""
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
            self.action_space = Discrete(2, self.np_random)
        self.state = self.np_random.uniform(-RESET_BOUND, RESET_BOUND, size=(4,))
        self.steps = 0
        self._done = False
        return self.state.astype(np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Push the cart: ``(observation, reward, terminated, truncated, info)``.

        Raises:
            ValueError: ``action`` is not 0 or 1.
            RuntimeError: no episode is running (call ``reset()`` first, also after the end).
        """
        if not self.action_space.contains(action):
            raise ValueError(f"CartPole.step: action must be 0 or 1 (got {action!r}).")
        if self._done or self.state is None:
            raise RuntimeError(
                "CartPole.step: no episode is running (it ended or never started); "
                "call reset() first."
            )
        self.state = cartpole_dynamics(self.state, FORCE if action == 1 else -FORCE)
        self.steps += 1
        x, _, theta, _ = self.state
        terminated = bool(abs(x) > X_LIMIT or abs(theta) > THETA_LIMIT)
        truncated = not terminated and self.steps >= self.max_steps
        self._done = terminated or truncated
        return self.state.astype(np.float32), 1.0, terminated, truncated, {}

    def close(self) -> None:
        """Nothing to release (gymnasium's interface)."""


def make_env(kind: str = "numpy") -> Any:
    """A CartPole-v1 environment: ``"numpy"`` (this module's, offline) or ``"gym"`` (gymnasium's).

    Raises:
        ValueError: unknown ``kind``.
        ModuleNotFoundError: ``kind="gym"`` without gymnasium (``pip install deepgrad[rl]``).
    """
    if kind == "numpy":
        return CartPole()
    if kind == "gym":
        try:
            import gymnasium
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                "make_env: kind 'gym' needs gymnasium; install it with "
                "`pip install deepgrad[rl]` or use kind 'numpy'."
            ) from None
        return gymnasium.make("CartPole-v1")
    raise ValueError(f"make_env: unknown kind {kind!r}; allowed: numpy, gym.")


__all__ = ["Box", "CartPole", "Discrete", "cartpole_dynamics", "make_env"]
