"""``torch.nn.parallel`` under deepgrad: ``DistributedDataParallel``.

DDP needs the process group and collectives of ``deepgrad.distributed``, a layer above ``nn``,
so it lives there and is looked up here on first use (``nn`` itself never imports MPI).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DistributedDataParallel"]


def __getattr__(name: str) -> Any:
    if name == "DistributedDataParallel":
        from deepgrad.distributed.ddp import DistributedDataParallel

        return DistributedDataParallel
    raise AttributeError(f"module 'deepgrad.nn.parallel' has no attribute {name!r}")
