"""REINFORCE on a small corridor world written here (in the style of the classic REINFORCE example).

The agent starts in a random cell of a corridor and steps left or right; the right end pays +1,
the left end -1, and every step costs a little. A small policy network gives action logits, a
``torch.distributions.Categorical`` samples the actions, and the policy gradient uses discounted
returns minus a baseline (their mean, scaled by their spread). The actions are sampled, so the
two libraries take different paths: the last number printed is the policy's average probability
of stepping right, which must agree within the stated margin.
"""

import argparse
import json
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical
from torch.utils.tensorboard import SummaryWriter

parser = argparse.ArgumentParser()
parser.add_argument("--episodes", type=int, default=120)
parser.add_argument("--batch", type=int, default=4, help="episodes per policy update")
parser.add_argument("--gamma", type=float, default=0.9)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)


class Corridor:
    """Cells 0..n-1; cell 0 and cell n-1 end the episode. Actions: 0 = left, 1 = right."""

    def __init__(self, n=7, max_steps=20):
        self.n, self.max_steps = n, max_steps

    def reset(self):
        self.pos, self.t = int(rng.integers(1, self.n - 1)), 0
        return self.observe()

    def observe(self):
        state = np.zeros(self.n, dtype=np.float32)
        state[self.pos] = 1.0
        return state

    def step(self, action):
        self.pos += 1 if action == 1 else -1
        self.t += 1
        if self.pos == self.n - 1:
            return self.observe(), 1.0, True
        if self.pos == 0:
            return self.observe(), -1.0, True
        return self.observe(), -0.02, self.t >= self.max_steps


class Policy(nn.Module):
    def __init__(self, n_states, n_actions=2, hidden=16):
        super().__init__()
        self.affine1 = nn.Linear(n_states, hidden)
        self.affine2 = nn.Linear(hidden, n_actions)

    def forward(self, x):
        return self.affine2(F.relu(self.affine1(x)))


env = Corridor()
policy = Policy(env.n)
optimizer = optim.Adam(policy.parameters(), lr=1e-2)
eps = np.finfo(np.float32).eps.item()


def run_episode():
    state, log_probs, rewards, done = env.reset(), [], [], False
    while not done:
        logits = policy(torch.from_numpy(state).unsqueeze(0))
        m = Categorical(logits=logits)
        action = m.sample()
        log_probs.append(m.log_prob(action))
        state, reward, done = env.step(action.item())
        rewards.append(reward)
    return log_probs, rewards


def discounted(rewards):
    R, returns = 0.0, []
    for r in reversed(rewards):
        R = r + args.gamma * R
        returns.insert(0, R)
    return returns


def prob_right():
    """The policy's mean probability of stepping right over the inner cells (no sampling)."""
    states = torch.eye(env.n)[1:-1]
    with torch.no_grad():
        return F.softmax(policy(states), dim=-1)[:, 1].mean().item()


losses = []
with tempfile.TemporaryDirectory() as logdir:
    writer = SummaryWriter(os.path.join(logdir, "runs"))
    for update in range(args.episodes // args.batch):
        batch_log_probs, batch_returns, total = [], [], 0.0
        for _ in range(args.batch):
            log_probs, rewards = run_episode()
            batch_log_probs += log_probs
            batch_returns += discounted(rewards)
            total += sum(rewards)
        returns = torch.tensor(batch_returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)  # the baseline
        policy_loss = -(torch.cat(batch_log_probs) * returns).sum() / args.batch
        optimizer.zero_grad()
        policy_loss.backward()
        optimizer.step()
        writer.add_scalar("episode_reward", total / args.batch, update)
        writer.add_scalar("policy_loss", policy_loss.item(), update)
        losses.append(total / args.batch)
    writer.close()

    # save to a file and load into a fresh policy: the same action probabilities
    path = os.path.join(logdir, "policy.pt")
    torch.save(policy.state_dict(), path)
    policy2 = Policy(env.n)
    policy2.load_state_dict(torch.load(path))
    states = torch.eye(env.n)
    with torch.no_grad():
        assert torch.equal(policy(states), policy2(states)), "the reloaded policy differs"

final = prob_right()
print(f"mean reward of the last updates {np.mean(losses[-5:]):.3f}, P(right) {final:.3f}")
losses.append(final)
# P(right) starts near 0.5. Over seeds 0..19 it ended in [0.866, 0.952] (mean 0.929) under PyTorch
# and in [0.799, 0.976] (mean 0.937) under deepgrad; the largest same-seed gap was 0.15. Margin:
# about twice PyTorch's own spread, still far below the 0.4 that learning adds.
print(json.dumps({"losses": losses, "deterministic": False, "margin": 0.2}))
