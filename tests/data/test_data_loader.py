"""Datasets, samplers and the DataLoader: coverage, order, repeatability, prefetching, errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import deepgrad
from deepgrad.backend import ShapeError
from deepgrad.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    random_split,
)


def make_dataset(n=23, transform=None):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(x, y, transform=transform)


class NoisyTransform:
    """Adds noise drawn from the generator it is handed (as deepgrad's augmentations do)."""

    takes_generator = True

    def __call__(self, x, generator=None):
        rng = (generator or deepgrad.default_generator).np
        return x + rng.standard_normal(x.shape).astype(x.dtype)


class PlainDataset(Dataset):
    """No get_batch: the loader must collate sample by sample."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, i, dtype=np.float32), i


def labels_of(loader):
    return [y.numpy().tolist() for _, y in loader]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size", [1, 5, 23, 50])
def test_every_sample_exactly_once_per_epoch(shuffle, batch_size):
    loader = DataLoader(make_dataset(23), batch_size=batch_size, shuffle=shuffle)
    for _ in range(2):
        batches = labels_of(loader)
        seen = [i for b in batches for i in b]
        assert sorted(seen) == list(range(23))
        assert len(batches) == len(loader) == -(-23 // batch_size)
        assert all(len(b) == batch_size for b in batches[:-1])


def test_batches_hold_the_right_rows_and_types():
    ds = make_dataset(10)
    for x, y in DataLoader(ds, batch_size=4, shuffle=True):
        assert isinstance(x, deepgrad.Tensor) and isinstance(y, deepgrad.Tensor)
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert not x.requires_grad
        np.testing.assert_array_equal(x.numpy(), ds.arrays[0][y.numpy()])


def test_sequential_batches_are_in_order_and_do_not_alias_the_dataset():
    ds = make_dataset(10)
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert y.tolist() == [0, 1, 2, 3]
    x.numpy()[:] = -1
    assert ds.arrays[0][0, 0] == 0


def test_drop_last():
    loader = DataLoader(make_dataset(23), batch_size=5, shuffle=True, drop_last=True)
    batches = labels_of(loader)
    assert len(batches) == len(loader) == 4
    assert all(len(b) == 5 for b in batches)
    assert len({i for b in batches for i in b}) == 20


def test_shuffle_is_repeatable_under_manual_seed_and_changes_between_epochs():
    loader = DataLoader(make_dataset(50), batch_size=7, shuffle=True)
    deepgrad.manual_seed(123)
    first, second = labels_of(loader), labels_of(loader)
    deepgrad.manual_seed(123)
    assert labels_of(loader) == first
    assert labels_of(loader) == second
    assert first != second


def test_shuffle_with_own_generator_ignores_the_default_one():
    def run(seed):
        g = deepgrad.Generator().manual_seed(seed)
        loader = DataLoader(make_dataset(50), batch_size=7, shuffle=True, generator=g)
        deepgrad.manual_seed(np.random.randint(1 << 30))
        return labels_of(loader)

    assert run(5) == run(5)
    assert run(5) != run(6)


@pytest.mark.parametrize("num_workers", [1, 3])
def test_prefetching_yields_the_same_batches_as_without(num_workers):
    ds = make_dataset(41, transform=NoisyTransform())

    def epoch(workers):
        g = deepgrad.Generator().manual_seed(7)
        prefetch = {"prefetch_factor": 2} if workers else {}
        loader = DataLoader(
            ds, batch_size=4, shuffle=True, generator=g, num_workers=workers, **prefetch
        )
        return [(x.numpy().copy(), y.numpy().copy()) for x, y in loader]

    plain, threaded = epoch(0), epoch(num_workers)
    assert len(plain) == len(threaded) == 11
    for (x0, y0), (x1, y1) in zip(plain, threaded):
        np.testing.assert_array_equal(y0, y1)
        np.testing.assert_array_equal(x0, x1)
    # the transform really drew random numbers (otherwise the check above proves little)
    assert not np.array_equal(plain[0][0], ds.arrays[0][plain[0][1]])


def test_worker_exception_is_raised_in_the_main_thread():
    class Broken(PlainDataset):
        def __getitem__(self, i):
            if i == 13:
                raise KeyError("sample 13 is broken")
            return super().__getitem__(i)

    loader = DataLoader(Broken(20), batch_size=4, num_workers=2)
    got = []
    with pytest.raises(KeyError, match="sample 13 is broken"):
        for _, y in loader:
            got.append(y.tolist())
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def _loader_threads():
    return [t for t in threading.enumerate() if t.name.startswith("deepgrad-loader")]


def test_breaking_out_of_a_prefetching_loop_stops_its_threads():
    loader = DataLoader(make_dataset(200), batch_size=2, num_workers=2, prefetch_factor=3)
    for i, _ in enumerate(loader):
        if i == 3:
            break
    deadline = time.monotonic() + 5
    while _loader_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _loader_threads() == []


def test_plain_dataset_is_collated_sample_by_sample():
    x, y = next(iter(DataLoader(PlainDataset(9), batch_size=4)))
    assert x.shape == (4, 2) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2, 3]


def test_single_array_samples_give_a_single_tensor_and_dicts_a_dict():
    class Single(PlainDataset):
        def __getitem__(self, i):
            return np.float32(i)

    class Dicts(PlainDataset):
        def __getitem__(self, i):
            return {"x": np.zeros(3, np.float32), "label": i}

    batch = next(iter(DataLoader(Single(5), batch_size=5)))
    assert isinstance(batch, deepgrad.Tensor) and batch.tolist() == [0, 1, 2, 3, 4]
    batch = next(iter(DataLoader(Dicts(5), batch_size=2)))
    assert batch["x"].shape == (2, 3) and batch["label"].tolist() == [0, 1]


def test_collate_fn_receives_the_samples():
    loader = DataLoader(
        make_dataset(6), batch_size=3, collate_fn=lambda samples: [int(s[1]) for s in samples]
    )
    assert list(loader) == [[0, 1, 2], [3, 4, 5]]


def test_collate_rejects_ragged_samples():
    class Ragged(PlainDataset):
        def __getitem__(self, i):
            return np.zeros(i + 1, np.float32), i

    with pytest.raises(ShapeError, match="field 0 has samples of different shapes"):
        next(iter(DataLoader(Ragged(3), batch_size=3)))


def test_subset_and_concat_fast_paths_match_sample_by_sample():
    a, b = make_dataset(10), TensorDataset(np.full((4, 3), -1, np.float32), np.arange(100, 104))
    cat = ConcatDataset([a, b])
    assert len(cat) == 14
    idx = np.array([13, 0, 10, 5, 11])
    x, y = cat.get_batch(idx)
    assert y.tolist() == [103, 0, 100, 5, 101]
    np.testing.assert_array_equal(x, np.stack([cat[int(i)][0] for i in idx]))
    sub = Subset(cat, [12, 3])
    assert sub.get_batch(np.array([1, 0]))[1].tolist() == [3, 102]
    mixed = ConcatDataset(
        [PlainDataset(3), TensorDataset(np.ones((2, 2), np.float32), np.array([7, 8]))]
    )
    assert mixed.get_batch(np.array([4, 0]))[1].tolist() == [8, 0]
    assert [y.tolist() for _, y in DataLoader(a + b, batch_size=7)] == [
        list(range(7)),
        [7, 8, 9, 100, 101, 102, 103],
    ]


def test_random_split_counts_and_fractions():
    ds = make_dataset(23)
    g = deepgrad.Generator().manual_seed(0)
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=g)
    assert [len(p) for p in parts] == [12, 7, 4]
    everything = np.concatenate([p.indices for p in parts])
    assert sorted(everything.tolist()) == list(range(23))
    again = random_split(ds, [0.5, 0.3, 0.2], generator=deepgrad.Generator().manual_seed(0))
    assert all(np.array_equal(p.indices, q.indices) for p, q in zip(parts, again))
    assert [len(p) for p in random_split(ds, [20, 3])] == [20, 3]
    with pytest.raises(ValueError, match="add up to the dataset size 23"):
        random_split(ds, [20, 4])
    with pytest.raises(ValueError, match="add up to 1"):
        random_split(ds, [0.5, 0.6])


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    g = deepgrad.Generator().manual_seed(3)
    r = RandomSampler(range(10), generator=g)
    assert sorted(r) == list(range(10)) and len(r) == 10
    rr = RandomSampler(range(3), replacement=True, num_samples=50, generator=g)
    drawn = list(rr)
    assert len(drawn) == 50 and set(drawn) <= {0, 1, 2}
    assert sorted(SubsetRandomSampler([9, 4, 6], generator=g)) == [4, 6, 9]
    assert list(BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    loader = DataLoader(
        make_dataset(10), batch_sampler=BatchSampler(SequentialSampler(range(10)), 4)
    )
    assert labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    loader = DataLoader(
        make_dataset(10), batch_size=3, sampler=SubsetRandomSampler([1, 5, 7, 8], generator=g)
    )
    assert sorted(i for b in labels_of(loader) for i in b) == [1, 5, 7, 8]


def test_tensor_dataset_accepts_tensors_and_lists():
    ds = TensorDataset(deepgrad.tensor([[1.0, 2.0], [3.0, 4.0]]), [0, 1])
    x, y = ds[1]
    assert x.tolist() == [3.0, 4.0] and int(y) == 1
    assert ds.tensors[1].dtype == np.int64
    assert isinstance(ds.tensors[0], deepgrad.Tensor)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (
            lambda: TensorDataset(np.zeros((3, 2)), np.zeros(4)),
            ShapeError,
            "same number of samples",
        ),
        (lambda: TensorDataset(), ValueError, "at least one array"),
        (
            lambda: DataLoader(make_dataset(), batch_size=0),
            ValueError,
            "batch_size must be a positive int",
        ),
        (lambda: DataLoader(make_dataset(), num_workers=-1), ValueError, "num_workers"),
        (
            lambda: DataLoader(make_dataset(), num_workers=1, prefetch_factor=0),
            ValueError,
            "prefetch_factor",
        ),
        (
            lambda: DataLoader(make_dataset(), prefetch_factor=2),
            ValueError,
            "needs num_workers > 0",
        ),
        (
            lambda: DataLoader(make_dataset(), persistent_workers=True),
            ValueError,
            "needs num_workers > 0",
        ),
        (
            lambda: DataLoader(make_dataset(), multiprocessing_context="fork"),
            ValueError,
            "num_workers > 0",
        ),
        (
            lambda: DataLoader(make_dataset(), num_workers=1, multiprocessing_context="nope"),
            ValueError,
            "one of",
        ),
        (lambda: DataLoader(make_dataset(), timeout=-1), ValueError, "timeout"),
        (
            lambda: DataLoader(make_dataset(), batch_size=None, drop_last=True),
            ValueError,
            "batch_size=None",
        ),
        (
            lambda: DataLoader(make_dataset(), pin_memory="yes"),
            TypeError,
            "pin_memory must be True or False",
        ),
        (
            lambda: DataLoader(make_dataset(), shuffle=True, sampler=SequentialSampler(range(3))),
            ValueError,
            "not both",
        ),
        (
            lambda: DataLoader(
                make_dataset(), batch_size=4, batch_sampler=BatchSampler(range(3), 2)
            ),
            ValueError,
            "batch_sampler",
        ),
        (
            lambda: DataLoader([1, 2], generator=np.random.default_rng()),
            TypeError,
            "deepgrad.Generator",
        ),
        (lambda: DataLoader(5), TypeError, "__len__ and __getitem__"),
        (lambda: Subset(make_dataset(5), [0, 5]), IndexError, r"\[0, 5\)"),
        (lambda: make_dataset(5)[5], IndexError, "out of range"),
        (
            lambda: RandomSampler(range(3), num_samples=0),
            ValueError,
            "num_samples must be a positive int",
        ),
        (
            lambda: RandomSampler(range(3), generator=np.random.default_rng()),
            TypeError,
            "deepgrad.Generator",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_device_argument_places_batches():
    loader = DataLoader(make_dataset(6), batch_size=3, device="cpu")
    x, y = next(iter(loader))
    assert x.device.type == "cpu" and y.device.type == "cpu"
    assert "batches=2" in repr(loader)


def test_deprecated_prefetch_name_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match="prefetch_factor"):
        loader = DataLoader(make_dataset(8), batch_size=4, num_workers=1, prefetch=3)
    assert loader.prefetch_factor == 3
    assert labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_random_sampler_without_replacement_repeats_whole_permutations():
    g = deepgrad.Generator().manual_seed(1)
    drawn = list(RandomSampler(range(4), num_samples=10, generator=g))
    assert len(drawn) == 10
    assert sorted(drawn[:4]) == sorted(drawn[4:8]) == [0, 1, 2, 3]
    assert len(set(drawn[8:])) == 2


def test_batch_sampler_is_lazy_over_chunks():
    """Batches that straddle the samplers' chunk boundary are whole and in order."""
    from deepgrad.data.sampler import CHUNK

    n = CHUNK + 5
    batches = list(BatchSampler(SequentialSampler(range(n)), 7, drop_last=False).batch_arrays())
    assert np.array_equal(np.concatenate(batches), np.arange(n))
    assert all(len(b) == 7 for b in batches[:-1])
    assert len(batches[-1]) == (n % 7 or 7)


def test_loader_yields_a_list_of_tensors_like_pytorch():
    batch = next(iter(DataLoader(make_dataset(4), batch_size=2)))
    assert isinstance(batch, list) and len(batch) == 2
    assert all(isinstance(t, deepgrad.Tensor) for t in batch)


def test_tensor_dataset_items_are_tensors_sharing_memory():
    ds = make_dataset(3)
    x, y = ds[1]
    assert isinstance(x, deepgrad.Tensor) and isinstance(y, deepgrad.Tensor)
    assert y.shape == () and int(y) == 1
    assert np.shares_memory(x.numpy(), ds.arrays[0])
