"""``torch.utils.data`` under deepgrad: re-exports of ``deepgrad.data`` (no second implementation).

Submodules follow PyTorch's paths: ``deepgrad.utils.data.dataloader``, ``.sampler``, ``.dataset``.
"""

from deepgrad.data.collate import default_collate, default_convert
from deepgrad.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from deepgrad.data.distributed import DistributedSampler
from deepgrad.data.loader import DataLoader
from deepgrad.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from deepgrad.data.worker import WorkerInfo, get_worker_info
from deepgrad.utils.data import dataloader, dataset, distributed, sampler

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "WorkerInfo",
    "dataloader",
    "dataset",
    "default_collate",
    "default_convert",
    "distributed",
    "get_worker_info",
    "random_split",
    "sampler",
]
