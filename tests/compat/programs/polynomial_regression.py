"""Fit y = 0.5 x^3 - x^2 + 2 x + 1 with a linear model on polynomial features (tutorial style)."""

import argparse
import json

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=200)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)
x = rng.uniform(-2, 2, size=(256, 1)).astype(np.float32)
y = 0.5 * x**3 - x**2 + 2 * x + 1 + 0.05 * rng.standard_normal((256, 1)).astype(np.float32)


def features(x):
    x = x.unsqueeze(1) if x.dim() == 1 else x
    return torch.cat([x**i for i in range(1, 4)], 1)


model = nn.Linear(3, 1)
with torch.no_grad():  # the same start in every library
    model.weight.copy_(torch.from_numpy(rng.standard_normal((1, 3)).astype(np.float32)))
    model.bias.zero_()
loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=256)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss_fn = nn.MSELoss()
losses = []
for _step in range(args.steps):
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(features(xb)), yb)
        loss.backward()
        optimizer.step()
    losses.append(loss.item())
print(f"final loss {loss:.4f}")
print(json.dumps({"losses": losses, "deterministic": True}))
