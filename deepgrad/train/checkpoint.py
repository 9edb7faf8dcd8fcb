"""Training checkpoints: the whole resumable state of a run in one safetensors file.

A checkpoint is ``Trainer.state_dict()`` written with ``deepgrad.save`` (atomic: temporary
file, fsync, rename, so a crash mid-write leaves the previous checkpoint intact) and marked
in its metadata as a Trainer checkpoint. Its model weights are under the key "model":
``model.load_state_dict(deepgrad.load(path)["model"])`` loads them without a Trainer.
"""

from __future__ import annotations

import os
from typing import Any

from deepgrad.backend.random import Generator, default_generator
from deepgrad.io import SerializationError, load, load_metadata, save

KIND = "deepgrad.train.checkpoint"
VERSION = 1
REQUIRED = ("epoch", "global_step", "model", "optimizer", "rng", "history")


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write a Trainer state dict to ``path`` atomically."""
    save(state, path, metadata={"kind": KIND, "version": VERSION, "epoch": state.get("epoch")})


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; a clear error for anything else.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        SerializationError: (a ValueError) the file is damaged, truncated, not a safetensors file,
            not a Trainer checkpoint or of another checkpoint version; the message names the file.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {name!r}")
    metadata = load_metadata(path)
    if not isinstance(metadata, dict) or metadata.get("kind") != KIND:
        raise SerializationError(
            f"load_checkpoint: {name!r} is not a Trainer checkpoint (metadata {metadata or 'none'!r:.200}); "
            "weights-only files load with model.load_state_dict(deepgrad.load(path))."
        )
    if metadata.get("version") != VERSION:
        raise SerializationError(
            f"load_checkpoint: {name!r} has checkpoint version {metadata.get('version')!r:.40}; "
            f"this deepgrad reads version {VERSION}."
        )
    state = load(path)
    missing = [key for key in REQUIRED if key not in state] if isinstance(state, dict) else list(REQUIRED)
    if missing:
        raise SerializationError(
            f"load_checkpoint: {name!r} lacks {', '.join(missing)}; the file is damaged."
        )
    return state


def rng_state(loader: Any) -> dict[str, Any]:
    """The random state a resumed run needs: deepgrad's default generator and the loader's own."""
    return {
        "default": default_generator.get_state(),
        "loader": [g.get_state() for g in _loader_generators(loader)],
    }


def restore_rng(state: dict[str, Any], loader: Any) -> None:
    """Set the generators back to ``rng_state``'s ``state``; the loader must be built as before."""
    default_generator.set_state(state["default"])
    generators = _loader_generators(loader)
    saved = state["loader"]
    if len(saved) != len(generators):
        raise ValueError(
            f"Trainer.fit: the checkpoint saved {len(saved)} data-loader generator(s) but this "
            f"loader has {len(generators)}; resume with a loader built like the original one."
        )
    for gen, gen_state in zip(generators, saved):
        gen.set_state(gen_state)


def _loader_generators(loader: Any) -> list[Generator]:
    """The distinct non-default Generators a loader shuffles and augments with."""
    found: list[Generator] = []
    batch_sampler = getattr(loader, "batch_sampler", None)
    for owner in (
        loader,
        getattr(loader, "sampler", None),
        batch_sampler,
        getattr(batch_sampler, "sampler", None),
    ):
        gen = getattr(owner, "generator", None)
        known = gen is default_generator or any(gen is g for g in found)
        if isinstance(gen, Generator) and not known:
            found.append(gen)
    return found
