"""Data: datasets, samplers, the DataLoader, preprocessing, augmentation and bundled datasets.

``from deepgrad.data import DataLoader, TensorDataset, MNIST`` covers the common case; the
bundled and synthetic datasets also live in ``deepgrad.data.datasets``.
"""

from deepgrad.data import datasets
from deepgrad.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, collate_arrays, random_split
from deepgrad.data.datasets import (
    MNIST,
    DataFormatError,
    DownloadError,
    FashionMNIST,
    ImageArrayDataset,
    data_home,
    download,
    load_embedded_mnist,
    read_idx,
    write_idx,
)
from deepgrad.data.loader import DataLoader, default_collate
from deepgrad.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler
