"""DataLoader and sampler state: a loader resumed inside an epoch continues it exactly."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.data import DataLoader, IterableDataset, TensorDataset
from deepgrad.data.sampler import (
    CHUNK,
    BatchSampler,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

X = np.arange(200, dtype=np.float32).reshape(100, 2)
Y = np.arange(100)

LOADERS = {
    "shuffle": lambda: {"shuffle": True},
    "own generator": lambda: {"shuffle": True, "generator": dg.Generator().manual_seed(3)},
    "sequential": lambda: {"shuffle": False},
    "replacement, several permutations": lambda: {
        "sampler": RandomSampler(range(100), num_samples=300)
    },
    "weighted": lambda: {"sampler": WeightedRandomSampler(np.linspace(0, 1, 100), 250)},
    "subset": lambda: {"sampler": SubsetRandomSampler(list(range(0, 100, 3)))},
    "workers": lambda: {"shuffle": True, "num_workers": 2},
    "no batching": lambda: {"shuffle": True, "batch_size": None},
}


def build(options):
    kwargs = {"batch_size": 7, **options}
    return DataLoader(TensorDataset(X, Y), **kwargs)


def labels(batches):
    return [np.asarray(b[1]).tolist() for b in batches]


@pytest.mark.parametrize("name", list(LOADERS))
@pytest.mark.parametrize("used", [1, 4])
def test_a_resumed_epoch_continues_with_the_next_batch(name, used):
    dg.manual_seed(0)
    loader = build(LOADERS[name]())
    reference = [labels(loader), labels(loader)]

    dg.manual_seed(0)
    loader = build(LOADERS[name]())
    iterator = iter(loader)
    got = labels(next(iterator) for _ in range(used))
    state = loader.state_dict()
    assert state["batches"] == used
    rng = dg.default_generator.get_state()
    own = loader.generator.get_state() if loader.generator is not None else None
    del iterator

    dg.manual_seed(123)  # another process: other random state, the same construction
    resumed = build(LOADERS[name]())
    dg.default_generator.set_state(rng)
    if own is not None:
        resumed.generator.set_state(own)
    resumed.load_state_dict(state)
    got += labels(resumed)
    assert got == reference[0]
    assert labels(resumed) == reference[1]  # the next epoch draws as the uninterrupted run's


def test_lazy_chunks_after_the_saved_ones_come_from_the_live_generator():
    """An epoch longer than one chunk: the chunks drawn before the checkpoint are replayed from
    their recorded states, the later ones drawn where the uninterrupted run drew them."""
    n = CHUNK + 5000
    make = lambda: RandomSampler(range(10), replacement=True, num_samples=n)
    dg.manual_seed(1)
    sampler = make()
    reference = []
    for _k, chunk in enumerate(sampler.index_chunks()):
        reference.append(chunk)
        dg.randn(3)  # other draws (dropout) between the chunks
    reference = np.concatenate(reference)

    dg.manual_seed(1)
    sampler = make()
    chunks = sampler.index_chunks()
    first = next(chunks)
    state, rng = sampler.state_dict(), dg.default_generator.get_state()
    assert len(state["draws"]) == 1
    dg.manual_seed(7)
    resumed = make()
    dg.default_generator.set_state(rng)
    resumed.load_state_dict({**state, "start": 100})
    rest = []
    for chunk in resumed.index_chunks():
        rest.append(chunk)
        dg.randn(3)
    np.testing.assert_array_equal(np.concatenate([first[:100], *rest]), reference)


def test_batch_sampler_over_a_plain_list_skips_its_used_batches():
    sampler = BatchSampler([4, 3, 2, 1, 0], batch_size=2)
    sampler.load_state_dict({"start": 1})
    assert list(sampler) == [[2, 1], [0]]
    assert list(sampler) == [[4, 3], [2, 1], [0]]  # once only


def test_sequential_sampler_starts_where_asked():
    sampler = SequentialSampler(range(5))
    assert sampler.state_dict() == {}
    sampler.load_state_dict({"start": 3})
    assert list(sampler) == [3, 4]


class Counting(IterableDataset):
    def __iter__(self):
        return iter(range(10))


def test_iterable_dataset_resumes_by_dropping_the_used_batches():
    loader = DataLoader(Counting(), batch_size=3)
    iterator = iter(loader)
    next(iterator)
    state = loader.state_dict()
    resumed = DataLoader(Counting(), batch_size=3)
    resumed.load_state_dict(state)
    assert [b.tolist() for b in resumed] == [[3, 4, 5], [6, 7, 8], [9]]


def test_state_at_an_epoch_end_or_before_any_epoch_gives_a_fresh_epoch():
    loader = build({"shuffle": False})
    assert loader.state_dict() == {"batches": 0}
    list(loader)
    state = loader.state_dict()
    assert state["batches"] == len(loader)
    fresh = build({"shuffle": False})
    fresh.load_state_dict(state)
    assert len(list(fresh)) == len(loader)


def test_state_errors():
    loader = build({"shuffle": True})
    with pytest.raises(ValueError, match="DataLoader.load_state_dict: expected a state"):
        loader.load_state_dict({"position": 3})
    with pytest.raises(ValueError, match="lacks 'base_seed'"):
        loader.load_state_dict({"batches": 3})
    sampler = RandomSampler(range(10))
    with pytest.raises(ValueError, match="start must be an int >= 0"):
        sampler.load_state_dict({"start": -1})
    sampler.load_state_dict({"start": 4})  # no recorded draw for the used indices
    with pytest.raises(ValueError, match="cannot resume at index 4"):
        list(sampler)
