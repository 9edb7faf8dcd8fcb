"""The character-level language model recipe (``char-rnn``): Alice in Wonderland, sampled text."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from deepgrad.backend.random import Generator
from deepgrad.data import Subset
from deepgrad.data.datasets import CharVocabulary, TextDataset, load_corpus
from deepgrad.data.datasets.text import split_text
from deepgrad.experiments.config import Option
from deepgrad.experiments.recipes.base import Recipe, RecipeData
from deepgrad.models.sequence import CharLM
from deepgrad.train import Trainer


class CharRNNRecipe(Recipe):
    name = "char-rnn"
    summary = (
        "a character-level LSTM/GRU/RNN language model of Alice in Wonderland, with sampled text"
    )
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 8,
        "batch_size": 32,
        "lr": 3e-3,
        "optimizer": "adam",
        "dropout": 0.0,
    }
    uses = ("dropout",)
    options: ClassVar[dict[str, Option]] = {
        "cell": Option("lstm", "the recurrent layer", ("lstm", "gru", "rnn")),
        "hidden": Option(128, "recurrent units"),
        "embedding": Option(32, "size of the character embeddings"),
        "layers": Option(1, "stacked recurrent layers"),
        "seq_len": Option(64, "characters per training window"),
        "temperature": Option(0.8, "sampling temperature of the generated text"),
        "sample_length": Option(300, "characters to generate after training"),
        "prefix": Option("Alice ", "the text the sample starts from"),
    }
    min_limit = 2

    def data(self, config):
        text = load_corpus("alice")
        vocab = CharVocabulary(text)
        train_text, val_text, test_text = split_text(text, (0.8, 0.1, 0.1))
        seq_len = config.options["seq_len"]
        train = TextDataset(train_text, seq_len, vocab)
        val, test = TextDataset(val_text, seq_len, vocab), TextDataset(test_text, seq_len, vocab)
        if config.limit is not None:
            train = Subset(train, range(min(config.limit, len(train))))
            test = Subset(test, range(min(config.limit, len(test))))
            val = Subset(val, range(min(max(config.limit // 10, 1), len(val))))
        counts = np.bincount(vocab.encode(train_text), minlength=len(vocab)).astype(np.float64)
        p = counts[counts > 0] / counts.sum()
        entropy = float(-(p * np.log(p)).sum())
        notes = [
            (
                f"data: 'Alice's Adventures in Wonderland' (shipped), {len(text)} characters, "
                f"{len(vocab)} distinct; {len(train)} training, {len(val)} validation, "
                f"{len(test)} test windows of {seq_len}"
            ),
            (
                f"baseline: the unigram entropy of the training text is {entropy:.3f} nats/char "
                f"({entropy / math.log(2):.3f} bits)"
            ),
        ]
        return RecipeData(train, val, test, notes, {"vocab": vocab, "unigram_entropy": entropy})

    def build_model(self, config, data):
        o = config.options
        return CharLM(
            data.info["vocab"], o["embedding"], o["hidden"], o["layers"], o["cell"], config.dropout
        )

    def loss_fn(self, model):
        return model.loss

    def make_trainer(self, config, model, optimizer, callbacks, monitor, progress):
        # exploding gradients are the classic failure of recurrent nets; clipping the norm
        # prevents them
        return Trainer(
            model,
            model.loss,
            optimizer,
            callbacks=callbacks,
            device=config.device if config.device != "cpu" else None,
            monitor=monitor,
            progress=progress,
            grad_clip=5.0,
        )

    def outputs(self, config, model, data, out_dir, plots):
        o = config.options
        text = model.generate(
            o["prefix"],
            o["sample_length"],
            o["temperature"],
            generator=Generator().manual_seed(config.seed),
        )
        path = out_dir / "sample.txt"
        path.write_text(text + "\n")
        return [
            f"generated text (temperature {o['temperature']}), also in {path}:",
            "    " + text.replace("\n", "\n    "),
        ]

    def example_input(self, config, data):
        return (config.batch_size, config.options["seq_len"]), "int64"


__all__ = ["CharRNNRecipe"]
