"""Samplers: the order in which a ``DataLoader`` visits a dataset's indices.

Each sampler yields Python ints (as PyTorch's do) and also hands the loader a
whole epoch's indices as one NumPy array (``index_array()``), so an epoch's order
costs one ``permutation`` call, not a Python loop.
"""

from __future__ import annotations

from typing import Iterator, Sized

import numpy as np

from deepgrad.backend.random import Generator, default_generator


def _positive_int(name: str, owner: str, value) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int (got {value!r})")
    return int(value)


class Sampler:
    """Base class: ``__iter__`` yields indices, ``__len__`` says how many per epoch.

    Subclasses may override ``index_array()`` to give one epoch's indices at once.
    """

    def __iter__(self) -> Iterator[int]:
        raise TypeError(f"{type(self).__name__}: a Sampler subclass must define __iter__")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__}: a Sampler subclass must define __len__")

    def index_array(self) -> np.ndarray:
        """One epoch's indices as an int64 array (draws a new order for random samplers)."""
        return np.fromiter(iter(self), dtype=np.int64)


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

    def index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))


class RandomSampler(Sampler):
    """A new random order every epoch (a permutation, so every sample exactly once).

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw ``num_samples`` indices with replacement instead of a permutation.
            Default: False.
        num_samples: how many indices per epoch; only with ``replacement=True``.
            Default: ``len(data_source)``.
        generator: the ``deepgrad.Generator`` to draw from. Default: the generator that
            ``deepgrad.manual_seed`` seeds.

    Example:
        >>> import deepgrad
        >>> sorted(RandomSampler(range(4), generator=deepgrad.Generator().manual_seed(0)))
        [0, 1, 2, 3]
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement must be a bool (got {replacement!r})")
        if num_samples is not None:
            num_samples = _positive_int("num_samples", "RandomSampler", num_samples)
            if not replacement:
                raise ValueError(
                    "RandomSampler: num_samples needs replacement=True (a permutation visits each sample once); "
                    "use a Subset to sample fewer without replacement"
                )
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator

    @property
    def num_samples(self) -> int:
        return self._num_samples if self._num_samples is not None else len(self.data_source)

    def __len__(self) -> int:
        return self.num_samples

    def index_array(self) -> np.ndarray:
        rng = (self.generator or default_generator).np
        n = len(self.data_source)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        return rng.permutation(n).astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())


class SubsetRandomSampler(Sampler):
    """The given indices, in a new random order every epoch.

    Example:
        >>> sorted(SubsetRandomSampler([5, 1, 3]))
        [1, 3, 5]
    """

    def __init__(self, indices, generator: Generator | None = None):
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.generator = generator

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def index_array(self) -> np.ndarray:
        return self.indices[(self.generator or default_generator).np.permutation(len(self.indices))]

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of ``batch_size``.

    Args:
        sampler: any sampler (or iterable of indices).
        batch_size: indices per batch.
        drop_last: drop the last, smaller batch. Default: False.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool = False):
        self.sampler = sampler
        self.batch_size = _positive_int("batch_size", "BatchSampler", batch_size)
        if not isinstance(drop_last, bool):
            raise TypeError(f"BatchSampler: drop_last must be a bool (got {drop_last!r})")
        self.drop_last = drop_last

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def batch_arrays(self) -> list[np.ndarray]:
        """One epoch's batches as int64 arrays."""
        if hasattr(self.sampler, "index_array"):
            indices = self.sampler.index_array()
        else:
            indices = np.fromiter(iter(self.sampler), dtype=np.int64)
        n, b = len(indices), self.batch_size
        stop = n - n % b if self.drop_last else n
        return [indices[i : i + b] for i in range(0, stop, b)]

    def __iter__(self) -> Iterator[list]:
        return iter([batch.tolist() for batch in self.batch_arrays()])


__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler"]
