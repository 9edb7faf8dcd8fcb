"""Recurrent models: a sequence classifier and a character-level language model (RNN, LSTM or GRU)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepgrad import nn
from deepgrad.autograd import Tensor, no_grad
from deepgrad.backend.random import Generator, default_generator
from deepgrad.backend.validation import non_negative_float, non_negative_int, one_of, probability
from deepgrad.data.datasets.text import CharVocabulary
from deepgrad.models.common import DROPOUT_FIX
from deepgrad.nn import functional as F
from deepgrad.ops.creation import tensor
from deepgrad.ops.shape import cat

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
POOLINGS = ("last", "mean", "max")


def _recurrent(
    owner: str,
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int,
    dropout: float,
    bidirectional: bool = False,
) -> nn.Module:
    one_of(cell, CELLS, "cell", owner)
    return CELLS[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=True,
        dropout=dropout if num_layers > 1 else 0.0,
        bidirectional=bidirectional,
    )


class SequenceClassifier(nn.Module):
    """Classifies whole sequences: [Embedding ->] RNN/LSTM/GRU -> pool over time -> Linear.

    h_1..h_T = rnn(x_1..x_T);   s = h_T ("last"), mean_t h_t ("mean") or max_t h_t ("max");   y = s W.T + b

    Args:
        input_size: features per time step (float inputs (B, T, input_size)), or, with ``vocab_size``,
            the embedding size of the tokens.
        hidden_size: units of the recurrent layers. Default: 64.
        num_classes: outputs. Default: 2.
        cell: "rnn" (tanh), "lstm" or "gru". Default: "lstm".
        num_layers: stacked recurrent layers. Default: 1.
        bidirectional: also read the sequence backwards (``"last"`` then joins the forward
            direction's last state with the backward direction's first). Default: False.
        pooling: "last", "mean" or "max". Default: "last".
        dropout: dropout between recurrent layers and before the Linear layer. Default: 0.
        vocab_size: if given, inputs are token ids (B, T) embedded first. Default: None.

    Shape:
        x: (B, T, input_size) floats, or (B, T) int64 ids with ``vocab_size`` -> (B, num_classes) logits.

    Example:
        >>> import deepgrad as dg
        >>> SequenceClassifier(3, 8, num_classes=4, cell="gru")(dg.randn(2, 5, 3)).shape
        (2, 4)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 64,
        num_classes: int = 2,
        cell: str = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        pooling: str = "last",
        dropout: float = 0.0,
        vocab_size: int | None = None,
    ) -> None:
        super().__init__()
        one_of(pooling, POOLINGS, "pooling", "SequenceClassifier")
        probability(dropout, "dropout", "SequenceClassifier", fix=DROPOUT_FIX)
        self.cell, self.pooling, self.bidirectional = cell, pooling, bool(bidirectional)
        self.embedding = nn.Embedding(vocab_size, input_size) if vocab_size is not None else None
        self.rnn = _recurrent(
            "SequenceClassifier", cell, input_size, hidden_size, num_layers, dropout, bidirectional
        )
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if self.embedding is not None:
            x = self.embedding(x)
        output, _ = self.rnn(x)  # (B, T, D * H)
        if self.pooling == "mean":
            summary = output.mean(dim=1)
        elif self.pooling == "max":
            summary = output.max(dim=1).values
        elif self.bidirectional:
            hidden = output.shape[2] // 2
            summary = cat([output[:, -1, :hidden], output[:, 0, hidden:]], dim=1)
        else:
            summary = output[:, -1]
        return self.head(self.dropout(summary))


class CharLM(nn.Module):
    """A character-level language model: Embedding -> RNN/LSTM/GRU -> Linear scores for the next character.

    p(c_{t+1} | c_1..c_t) = softmax(h_t W.T + b),   h_t = rnn(embed(c_t), h_{t-1})

    Trained with cross-entropy on (text[s:s+T], text[s+1:s+T+1]) windows (``loss``; data from
    ``deepgrad.data.TextDataset``); ``generate`` samples new text with a temperature.

    Args:
        vocab: a ``CharVocabulary`` (``generate`` then takes and returns strings) or the number of
            distinct characters (``generate`` then takes and returns id lists).
        embedding_dim: size of the character embeddings. Default: 32.
        hidden_size: units of the recurrent layers. Default: 128.
        num_layers: stacked recurrent layers. Default: 1.
        cell: "rnn", "lstm" or "gru". Default: "lstm".
        dropout: dropout between recurrent layers and before the output layer. Default: 0.

    Shape:
        x: (B, T) int64 ids -> (B, T, vocab_size) logits.

    Example:
        >>> from deepgrad.data import CharVocabulary
        >>> lm = CharLM(CharVocabulary("abc "), hidden_size=16)
        >>> import deepgrad as dg
        >>> lm(dg.tensor([[0, 1, 2]])).shape
        (1, 3, 4)
        >>> len(lm.generate("ab", length=5, generator=dg.Generator().manual_seed(0)))
        7
    """

    def __init__(
        self,
        vocab: CharVocabulary | int,
        embedding_dim: int = 32,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(vocab, CharVocabulary):
            self.vocab: CharVocabulary | None = vocab
            vocab_size = len(vocab)
        elif isinstance(vocab, int) and not isinstance(vocab, bool) and vocab >= 1:
            self.vocab, vocab_size = None, vocab
        else:
            raise TypeError(
                f"CharLM: vocab must be a CharVocabulary or a positive int (got {vocab!r})."
            )
        probability(dropout, "dropout", "CharLM", fix=DROPOUT_FIX)
        self.vocab_size, self.cell = vocab_size, cell
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = _recurrent("CharLM", cell, embedding_dim, hidden_size, num_layers, dropout)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(hidden_size, vocab_size)

    def step(self, x: Tensor, state=None) -> tuple[Tensor, object]:
        """Logits (B, T, vocab_size) and the final recurrent state, starting from ``state`` (None: zeros)."""
        output, state = self.rnn(self.embedding(x), state)
        return self.head(self.dropout(output)), state

    def forward(self, x: Tensor) -> Tensor:
        return self.step(x)[0]

    def loss(self, logits: Tensor, target: Tensor) -> Tensor:
        """Mean cross-entropy of the next characters (in nats; divide by ln 2 for bits per character)."""
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), target.reshape(-1))

    def generate(
        self,
        prefix: str | Sequence[int],
        length: int = 200,
        temperature: float = 1.0,
        generator: Generator | None = None,
    ) -> str | list[int]:
        """The prefix followed by ``length`` sampled characters.

        Each next character is drawn from softmax(logits / temperature): temperature < 1 sharpens
        the distribution (safer, more repetitive text), > 1 flattens it; 0 always takes the most
        likely character.

        Args:
            prefix: the text to start from (a str with a vocabulary, else a list of ids); at least one character.
            length: characters to generate. Default: 200.
            temperature: >= 0. Default: 1.0.
            generator: source of the draws. Default: deepgrad's default generator.
        """
        non_negative_int(length, "length", "CharLM.generate")
        fix = "1 samples the model as is, < 1 sharpens, 0 always takes the most likely character"
        non_negative_float(temperature, "temperature", "CharLM.generate", fix=fix)
        if isinstance(prefix, str):
            if self.vocab is None:
                raise TypeError(
                    "CharLM.generate: this model has no vocabulary; pass the prefix as a list of ids."
                )
            ids = self.vocab.encode(prefix).tolist()
        else:
            ids = [int(i) for i in prefix]
            if any(not 0 <= i < self.vocab_size for i in ids):
                raise ValueError(
                    f"CharLM.generate: prefix ids must lie in [0, {self.vocab_size}) (got {ids})."
                )
        if not ids:
            raise ValueError("CharLM.generate: the prefix must hold at least one character.")
        rng = (generator or default_generator).np
        device = self.head.weight.device
        was_training = self.training
        self.eval()
        out = list(ids)
        try:
            with no_grad():
                logits, state = self.step(tensor([ids], device=device))
                for _ in range(length):
                    scores = np.asarray(logits[0, -1].numpy(), dtype=np.float64)
                    if temperature == 0:
                        next_id = int(scores.argmax())
                    else:
                        scores = scores / temperature
                        probs = np.exp(scores - scores.max())
                        next_id = int(rng.choice(self.vocab_size, p=probs / probs.sum()))
                    out.append(next_id)
                    logits, state = self.step(tensor([[next_id]], device=device), state)
        finally:
            self.train(was_training)
        return self.vocab.decode(out) if isinstance(prefix, str) else out


__all__ = ["CELLS", "CharLM", "SequenceClassifier"]
