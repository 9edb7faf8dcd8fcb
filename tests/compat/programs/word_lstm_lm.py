"""A word-level LSTM language model with tied weights (in the style of the word language model example).

The corpus is made up here from a tiny grammar, tokenized into a dictionary and cut into columns
(batchify); training runs truncated backpropagation through time over bptt-long slices, carrying
the hidden state from one slice to the next (detached). The decoder shares its weight with the
encoder (decoder.weight = encoder.weight), gradients are clipped with clip_grad_norm_ and a StepLR
schedule halves the learning rate each epoch. The best model by validation loss is saved with
torch.save and loaded back to score the test text. Both libraries start from the same NumPy-drawn
weights, dropout is 0 and the data is read in order, so the run is deterministic.
"""

import argparse
import json
import math
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter

parser = argparse.ArgumentParser()
parser.add_argument("--emsize", type=int, default=32, help="size of word embeddings (= nhid, tied)")
parser.add_argument("--nlayers", type=int, default=2)
parser.add_argument("--lr", type=float, default=5.0)
parser.add_argument("--clip", type=float, default=0.25)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--batch-size", type=int, default=8)
parser.add_argument("--bptt", type=int, default=10)
parser.add_argument("--dropout", type=float, default=0.0)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)


def make_sentences(n):
    """Sentences from a small grammar: subject, verb, object and sometimes a place."""
    subjects = ["the farmer", "a child", "the teacher", "my brother", "the old man"]
    verbs = ["reads", "finds", "carries", "sells", "paints"]
    objects = ["a book", "the apples", "a red box", "the letters", "some bread"]
    places = ["at home", "in the market", "near the river", "every morning"]
    out = []
    for _ in range(n):
        words = [subjects[rng.integers(5)], verbs[rng.integers(5)], objects[rng.integers(5)]]
        if rng.random() < 0.5:
            words.append(places[rng.integers(4)])
        out.append(" ".join(words) + " .")
    return out


class Dictionary:
    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self):
        return len(self.idx2word)


class Corpus:
    def __init__(self, train, valid, test):
        self.dictionary = Dictionary()
        self.train = self.tokenize(train)
        self.valid = self.tokenize(valid)
        self.test = self.tokenize(test)

    def tokenize(self, lines):
        ids = []
        for line in lines:
            for word in line.split() + ["<eos>"]:
                ids.append(self.dictionary.add_word(word))
        return torch.tensor(ids, dtype=torch.int64)


class RNNModel(nn.Module):
    """Encoder (embedding), a stacked LSTM and a decoder tied to the encoder."""

    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=True):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            if nhid != ninp:
                raise ValueError("When using the tied flag, nhid must be equal to emsize")
            self.decoder.weight = self.encoder.weight
        self.nhid = nhid
        self.nlayers = nlayers

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (
            weight.new_zeros(self.nlayers, bsz, self.nhid),
            weight.new_zeros(self.nlayers, bsz, self.nhid),
        )


def init_weights(model, initrange=0.1):
    """Uniform init drawn from NumPy (the same start in every library); zero decoder bias."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            bound = (
                initrange if name.startswith(("encoder", "decoder")) else 1 / math.sqrt(model.nhid)
            )
            if name == "decoder.bias":
                p.zero_()
            else:
                w = rng.uniform(-bound, bound, size=tuple(p.shape)).astype(np.float32)
                p.copy_(torch.from_numpy(w))


def batchify(data, bsz):
    """Cut the token stream into bsz columns: shape (nbatch, bsz)."""
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i):
    seq_len = min(args.bptt, len(source) - 1 - i)
    data = source[i : i + seq_len]
    target = source[i + 1 : i + 1 + seq_len].view(-1)
    return data, target


def repackage_hidden(h):
    """Detach hidden states from their history (truncated backpropagation through time)."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def evaluate(model, data_source, criterion, eval_batch_size):
    model.eval()
    total_loss = 0.0
    hidden = model.init_hidden(eval_batch_size)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, args.bptt):
            data, targets = get_batch(data_source, i)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def train_epoch(model, train_data, criterion, optimizer, writer, epoch, losses):
    model.train()
    hidden = model.init_hidden(args.batch_size)
    n_batches = (train_data.size(0) - 1 + args.bptt - 1) // args.bptt
    for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
        data, targets = get_batch(train_data, i)
        hidden = repackage_hidden(hidden)
        optimizer.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        losses.append(loss.item())
        writer.add_scalar("train/loss", loss.item(), epoch * n_batches + batch)
        if batch % 10 == 0:
            lr = optimizer.param_groups[0]["lr"]
            print(
                f"| epoch {epoch:3d} | {batch:3d}/{n_batches:3d} batches | lr {lr:5.2f} | "
                f"loss {loss:5.2f} | ppl {math.exp(loss.item()):8.2f}"
            )


def main():
    corpus = Corpus(make_sentences(300), make_sentences(40), make_sentences(40))
    eval_batch_size = 4
    train_data = batchify(corpus.train, args.batch_size)
    val_data = batchify(corpus.valid, eval_batch_size)
    test_data = batchify(corpus.test, eval_batch_size)
    ntokens = len(corpus.dictionary)

    model = RNNModel(ntokens, args.emsize, args.emsize, args.nlayers, args.dropout)
    init_weights(model)
    assert model.decoder.weight is model.encoder.weight
    criterion = nn.NLLLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)

    losses = []
    best_val_loss = None
    with tempfile.TemporaryDirectory() as tmp:
        writer = SummaryWriter(os.path.join(tmp, "runs"))
        path = os.path.join(tmp, "model.pt")
        for epoch in range(1, args.epochs + 1):
            train_epoch(model, train_data, criterion, optimizer, writer, epoch, losses)
            val_loss = evaluate(model, val_data, criterion, eval_batch_size)
            losses.append(val_loss)
            writer.add_scalar("valid/ppl", math.exp(val_loss), epoch)
            print(
                f"| end of epoch {epoch:3d} | valid loss {val_loss:5.2f} | "
                f"valid ppl {math.exp(val_loss):8.2f}"
            )
            if best_val_loss is None or val_loss < best_val_loss:
                torch.save(model.state_dict(), path)
                best_val_loss = val_loss
            scheduler.step()
        writer.close()

        best = RNNModel(ntokens, args.emsize, args.emsize, args.nlayers, args.dropout)
        best.load_state_dict(torch.load(path))
    assert best.decoder.weight is best.encoder.weight, "loading untied the weights"
    reloaded_val = evaluate(best, val_data, criterion, eval_batch_size)
    assert abs(reloaded_val - best_val_loss) < 1e-5, (reloaded_val, best_val_loss)
    test_loss = evaluate(best, test_data, criterion, eval_batch_size)
    print(f"| End of training | test loss {test_loss:5.2f} | test ppl {math.exp(test_loss):8.2f}")
    losses.append(test_loss)
    print(json.dumps({"losses": losses, "deterministic": True}))


if __name__ == "__main__":
    main()
