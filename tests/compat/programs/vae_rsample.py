"""A variational autoencoder on 8x8 bar images (in the style of the classic VAE example).

The encoder gives the mean and log-variance of q(z|x); ``Normal(mu, std).rsample()`` draws z with
the reparameterization trick, so gradients flow through the draw, and ``kl_divergence`` against a
standard Normal gives the KL term. Batches come from an infinite ``RandomSampler`` through a
DataLoader with workers. The batches and the draws are random, so the two libraries take
different paths: the last number printed is the loss on a fixed set with z = mu, which must agree
within the stated margin.
"""

import argparse
import json
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torch.utils.tensorboard import SummaryWriter

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=150)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--latent", type=int, default=2)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)


def make_bars(n, size=8):
    """Each image holds one horizontal or vertical bright bar on a dim, noisy background."""
    images = 0.1 * rng.random((n, size, size))
    where = rng.integers(0, size, size=n)
    for i, (vertical, k) in enumerate(zip(rng.random(n) < 0.5, where)):
        if vertical:
            images[i, :, k] = 0.9
        else:
            images[i, k, :] = 0.9
    return images.reshape(n, size * size).astype(np.float32)


class Bars(Dataset):
    def __init__(self, n):
        self.x = make_bars(n)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return torch.from_numpy(self.x[index])


class VAE(nn.Module):
    def __init__(self, d=64, hidden=32, latent=2):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, d)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x)
        q = Normal(mu, torch.exp(0.5 * logvar))
        z = q.rsample()
        return self.decode(z), q


def loss_function(recon, x, q):
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    prior = Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))
    kld = kl_divergence(q, prior).sum()
    return (bce + kld) / x.size(0)


model = VAE(latent=args.latent)
with torch.no_grad():  # the same start in every library
    for p in model.parameters():
        p.copy_(torch.from_numpy(rng.uniform(-0.2, 0.2, size=tuple(p.shape)).astype(np.float32)))
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

train_set = Bars(512)
sampler = RandomSampler(train_set, replacement=True, num_samples=10**10)
loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler, num_workers=2)
fixed = torch.from_numpy(make_bars(128))


def fixed_loss(net):
    """Reconstruction + KL on the fixed set, decoding the posterior mean (no sampling)."""
    with torch.no_grad():
        mu, logvar = net.encode(fixed)
        q = Normal(mu, torch.exp(0.5 * logvar))
        return loss_function(net.decode(mu), fixed, q).item()


losses = []
with tempfile.TemporaryDirectory() as logdir:
    writer = SummaryWriter(logdir)
    model.train()
    for step, x in enumerate(loader):
        if step == args.steps:
            break
        optimizer.zero_grad()
        recon, q = model(x)
        loss = loss_function(recon, x, q)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        writer.add_scalar("train/loss", loss.item(), step)
        if step % 50 == 0:
            print(f"step {step}: loss {loss.item():.3f}")
    writer.add_histogram("latent/mu", model.encode(fixed)[0].detach(), args.steps)
    writer.close()

    path = os.path.join(logdir, "vae.pt")
    torch.save(model.state_dict(), path)
    model2 = VAE(latent=args.latent)
    model2.load_state_dict(torch.load(path))
    with torch.no_grad():
        z = model.encode(fixed)[0]
        same = torch.equal(model.decode(z), model2.decode(model2.encode(fixed)[0]))
    assert same, "the reloaded VAE decodes differently"

final = fixed_loss(model)
print(f"loss on the fixed set (z = mu): {final:.3f}")
losses.append(final)
# The loss falls from about 44.6 to 27.7. Over seeds 0..19 the final number ended in
# [27.32, 27.87] under PyTorch and in [27.34, 27.95] under deepgrad; the largest same-seed gap was
# 0.26. Margin: twice PyTorch's own spread.
print(json.dumps({"losses": losses, "deterministic": False, "margin": 1.1}))
