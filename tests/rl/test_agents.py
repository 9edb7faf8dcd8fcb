"""The pieces of REINFORCE and DQN (returns, baselines, replay buffer, epsilon schedule, TD targets,
target-network copies, Huber gradients) and short seeded training runs that must improve."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.nn import functional as F
from deepgrad.rl import (
    CartPole,
    DQNUpdater,
    EpisodeLog,
    EpisodeStream,
    PolicyNetwork,
    QNetwork,
    ReinforceUpdater,
    ReplayBuffer,
    discounted_returns,
    greedy_returns,
    linear_schedule,
    soft_update,
    td_targets,
)
from deepgrad.train import Trainer


def _unused_loss(output, target):
    raise AssertionError("the RL updaters never call the Trainer's loss_fn")


def test_discounted_returns_are_the_discounted_sums():
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=12)
    gamma = 0.9
    expected = [sum(gamma**k * r for k, r in enumerate(rewards[t:])) for t in range(12)]
    np.testing.assert_allclose(discounted_returns(rewards, gamma), expected, rtol=1e-12)
    np.testing.assert_array_equal(discounted_returns([1.0] * 4, 1.0), [4, 3, 2, 1])
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        discounted_returns([1.0], 1.5)


def test_episode_log_says_when_solved():
    log = EpisodeLog(threshold=10.0, window=3)
    assert log.moving_average() == -float("inf")
    for r in (5, 20, 4, 5, 10, 20, 0):  # means of 3 from episode 3: 9.7, 9.7, 6.3, 11.7, 10
        log.add(r, int(r))
    assert log.solved_at == 6 and log.moving_average() == 10.0
    state = log.state_dict()
    other = EpisodeLog(threshold=10.0, window=3)
    other.load_state_dict(state)
    assert other.returns == log.returns and other.solved_at == 6


def test_reinforce_loss_by_hand_and_the_value_baseline_is_detached():
    dg.manual_seed(0)
    model = PolicyNetwork(4, 2, hidden=(8,)).double()
    x = dg.randn(6, 4, dtype=dg.float64)
    actions = dg.tensor([0, 1, 1, 0, 1, 0])
    returns = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.5])
    loss, _ = ReinforceUpdater(baseline="value").loss(model, x, actions, returns)
    loss.backward()

    with dg.no_grad():
        logp = F.log_softmax(model(x), dim=-1).numpy()[np.arange(6), actions.numpy()]
        value = model.value(x).numpy()
    advantage = returns - value
    advantage = advantage / (advantage.std() + 1e-8)
    expected = -(logp * advantage).mean() + ((value - returns) ** 2).mean()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-5)
    # the value network gets the gradient of its regression only: 2 (V - G) / N at its output
    last = model.value_net[-1]
    hidden = dg.relu(model.value_net[0](x)).detach().numpy()
    dv = 2 * (value - returns) / 6
    np.testing.assert_allclose(last.weight.grad.numpy()[0], dv @ hidden, rtol=1e-4)


def test_running_mean_baseline_moves_toward_the_returns():
    updater = ReinforceUpdater(baseline="mean", mean_momentum=0.5)
    model = PolicyNetwork(4, 2, value=False)
    x, actions = dg.randn(3, 4), dg.tensor([0, 1, 0])
    updater.loss(model, x, actions, np.array([3.0, 2.0, 1.0]))
    assert updater.running_mean == 2.0  # the first batch's mean
    updater.loss(model, x, actions, np.array([7.0, 6.0, 5.0]))
    assert updater.running_mean == 4.0  # 2 + 0.5 (6 - 2)
    with pytest.raises(ValueError, match="unknown baseline 'median'; allowed: value, mean, none"):
        ReinforceUpdater(baseline="median")


def test_replay_buffer_overwrites_the_oldest_and_samples_what_it_holds():
    buffer = ReplayBuffer(5, obs_dim=2, seed=0)
    with pytest.raises(RuntimeError, match="empty"):
        buffer.sample(1)
    for i in range(8):
        buffer.push(np.full(2, i), i % 2, float(i), np.full(2, i + 1), i == 7)
    assert len(buffer) == 5 and buffer.position == 3
    obs, actions, rewards, next_obs, terminal, steps = buffer.sample(400)
    assert (steps == 1).all()  # one-move transitions unless pushed with steps
    assert set(rewards.tolist()) == {3.0, 4.0, 5.0, 6.0, 7.0}  # 0, 1, 2 were overwritten
    np.testing.assert_array_equal(obs[:, 0], rewards)
    np.testing.assert_array_equal(next_obs[:, 0], rewards + 1)
    np.testing.assert_array_equal(actions, rewards.astype(int) % 2)
    np.testing.assert_array_equal(terminal, rewards == 7.0)
    counts = np.bincount(rewards.astype(int))[3:]
    assert counts.min() > 50  # uniform: 80 expected each
    again = ReplayBuffer(5, obs_dim=2, seed=0)
    for i in range(8):
        again.push(np.full(2, i), i % 2, float(i), np.full(2, i + 1), i == 7)
    np.testing.assert_array_equal(again.sample(400)[2], rewards)


def test_epsilon_schedule_is_linear_then_flat():
    values = [linear_schedule(s, 1.0, 0.05, 100) for s in (0, 25, 50, 100, 1000)]
    np.testing.assert_allclose(values, [1.0, 0.7625, 0.525, 0.05, 0.05])
    assert linear_schedule(3, 1.0, 0.1, 0) == 0.1


def test_td_targets_mask_terminal_states_and_double_dqn_uses_the_online_argmax():
    dg.manual_seed(0)
    target, online = QNetwork(3, 2, hidden=(4,)), QNetwork(3, 2, hidden=(4,))
    next_obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    rewards = np.arange(5, dtype=np.float32)
    terminal = np.array([0, 1, 0, 0, 1], dtype=np.float32)
    with dg.no_grad():
        q_target = target(dg.tensor(next_obs)).numpy()
        q_online = online(dg.tensor(next_obs)).numpy()
    y = td_targets(target, None, rewards, next_obs, terminal, 0.9).numpy()
    np.testing.assert_allclose(y, rewards + 0.9 * (1 - terminal) * q_target.max(1), rtol=1e-6)
    y2 = td_targets(target, online, rewards, next_obs, terminal, 0.9).numpy()
    chosen = q_target[np.arange(5), q_online.argmax(1)]
    np.testing.assert_allclose(y2, rewards + 0.9 * (1 - terminal) * chosen, rtol=1e-6)


def test_huber_loss_gradient_is_the_clipped_error():
    q = dg.tensor([0.2, 3.0, -2.5, 0.9], dtype=dg.float64, requires_grad=True)
    y = dg.tensor([0.0, 0.0, 0.0, 0.0], dtype=dg.float64)
    F.huber_loss(q, y).backward()
    np.testing.assert_allclose(q.grad.numpy(), np.clip([0.2, 3.0, -2.5, 0.9], -1, 1) / 4)


def _dqn_trainer(seed: int, **settings):
    dg.manual_seed(seed)
    model = QNetwork(4, 2, hidden=(64, 64))
    updater = DQNUpdater(seed=seed, **settings)
    trainer = Trainer(
        model,
        _unused_loss,
        dg.optim.Adam(model.parameters(), lr=1e-3),
        updater=updater,
        progress=False,
    )
    return model, updater, trainer


def test_dqn_copies_the_target_network_every_target_update_steps():
    model, updater, trainer = _dqn_trainer(0, learning_starts=64, target_update=7)
    log = EpisodeLog()
    trainer.fit(EpisodeStream(CartPole(), log, steps_per_epoch=1, seed=0), epochs=1)
    n = updater.updates
    assert n == log.lengths[-1] and n >= 7  # one update per move of the learning episode
    last_copy = n - n % 7
    target = {k: v.numpy() for k, v in updater.target.state_dict().items()}
    online = {k: v.numpy() for k, v in model.state_dict().items()}
    same = all(np.array_equal(target[k], online[k]) for k in online)
    assert same == (last_copy == n)  # equal right after a copy, else the online net moved on
    # the warm-up: random episodes until the buffer holds learning_starts moves, all logged
    assert len(updater.buffer) == sum(log.lengths) and sum(log.lengths[:-1]) >= 64


def test_dqn_acts_greedily_when_epsilon_is_zero():
    dg.manual_seed(0)
    model = QNetwork(4, 2)
    updater = DQNUpdater(seed=0)
    obs = np.random.default_rng(1).normal(size=(20, 4)).astype(np.float32)
    with dg.no_grad():
        best = model(dg.tensor(obs)).numpy().argmax(1)
    assert [updater.act(model, o, 0.0, 2) for o in obs] == best.tolist()
    random_actions = [updater.act(model, o, 1.0, 2) for o in obs for _ in range(5)]
    assert 0.3 < np.mean(random_actions) < 0.7


def _reinforce_trainer(lr: float, hidden: tuple[int, ...] | None = None):
    """Seed 0, a PolicyNetwork for CartPole and a Trainer running REINFORCE with Adam at lr."""
    dg.manual_seed(0)
    model = PolicyNetwork(4, 2) if hidden is None else PolicyNetwork(4, 2, hidden=hidden)
    trainer = Trainer(
        model,
        _unused_loss,
        dg.optim.Adam(model.parameters(), lr=lr),
        updater=ReinforceUpdater(),
        progress=False,
    )
    return model, trainer


def test_reinforce_improves_the_return_in_a_short_run():
    """Seed 0: the first 20 episodes average about 20; after 150 episodes the last 20 average
    well above 60."""
    _, trainer = _reinforce_trainer(5e-3)
    log = EpisodeLog()
    trainer.fit(EpisodeStream(CartPole(), log, steps_per_epoch=10, seed=0), epochs=15)
    first, last = np.mean(log.returns[:20]), np.mean(log.returns[-20:])
    assert first < 30 and last > 60, (first, last)
    assert trainer.history.epochs[-1]["return"] > trainer.history.epochs[0]["return"]


def test_dqn_improves_the_return_in_a_short_run():
    model, _, trainer = _dqn_trainer(
        0, learning_starts=500, epsilon_decay=2000, target_update=200, batch_size=32
    )
    log = EpisodeLog()
    trainer.fit(EpisodeStream(CartPole(), log, steps_per_epoch=10, seed=0), epochs=4)
    first = np.mean(log.returns[:20])
    greedy = np.mean(greedy_returns(model, CartPole(), 5, seed=1))
    assert first < 30 and greedy > 60, (first, greedy, log.returns[-10:])


def test_a_solved_log_stops_the_run():
    _, trainer = _reinforce_trainer(1e-3)
    log = EpisodeLog(threshold=5.0, window=3)  # any 3 episodes of CartPole last 8+ steps
    history = trainer.fit(EpisodeStream(CartPole(), log, steps_per_epoch=10, seed=0), epochs=5)
    assert log.solved_at == 3 and len(log.returns) == 3
    assert history.stop_reason.startswith("solved: mean return")


def test_greedy_evaluation_ends_every_epoch_and_the_solving_step():
    """``greedy_return`` is logged once per epoch (and at the step that solves), from the same
    starting states each time: it is the greedy return of the weights at that moment."""
    model, trainer = _reinforce_trainer(1e-3, hidden=(8,))
    log = EpisodeLog(threshold=1e9)
    stream = EpisodeStream(CartPole(), log, 4, seed=0, eval_env=CartPole(), eval_episodes=3)
    calls = []
    evaluate = stream.evaluate
    stream.evaluate = lambda m: calls.append(stream.position) or evaluate(m)
    history = trainer.fit(stream, epochs=3)
    assert calls == [3, 3, 3] and len(log.returns) == 12  # evaluation episodes are not logged
    assert history.epochs[-1]["greedy_return"] == stream.evaluate(model)
    assert history.epochs[-1]["greedy_return"] == np.mean(
        greedy_returns(model, CartPole(), 3, seed=10_000)
    )
    log = EpisodeLog(threshold=5.0, window=3)  # solved at the third episode: mid-epoch
    stream = EpisodeStream(CartPole(), log, 10, seed=0, eval_env=CartPole(), eval_episodes=2)
    history = trainer.fit(stream, epochs=4)
    assert len(log.returns) == 3 and "greedy_return" in history.epochs[-1]
    with pytest.raises(RuntimeError, match="pass eval_env"):
        EpisodeStream(CartPole(), log, 1).evaluate(model)
    with pytest.raises(ValueError, match="eval_episodes must be >= 1"):
        EpisodeStream(CartPole(), log, 1, eval_episodes=0)


def test_dqn_bootstraps_through_time_limit_truncation():
    """CartPole cut at 4 steps never terminates, so Q(s, a) = 1 / (1 - gamma) = 2 for gamma 0.5.
    Were truncation stored as terminal, the targets would stop at the cut: Q of the last move 1,
    and a mean over the moves about 1.6."""
    dg.manual_seed(0)
    model = QNetwork(4, 2, hidden=(16,))
    updater = DQNUpdater(
        seed=0, gamma=0.5, batch_size=32, learning_starts=200, target_update=20, max_grad_norm=None
    )
    trainer = Trainer(
        model,
        _unused_loss,
        dg.optim.Adam(model.parameters(), lr=3e-3),
        updater=updater,
        progress=False,
    )
    log = EpisodeLog()
    trainer.fit(EpisodeStream(CartPole(max_steps=4), log, steps_per_epoch=50, seed=0), epochs=1)
    assert set(log.lengths) == {4} and not updater.buffer.terminal.any()
    with dg.no_grad():
        q = model(dg.tensor(updater.buffer.obs[: len(updater.buffer)])).numpy()
    assert abs(q.mean() - 2.0) < 0.15, q.mean()


def test_n_step_transitions_sum_discounted_rewards_and_end_with_the_episode():
    """n = 3, gamma = 0.5, rewards 1, 2, 3, 4, 5: each stored transition spans 3 moves (the last
    two, 2 and 1, at the episode's end) and bootstraps from the state 3 moves later; when the
    episode terminates, the transitions that reach its end are terminal."""
    for terminated in (True, False):  # False: cut by the time limit, still bootstrapping
        updater = DQNUpdater(n_step=3, gamma=0.5)
        updater.buffer = ReplayBuffer(10, obs_dim=1)
        for t in range(5):
            last = t == 4
            updater.store(np.full(1, t), 0, t + 1.0, np.full(1, t + 1), terminated and last, last)
        b = updater.buffer
        assert len(b) == 5 and not updater._window
        np.testing.assert_array_equal(b.obs[:5, 0], [0, 1, 2, 3, 4])
        np.testing.assert_allclose(
            b.rewards[:5], [2.75, 4.5, 6.25, 6.5, 5.0]
        )  # 1 + 0.5 2 + 0.25 3, ...
        np.testing.assert_array_equal(b.next_obs[:5, 0], [3, 4, 5, 5, 5])
        np.testing.assert_array_equal(b.steps[:5], [3, 3, 3, 2, 1])
        np.testing.assert_array_equal(b.terminal[:5], [0, 0, terminated, terminated, terminated])
    with pytest.raises(ValueError, match="n_step must be >= 1"):
        DQNUpdater(n_step=0)


def test_n_step_targets_discount_the_bootstrap_by_gamma_to_the_steps():
    """The update regresses Q(s, a) on R + gamma^k Q_target(s'), k the transition's moves: with
    a target network that says 8 everywhere and reward 1, Q of the 1-, 2- and 3-move
    transitions converges to 1 + 8 (0.5, 0.25, 0.125) = 5, 3, 2."""
    dg.manual_seed(0)
    model = QNetwork(1, 1, hidden=(16,))
    updater = DQNUpdater(n_step=3, gamma=0.5, batch_size=3, max_grad_norm=None, seed=0)
    updater.target_update = 10**9  # the target network stays put
    updater.buffer = ReplayBuffer(3, obs_dim=1)
    for k, x in zip((1, 2, 3), (-1.0, 0.0, 1.0)):
        updater.buffer.push(np.full(1, x), 0, 1.0, np.zeros(1), False, k)
    updater.target = QNetwork(1, 1, hidden=(4,))
    with dg.no_grad():
        last = updater.target.net[-1]
        last.weight.mul_(0.0)
        last.bias.fill_(8.0)
    trainer = Trainer(model, _unused_loss, dg.optim.Adam(model.parameters(), lr=3e-2))
    for _ in range(400):
        updater.train_step(model, trainer)
    with dg.no_grad():
        q = model(dg.tensor(np.array([[-1.0], [0.0], [1.0]], np.float32))).numpy()[:, 0]
    np.testing.assert_allclose(q, [5.0, 3.0, 2.0], atol=0.05)


def test_soft_update_moves_the_target_a_fraction_tau_and_tau_one_copies():
    dg.manual_seed(0)
    source, target = QNetwork(3, 2, hidden=(4,)), QNetwork(3, 2, hidden=(4,))
    before = [p.detach().numpy().copy() for p in target.parameters()]
    soft_update(target, source, 0.25)
    for old, new, src in zip(before, target.parameters(), source.parameters()):
        np.testing.assert_allclose(
            new.detach().numpy(), 0.75 * old + 0.25 * src.detach().numpy(), rtol=1e-6
        )
    soft_update(target, source, 1.0)
    assert all(
        np.array_equal(a.detach().numpy(), b.detach().numpy())
        for a, b in zip(target.parameters(), source.parameters())
    )
    with pytest.raises(ValueError, match=r"tau must be in \(0, 1\]"):
        DQNUpdater(tau=0.0)


def test_dqn_learning_rate_falls_linearly_to_lr_end():
    _, updater, trainer = _dqn_trainer(0, lr_end=1e-4, lr_decay=100)
    group = trainer.optimizer.param_groups[0]
    for steps, expected in ((0, 1e-3), (50, 5.5e-4), (100, 1e-4), (400, 1e-4)):
        updater.env_steps = steps
        updater._decay_lr(trainer.optimizer, updater.lr_end)
        assert abs(group["lr"] - expected) < 1e-12 and group["initial_lr"] == 1e-3
