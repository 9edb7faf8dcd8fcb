"""A character-level Transformer language model (in the style of the small GPT tutorials).

Token and position embeddings feed an nn.TransformerEncoder run with a causal mask, so each
position only sees the characters before it; a linear head predicts the next character. Training
batches come from an infinite RandomSampler (replacement=True, num_samples=10**10) read for a fixed
number of steps through a DataLoader with two workers. Both libraries start from the same
NumPy-drawn weights, but the sampler draws its own random indices, so the batches differ: the
comparison is on the final loss over the whole text, within a margin measured under PyTorch.
At the end the reloaded model writes a few characters with torch.multinomial (not compared).
"""

import argparse
import io
import json
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torch.utils.tensorboard import SummaryWriter

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=60)
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--block-size", type=int, default=16)
parser.add_argument("--d-model", type=int, default=32)
parser.add_argument("--lr", type=float, default=3e-3)
parser.add_argument("--seed", type=int, default=0, help="seeds the library (sampler, sampling)")
parser.add_argument("--data-seed", type=int, default=0, help="seeds the text and the weights")
args = parser.parse_args()

torch.manual_seed(args.seed)
rng = np.random.default_rng(args.data_seed)


def make_text(n_sentences):
    """A small nursery-rhyme-like text: a few words put together in a regular way."""
    who = ["the cat", "a dog", "the old fox", "my hen"]
    does = ["sat on", "ran to", "looked at", "slept by"]
    what = ["the mat", "a log", "the red barn", "the well"]
    lines = [
        f"{who[rng.integers(4)]} {does[rng.integers(4)]} {what[rng.integers(4)]}."
        for _ in range(n_sentences)
    ]
    return "\n".join(lines) + "\n"


text = make_text(120)
chars = sorted(set(text))
vocab_size = len(chars)
stoi = {ch: i for i, ch in enumerate(chars)}
itos = {i: ch for ch, i in stoi.items()}
data = np.array([stoi[c] for c in text], dtype=np.int64)


class CharDataset(Dataset):
    """Every window of block_size + 1 characters: the input and the same shifted by one."""

    def __init__(self, data, block_size):
        self.data = data
        self.block_size = block_size

    def __len__(self):
        return len(self.data) - self.block_size

    def __getitem__(self, idx):
        chunk = torch.from_numpy(self.data[idx : idx + self.block_size + 1])
        return chunk[:-1], chunk[1:]


class CharTransformer(nn.Module):
    def __init__(self, vocab_size, block_size, d_model=32, nhead=4, num_layers=2):
        super().__init__()
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(block_size, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward=4 * d_model, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers)
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, idx, targets=None):
        _b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=idx.device)
        x = self.encoder(x, mask=mask, is_causal=True)
        logits = self.head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0):
        for _ in range(max_new_tokens):
            idx_cond = idx[:, -self.block_size :]
            logits, _ = self(idx_cond)
            probs = F.softmax(logits[:, -1, :] / temperature, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


def init_weights(model):
    """GPT-style init (N(0, 0.02) matrices, zero biases, unit norms), drawn from NumPy."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                w = rng.normal(0.0, 0.02, size=tuple(p.shape)).astype(np.float32)
                p.copy_(torch.from_numpy(w))
            elif "norm" in name or name.startswith("ln_f"):
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            else:
                p.zero_()


@torch.no_grad()
def evaluate(model, data, block_size):
    """Mean next-character loss over the text cut into non-overlapping blocks."""
    model.eval()
    n = (len(data) - 1) // block_size
    x = torch.from_numpy(data[: n * block_size].reshape(n, block_size))
    y = torch.from_numpy(data[1 : n * block_size + 1].reshape(n, block_size))
    _, loss = model(x, y)
    model.train()
    return loss.item()


def main():
    model = CharTransformer(vocab_size, args.block_size, args.d_model)
    init_weights(model)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params} parameters, vocabulary of {vocab_size} characters")

    dataset = CharDataset(data, args.block_size)
    sampler = RandomSampler(dataset, replacement=True, num_samples=10**10)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, num_workers=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)

    losses = [evaluate(model, data, args.block_size)]
    with tempfile.TemporaryDirectory() as logdir:
        writer = SummaryWriter(logdir)
        model.train()
        data_iter = iter(loader)
        for step in range(args.steps):
            x, y = next(data_iter)
            _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
            writer.add_scalar("train/loss", loss.item(), step)
            if step % 20 == 0:
                print(f"step {step}: loss {loss:.4f}")
        writer.close()
    final = evaluate(model, data, args.block_size)
    print(f"loss over the text: {final:.4f}")

    # save the weights, load them into a fresh model: the same logits
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    restored = CharTransformer(vocab_size, args.block_size, args.d_model)
    restored.load_state_dict(torch.load(buffer))
    restored.eval()
    model.eval()
    probe = torch.from_numpy(data[: args.block_size]).unsqueeze(0)
    with torch.no_grad():
        assert torch.allclose(model(probe)[0], restored(probe)[0]), "the reloaded model differs"

    context = torch.tensor([[stoi["t"]]], dtype=torch.long)
    sample = restored.generate(context, max_new_tokens=40, temperature=0.8)[0].tolist()
    print("sample:", repr("".join(itos[i] for i in sample)))

    # the batches differ between libraries: compare the final loss over the text. Under PyTorch
    # alone, nine sampler seeds (same weights) end between 1.210 and 1.264: margin ~2x that spread
    losses.append(final)
    print(json.dumps({"losses": losses, "deterministic": False, "margin": 0.1}))


if __name__ == "__main__":
    main()
