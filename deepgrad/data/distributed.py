"""DistributedSampler: each rank of a data-parallel job reads its own disjoint shard."""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

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

    Resuming inside an epoch (``DataLoader.state_dict`` / ``load_state_dict``, as the Trainer's
    checkpoints do): the sampler's state is the epoch and the number of ranks; the resumed epoch
    continues with the samples no rank has used yet, dealt out over the ranks of the resumed
    run, which may be more or fewer than before.

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
        self.num_samples = self._samples_per_rank(self.num_replicas)
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

    def state_dict(self) -> dict[str, Any]:
        """The epoch in progress and the number of ranks it was sharded over (for checkpoints)."""
        return {"epoch": self.epoch, "num_replicas": self.num_replicas}

    def _padded_order(self, epoch: int, total_size: int) -> np.ndarray:
        """The epoch's order of the whole data set, padded or cut to ``total_size``."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + epoch).permutation(n)
        else:
            order = np.arange(n)
        order = order.astype(np.int64, copy=False)
        if total_size > n:  # pad by repeating from the start (several times if R > n)
            return np.resize(order, total_size) if n else order
        return order[:total_size]

    def index_chunks(self) -> Iterator[np.ndarray]:
        """This rank's indices of the epoch; after ``load_state_dict({..., "start": s})`` the rest
        of the saved epoch, re-sharded when the saved number of ranks differs.

        Resuming: s indices per rank were used on R_saved ranks, i.e. the first s * R_saved
        positions of the saved epoch's (padded) order, whatever the ranks. The positions after
        them are dealt out over this sampler's ranks (padded or cut as usual), so a run resumed
        with another number of processes still sees each remaining sample of the epoch once.
        """
        resume = self._take_resume()
        start, epoch = int(resume["start"]), int(resume.get("epoch", self.epoch))
        if start and "num_replicas" not in resume:
            raise ValueError(
                "DistributedSampler: cannot continue inside an epoch drawn by another sampler "
                f"(resume state {sorted(resume)}); resume from a checkpoint taken at an epoch's "
                "end, or with the sampler the run started with."
            )
        saved = int(resume.get("num_replicas", self.num_replicas))
        if not start:
            shard = self._padded_order(epoch, self.total_size)[self.rank :: self.num_replicas]
        else:
            saved_samples = self._samples_per_rank(saved)
            rest = self._padded_order(epoch, saved_samples * saved)[start * saved :]
            per_rank = self._samples_per_rank(self.num_replicas, len(rest))
            if per_rank * self.num_replicas > rest.size and rest.size:
                rest = np.resize(rest, per_rank * self.num_replicas)
            shard = rest[self.rank : per_rank * self.num_replicas : self.num_replicas]
        if shard.size:
            yield shard

    def _samples_per_rank(self, replicas: int, n: int | None = None) -> int:
        n = len(self.dataset) if n is None else n
        return n // replicas if self.drop_last and n % replicas else -(-n // replicas)

    def __iter__(self) -> Iterator[int]:
        for chunk in self.index_chunks():
            yield from chunk.tolist()
