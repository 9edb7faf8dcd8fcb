"""Predict sine waves one step ahead with two stacked LSTMCells, fitted by L-BFGS (float64).

In the style of the classic time-sequence-prediction example: the model reads each wave one
value at a time, is trained with ``optim.LBFGS`` and a closure using the strong-Wolfe line search,
then continues the waves on its own for a few future steps. Weights come from NumPy and there is
no sampling, so the run is deterministic.
"""

import argparse
import io
import json

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--waves", type=int, default=8)
parser.add_argument("--length", type=int, default=40)
parser.add_argument("--hidden", type=int, default=12)
parser.add_argument("--future", type=int, default=10)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)

# waves of period 2*pi*T, each shifted by a random offset
T = 6
x = np.arange(args.length)[None, :] + rng.integers(-4 * T, 4 * T, size=(args.waves, 1))
data = np.sin(x / T).astype(np.float64)


class Sequence(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        n = input.size(0)
        h_t = torch.zeros(n, self.hidden, dtype=torch.double)
        c_t = torch.zeros(n, self.hidden, dtype=torch.double)
        h_t2 = torch.zeros(n, self.hidden, dtype=torch.double)
        c_t2 = torch.zeros(n, self.hidden, dtype=torch.double)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):  # continue the wave from the model's own predictions
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


seq = Sequence(args.hidden).double()
with torch.no_grad():  # the same start in every library
    for p in seq.parameters():
        p.copy_(torch.from_numpy(rng.uniform(-0.3, 0.3, size=tuple(p.shape))))

n_train = args.waves - 2
input = torch.from_numpy(data[:n_train, :-1])
target = torch.from_numpy(data[:n_train, 1:])
test_input = torch.from_numpy(data[n_train:, :-1])
test_target = torch.from_numpy(data[n_train:, 1:])

criterion = nn.MSELoss()
optimizer = optim.LBFGS(seq.parameters(), lr=0.8, max_iter=8, line_search_fn="strong_wolfe")
losses = []
for i in range(args.steps):

    def closure():
        optimizer.zero_grad()
        out = seq(input)
        loss = criterion(out, target)
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    with torch.no_grad():
        pred = seq(test_input, future=args.future)
        test_loss = criterion(pred[:, : -args.future], test_target)
    losses += [loss.item(), test_loss.item()]
    print(f"step {i}: train loss {loss.item():.6f}, test loss {test_loss.item():.6f}")

# save and reload: the reloaded model continues the waves identically
buffer = io.BytesIO()
torch.save(seq.state_dict(), buffer)
buffer.seek(0)
seq2 = Sequence(args.hidden).double()
seq2.load_state_dict(torch.load(buffer))
with torch.no_grad():
    y1 = seq(test_input, future=args.future)
    y2 = seq2(test_input, future=args.future)
assert torch.equal(y1, y2), "the reloaded model predicts differently"
losses.append(y1[:, -args.future :].pow(2).mean().item())
print(json.dumps({"losses": losses, "deterministic": True}))
