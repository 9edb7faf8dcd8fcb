"""Training checkpoints: the whole resumable state of a run in one safetensors file.

A checkpoint is ``Trainer.state_dict()`` written with ``deepgrad.save`` (atomic: temporary
file, fsync, rename, so a crash mid-write leaves the previous checkpoint intact) and marked
in its metadata as a Trainer checkpoint. Its model weights are under the key "model":
``model.load_state_dict(deepgrad.load(path)["model"])`` loads them without a Trainer.
"""

from __future__ import annotations

import os
from typing import Any

from deepgrad.io import load, load_metadata, save

KIND = "deepgrad.train.checkpoint"
VERSION = 1
REQUIRED = ("epoch", "global_step", "model", "optimizer", "rng", "history")


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write a Trainer state dict to ``path`` atomically."""
    save(state, path, metadata={"kind": KIND, "version": VERSION, "epoch": state.get("epoch")})


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; a clear error for anything else."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {os.fspath(path)!r}")
    metadata = load_metadata(path) or {}
    if metadata.get("kind") != KIND:
        raise ValueError(
            f"load_checkpoint: {os.fspath(path)!r} is not a Trainer checkpoint (metadata {metadata or 'none'}); "
            "weights-only files load with model.load_state_dict(deepgrad.load(path))."
        )
    if metadata.get("version") != VERSION:
        raise ValueError(
            f"load_checkpoint: {os.fspath(path)!r} has checkpoint version {metadata.get('version')!r}; "
            f"this deepgrad reads version {VERSION}."
        )
    state = load(path)
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise ValueError(f"load_checkpoint: {os.fspath(path)!r} lacks {', '.join(missing)}; the file is damaged.")
    return state
