"""``torch.utils.data.distributed`` under deepgrad: re-exports ``deepgrad.data.distributed``."""

from deepgrad.data.distributed import DistributedSampler

__all__ = ["DistributedSampler"]
