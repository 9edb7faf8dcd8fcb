"""The NumPy CartPole: one step against the equations of motion solved by hand, termination and
truncation, seeding, errors, and gymnasium's CartPole-v1 state by state when it is installed."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from deepgrad.rl import CartPole, cartpole_dynamics, make_env

HAVE_GYM = importlib.util.find_spec("gymnasium") is not None


def balancing_action(obs: np.ndarray) -> int:
    """A linear controller that keeps the pole up for the whole 500 steps."""
    x, x_dot, theta, theta_dot = obs
    return int(theta + 0.5 * theta_dot + 0.05 * x + 0.1 * x_dot > 0)


def lagrangian_step(state, force, tau=0.02):
    """The cart-pole's Lagrange equations as a 2x2 linear system in (x_acc, theta_acc), solved with
    numpy.linalg; the pole is a uniform rod of half-length l (moment m l^2 / 3 about its centre):

        (m_c + m_p) x_acc + m_p l cos(th) th_acc = F + m_p l th_dot^2 sin(th)
        m_p l cos(th) x_acc + (4/3) m_p l^2 th_acc = m_p g l sin(th)
    """
    mc, mp, l, g = 1.0, 0.1, 0.5, 9.8
    x, x_dot, th, th_dot = state
    a = np.array([[mc + mp, mp * l * math.cos(th)], [mp * l * math.cos(th), 4 / 3 * mp * l * l]])
    b = np.array([force + mp * l * th_dot**2 * math.sin(th), mp * g * l * math.sin(th)])
    x_acc, th_acc = np.linalg.solve(a, b)
    return np.array(
        [x + tau * x_dot, x_dot + tau * x_acc, th + tau * th_dot, th_dot + tau * th_acc]
    )


@pytest.mark.parametrize("force", [10.0, -10.0])
@pytest.mark.parametrize(
    "state", [(0.0, 0.0, 0.0, 0.0), (0.3, -0.7, 0.15, 1.2), (-1.9, 2.0, -0.2, -2.5)]
)
def test_one_step_matches_the_equations_of_motion(state, force):
    expected = lagrangian_step(np.array(state), force)
    np.testing.assert_allclose(
        cartpole_dynamics(np.array(state), force), expected, rtol=1e-12, atol=1e-14
    )


def test_step_pushes_with_plus_or_minus_ten_newtons():
    env = CartPole()
    env.reset(seed=3)
    start = env.state.copy()
    obs, reward, terminated, truncated, info = env.step(0)
    np.testing.assert_allclose(env.state, lagrangian_step(start, -10.0), rtol=1e-12)
    assert obs.dtype == np.float32 and np.array_equal(obs, env.state.astype(np.float32))
    assert (reward, terminated, truncated, info) == (1.0, False, False, {})


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ((2.39, 1.0, 0.0, 0.0), 1),
        ((-2.39, -1.0, 0.0, 0.0), 0),
        ((0.0, 0.0, 0.205, 1.0), 1),
        ((0.0, 0.0, -0.205, -1.0), 0),
    ],
    ids=["right-edge", "left-edge", "falls-right", "falls-left"],
)
def test_terminates_past_2_4_or_12_degrees(state, action):
    env = CartPole()
    env.reset(seed=0)
    env.state = np.array(state)
    _, reward, terminated, truncated, _ = env.step(action)
    assert terminated and not truncated and reward == 1.0
    x, _, theta, _ = env.state
    assert abs(x) > 2.4 or abs(theta) > 12 * math.pi / 180
    with pytest.raises(RuntimeError, match=r"CartPole.step: no episode is running .*reset\(\)"):
        env.step(0)


def test_truncates_after_500_steps_not_before():
    env = CartPole()
    obs, _ = env.reset(seed=1)
    for t in range(1, 501):
        obs, _, terminated, truncated, _ = env.step(balancing_action(obs))
        assert not terminated
        assert truncated == (t == 500)
    assert env.steps == 500


def test_seeding_repeats_and_continues():
    env = CartPole()
    first, _ = env.reset(seed=7)
    second, _ = env.reset()
    again, _ = env.reset(seed=7)
    assert np.array_equal(first, again) and not np.array_equal(first, second)
    assert np.all(np.abs(first) <= 0.05)
    np.testing.assert_array_equal(
        first, np.random.default_rng(7).uniform(-0.05, 0.05, 4).astype(np.float32)
    )


def test_errors_name_the_fix():
    env = CartPole()
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must be 0 or 1 \(got 2\)"):
        env.step(2)
    with pytest.raises(ValueError, match="max_steps must be an integer >= 1"):
        CartPole(max_steps=0)
    with pytest.raises(ValueError, match="unknown kind 'atari'; allowed: numpy, gym"):
        make_env("atari")


@pytest.mark.skipif(not HAVE_GYM, reason="gymnasium is not installed (pip install 'deepgrad[rl]')")
@pytest.mark.parametrize("seed", [0, 1, 2, 123])
def test_matches_gymnasium_state_by_state(seed):
    ours, theirs = CartPole(), make_env("gym")
    rng = np.random.default_rng(seed)
    for episode in range(3):  # seeded, then continuing the generators
        obs_a, _ = ours.reset(seed=seed if episode == 0 else None)
        obs_b, _ = theirs.reset(seed=seed if episode == 0 else None)
        np.testing.assert_array_equal(obs_a, obs_b)
        done = False
        while not done:  # episode 1 balances for all 500 steps; the others act at random
            action = balancing_action(obs_a) if episode == 1 else int(rng.integers(2))
            a, b = ours.step(action), theirs.step(action)
            # the same equations in another order of floating-point operations: equal to ~1 ulp
            np.testing.assert_allclose(ours.state, theirs.unwrapped.state, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(a[0], b[0], rtol=1e-6, atol=1e-7)
            assert a[1:4] == b[1:4]
            obs_a, done = a[0], a[2] or a[3]
        assert a[3] == (episode == 1) and (episode != 1 or ours.steps == 500)


def test_gym_kind_without_gymnasium_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_gym(name, *args, **kwargs):
        if name == "gymnasium":
            raise ModuleNotFoundError("No module named 'gymnasium'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gym)
    with pytest.raises(ModuleNotFoundError, match=r"pip install deepgrad\[rl\]"):
        make_env("gym")
