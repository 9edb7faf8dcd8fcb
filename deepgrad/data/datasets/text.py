"""Text for character-level models: a vocabulary, a windowed dataset, and a shipped public-domain corpus.

``load_corpus("alice")`` is Lewis Carroll's "Alice's Adventures in Wonderland" (1865,
public domain; about 148 000 characters), shipped in ``deepgrad/data/embedded`` (source in
its README). Any other text file loads with ``load_text(path)``.

Example:
    >>> text = load_corpus("alice")
    >>> ds = TextDataset(text, seq_len=64)
    >>> x, y = ds[0]
    >>> ds.vocab.decode(x[:5]), ds.vocab.decode(y[:5])
    ('ALICE', "LICE'")
"""

from __future__ import annotations

import gzip
import itertools
import os
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from deepgrad.backend.random import Generator
from deepgrad.backend.validation import positive_int
from deepgrad.data.dataset import Dataset
from deepgrad.data.datasets.errors import DataFormatError
from deepgrad.data.datasets.mnist import embedded_path

CORPORA = {"alice": "alice_in_wonderland.txt.gz"}


def load_corpus(name: str = "alice") -> str:
    """A text shipped with deepgrad, by name (see ``CORPORA``), with its leading blank lines removed."""
    if name not in CORPORA:
        raise ValueError(f"load_corpus: unknown corpus {name!r}; available: {sorted(CORPORA)}")
    with gzip.open(embedded_path(CORPORA[name]), "rt", encoding="ascii") as f:
        return f.read().lstrip("\n ")


def load_text(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """The whole of a text file (``.gz`` allowed), with Windows line ends made ``\\n``.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: (a ValueError) the text is not valid in ``encoding``, or the gzip data
            is damaged; the message names the file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding=encoding, newline=None) as f:
            return f.read()
    except UnicodeDecodeError as error:
        raise DataFormatError(
            f"load_text: {path} is not valid {encoding} at byte {error.start}; pass the file's encoding, "
            "e.g. encoding='latin-1'"
        ) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DataFormatError(
            f"load_text: {path}: the gzip data is damaged or truncated ({error}); fetch the file again"
        ) from None


class CharVocabulary:
    """A mapping between characters and integer ids (0 .. len - 1, in sorted character order).

    Args:
        chars: the characters (any iterable: a text, a list); duplicates are ignored.

    Example:
        >>> v = CharVocabulary("hello")
        >>> v.chars, v.encode("hole").tolist(), v.decode([3, 1])
        (['e', 'h', 'l', 'o'], [1, 3, 2, 0], 'oh')
    """

    def __init__(self, chars: Iterable[str]):
        self.chars = sorted(set(chars))
        if not self.chars:
            raise ValueError("CharVocabulary: needs at least one character (got an empty text)")
        self.index = {c: i for i, c in enumerate(self.chars)}
        # fast encoding of 1-byte (Latin-1) text through a lookup table
        self._table = None
        if max(map(ord, self.chars)) < 256:
            self._table = np.full(256, -1, dtype=np.int64)
            self._table[[ord(c) for c in self.chars]] = np.arange(len(self.chars))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text``'s characters, int64 (len(text),)."""
        if self._table is not None and text.isascii():
            ids = self._table[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
            if ids.size == 0 or ids.min() >= 0:
                return ids
        try:
            return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as error:
            raise KeyError(
                f"CharVocabulary.encode: character {error.args[0]!r} is not in the vocabulary of {len(self)} "
                "characters; build the vocabulary from all the text (training and test)"
            ) from None

    def decode(self, ids: Sequence[int]) -> str:
        """The text of a sequence of ids (a list, an array or a 1-D Tensor)."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise IndexError(
                f"CharVocabulary.decode: ids must lie in [0, {len(self)}) (got {ids.min()}..{ids.max()})"
            )
        return "".join(self.chars[i] for i in ids.tolist())

    def state_dict(self) -> dict:
        """A JSON-able description ({"chars": "..."}) to save with a model."""
        return {"chars": "".join(self.chars)}

    @classmethod
    def from_state_dict(cls, state: dict) -> CharVocabulary:
        """The vocabulary that ``state_dict()`` described (its inverse: the result encodes and
        decodes as the vocabulary that was saved)."""
        return cls(state["chars"])

    def __repr__(self) -> str:
        return f"CharVocabulary({len(self)} characters)"


class TextDataset(Dataset):
    """Windows of a text for next-character prediction: x = chars[s : s+T], y = chars[s+1 : s+T+1].

    Args:
        text: the text (use ``load_text`` / ``load_corpus`` to read one).
        seq_len: T, the characters per sample.
        vocab: a ``CharVocabulary``; default: one built from ``text``.
        stride: the distance between the starts of consecutive windows. Default: ``seq_len``
            (non-overlapping windows); 1 uses every position.

    Shape:
        one sample: x int64 (T,), y int64 (T,); a batch from ``DataLoader``: (B, T) each.

    Example:
        >>> ds = TextDataset("abcabcabc", seq_len=3)
        >>> len(ds), ds.vocab.decode(ds[1][0]), ds.vocab.decode(ds[1][1])
        (2, 'abc', 'bca')
    """

    def __init__(
        self,
        text: str,
        seq_len: int,
        vocab: CharVocabulary | None = None,
        stride: int | None = None,
    ):
        if not isinstance(text, str):
            raise TypeError(
                f"TextDataset: text must be a str (got {type(text).__name__}); read files with load_text(path)"
            )
        positive_int(seq_len, "seq_len", "TextDataset")
        stride = seq_len if stride is None else positive_int(stride, "stride", "TextDataset")
        if len(text) < seq_len + 1:
            raise ValueError(
                f"TextDataset: the text has {len(text)} characters, fewer than seq_len + 1 = {seq_len + 1}; "
                "use a shorter seq_len or a longer text"
            )
        self.vocab = vocab if vocab is not None else CharVocabulary(text)
        self.ids = self.vocab.encode(text)
        self.seq_len = seq_len
        self.stride = stride
        self._windows = np.lib.stride_tricks.sliding_window_view(self.ids, seq_len + 1)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        seq_len: int,
        vocab: CharVocabulary | None = None,
        stride: int | None = None,
        encoding: str = "utf-8",
    ) -> TextDataset:
        """A TextDataset of a text file."""
        return cls(load_text(path, encoding), seq_len, vocab, stride)

    def __len__(self) -> int:
        return (len(self.ids) - self.seq_len - 1) // self.stride + 1

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        if not isinstance(index, (int, np.integer)) or not -n <= index < n:
            raise IndexError(f"TextDataset: index {index!r} is out of range for {n} windows")
        window = self._windows[(int(index) % n) * self.stride]
        return window[:-1].copy(), window[1:].copy()

    def get_batch(
        self, indices, generator: Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and next-character targets, int64 (B, T) each."""
        windows = self._windows[np.asarray(indices) * self.stride]
        return windows[:, :-1].copy(), windows[:, 1:].copy()

    def __repr__(self) -> str:
        return (
            f"TextDataset({len(self.ids)} characters, {len(self.vocab)} distinct, "
            f"{len(self)} windows of {self.seq_len})"
        )


def split_text(text: str, fractions: Sequence[float] = (0.9, 0.1)) -> list[str]:
    """Cut a text into consecutive parts (e.g. train / validation) of the given fractions.

    Consecutive parts, not random windows: overlapping windows of one passage in both splits
    would leak the validation text into training.
    """
    fractions = [float(f) for f in fractions]
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"split_text: fractions must be >= 0 and add up to 1 (got {fractions})")
    bounds = np.round(np.cumsum([0.0, *fractions]) * len(text)).astype(int)
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


__all__ = ["CharVocabulary", "TextDataset", "load_text", "load_corpus", "split_text", "CORPORA"]
