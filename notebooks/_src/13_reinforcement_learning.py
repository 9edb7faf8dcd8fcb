# Source of notebooks/13_reinforcement_learning.ipynb (python notebooks/_build.py writes the notebook).

# %% [markdown]
# # Lab 13 — Reinforcement learning: CartPole with REINFORCE and DQN
#
# In supervised learning every input comes with the right answer. In reinforcement learning
# an **agent** acts in an **environment** and only gets a **reward** $r_t$ after each action:
# nobody says which action was right, and the consequences of an action can show up much later.
# What the agent maximizes is the **return**, the discounted sum of the rewards still to come:
#
# $$G_t = r_t + \gamma\, r_{t+1} + \gamma^2 r_{t+2} + \dots = r_t + \gamma\, G_{t+1}, \qquad 0 \le \gamma \le 1.$$
#
# The return is the learning signal: both agents of this lab turn it into a loss that a network
# can follow by gradient descent.
#
# - **REINFORCE** (Williams, 1992) makes actions that were followed by a high return more
#   probable: it follows $\nabla_\theta \log \pi_\theta(a_t \mid s_t)\,(G_t - b(s_t))$. The
#   **baseline** $b$ does not change the expected gradient but reduces its variance.
# - **DQN** (Mnih et al., 2015) learns the value $Q(s, a)$ of each action, the expected return
#   after taking $a$ in $s$, by regressing it on the one-step target
#   $y = r + \gamma \max_{a'} Q_{\text{target}}(s', a')$, and acts greedily with respect to it.
#
# The task is **CartPole-v1**: push a cart left or right to keep a pole upright. Each step
# earns 1; an episode ends when the pole tilts past 12° or the cart leaves the track, and is cut
# at 500 steps. It counts as **solved** when 100 consecutive episodes average at least 475.

# %%
import os
import sys

SMALL = os.environ.get("DEEPGRAD_NOTEBOOK_SMALL") == "1"  # set by CI: far fewer episodes

import matplotlib.pyplot as plt
import numpy as np

try:
    import deepgrad as dg
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, os.path.abspath(".."))
    import deepgrad as dg
from deepgrad.experiments.recipes.rl import CartPoleDQN
from deepgrad.models.common import make_activation
from deepgrad.rl import (
    CartPole,
    DQNUpdater,
    EpisodeLog,
    EpisodeStream,
    PolicyNetwork,
    QNetwork,
    ReinforceUpdater,
    discounted_returns,
    greedy_returns,
)
from deepgrad.train import Trainer

# %% [markdown]
# ## 1. The environment, and two policies that do not learn
#
# `deepgrad.rl.CartPole` is CartPole-v1 written in NumPy, with gymnasium's interface:
# `reset()` gives the first observation $s = (x, \dot x, \theta, \dot\theta)$, and
# `step(action)` gives the next one, the reward, and whether the episode *terminated* (the pole
# fell) or was *truncated* (the 500-step limit). A random policy keeps the pole up for about
# 20 steps. A hand-written rule, "push towards the side the pole is falling to", does better,
# but not for long: it ignores the cart's position and speed.


# %%
def play(policy, episodes, seed=0):
    """The returns of ``episodes`` episodes played with ``policy(obs) -> action``."""
    env, returns = CartPole(), []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed if i == 0 else None)
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total, done = total + reward, terminated or truncated
        returns.append(total)
    return np.array(returns)


rng = np.random.default_rng(0)
random_returns = play(lambda obs: int(rng.integers(2)), 100)
rule_returns = play(lambda obs: int(obs[2] + obs[3] > 0), 100)
print(f"random policy: mean return {random_returns.mean():.1f} over 100 episodes")
print(f"'push towards the fall': mean return {rule_returns.mean():.1f} over 100 episodes")

# %% [markdown]
# ## 2. Returns as the learning signal
#
# One random episode, its rewards (all 1) and the discounted return from every step. The return
# is large early in a long episode and falls to 1 at its end: an action is credited with
# everything that followed it. $\gamma$ sets the horizon: with $\gamma = 0.9$ the return
# counts roughly the next 10 steps, with $\gamma = 0.99$ roughly the next 100.

# %%
env = CartPole()
obs, _ = env.reset(seed=3)
rewards, done = [], False
while not done:
    obs, reward, terminated, truncated, _ = env.step(int(rng.integers(2)))
    rewards.append(reward)
    done = terminated or truncated
fig, ax = plt.subplots(figsize=(7, 3.5))
for gamma in (0.9, 0.99, 1.0):
    ax.plot(discounted_returns(rewards, gamma), marker=".", label=f"$G_t$, $\\gamma$ = {gamma}")
ax.set(xlabel="step t of the episode", ylabel="return from step t", title="one random episode")
ax.legend()
plt.show()

# %% [markdown]
# ## 3. REINFORCE, with and without a baseline
#
# The policy network gives $\pi_\theta(a \mid s) = \mathrm{softmax}(f_\theta(s))$, a
# `Categorical` distribution over the two actions. After each episode, REINFORCE minimizes
#
# $$L(\theta) = -\frac{1}{T}\sum_t \log \pi_\theta(a_t \mid s_t)\, A_t, \qquad A_t = G_t - b(s_t).$$
#
# - **no baseline**: $A_t = G_t$. Every action of an episode is reinforced, more in a long
#   episode than in a short one; the good and the bad actions are only told apart on average over
#   many episodes.
# - **value baseline**: $b(s) = V_\phi(s)$, a second network regressed on the returns. $A_t$ then
#   says whether the episode went *better or worse than expected* from $s_t$.
#
# (In both, $A_t$ is divided by its standard deviation over the episode, so the step size does
# not grow with the returns.) Same seeds, same networks, same number of episodes:

# %%
reinforce_episodes = 30 if SMALL else 400
seeds = [0] if SMALL else [0, 1]


def unused_loss(output, target):
    raise AssertionError("RL updaters compute their own loss from episodes")


def train_reinforce(baseline, seed, episodes=reinforce_episodes):
    """Train a policy with REINFORCE; returns its EpisodeLog (one return per episode)."""
    dg.manual_seed(seed)
    model = PolicyNetwork(4, 2, hidden=(128,), value=baseline == "value")
    log = EpisodeLog()
    updater = ReinforceUpdater(baseline=baseline, gamma=0.99)
    optimizer = dg.optim.Adam(model.parameters(), lr=5e-3)
    trainer = Trainer(model, unused_loss, optimizer, updater=updater, progress=False)
    trainer.fit(
        EpisodeStream(CartPole(), log, steps_per_epoch=10, seed=seed), epochs=episodes // 10
    )
    return log


def moving_average(returns, window=100):
    """The mean of the last ``window`` returns at every episode (of fewer at the start)."""
    sums = np.cumsum(np.concatenate([[0.0], returns]))
    ends = np.arange(1, len(returns) + 1)
    starts = np.maximum(0, ends - window)
    return (sums[ends] - sums[starts]) / (ends - starts)


logs = {(b, s): train_reinforce(b, s) for b in ("none", "value") for s in seeds}
fig, ax = plt.subplots(figsize=(8, 4))
for (baseline, seed), log in logs.items():
    color = "C0" if baseline == "none" else "C1"
    ax.plot(log.returns, color=color, alpha=0.2, lw=0.6)
    label = f"baseline: {baseline}" if seed == seeds[0] else None
    ax.plot(moving_average(log.returns, 50), color=color, lw=2, label=label)
    solved = f"solved at episode {log.solved_at}" if log.solved_at else "not solved"
    print(
        f"baseline {baseline:5s} seed {seed}: last 50 episodes average {np.mean(log.returns[-50:]):6.1f}; {solved}"
    )
ax.axhline(475, color="k", ls="--", lw=0.8, label="solved (475)")
ax.set(
    xlabel="episode",
    ylabel="return",
    title="REINFORCE on CartPole (thin: episodes, thick: mean of 50)",
)
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# Both follow the same gradient in expectation; the baseline only changes its variance. Compare
# how soon and how steadily the two curves climb. Without a baseline, one episode's signal says
# little about which of its actions were good: every action of a long episode is pushed up, so
# the policy has to average the noise out over many episodes (try more seeds).
# (`deepgrad train cartpole-reinforce` runs the value-baseline agent until it is solved.)
#
# ## 4. DQN: learning the value of each action
#
# DQN does not learn a policy directly. It learns $Q_\theta(s, a)$ from transitions
# $(s, a, r, s')$ kept in a **replay buffer** and sampled at random (so that a minibatch is not
# 64 consecutive, strongly correlated steps), with the target computed by a slowly moving copy of
# the network, $Q_{\text{target}}$ (so that the regression target does not move at every step):
#
# $$y = r + \gamma\,(1 - \text{terminal})\, Q_{\text{target}}\big(s', \arg\max_{a'} Q_\theta(s', a')\big), \qquad L = \text{Huber}(Q_\theta(s, a) - y).$$
#
# (This is the double-DQN target: the online network picks the next action, the target network
# scores it.) The agent acts $\varepsilon$-greedily: a random action with probability
# $\varepsilon$, decayed from 1 to 0.01, otherwise $\arg\max_a Q_\theta(s, a)$.
#
# One detail matters a lot on CartPole-v1: an episode **cut at 500 steps did not end** — the
# pole was still up. Its last transition is not terminal, and its target still bootstraps from
# $s'$. Counting the cut as a terminal state would teach the network that balancing leads,
# after a while, to a return of zero.
#
# A second detail decides whether the agent *keeps* its skill. Once the pole stays up, the episodes
# end in another way: the cart drifts, slowly, to the edge of the track, a hundred or more moves
# after the push that started the drift. A one-step target carries that failure back one move at
# a time, through the slowly moving target network, so a policy that balances can drift off the
# track for hundreds of episodes before its Q-values learn why. The recipe stores **3-step transitions**: the reward of
# $(s_t, a_t)$ is $r_t + \gamma r_{t+1} + \gamma^2 r_{t+2}$ and its target bootstraps from $s_{t+3}$
# with $\gamma^3$ (shorter at an episode's end), so a failure reaches the states that lead to it
# three times sooner.
#
# The settings are the recipe's (`deepgrad train cartpole-dqn`), and the run stops once the last
# 100 episodes average 475. At full size this cell takes a few minutes: the 100 episodes that
# prove the task solved are 50 000 steps, each with one minibatch update.

# %%
recipe = CartPoleDQN()
settings = {name: option.default for name, option in recipe.options.items()}
dqn_episodes = 40 if SMALL else 2000
dg.manual_seed(0)
activation = recipe.defaults["activation"]  # the recipe's --activation
q_net = QNetwork(4, 2, hidden=settings["hidden"], activation=lambda: make_activation(activation))
dqn = DQNUpdater(
    batch_size=recipe.defaults["batch_size"],
    buffer_size=settings["buffer"],
    gamma=settings["gamma"],
    epsilon_end=settings["epsilon_end"],
    epsilon_decay=settings["epsilon_decay"],
    target_update=settings["target_update"],
    tau=settings["tau"],
    lr_end=settings["lr_end"],
    lr_decay=settings["lr_decay"],
    learning_starts=200 if SMALL else settings["learning_starts"],
    double=settings["double"],
    n_step=settings["n_step"],
    seed=0,
)
optimizer = dg.optim.Adam(q_net.parameters(), lr=recipe.defaults["lr"])
dqn_log = EpisodeLog()
trainer = Trainer(q_net, unused_loss, optimizer, updater=dqn, progress=False)
history = trainer.fit(
    EpisodeStream(CartPole(), dqn_log, steps_per_epoch=10, seed=0), epochs=dqn_episodes // 10
)
print(history.stop_reason)
print(
    f"{len(dqn_log.returns)} episodes, {sum(dqn_log.lengths)} environment steps, {dqn.updates} updates"
)

# %%
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(dqn_log.returns, lw=0.6, alpha=0.5, label="episode return")
ax.plot(moving_average(dqn_log.returns), lw=2, label="mean of the last 100")
ax.axhline(475, color="k", ls="--", lw=0.8, label="solved (475)")
if dqn_log.solved_at:
    ax.axvline(dqn_log.solved_at, color="g", ls=":", label=f"solved at episode {dqn_log.solved_at}")
ax.set(xlabel="episode", ylabel="return", title="DQN on CartPole-v1")
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# The first episodes are the random warm-up that fills the replay buffer; then the returns rise
# as $\varepsilon$ falls and $Q$ improves. The greedy policy of the final network
# ($\varepsilon = 0$), on fresh episodes:

# %%
greedy = greedy_returns(q_net, CartPole(), 5 if SMALL else 20, seed=123)
print(f"greedy return: {np.mean(greedy):.1f} (mean of {len(greedy)} episodes)")

# %% [markdown]
# ## 5. What the Q network learned
#
# $Q_\theta(s, \text{right}) - Q_\theta(s, \text{left})$ with the cart centred and at rest
# ($x = \dot x = 0$), over the pole's angle and angular velocity. Red: push right.

# %%
theta = np.linspace(-0.2, 0.2, 81)
theta_dot = np.linspace(-2.0, 2.0, 81)
tt, ww = np.meshgrid(theta, theta_dot)
states = np.stack([np.zeros_like(tt), np.zeros_like(tt), tt, ww], axis=-1).reshape(-1, 4)
with dg.no_grad():
    q = q_net(dg.tensor(states.astype(np.float32))).numpy()
gap = (q[:, 1] - q[:, 0]).reshape(tt.shape)
limit = np.abs(gap).max()
fig, ax = plt.subplots(figsize=(5.5, 4.5))
image = ax.pcolormesh(tt, ww, gap, cmap="RdBu_r", vmin=-limit, vmax=limit, shading="auto")
ax.set(xlabel=r"pole angle $\theta$ (rad)", ylabel=r"angular velocity $\dot\theta$ (rad/s)")
ax.set_title("Q(s, right) - Q(s, left)")
fig.colorbar(image, ax=ax)
plt.show()

# %% [markdown]
# After training, the network pushes towards the side the pole is falling to, and the boundary
# between the two actions tilts with $\dot\theta$: the hand-written rule of section 1 learned
# from the return alone. (After the short CI run, the map is still mostly noise.)
#
# ## Takeaways
#
# - The only learning signal is the return. REINFORCE weighs each action's log-probability by
#   what followed it; DQN regresses action values on a bootstrapped one-step target.
# - A baseline leaves the policy gradient unbiased and makes it much less noisy.
# - DQN needs its stabilizers: a replay buffer, a slowly moving target network, a Huber loss, and
#   targets that bootstrap through the time limit.
