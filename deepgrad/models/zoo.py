"""The model zoo: pretrained weights of the lectures' models, each with the run that made it.

``deepgrad.models.list()`` names the models; ``deepgrad.models.get(name)`` builds one and loads
its weights. Every entry records where its weights came from: the ``deepgrad train`` recipe and
the exact settings (seed included) of the run, the data it was trained and tested on, and the
test metric that run reported. ``deepgrad evaluate NAME`` rebuilds the recipe's test data and
measures the metric again, so the record can be checked, not just believed.

Small models ship inside the package as safetensors files (``deepgrad/models/weights/``, a few
hundred KB each). Larger ones are downloaded on first use from ``WEIGHTS_MIRRORS`` into
``<data home>/models`` (``data_home()`` of ``deepgrad.data``) through ``deepgrad.data.download``:
mirrors, a SHA-256 checksum, and never a partial file. Shipped files are checked against their
checksum too. Weight files hold only tensors (safetensors), so loading one never runs code.

Adding a model: train it with ``deepgrad train RECIPE ...``, then
``python3 tools/zoo_publish.py RUN_DIR NAME`` writes the weight file and prints the entry to
paste into ``ZOO`` below.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepgrad.data.datasets import CharVocabulary, data_home, download, file_digest, load_corpus
from deepgrad.io import load
from deepgrad.models.autoencoder import Autoencoder
from deepgrad.models.cnn import LeNet5
from deepgrad.models.sequence import CharLM
from deepgrad.nn import Module

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# Where weights that do not ship are published, tried in order after an entry's own ``urls``.
# None yet: the project has no release hosting, so every zoo model today ships in the package.
WEIGHTS_MIRRORS: tuple[str, ...] = ()
_MNIST_5K = (
    "the MNIST subset shipped with deepgrad (deepgrad/data/embedded/mnist_5k.npz): 3600 "
    "training, 400 validation images (fixed split, seed 1234), tested on its 1000 test images"
)


@dataclass(frozen=True)
class ZooEntry:
    """One pretrained model and the run that produced its weights.

    Attributes:
        name: the zoo name, for ``get``.
        summary: one line on what the model is.
        build: makes the untrained model (the architecture the recipe builds for ``settings``).
        recipe: the ``deepgrad train`` recipe that trained it.
        settings: the run's settings (its config.json, without recipe and device):
            ``deepgrad train RECIPE`` with these reproduces the weights.
        data: what it was trained and tested on.
        metric: the recorded test metric ("accuracy", "mse", "loss" ...), as the recipe names it.
        value: the metric on the recipe's test split, as the run reported it.
        file: the weight file's name.
        sha256: the weight file's SHA-256.
        shipped: True: the file is in the package; False: it is downloaded from ``urls``.
        urls: mirrors of the file (default: ``WEIGHTS_MIRRORS`` + file).
    """

    name: str
    summary: str
    build: Callable[[], Module]
    recipe: str
    settings: dict[str, Any]
    data: str
    metric: str
    value: float
    file: str
    sha256: str
    shipped: bool
    urls: tuple[str, ...] = field(default=())

    def mirrors(self) -> builtins.list[str]:
        """The URLs to fetch the weights from."""
        return builtins.list(self.urls) or [base + self.file for base in WEIGHTS_MIRRORS]


def _char_lm() -> CharLM:
    return CharLM(CharVocabulary(load_corpus("alice")), 32, 128, 1, "lstm", 0.0)


_ENTRIES = (
    ZooEntry(
        name="lenet5-mnist",
        summary="LeNet-5 digit classifier (61,706 parameters)",
        build=lambda: LeNet5(activation="relu", dropout=0.0, init="kaiming"),
        recipe="mnist-cnn",
        settings={
            "epochs": 10,
            "batch_size": 64,
            "lr": 0.001,
            "optimizer": "adam",
            "weight_decay": 0.0,
            "init": "kaiming",
            "activation": "relu",
            "dropout": 0.0,
            "early_stopping": None,
            "augment": False,
            "seed": 0,
            "limit": None,
            "options": {"arch": "lenet5", "batch_norm": False},
        },
        data=_MNIST_5K,
        metric="accuracy",
        value=0.96,
        file="lenet5-mnist.safetensors",
        sha256="e10fd1fd44672cc125b92601be50775bd71200796d23956cf1f8c2d3eed55b87",
        shipped=True,
    ),
    ZooEntry(
        name="autoencoder-mnist",
        summary="one-layer tied-weight autoencoder of digits, 784-64-784, sigmoid (51,024 parameters)",
        build=lambda: Autoencoder(784, 64, activation="sigmoid", loss="mse", init="xavier"),
        recipe="autoencoder",
        settings={
            "epochs": 10,
            "batch_size": 64,
            "lr": 0.01,
            "optimizer": "adam",
            "weight_decay": 0.0,
            "init": "xavier",
            "activation": "sigmoid",
            "dropout": None,
            "early_stopping": None,
            "augment": False,
            "seed": 0,
            "limit": None,
            "options": {
                "kind": "tied",
                "code": 64,
                "loss": "mse",
                "noise": 0.3,
                "corruption": "mask",
                "rho": 0.05,
                "beta": 0.005,
            },
        },
        data=_MNIST_5K,
        metric="mse",
        value=0.02088393750267018,
        file="autoencoder-mnist.safetensors",
        sha256="ca56dbc72b0f92c88a3fcc554f9a1894e7e81a1425fc318bc9890ade24fc7268",
        shipped=True,
    ),
    ZooEntry(
        name="char-lstm-alice",
        summary="character-level LSTM language model of Alice in Wonderland (94,697 parameters)",
        build=_char_lm,
        recipe="char-rnn",
        settings={
            "epochs": 15,
            "batch_size": 32,
            "lr": 0.003,
            "optimizer": "adam",
            "weight_decay": 0.0,
            "init": None,
            "activation": None,
            "dropout": 0.0,
            "early_stopping": None,
            "augment": False,
            "seed": 0,
            "limit": None,
            "options": {
                "cell": "lstm",
                "hidden": 128,
                "embedding": 32,
                "layers": 1,
                "seq_len": 64,
                "temperature": 0.8,
                "sample_length": 300,
                "prefix": "Alice ",
            },
        },
        data=(
            "'Alice's Adventures in Wonderland' (shipped, 148,461 characters, 73 distinct), "
            "split 80/10/10 into windows of 64 characters; the metric is the test cross-entropy "
            "in nats per character"
        ),
        metric="loss",
        value=1.6580380201339722,
        file="char-lstm-alice.safetensors",
        sha256="b21b7eb14df1140fb95e0741494a7586db2f2a70528148fb1a483f0a5b007de7",
        shipped=True,
    ),
)
ZOO: dict[str, ZooEntry] = {entry.name: entry for entry in _ENTRIES}


def list_models() -> builtins.list[str]:
    """The names of the zoo's models (``deepgrad.models.list()``), as ``torch.hub.list`` lists.

    Example:
        >>> import deepgrad
        >>> "lenet5-mnist" in deepgrad.models.list()
        True
    """
    return builtins.list(ZOO)


def entry(name: str) -> ZooEntry:
    """The record of the zoo model ``name``: recipe, settings, data, test metric, file."""
    if name not in ZOO:
        raise ValueError(
            f"models.get: no model {name!r} in the zoo; the models are: {', '.join(ZOO)} "
            "(deepgrad.models.list())."
        )
    return ZOO[name]


def weights_path(
    name: str, mirrors: Sequence[str] | None = None, cache_dir: str | Path | None = None
) -> Path:
    """The verified weight file of ``name``: in the package, or downloaded once into the cache.

    Args:
        name: a zoo model.
        mirrors: URLs of the file to try instead of the entry's (for a local copy or a test).
        cache_dir: where downloaded weights are kept. Default: ``<data home>/models``.

    Raises:
        ValueError: unknown name, or a shipped file that does not match its checksum.
        DownloadError: every mirror failed (the message says where to put the file by hand).
    """
    record = entry(name)
    if record.shipped:
        path = WEIGHTS_DIR / record.file
        if file_digest(path) != record.sha256:
            raise ValueError(
                f"models.get: the shipped weights {path} do not match their sha256 "
                f"({record.sha256}); the installation is damaged: reinstall deepgrad."
            )
        return path
    path = Path(cache_dir if cache_dir is not None else data_home() / "models") / record.file
    if path.is_file() and file_digest(path) == record.sha256:
        return path
    return download(
        builtins.list(mirrors) if mirrors is not None else record.mirrors(),
        path,
        sha256=record.sha256,
    )


def get(
    name: str,
    pretrained: bool = True,
    *,
    mirrors: Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
) -> Module:
    """The zoo model ``name``, with its trained weights (``pretrained=True``) or freshly built.

    Args:
        name: one of ``deepgrad.models.list()``.
        pretrained: load the recorded weights. Default: True.
        mirrors: URLs to fetch a downloaded model's file from instead of the entry's.
        cache_dir: where downloaded weights are kept. Default: ``<data home>/models``.

    Returns:
        The model, in training mode as every new Module is: call ``.eval()`` before inference.
        ``entry(name)`` holds the record (recipe, settings, data, test metric).

    Example:
        >>> import deepgrad
        >>> model = deepgrad.models.get("lenet5-mnist").eval()
        >>> model(deepgrad.zeros(1, 1, 28, 28)).shape
        (1, 10)
    """
    record = entry(name)
    model = record.build()
    if pretrained:
        model.load_state_dict(load(weights_path(name, mirrors, cache_dir)))
    return model


__all__ = ["WEIGHTS_MIRRORS", "ZOO", "ZooEntry", "entry", "get", "list_models", "weights_path"]
