"""A character-level GRU that generates names of a given kind (in the style of the name-generation tutorial).

Each step feeds the kind (one-hot) and the current letter (one-hot) to an nn.GRUCell; a linear
layer and log_softmax give the next letter, scored with NLLLoss and summed over the name, and the
parameters are updated by hand (p.data.add_(p.grad.data, alpha=-lr)). The names are made up here
from syllables; a map-style dataset turns one name into tensors and a DataLoader with two workers
reads them in an order drawn from NumPy. Both libraries start from the same NumPy-drawn weights,
so the training losses are deterministic; at the end the reloaded model samples a few names with
torch.multinomial (not compared).
"""

import argparse
import json
import os
import string
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from torch.utils.tensorboard import SummaryWriter

parser = argparse.ArgumentParser()
parser.add_argument("--iters", type=int, default=150)
parser.add_argument("--hidden-size", type=int, default=32)
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)

all_letters = string.ascii_letters + " .,;'-"
n_letters = len(all_letters) + 1  # plus the end-of-name marker

syllables = {
    "Elvish": ["ael", "ith", "lor", "wen", "dil", "mir", "ara", "eth"],
    "Dwarvish": ["dur", "grim", "thor", "bal", "kor", "in", "dain", "gar"],
    "Orcish": ["gor", "ush", "nak", "grub", "zug", "bol", "mog", "rat"],
}
all_categories = list(syllables)
n_categories = len(all_categories)


def make_name(category):
    parts = syllables[category]
    return "".join(parts[rng.integers(len(parts))] for _ in range(rng.integers(2, 4))).capitalize()


category_lines = {c: sorted({make_name(c) for _ in range(40)}) for c in all_categories}
examples = [(c, line) for c in all_categories for line in category_lines[c]]


def category_tensor(category):
    tensor = torch.zeros(1, n_categories)
    tensor[0][all_categories.index(category)] = 1
    return tensor


def input_tensor(line):
    """One-hot letters of the name, without the end marker: (len, 1, n_letters)."""
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][all_letters.find(letter)] = 1
    return tensor


def target_tensor(line):
    """The next letter of every position, then the end marker."""
    letter_indexes = [all_letters.find(line[li]) for li in range(1, len(line))]
    letter_indexes.append(n_letters - 1)
    return torch.tensor(letter_indexes, dtype=torch.long)


class NamesDataset(Dataset):
    def __init__(self, examples):
        self.examples = examples

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        category, line = self.examples[index]
        return category_tensor(category), input_tensor(line), target_tensor(line)


class RNN(nn.Module):
    def __init__(self, n_categories, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.gru = nn.GRUCell(n_categories + input_size, hidden_size)
        self.out = nn.Linear(hidden_size, output_size)

    def forward(self, category, input, hidden):
        hidden = self.gru(torch.cat((category, input), 1), hidden)
        output = F.log_softmax(self.out(hidden), dim=1)
        return output, hidden

    def init_hidden(self):
        return torch.zeros(1, self.hidden_size)


def init_weights(model):
    """PyTorch's own GRU/Linear bounds, U(-1/sqrt(hidden), 1/sqrt(hidden)), drawn from NumPy."""
    bound = 1.0 / np.sqrt(model.hidden_size)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-bound, bound, tuple(p.shape)).astype(np.float32)))


def train(rnn, criterion, category, line_input, line_target):
    line_target.unsqueeze_(-1)
    hidden = rnn.init_hidden()
    rnn.zero_grad()
    loss = 0
    for i in range(line_input.size(0)):
        output, hidden = rnn(category, line_input[i], hidden)
        loss = loss + criterion(output, line_target[i])
    loss.backward()
    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-args.lr)
    return loss.item() / line_input.size(0)


@torch.no_grad()
def mean_loss(rnn, criterion, dataset):
    """Per-letter negative log-likelihood over every name."""
    total, count = 0.0, 0
    for category, line_input, line_target in dataset:
        hidden = rnn.init_hidden()
        for i in range(line_input.size(0)):
            output, hidden = rnn(category, line_input[i], hidden)
            total += criterion(output, line_target[i : i + 1]).item()
        count += line_input.size(0)
    return total / count


@torch.no_grad()
def sample(rnn, category, start_letter, max_length=12, temperature=0.5):
    hidden = rnn.init_hidden()
    letter_input = input_tensor(start_letter)
    name = start_letter
    for _ in range(max_length):
        output, hidden = rnn(category_tensor(category), letter_input[0], hidden)
        probs = F.softmax(output / temperature, dim=1)
        index = torch.multinomial(probs, 1)[0][0].item()
        if index == n_letters - 1:
            break
        name += all_letters[index]
        letter_input = input_tensor(all_letters[index])
    return name


def main():
    dataset = NamesDataset(examples)
    order = rng.integers(0, len(dataset), size=args.iters).tolist()  # random training examples
    loader = DataLoader(dataset, batch_size=None, sampler=order, num_workers=2)
    rnn = RNN(n_categories, n_letters, args.hidden_size, n_letters)
    init_weights(rnn)
    criterion = nn.NLLLoss()

    losses = []
    with tempfile.TemporaryDirectory() as tmp:
        writer = SummaryWriter(os.path.join(tmp, "runs"))
        for it, (category, line_input, line_target) in enumerate(loader, 1):
            loss = train(rnn, criterion, category, line_input, line_target)
            losses.append(loss)
            writer.add_scalar("loss", loss, it)
            if it % 50 == 0:
                print(f"iter {it} ({it / args.iters:.0%}) loss {loss:.4f}")
        writer.close()

        path = os.path.join(tmp, "names_gru.pt")
        torch.save(rnn.state_dict(), path)
        restored = RNN(n_categories, n_letters, args.hidden_size, n_letters)
        restored.load_state_dict(torch.load(path))
    category, line_input, _ = dataset[0]
    hidden = rnn.init_hidden()
    out_a, _ = rnn(category, line_input[0], hidden)
    out_b, _ = restored(category, line_input[0], hidden)
    assert torch.allclose(out_a, out_b), "the reloaded model differs"

    final = mean_loss(restored, criterion, dataset)
    print(f"per-letter loss over all names: {final:.4f}")
    for category in all_categories:
        print(category, [sample(restored, category, letter) for letter in "ABG"])
    losses.append(final)
    print(json.dumps({"losses": losses, "deterministic": True}))


if __name__ == "__main__":
    main()
