"""DataLoader: batches of a dataset as deepgrad Tensors, optionally prefetched in threads.

One epoch = one pass over the sampler's indices, so every sample is visited exactly
once (unless a sampler with replacement is given). Batches come from
``dataset.get_batch(indices)`` when the dataset has it (one NumPy gather per
field) and otherwise from ``collate_fn([dataset[i] for i in indices])``.

Randomness: the epoch's order is drawn when iteration starts, in the calling
thread. Each batch also gets its own ``Generator``, seeded from one number drawn
per epoch; the dataset hands it to its transforms (deepgrad's augmentations take
it). So a batch's content does not depend on which thread fetched it or on what
else drew random numbers meanwhile, and ``num_workers > 0`` yields exactly the
batches ``num_workers=0`` yields.
"""

from __future__ import annotations

import collections
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import parse_device, to_device
from deepgrad.backend.random import Generator, default_generator
from deepgrad.data.dataset import collate_arrays
from deepgrad.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler


def default_collate(samples: list):
    """Stack samples into batch Tensors: tuples of fields -> tuple of Tensors, one array -> one Tensor,
    dicts -> dict of Tensors.

    Example:
        >>> x, y = default_collate([(1.0, 0), (2.0, 1)])
        >>> x.shape, y.dtype
        ((2,), dtype('int64'))
    """
    first = samples[0]
    if isinstance(first, dict):
        keys = list(first)
        columns = collate_arrays([tuple(s[k] for k in keys) for s in samples])
        return {k: Tensor._make(c, None) for k, c in zip(keys, columns)}
    columns = collate_arrays(samples)
    if not isinstance(first, (tuple, list)):
        return Tensor._make(columns[0], None)
    return tuple(Tensor._make(c, None) for c in columns)


class DataLoader:
    """Iterates over a dataset in batches of deepgrad Tensors.

    Args:
        dataset: a ``Dataset`` (``len`` and ``[i]``); array-backed ones (``TensorDataset``,
            ``MNIST``, ``Subset``/``ConcatDataset`` of them...) are sliced a whole batch at a time.
        batch_size: samples per batch. Default: 1.
        shuffle: a new random order every epoch. Default: False.
        sampler: a ``Sampler`` giving the order instead (not with ``shuffle``).
        batch_sampler: a sampler yielding whole batches of indices (not with ``batch_size``,
            ``shuffle``, ``sampler`` or ``drop_last``).
        num_workers: threads that fetch batches ahead of the training loop (NumPy releases the GIL
            while it copies and resamples). 0 fetches in the calling thread. Threads, unlike
            processes, are safe in Jupyter. Default: 0.
        collate_fn: turns a list of samples into a batch; when given, samples are fetched one by
            one and its result is yielded as is. Default: stack into Tensors.
        drop_last: drop the last batch if it is smaller than ``batch_size``. Default: False.
        generator: the ``deepgrad.Generator`` for shuffling and per-batch augmentation seeds.
            Default: the generator that ``deepgrad.manual_seed`` seeds.
        prefetch: batches each worker keeps ready ahead (the queue holds
            ``num_workers * prefetch``). Default: 2.
        device: put every batch on this device (e.g. "cuda"). Default: leave it where it is (CPU).

    Yields:
        a tuple of Tensors shaped like one sample with a batch axis first (``(x, y)`` for a
        ``TensorDataset(x, y)``); a single Tensor for datasets whose samples are single arrays.

    Example:
        >>> import numpy as np
        >>> from deepgrad.data import TensorDataset
        >>> ds = TensorDataset(np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5))
        >>> [y.tolist() for x, y in DataLoader(ds, batch_size=2)]
        [[0, 1], [2, 3], [4]]
        >>> len(DataLoader(ds, batch_size=2, drop_last=True))
        2
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool = False,
        *,
        sampler: Sampler | None = None,
        batch_sampler: Sampler | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        drop_last: bool = False,
        generator: Generator | None = None,
        prefetch: int = 2,
        device=None,
    ):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: dataset must define __len__ and __getitem__ (got {type(dataset).__name__}); "
                "wrap arrays in TensorDataset(x, y)"
            )
        if not isinstance(shuffle, bool):
            raise TypeError(f"DataLoader: shuffle must be a bool (got {shuffle!r})")
        if not isinstance(drop_last, bool):
            raise TypeError(f"DataLoader: drop_last must be a bool (got {drop_last!r})")
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be an int >= 0 (got {num_workers!r})")
        if not isinstance(prefetch, int) or isinstance(prefetch, bool) or prefetch < 1:
            raise ValueError(f"DataLoader: prefetch must be an int >= 1 (got {prefetch!r})")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable (got {type(collate_fn).__name__})")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"DataLoader: generator must be a deepgrad.Generator (got {type(generator).__name__})")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler already decides batch_size, order and drop_last; "
                    "do not pass batch_size, shuffle, sampler or drop_last with it"
                )
            batch_size = None
        else:
            if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
                raise ValueError(f"DataLoader: batch_size must be a positive int (got {batch_size!r})")
            if sampler is not None and shuffle:
                raise ValueError("DataLoader: pass either shuffle=True or a sampler, not both (the sampler sets the order)")
            if sampler is None:
                sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.generator = generator
        self.prefetch = prefetch
        self.device = parse_device(device) if device is not None else None

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def _epoch_batches(self) -> list[np.ndarray]:
        if hasattr(self.batch_sampler, "batch_arrays"):
            return self.batch_sampler.batch_arrays()
        return [np.asarray(b, dtype=np.int64) for b in self.batch_sampler]

    def _fetch(self, indices: np.ndarray, seed: np.random.SeedSequence):
        generator = _BatchGenerator(seed)
        if self.collate_fn is not None:
            return self.collate_fn([self.dataset[int(i)] for i in indices])
        if hasattr(self.dataset, "get_batch"):
            fields = self.dataset.get_batch(indices, generator=generator)
            batch = tuple(Tensor._make(f._data if isinstance(f, Tensor) else f, None) for f in fields)
        else:
            batch = default_collate([self.dataset[int(i)] for i in indices])
        return self._to_device(batch) if self.device is not None else batch

    def _to_device(self, batch):
        if isinstance(batch, Tensor):
            return Tensor._make(to_device(batch._data, self.device), None)
        if isinstance(batch, dict):
            return {k: self._to_device(v) for k, v in batch.items()}
        return tuple(self._to_device(t) for t in batch)

    def __iter__(self) -> Iterator:
        batches = self._epoch_batches()
        # one draw per epoch, made here in the calling thread, seeds every batch's augmentation
        base = int((self.generator or default_generator).np.integers(0, 2**63 - 1))
        seeds = np.random.SeedSequence(base).spawn(len(batches))
        if self.num_workers == 0:
            return (self._fetch(idx, s) for idx, s in zip(batches, seeds))
        return _PrefetchIterator(self, batches, seeds)

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
            f"batches={len(self)}, num_workers={self.num_workers})"
        )


class _BatchGenerator(Generator):
    """A ``Generator`` for one batch, built lazily: most batches of most datasets never draw."""

    def __init__(self, seed: np.random.SeedSequence):
        self.device = parse_device("cpu")
        self._seed = int(seed.generate_state(1, np.uint64)[0])
        self._seed_sequence = seed
        self._np = None
        self._cupy_rng = None

    @property
    def np(self):
        if self._np is None:
            self._np = np.random.Generator(np.random.PCG64(self._seed_sequence))
        return self._np

    @np.setter
    def np(self, value):
        self._np = value


class _PrefetchIterator:
    """Runs ``loader._fetch`` in a thread pool, at most ``num_workers * prefetch`` batches ahead,
    and yields the results in order. A worker's exception is raised here, in the caller's thread.
    Breaking out of the loop (or deleting the iterator) cancels what is queued."""

    def __init__(self, loader: DataLoader, batches: list, seeds: list):
        self._closed = False
        self._pending: collections.deque[tuple[int, Future]] = collections.deque()
        self._loader = loader
        self._jobs = zip(range(len(batches)), batches, seeds)
        self._pool = ThreadPoolExecutor(max_workers=loader.num_workers, thread_name_prefix="deepgrad-loader")
        for _ in range(loader.num_workers * loader.prefetch):
            if not self._submit():
                break

    def _submit(self) -> bool:
        job = next(self._jobs, None)
        if job is None:
            return False
        k, indices, seed = job
        self._pending.append((k, self._pool.submit(self._loader._fetch, indices, seed)))
        return True

    def __iter__(self) -> "_PrefetchIterator":
        return self

    def __next__(self):
        if not self._pending:
            self.close()
            raise StopIteration
        k, future = self._pending.popleft()
        try:
            batch = future.result()
        except BaseException as error:
            self.close()
            if hasattr(error, "add_note"):
                error.add_note(f"(raised in a DataLoader worker thread while fetching batch {k})")
            raise
        self._submit()
        return batch

    def close(self) -> None:
        if self._closed or not hasattr(self, "_pool"):
            return
        self._closed = True
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __del__(self):
        self.close()


__all__ = ["DataLoader", "default_collate"]
