"""Training checkpoints: the whole resumable state of a run in one safetensors file.

A checkpoint is ``Trainer.state_dict()`` written with ``deepgrad.save`` (atomic: temporary
file, fsync, rename, so a crash mid-write leaves the previous checkpoint intact) and marked
in its metadata as a Trainer checkpoint. Its model weights are under the key "model":
``model.load_state_dict(deepgrad.load(path)["model"])`` loads them without a Trainer.

A folder of resumable checkpoints (``ModelCheckpoint``'s ``last.safetensors`` at epoch ends,
``last.step<N>.safetensors`` inside epochs) has a manifest, ``last.latest.json``, rewritten
atomically after each successful write; ``latest_checkpoint(folder)`` returns the newest file
that loads, so a damaged or half-written file never replaces a good one.
"""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad.autograd import Tensor
from deepgrad.backend.random import Generator, default_generator
from deepgrad.io import SerializationError, load, load_metadata, save

KIND = "deepgrad.train.checkpoint"
VERSION = 1
REQUIRED = ("epoch", "global_step", "model", "optimizer", "rng", "history")


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write a Trainer state dict to ``path`` atomically."""
    metadata = {
        "kind": KIND,
        "version": VERSION,
        "epoch": state.get("epoch"),
        "global_step": state.get("global_step"),
        "mid_epoch": state.get("position") is not None,
        "world_size": state.get("world_size", 1),  # processes that trained it (data parallelism)
    }
    save(state, path, metadata=metadata)


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
    missing = (
        [key for key in REQUIRED if key not in state] if isinstance(state, dict) else list(REQUIRED)
    )
    if missing:
        raise SerializationError(
            f"load_checkpoint: {name!r} lacks {', '.join(missing)}; the file is damaged."
        )
    return state


def rng_state(loader: Any) -> dict[str, Any]:
    """The random state a resumed run needs: deepgrad's default generator, the loader's own, and
    Python's ``random`` and NumPy's global generator (for code that draws from them)."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "default": default_generator.get_state(),
        "loader": [g.get_state() for g in _loader_generators(loader)],
        "python": [version, np.asarray(internal, dtype=np.uint64), gauss],
        "numpy": [name, np.asarray(keys), int(pos), int(has_gauss), float(cached)],
    }


def _array(value: Any) -> np.ndarray:
    return np.asarray(value._data if isinstance(value, Tensor) else value)


def restore_rng(state: dict[str, Any], loader: Any) -> None:
    """Set the generators back to ``rng_state``'s ``state``; the loader must be built as before."""
    default_generator.set_state(state["default"])
    if "python" in state:  # checkpoints from before these were kept lack them
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(int(v) for v in _array(internal)), gauss))
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, _array(keys).astype(np.uint32), pos, has_gauss, cached))
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


# -- folders of resumable checkpoints ---------------------------------------------------------
MANIFEST_SUFFIX = ".latest.json"
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp$")  # deepgrad.save's temporaries


def step_path(last_path: str | os.PathLike, step: int) -> Path:
    """Where a checkpoint inside an epoch goes: ``last.safetensors`` -> ``last.step00000120.safetensors``."""
    last = Path(last_path)
    return last.with_name(f"{last.stem}.step{step:08d}{last.suffix}")


def manifest_path(last_path: str | os.PathLike) -> Path:
    last = Path(last_path)
    return last.with_name(last.stem + MANIFEST_SUFFIX)


def write_manifest(
    last_path: str | os.PathLike, written: str | os.PathLike, state_meta: dict
) -> None:
    """Point the manifest at ``written`` (atomically), then delete the family's other step files:
    they are older, or from a timeline a resume abandoned."""
    manifest = manifest_path(last_path)
    record = {"latest": Path(written).name, **state_meta}
    fd, tmp = tempfile.mkstemp(prefix=f".{manifest.name}.", suffix=".tmp", dir=manifest.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, manifest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    for other in _family(last_path):
        if other.name != Path(written).name and other != Path(last_path):
            other.unlink(missing_ok=True)


def _family(last_path: str | os.PathLike) -> list[Path]:
    last = Path(last_path)
    pattern = re.compile(re.escape(last.stem) + r"\.step\d+" + re.escape(last.suffix) + "$")
    if not last.parent.is_dir():
        return []
    return [p for p in last.parent.iterdir() if pattern.match(p.name)]


def remove_temporary_files(folder: str | os.PathLike) -> list[Path]:
    """Delete what killed checkpoint writes left in ``folder`` (``.<name>.<random>.tmp`` of
    ``.safetensors`` files and manifests); returns the deleted paths."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        match = _TEMPORARY.match(path.name)
        if match and match["name"].endswith((".safetensors", MANIFEST_SUFFIX)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def checkpoint_files(folder: str | os.PathLike, name: str = "last.safetensors") -> list[Path]:
    """The resumable checkpoints of ``folder`` that exist, loadable or not: ``name`` (the last
    epoch's) and its step files (``last.step<N>.safetensors``)."""
    last = Path(folder) / name
    return ([last] if last.is_file() else []) + sorted(_family(last))


def latest_checkpoint(folder: str | os.PathLike, name: str = "last.safetensors") -> Path:
    """The newest checkpoint of ``folder`` that loads: the manifest's, else the one with the
    highest step among ``last.safetensors`` and ``last.step*.safetensors``."""
    return _find_latest(Path(folder) / name)[0]


def _find_latest(last_path: Path) -> tuple[Path, dict[str, Any]]:
    candidates: list[Path] = []
    try:
        with open(manifest_path(last_path)) as f:
            candidates.append(last_path.with_name(str(json.load(f)["latest"])))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    ranked = []
    for path in [last_path, *_family(last_path)]:
        try:
            meta = load_metadata(path) or {}
        except (OSError, ValueError):  # missing or damaged (SerializationError): not a candidate
            continue
        step = meta.get("global_step")
        ranked.append((step if isinstance(step, int) else 0, path))
    candidates += [p for _, p in sorted(ranked, key=lambda r: r[0], reverse=True)]
    problems = []
    for path in candidates:
        try:
            return path, load_checkpoint(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # damaged: try the next newest
            problems.append(f"{path.name}: {exc}")
    detail = "; ".join(problems) if problems else "none found"
    raise FileNotFoundError(
        f"load_checkpoint: no loadable checkpoint in {os.fspath(last_path.parent)!r} ({detail}); "
        "train without resume_from to start anew."
    )


def resolve_checkpoint(where: str | os.PathLike) -> dict[str, Any]:
    """The state to resume from: ``where`` is a checkpoint file, or a folder of them (the newest
    that loads; leftover temporary files there are removed first)."""
    if os.path.isdir(where):
        remove_temporary_files(where)
        return _find_latest(Path(where) / "last.safetensors")[1]
    return load_checkpoint(where)


def detached(obj: Any) -> Any:
    """A copy of a state dict whose arrays no later training step or weight restore changes."""
    if isinstance(obj, Tensor):
        return Tensor._make(obj._data.copy(), None)
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, dict):
        return {k: detached(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(detached(v) for v in obj)
    return obj
