"""``torch.utils.data.dataset`` under deepgrad: re-exports from ``deepgrad.data.dataset``."""

from deepgrad.data.dataset import ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset", "random_split"]
