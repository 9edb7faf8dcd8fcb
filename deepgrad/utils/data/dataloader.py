"""``torch.utils.data.dataloader`` under deepgrad: re-exports from ``deepgrad.data``."""

from deepgrad.data.collate import default_collate, default_convert
from deepgrad.data.loader import DataLoader
from deepgrad.data.worker import WorkerInfo, get_worker_info

__all__ = ["DataLoader", "WorkerInfo", "default_collate", "default_convert", "get_worker_info"]
