"""deepgrad.utils.data: PyTorch's paths, the dataset classes, samplers, collation and DataLoader workers."""

from __future__ import annotations

import collections
import gc
import multiprocessing
import random
import threading
import time
import tracemalloc

import numpy as np
import pytest

import deepgrad
import deepgrad.data
from deepgrad.backend import ShapeError
from deepgrad.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    get_worker_info,
    random_split,
)

PUBLIC = [
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "Subset",
    "ConcatDataset",
    "ChainDataset",
    "random_split",
    "DataLoader",
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
    "default_collate",
    "default_convert",
    "get_worker_info",
]


# ---------------------------------------------------------------- datasets used by the workers
# (module level, so that they would also pickle under the "spawn" start method)


class Probe(Dataset):
    """Each sample says which worker made it and what that worker's random generators gave."""

    def __init__(self, n: int = 12):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        worker = -1 if info is None else info.id
        seed = -1 if info is None else info.seed
        tag = -1 if info is None else getattr(info.dataset, "tag", -1)
        return {
            "index": i,
            "square": np.float32(i * i),
            "worker": worker,
            "seed": seed,
            "tag": tag,
            "python": random.random(),
            "numpy": float(np.random.random()),
            "deepgrad": float(deepgrad.rand(1).item()),
        }


def set_tag(worker_id: int) -> None:
    get_worker_info().dataset.tag = 100 + worker_id


class Broken(Dataset):
    def __len__(self) -> int:
        return 20

    def __getitem__(self, i):
        if i == 13:
            raise KeyError("sample 13 is broken")
        return np.float32(i)


class Slow(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i):
        time.sleep(0.8)
        return i


class Stream(IterableDataset):
    """0..n-1, split between workers by get_worker_info when ``shard``."""

    def __init__(self, n: int, shard: bool = True):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


class ArrayRows(Dataset):
    """The whole-batch (threaded) path: get_batch records the worker that fetched the batch."""

    def __init__(self, n: int = 16):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        return (np.float32(i),)

    def get_batch(self, indices, generator=None):
        info = get_worker_info()
        worker = -1 if info is None else info.id
        return (indices.astype(np.float32), np.full(len(indices), worker))


def loader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("deepgrad-loader")]


def wait_until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


# ---------------------------------------------------------------- paths


def test_every_name_has_one_home_in_deepgrad_data():
    import deepgrad.utils.data as utils_data

    for name in PUBLIC:
        assert getattr(utils_data, name) is getattr(deepgrad.data, name), name


def test_pytorch_submodule_paths():
    from deepgrad.utils.data.dataloader import (
        DataLoader as D,
    )
    from deepgrad.utils.data.dataloader import (
        default_collate as dc,
    )
    from deepgrad.utils.data.dataloader import (
        get_worker_info as gwi,
    )
    from deepgrad.utils.data.dataset import Dataset as Ds
    from deepgrad.utils.data.dataset import IterableDataset as It
    from deepgrad.utils.data.dataset import random_split as rs
    from deepgrad.utils.data.sampler import BatchSampler as B
    from deepgrad.utils.data.sampler import WeightedRandomSampler as W

    assert (D, dc, gwi) == (DataLoader, default_collate, get_worker_info)
    assert (Ds, It, rs) == (Dataset, IterableDataset, random_split)
    assert (BatchSampler, WeightedRandomSampler) == (B, W)
    assert (
        deepgrad.utils.data.DataLoader is DataLoader
    )  # `import deepgrad as torch; torch.utils.data...`


# ---------------------------------------------------------------- datasets


def test_iterable_and_chain_datasets():
    assert list(Stream(4)) == [0, 1, 2, 3]
    assert list(Stream(2) + Stream(3)) == [0, 1, 0, 1, 2]
    assert len(ChainDataset([TensorDataset(np.arange(2)), TensorDataset(np.arange(3))])) == 5
    with pytest.raises(TypeError, match="ChainDataset"):
        ConcatDataset([TensorDataset(np.arange(2)), Stream(3)])
    with pytest.raises(TypeError, match="read with iter"):
        Stream(3)[0]


def test_tensor_dataset_subset_and_concat_give_tensors():
    ds = TensorDataset(deepgrad.arange(6).reshape(3, 2), np.array([7, 8, 9]))
    x, y = ds[2]
    assert isinstance(x, deepgrad.Tensor) and x.tolist() == [4, 5] and y.item() == 9
    assert Subset(ds, [2, 0])[1][1].item() == 7
    assert (ds + ds)[4][1].item() == 8


@pytest.mark.parity
@pytest.mark.filterwarnings("ignore:Length of split")
@pytest.mark.parametrize("n", [1, 7, 10, 23, 101])
@pytest.mark.parametrize(
    "fractions", [[0.5, 0.5], [0.8, 0.1, 0.1], [0.34, 0.33, 0.33], [0.7, 0.3], [1.0]]
)
def test_random_split_lengths_match_pytorch(n, fractions):
    torch = pytest.importorskip("torch")
    ours = random_split(
        TensorDataset(np.arange(n)), fractions, generator=deepgrad.Generator().manual_seed(0)
    )
    theirs = torch.utils.data.random_split(
        range(n), fractions, generator=torch.Generator().manual_seed(0)
    )
    assert [len(p) for p in ours] == [len(p) for p in theirs]
    assert sorted(np.concatenate([p.indices for p in ours]).tolist()) == list(range(n))


def test_random_split_is_repeatable_under_manual_seed():
    ds = TensorDataset(np.arange(30))
    deepgrad.manual_seed(4)
    a = [p.indices.tolist() for p in random_split(ds, [10, 20])]
    deepgrad.manual_seed(4)
    assert [p.indices.tolist() for p in random_split(ds, [10, 20])] == a


# ---------------------------------------------------------------- collation


def _structure(batch):
    """Types, shapes and values of a collated batch, comparable between deepgrad and PyTorch."""
    if hasattr(batch, "shape") and hasattr(batch, "tolist"):
        return ("tensor", tuple(batch.shape), batch.tolist())
    if isinstance(batch, dict):
        return {k: _structure(v) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return (type(batch).__name__, [_structure(v) for v in batch])
    if isinstance(batch, (list, tuple)):
        return (type(batch).__name__, [_structure(v) for v in batch])
    return batch


Point = collections.namedtuple("Point", ["x", "y"])


def _nested_samples():
    return [
        (
            np.full((2, 3), i, np.float32),
            i,
            {"a": np.int64(i), "b": [np.float32(i), (i, i + 1)]},
            Point(np.float32(i), [i, 2 * i]),
            f"name{i}",
        )
        for i in range(3)
    ]


def test_default_collate_on_nested_structures():
    image, label, mapping, point, names = default_collate(_nested_samples())
    assert image.shape == (3, 2, 3) and image.dtype == np.float32
    assert label.tolist() == [0, 1, 2] and label.dtype == np.int64
    assert mapping["a"].dtype == np.int64 and mapping["b"][1][1].tolist() == [1, 2, 3]
    assert isinstance(point, Point) and point.y[1].tolist() == [0, 2, 4]
    assert names == ("name0", "name1", "name2")
    assert (
        default_collate([1.5, 2.0]).dtype == np.float32
    )  # deepgrad's float default (PyTorch: float64)
    assert default_collate([True, False]).dtype == np.bool_
    stacked = default_collate([deepgrad.ones(2), deepgrad.zeros(2)])
    assert stacked.shape == (2, 2) and not stacked.requires_grad


@pytest.mark.parity
def test_default_collate_output_structure_matches_pytorch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    assert _structure(default_collate(_nested_samples())) == _structure(
        torch_collate(_nested_samples())
    )
    with_tensors = [(deepgrad.ones(3) * i, [i]) for i in range(2)]
    torch_tensors = [(torch.ones(3) * i, [i]) for i in range(2)]
    assert _structure(default_collate(with_tensors)) == _structure(torch_collate(torch_tensors))


def test_default_collate_errors_name_the_field():
    with pytest.raises(ShapeError, match=r"field 1\['x'\] has samples of different shapes"):
        default_collate([(0, {"x": np.zeros(2)}), (1, {"x": np.zeros(3)})])
    with pytest.raises(ShapeError, match="same number of fields"):
        default_collate([(1, 2), (1, 2, 3)])
    with pytest.raises(TypeError, match="collate_fn"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="non-empty"):
        default_collate([])


def test_batch_size_none_converts_single_samples():
    out = list(DataLoader(Probe(3), batch_size=None))
    assert [o["index"] for o in out] == [0, 1, 2]
    assert isinstance(out[2]["square"], deepgrad.Tensor) and out[2]["square"].shape == ()


# ---------------------------------------------------------------- samplers


def test_infinite_sampler_draws_lazily_in_bounded_memory():
    sampler = RandomSampler(range(10), replacement=True, num_samples=int(1e10))
    assert len(sampler) == 10**10
    tracemalloc.start()
    start = time.perf_counter()
    iterator = iter(sampler)
    first = [next(iterator) for _ in range(1000)]
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert set(first) <= set(range(10)) and len(set(first)) == 10
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert elapsed < 5.0  # a generous bound; drawing all 1e10 would take minutes and 75 GiB


def test_infinite_loader_takes_batches_lazily():
    ds = TensorDataset(np.arange(10, dtype=np.float32))
    sampler = RandomSampler(
        ds, replacement=True, num_samples=int(1e10), generator=deepgrad.Generator().manual_seed(0)
    )
    loader = DataLoader(ds, batch_size=4, sampler=sampler)
    assert len(loader) == 25 * 10**8
    batches = [b for _, b in zip(range(5), loader)]
    assert all(b[0].shape == (4,) for b in batches)


@pytest.mark.parametrize(
    "make",
    [
        lambda g: RandomSampler(range(7), generator=g),
        lambda g: RandomSampler(range(7), replacement=True, num_samples=20, generator=g),
        lambda g: SubsetRandomSampler([3, 1, 4, 5], generator=g),
        lambda g: WeightedRandomSampler([0.1, 0.5, 0.4], 12, generator=g),
    ],
)
def test_samplers_repeat_under_manual_seed_and_their_own_generator(make):
    deepgrad.manual_seed(11)
    first = list(make(None))
    deepgrad.manual_seed(11)
    assert list(make(None)) == first
    own = [list(make(deepgrad.Generator().manual_seed(5))) for _ in range(2)]
    assert own[0] == own[1]


def test_weighted_random_sampler():
    g = deepgrad.Generator().manual_seed(0)
    drawn = np.array(list(WeightedRandomSampler([1.0, 0.0, 3.0], 20000, generator=g)))
    assert set(drawn.tolist()) == {0, 2}
    assert abs((drawn == 2).mean() - 0.75) < 0.02
    once = list(WeightedRandomSampler([1.0, 1.0, 5.0, 0.0], 3, replacement=False, generator=g))
    assert sorted(once) == [0, 1, 2]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(ValueError, match="num_samples"):
        WeightedRandomSampler([1.0], 0)


@pytest.mark.parity
@pytest.mark.parametrize(
    "n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False)]
)
def test_batch_sampler_batches_match_pytorch(n, batch_size, drop_last):
    torch = pytest.importorskip("torch")
    ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    theirs = torch.utils.data.BatchSampler(
        torch.utils.data.SequentialSampler(range(n)), batch_size, drop_last
    )
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


# ---------------------------------------------------------------- DataLoader arguments


def test_every_pytorch_argument_is_accepted():
    loader = DataLoader(
        TensorDataset(np.arange(8, dtype=np.float32)),
        4,
        False,
        None,
        None,
        1,
        None,
        True,
        False,
        30.0,
        None,
        "fork",
        deepgrad.Generator().manual_seed(0),
        prefetch_factor=3,
        persistent_workers=True,
        pin_memory_device="cuda",
        in_order=True,
    )
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert loader.pin_memory and loader.prefetch_factor == 3 and loader.timeout == 30.0


@pytest.mark.parity
@pytest.mark.parametrize(
    "kwargs",
    [
        {"prefetch_factor": 2},
        {"persistent_workers": True},
        {"batch_sampler": [[0, 1]], "batch_size": 2},
        {"batch_sampler": [[0, 1]], "shuffle": True},
        {"batch_sampler": [[0, 1]], "drop_last": True},
        {"batch_sampler": [[0, 1]], "sampler": [0, 1]},
        {"sampler": [0, 1], "shuffle": True},
        {"batch_size": None, "drop_last": True},
        {"timeout": -1},
        {"num_workers": -1},
        {"multiprocessing_context": "fork"},
    ],
)
def test_invalid_combinations_raise_valueerror_as_in_pytorch(kwargs):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        torch.utils.data.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError, match="DataLoader"):
        DataLoader(list(range(4)), **kwargs)


@pytest.mark.parametrize("kwargs", [{"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}])
def test_iterable_dataset_rejects_order_options(kwargs):
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(4), **kwargs)


def test_iterable_dataset_in_the_main_process():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [
        [0, 1, 2],
        [3, 4, 5],
    ]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]
    with pytest.raises(TypeError):
        len(DataLoader(Stream(3)))


# ---------------------------------------------------------------- workers


def _epoch(loader):
    return [
        {k: v.tolist() if isinstance(v, deepgrad.Tensor) else v for k, v in b.items()}
        for b in loader
    ]


@pytest.mark.parametrize("shuffle", [False, True])
def test_process_workers_give_the_batches_of_num_workers_0(shuffle):
    def run(workers):
        g = deepgrad.Generator().manual_seed(3)
        loader = DataLoader(
            Probe(23), batch_size=4, shuffle=shuffle, num_workers=workers, generator=g
        )
        return [(b["index"], b["square"]) for b in _epoch(loader)]

    assert run(0) == run(2) == run(3)


def test_get_worker_info_outside_and_inside_workers():
    assert get_worker_info() is None
    loader = DataLoader(Probe(12), batch_size=2, num_workers=3, worker_init_fn=set_tag)
    batches = _epoch(loader)
    # round-robin: batch k is made by worker k % 3; the worker's own dataset got its tag
    assert [b["worker"] for b in batches] == [[k % 3] * 2 for k in range(6)]
    assert [b["tag"] for b in batches] == [[100 + k % 3] * 2 for k in range(6)]
    seeds = [b["seed"][0] for b in batches[:3]]
    assert seeds[1] == seeds[0] + 1 and seeds[2] == seeds[0] + 2  # base_seed + worker_id
    assert get_worker_info() is None


def test_per_worker_seeds_are_distinct_and_repeatable():
    def run():
        deepgrad.manual_seed(21)
        batches = _epoch(DataLoader(Probe(8), batch_size=4, num_workers=2))
        return [(b["seed"][0], b["python"][0], b["numpy"][0], b["deepgrad"][0]) for b in batches]

    first = run()
    assert first == run()
    (seed0, *draws0), (seed1, *draws1) = first
    assert seed0 != seed1
    assert all(a != b for a, b in zip(draws0, draws1))


def test_iterable_dataset_sharded_with_get_worker_info():
    got = [b.tolist() for b in DataLoader(Stream(10), batch_size=3, num_workers=2)]
    assert got == [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]  # the order PyTorch gives
    unsharded = [
        x
        for b in DataLoader(Stream(5, shard=False), batch_size=2, num_workers=2)
        for x in b.tolist()
    ]
    assert sorted(unsharded) == sorted(list(range(5)) * 2)  # each worker yields the whole stream


@pytest.mark.parity
def test_iterable_dataset_worker_order_matches_pytorch():
    torch = pytest.importorskip("torch")

    class TorchStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            return iter(range(info.id, 10, info.num_workers))

    theirs = [
        b.tolist() for b in torch.utils.data.DataLoader(TorchStream(), batch_size=3, num_workers=2)
    ]
    assert [b.tolist() for b in DataLoader(Stream(10), batch_size=3, num_workers=2)] == theirs


def test_exception_in_a_worker_is_raised_naming_the_worker():
    loader = DataLoader(Broken(), batch_size=4, num_workers=2)
    got = []
    with pytest.raises(KeyError, match="sample 13 is broken") as info:
        for batch in loader:
            got.append(batch.tolist())
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert "DataLoader worker process 1" in str(info.value)
    assert wait_until(lambda: not multiprocessing.active_children())


def test_worker_init_fn_error_is_raised():
    def init(worker_id):
        raise ValueError(f"init failed in {worker_id}")

    with pytest.raises(ValueError, match="init failed in 0"):
        next(iter(DataLoader(ArrayRows(), batch_size=4, num_workers=1, worker_init_fn=init)))


def test_timeout_raises():
    loader = DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.2)
    with pytest.raises(RuntimeError, match="timeout=0.2"):
        next(iter(loader))
    assert wait_until(lambda: not multiprocessing.active_children())


def test_in_order_false_yields_every_batch():
    loader = DataLoader(Probe(12), batch_size=2, num_workers=3, in_order=False)
    assert sorted(i for b in _epoch(loader) for i in b["index"]) == list(range(12))


def test_no_worker_leaks_after_exhaustion_or_break():
    before = set(threading.enumerate())
    count = threading.active_count()

    def no_new_threads_or_processes() -> bool:
        return not (set(threading.enumerate()) - before) and not multiprocessing.active_children()

    for loader in (
        DataLoader(Probe(12), batch_size=2, num_workers=2),
        DataLoader(ArrayRows(), batch_size=2, num_workers=2),
    ):
        assert len(list(loader)) == len(loader) > 0
        assert wait_until(no_new_threads_or_processes), set(threading.enumerate()) - before
        iterator = iter(loader)
        next(iterator)
        assert (
            set(threading.enumerate()) - before or multiprocessing.active_children()
        )  # workers were running
        del iterator
        assert wait_until(no_new_threads_or_processes), set(threading.enumerate()) - before
    assert threading.active_count() <= count
    assert loader_threads() == []


def test_persistent_workers_live_across_epochs_and_end_with_the_loader():
    loader = DataLoader(Probe(8), batch_size=2, num_workers=2, persistent_workers=True)
    first = _epoch(loader)
    pids = {p.pid for p in multiprocessing.active_children()}
    assert len(pids) == 2
    second = _epoch(loader)
    assert {p.pid for p in multiprocessing.active_children()} == pids
    assert [b["index"] for b in first] == [b["index"] for b in second]
    half = iter(loader)
    next(half)
    assert [b["index"] for b in _epoch(loader)] == [
        b["index"] for b in first
    ]  # a new epoch takes over
    del loader, half
    assert wait_until(lambda: not multiprocessing.active_children())


def test_whole_batch_path_uses_threads_with_worker_info():
    batches = list(DataLoader(ArrayRows(16), batch_size=4, num_workers=2))
    assert [b[1].tolist() for b in batches] == [[k % 2] * 4 for k in range(4)]
    assert [b[0].tolist() for b in batches] == [list(range(k, k + 4)) for k in range(0, 16, 4)]
    assert not multiprocessing.active_children()


def test_persistent_workers_end_when_the_loader_is_dropped_mid_epoch():
    loader = DataLoader(Probe(8), batch_size=2, num_workers=2, persistent_workers=True)
    iterator = iter(loader)
    next(iterator)
    assert len(multiprocessing.active_children()) == 2
    gc.disable()
    try:
        del loader, iterator  # no reference cycle: this ends the workers without waiting for the gc
        assert wait_until(lambda: not multiprocessing.active_children())
    finally:
        gc.enable()
    assert wait_until(lambda: not multiprocessing.active_children())
