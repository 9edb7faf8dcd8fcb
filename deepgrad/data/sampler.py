"""Samplers: the order in which a ``DataLoader`` visits a dataset's indices.

Each sampler yields Python ints (as PyTorch's do) and also hands the loader its
indices as NumPy arrays, a chunk at a time (``index_chunks()``), so an epoch's order
costs a few NumPy calls, not a Python loop per index, and a sampler of any length
(``RandomSampler(ds, replacement=True, num_samples=10**10)``, the usual "infinite
loader") needs memory for one chunk only.

Resuming inside an epoch: ``state_dict()`` describes the epoch in progress (for the
random samplers, the generator's state before each chunk they drew) and
``load_state_dict({**state, "start": n})`` makes the next epoch repeat that order from
its ``n``-th index, drawing the recorded chunks again from a private copy of the saved
state (the shared generator is not touched) and later chunks from the live generator,
as the interrupted epoch would have. The ``DataLoader`` does this for checkpoints.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import validation
from deepgrad.backend.random import Generator, default_generator

CHUNK = 1 << 16  # indices drawn per NumPy call by the lazy samplers (512 KiB of int64)


def _positive_int(name: str, owner: str, value) -> int:
    return validation.positive_int(value, name, owner)


def _check_bool(name: str, owner: str, value) -> bool:
    return validation.boolean(value, name, owner)


def _check_generator(owner: str, generator) -> Generator | None:
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(
            f"{owner}: generator must be a deepgrad.Generator (got {type(generator).__name__}); "
            "make one with deepgrad.Generator().manual_seed(seed)"
        )
    return generator


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).np


class Sampler:
    """Base class: ``__iter__`` yields indices, ``__len__`` says how many per epoch.

    Subclasses may override ``index_chunks()`` to give the indices as int64 arrays.

    Args:
        data_source: accepted for PyTorch compatibility and ignored. Default: None.
    """

    _resume: dict[str, Any] | None = None  # set by load_state_dict, used by the next epoch

    def __init__(self, data_source: Sized | None = None):
        pass

    def __iter__(self) -> Iterator[int]:
        raise TypeError(f"{type(self).__name__}: a Sampler subclass must define __iter__")

    def state_dict(self) -> dict[str, Any]:
        """What repeats the epoch in progress: empty for a sampler that draws nothing.

        A custom sampler that draws a random order in ``__iter__`` overrides this and
        ``load_state_dict`` (else a resumed epoch skips ``start`` indices of a new order).
        """
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Make the next epoch repeat the one ``state`` describes, from index ``state["start"]``.

        Args:
            state: what ``state_dict()`` returned, plus ``"start"``: how many indices of that
                epoch were already used (default 0).
        """
        if not isinstance(state, dict):
            raise TypeError(
                f"{type(self).__name__}.load_state_dict: state must be a dict "
                f"(got {type(state).__name__}); pass what state_dict() returned."
            )
        start = state.get("start", 0)
        if not isinstance(start, (int, np.integer)) or isinstance(start, bool) or start < 0:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: start must be an int >= 0 (got {start!r})"
            )
        self._resume = {**state, "start": int(start)}

    def _take_resume(self) -> dict[str, Any]:
        """The pending resume state (once): ``{"start": 0}`` when there is none."""
        resume, self._resume = self._resume, None
        return resume if resume is not None else {"start": 0}

    def index_chunks(self) -> Iterator[np.ndarray]:
        """One epoch's indices as int64 arrays (draws a new order for random samplers)."""
        start = self._take_resume()["start"] if isinstance(self, Sampler) else 0
        iterator = iter(self)
        if start:
            next(itertools.islice(iterator, start, start), None)  # skip the used indices
        while True:
            chunk = np.fromiter(itertools.islice(iterator, CHUNK), dtype=np.int64)
            if not chunk.size:
                return
            yield chunk

    def index_array(self) -> np.ndarray:
        """One epoch's indices as one int64 array (only for samplers of a sensible length)."""
        chunks = list(self.index_chunks())
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int64)


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, in order.

    Example:
        >>> list(SequentialSampler(range(3)))
        [0, 1, 2]
    """

    def __init__(self, data_source: Sized):
        self.data_source = data_source

    def __len__(self) -> int:
        return len(self.data_source)

    def index_chunks(self) -> Iterator[np.ndarray]:
        n = len(self.data_source)
        for start in range(self._take_resume()["start"], n, CHUNK):
            yield np.arange(start, min(start + CHUNK, n), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self._take_resume()["start"], len(self.data_source)))


Draw = Callable[[np.random.Generator], np.ndarray]


class _RandomOrder(Sampler):
    """Base of the random samplers: an epoch is a plan of chunks, each drawn from the generator.

    ``_plan()`` yields ``(offset, size, draw)`` per chunk; ``index_chunks`` draws them, keeping
    the generator's state before each draw, so that ``state_dict`` can repeat the epoch.
    """

    generator: Generator | None

    def _plan(self) -> Iterator[tuple[int, int, Draw]]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``{"draws": [[offset, generator state before the chunk's draw], ...]}`` of this epoch."""
        return {"draws": [list(d) for d in getattr(self, "_draws", [])]}

    def index_chunks(self) -> Iterator[np.ndarray]:
        resume = self._take_resume()
        start = resume["start"]
        recorded = {int(offset): state for offset, state in resume.get("draws", [])}
        self._draws: list[tuple[int, dict]] = []
        for offset, size, draw in self._plan():
            if offset < start and offset not in recorded:
                raise ValueError(
                    f"{type(self).__name__}: cannot resume at index {start}: the saved state "
                    f"has no draw for the chunk at {offset}; pass the state_dict() of the "
                    "epoch that used those indices."
                )
            if offset + size <= start:
                continue
            if offset in recorded:
                rng = np.random.Generator(np.random.PCG64())
                rng.bit_generator.state = recorded[offset]
            else:
                rng = _rng(self.generator)
            self._draws.append((offset, rng.bit_generator.state))
            chunk = draw(rng)
            yield chunk[start - offset :] if offset < start else chunk

    def __iter__(self) -> Iterator[int]:
        for chunk in self.index_chunks():
            yield from chunk.tolist()


class RandomSampler(_RandomOrder):
    """A new random order every epoch.

    Without replacement, each block of ``len(data_source)`` indices is a fresh permutation
    (so ``num_samples > len`` repeats whole permutations, then part of one, as PyTorch does).
    With replacement, ``num_samples`` independent uniform draws, made lazily in chunks of
    65536: memory stays constant for any ``num_samples``, e.g. ``10**10`` for an
    "infinite" loader.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw with replacement instead of permutations. Default: False.
        num_samples: how many indices per epoch. Default: ``len(data_source)``.
        generator: the ``deepgrad.Generator`` to draw from. Default: the generator that
            ``deepgrad.manual_seed`` seeds.

    Example:
        >>> import deepgrad
        >>> sorted(RandomSampler(range(4), generator=deepgrad.Generator().manual_seed(0)))
        [0, 1, 2, 3]
        >>> len(RandomSampler(range(4), replacement=True, num_samples=10**10))
        10000000000
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ):
        self.replacement = _check_bool("replacement", "RandomSampler", replacement)
        if num_samples is not None:
            num_samples = _positive_int("num_samples", "RandomSampler", num_samples)
        self.data_source = data_source
        self._num_samples = num_samples
        self.generator = _check_generator("RandomSampler", generator)

    @property
    def num_samples(self) -> int:
        """Indices per epoch: ``num_samples`` if given, else ``len(data_source)``."""
        return self._num_samples if self._num_samples is not None else len(self.data_source)

    def __len__(self) -> int:
        return self.num_samples

    def _plan(self) -> Iterator[tuple[int, int, Draw]]:
        n, total = len(self.data_source), self.num_samples
        if n == 0:
            if total:
                raise ValueError(
                    f"RandomSampler: cannot draw {total} samples from an empty dataset"
                )
            return
        step = CHUNK if self.replacement else n
        for start in range(0, total, step):
            size = min(step, total - start)
            if self.replacement:
                yield start, size, lambda rng, s=size: rng.integers(0, n, size=s, dtype=np.int64)
            else:
                yield start, size, lambda rng, s=size: rng.permutation(n).astype(np.int64)[:s]


class SubsetRandomSampler(_RandomOrder):
    """The given indices, in a new random order every epoch.

    Args:
        indices: the indices to visit.
        generator: the ``deepgrad.Generator`` to draw from. Default: the default generator.

    Example:
        >>> sorted(SubsetRandomSampler([5, 1, 3]))
        [1, 3, 5]
    """

    def __init__(self, indices: Sequence[int], generator: Generator | None = None):
        if isinstance(indices, Tensor):
            indices = indices._data
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.generator = _check_generator("SubsetRandomSampler", generator)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def _plan(self) -> Iterator[tuple[int, int, Draw]]:
        n = len(self.indices)
        yield 0, n, lambda rng: self.indices[rng.permutation(n)]


class WeightedRandomSampler(_RandomOrder):
    """Indices ``0..len(weights)-1`` drawn with probability ``weights[i] / sum(weights)``.

    With replacement the draws are made lazily in chunks (any ``num_samples``); without,
    ``num_samples`` must not exceed the number of non-zero weights.

    Args:
        weights: non-negative, finite weights, one per sample (they need not sum to 1).
        num_samples: how many indices per epoch.
        replacement: draw with replacement. Default: True.
        generator: the ``deepgrad.Generator`` to draw from. Default: the default generator.

    Example:
        >>> import deepgrad
        >>> g = deepgrad.Generator().manual_seed(0)
        >>> set(WeightedRandomSampler([0.0, 1.0, 0.0], 5, generator=g))
        {1}
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: Generator | None = None,
    ):
        self.num_samples = _positive_int("num_samples", "WeightedRandomSampler", num_samples)
        self.replacement = _check_bool("replacement", "WeightedRandomSampler", replacement)
        self.generator = _check_generator("WeightedRandomSampler", generator)
        if isinstance(weights, Tensor):
            weights = weights._data
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(
                f"WeightedRandomSampler: weights must be a non-empty 1-D sequence (got shape {w.shape})"
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                "WeightedRandomSampler: weights must be finite, non-negative and not all zero "
                f"(got min {w.min()}, sum {w.sum()})"
            )
        nonzero = int(np.count_nonzero(w))
        if not replacement and self.num_samples > nonzero:
            raise ValueError(
                f"WeightedRandomSampler: cannot draw {self.num_samples} samples without replacement from "
                f"{nonzero} non-zero weights; lower num_samples or pass replacement=True"
            )
        self.weights = w
        self._p = w / w.sum()

    def __len__(self) -> int:
        return self.num_samples

    def _plan(self) -> Iterator[tuple[int, int, Draw]]:
        n, total = len(self._p), self.num_samples
        if not self.replacement:
            yield (
                0,
                total,
                lambda rng: rng.choice(n, total, replace=False, p=self._p).astype(np.int64),
            )
            return
        cdf = np.cumsum(self._p)

        def draw(rng: np.random.Generator, size: int) -> np.ndarray:
            u = rng.random(size) * cdf[-1]
            # searchsorted on the cumulative weights: zero-weight indices are never chosen
            return np.minimum(np.searchsorted(cdf, u, side="right"), n - 1).astype(np.int64)

        for start in range(0, total, CHUNK):
            size = min(CHUNK, total - start)
            yield start, size, lambda rng, s=size: draw(rng, s)


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of ``batch_size``, lazily.

    Args:
        sampler: any sampler (or iterable of indices).
        batch_size: indices per batch.
        drop_last: drop the last, smaller batch. Default: False.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool = False):
        self.sampler = sampler
        self.batch_size = _positive_int("batch_size", "BatchSampler", batch_size)
        self.drop_last = _check_bool("drop_last", "BatchSampler", drop_last)

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        """The inner sampler's state (see ``Sampler.state_dict``) and the batch size."""
        inner = getattr(self.sampler, "state_dict", None)
        return {"sampler": inner() if inner is not None else {}, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Repeat the saved epoch from batch ``state["start"]`` (every batch before it is full).

        The batches before it held the saved state's ``batch_size`` indices each (which may
        differ from this sampler's: a data-parallel run resumed with another number of
        processes splits its global batch differently).
        """
        super().load_state_dict(state)

    def batch_arrays(self) -> Iterator[np.ndarray]:
        """One epoch's batches as int64 arrays, made as they are asked for."""
        resume = self._take_resume()
        skip = resume["start"]
        if skip and hasattr(self.sampler, "load_state_dict"):
            used = skip * int(resume.get("batch_size", self.batch_size))
            inner = {**resume.get("sampler", {}), "start": used}
            self.sampler.load_state_dict(inner)
            skip = 0
        if hasattr(self.sampler, "index_chunks"):
            chunks = self.sampler.index_chunks()
        else:
            chunks = Sampler.index_chunks(self.sampler)  # type: ignore[arg-type]
        if skip:  # a plain iterable of indices: its first batches are used already
            chunks = _skip(chunks, skip * self.batch_size)
        b, carry = self.batch_size, np.zeros(0, np.int64)
        for chunk in chunks:
            if carry.size:
                chunk = np.concatenate([carry, chunk])
            stop = chunk.size - chunk.size % b
            for i in range(0, stop, b):
                yield chunk[i : i + b]
            carry = chunk[stop:]
        if carry.size and not self.drop_last:
            yield carry

    def __iter__(self) -> Iterator[list]:
        for batch in self.batch_arrays():
            yield batch.tolist()


def _skip(chunks: Iterator[np.ndarray], count: int) -> Iterator[np.ndarray]:
    """``chunks`` without their first ``count`` indices."""
    for chunk in chunks:
        if count >= chunk.size:
            count -= chunk.size
            continue
        yield chunk[count:]
        count = 0


__all__ = [
    "BatchSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]
