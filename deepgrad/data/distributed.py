"""DistributedSampler: each rank of a data-parallel job reads its own disjoint shard."""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np

from deepgrad.data.sampler import Sampler, _check_bool

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """Rank r of R reads indices r, r + R, r + 2R, ... of one epoch's order (shuffled or not).

    The order is the same on every rank: a permutation drawn from ``seed + epoch``, so the
    shards are disjoint and together cover the data set once. Call ``set_epoch(epoch)`` at the
    start of each epoch to reshuffle. When ``len(dataset)`` is not a multiple of R, the order is
    padded by repeating its first indices (every rank then has ``ceil(len / R)`` samples), or,
    with ``drop_last``, cut to a multiple of R, as PyTorch does. (The permutation comes from
    NumPy's generator, not PyTorch's, so the orders differ from torch's for the same seed.)

    Args:
        dataset: the data set (only its length is used).
        num_replicas: R, the number of ranks. Default: the process group's world size.
        rank: this rank, 0 <= rank < R. Default: the process group's rank.
        shuffle: a new permutation each epoch instead of 0, 1, 2, ... Default: True.
        seed: the shared seed; must be the same on every rank. Default: 0.
        drop_last: drop the tail instead of padding. Default: False.

    Example:
        >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False))
        ...  for r in (0, 1)]
        [[0, 2, 4], [1, 3, 0]]
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            from deepgrad.distributed.group import get_rank, get_world_size

            num_replicas = get_world_size() if num_replicas is None else num_replicas
            rank = get_rank() if rank is None else rank
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(
                f"DistributedSampler: num_replicas must be a positive int (got {num_replicas!r})."
            )
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(
                f"DistributedSampler: invalid rank {rank!r}, rank should be in the interval "
                f"[0, {num_replicas - 1}]; pass the process's rank (dist.get_rank())."
            )
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"DistributedSampler: seed must be an int >= 0 (got {seed!r}).")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle = _check_bool("shuffle", "DistributedSampler", shuffle)
        self.drop_last = _check_bool("drop_last", "DistributedSampler", drop_last)
        self.seed = int(seed)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (the same on every rank) from the next iteration on."""
        if not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(
                f"DistributedSampler.set_epoch: epoch must be an int >= 0 (got {epoch!r})."
            )
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def index_chunks(self) -> Iterator[np.ndarray]:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        order = order.astype(np.int64, copy=False)
        if self.total_size > n:  # pad by repeating from the start (several times if R > n)
            order = np.resize(order, self.total_size) if n else order
        else:
            order = order[: self.total_size]
        shard = order[self.rank : self.total_size : self.num_replicas]
        if shard.size:
            yield shard

    def __iter__(self) -> Iterator[int]:
        for chunk in self.index_chunks():
            yield from chunk.tolist()
