"""PyTorch's ``torch.utils`` paths: ``deepgrad.utils.data`` (datasets, samplers, DataLoader).

Each name here lives in one home elsewhere in deepgrad (``deepgrad.data``) and is
re-exported, so ``from torch.utils.data import DataLoader`` carries over as
``from deepgrad.utils.data import DataLoader``.
"""

from deepgrad.utils import data

__all__ = ["data"]
