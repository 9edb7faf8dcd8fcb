"""ModelCheckpoint: write checkpoints during training, atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from deepgrad.io import save
from deepgrad.train import checkpoint as ckpt
from deepgrad.train.callbacks.base import Callback, check_mode, is_improvement, monitored_value
from deepgrad.train.distributed import unwrap_model


class ModelCheckpoint(Callback):
    """Save the run at the end of epochs (the best one so far, every one, and/or the last one),
    every N steps, and when it is interrupted.

    Files are written with ``deepgrad.save`` (safetensors, no pickle), atomically: a crash while
    writing leaves the previous file intact. A full checkpoint (the default) holds everything
    ``Trainer.fit(resume_from=path)`` needs; ``weights_only=True`` writes just
    ``model.state_dict()`` (load with ``model.load_state_dict(deepgrad.load(path))``).

    Args:
        path: the file to write, e.g. "runs/best.safetensors". It may contain ``{epoch}`` and
            any epoch-log key as format fields ("ckpt-{epoch:03d}-{val_loss:.3f}.safetensors")
            to keep one file per save. Its folder is created if missing.
        monitor: epoch-log key deciding which epoch is best (checked at the first epoch end;
            a missing key raises ValueError listing the keys present). Default: "val_loss".
        mode: "min" or "max" for ``monitor``. Default: "min".
        save_best_only: write ``path`` only when ``monitor`` improves; False writes it every
            epoch. Default: True.
        save_last: also write the latest state, every epoch, to ``last.safetensors`` in the same
            folder (or to this path if a string is given): resume from it after a crash.
            Default: False.
        weights_only: write only the model's weights to ``path``. Default: False.
        every_n_steps: also write a resumable checkpoint every N optimizer steps, inside the
            epoch, to ``last.step<step>.safetensors`` next to the last file (implies
            ``save_last=True`` when it is False). Default: None.

    Resumable checkpoints (the last file and the step files) never replace a good one by a
    broken one: each is written to its own file, atomically, and only then does the manifest
    ``last.latest.json`` point at it (older step files are then deleted). When ``fit`` ends by
    an exception, Ctrl-C or SIGTERM between two steps, the state of that moment is written as a
    step file too. ``Trainer.fit(resume_from=<folder>)`` resumes from the newest one that loads,
    bit-exactly; ``on_fit_start`` removes temporary files that a killed write left behind.

    With several processes (data parallelism) it runs on every rank, which all see the same
    epoch records, and only rank 0 writes files; weights are those of the module inside
    ``DistributedDataParallel``.

    Attributes:
        best, best_epoch: the best monitored value and its epoch; ``best_path`` the file written.
        last_path: where ``save_last`` writes (None without save_last).
        interrupt_path: after ``fit`` ended by an exception or a signal, the resumable file
            that holds the state of that moment (a step file, or the last file when the run
            stopped right after an epoch's checkpoint); None when nothing of that moment was
            written (the run stopped inside a step, or the write failed).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        mode: str = "min",
        save_best_only: bool = True,
        save_last: bool | str | os.PathLike = False,
        weights_only: bool = False,
        every_n_steps: int | None = None,
    ):
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ValueError(f"ModelCheckpoint: path must be a file path (got {path!r})")
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                f"ModelCheckpoint: monitor must be a key of the epoch logs such as 'val_loss' (got {monitor!r})"
            )
        self.path = os.fspath(path)
        self.monitor = monitor
        self.mode = check_mode("ModelCheckpoint", mode)
        self.save_best_only = bool(save_best_only)
        self.weights_only = bool(weights_only)
        if every_n_steps is not None and (
            not isinstance(every_n_steps, int)
            or isinstance(every_n_steps, bool)
            or every_n_steps < 1
        ):
            raise ValueError(
                f"ModelCheckpoint: every_n_steps must be a positive int or None (got {every_n_steps!r})"
            )
        self.every_n_steps = every_n_steps
        if every_n_steps is not None and save_last is False:
            save_last = True
        if save_last is True:
            self.last_path: str | None = str(Path(self.path).parent / "last.safetensors")
        elif save_last is False or save_last is None:
            self.last_path = None
        else:
            self.last_path = os.fspath(save_last)
        if self.last_path is not None and self.last_path == self.path:
            raise ValueError(
                f"ModelCheckpoint: save_last would overwrite path {self.path!r}; give it another file name."
            )
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_path: str | None = None
        self._last_epoch_written: int | None = None
        self.interrupt_path: str | None = None

    def on_fit_start(self, trainer, logs: dict[str, Any]) -> None:
        self.interrupt_path = None
        self.best = None
        self.best_epoch = None
        self.best_path = None
        folders = {Path(self.path).parent}
        if self.last_path is not None:
            folders.add(Path(self.last_path).parent)
        for folder in folders if _writes(trainer) else ():
            ckpt.remove_temporary_files(folder)

    def _save_resumable(self, trainer, path) -> None:
        """Write a full checkpoint to ``path``; point the manifest at it once it is written."""
        if _writes(trainer):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(path, after=lambda written: self._point_to(trainer, written))

    def _point_to(self, trainer, written) -> None:
        meta = {"epoch": trainer.epoch, "global_step": trainer.global_step}
        ckpt.write_manifest(self.last_path, written, meta)

    def on_batch_end(self, trainer, logs: dict[str, Any]) -> None:
        if self.every_n_steps is not None and logs["step"] % self.every_n_steps == 0:
            self._save_resumable(trainer, ckpt.step_path(self.last_path, logs["step"]))

    def on_fit_end(self, trainer, logs: dict[str, Any]) -> None:
        if logs.get("status") != "interrupted" or self.last_path is None:
            return
        state = getattr(trainer, "interrupted_state", None)
        if state is None or not _writes(trainer):
            return
        if state.get("position") is None and state["epoch"] == self._last_epoch_written:
            self.interrupt_path = self.last_path  # after the epoch's checkpoint: nothing newer
            return
        path = ckpt.step_path(self.last_path, int(state["global_step"]))
        ckpt.save_checkpoint(state, path)
        meta = {"epoch": state["epoch"], "global_step": state["global_step"]}
        ckpt.write_manifest(self.last_path, path, meta)
        self.interrupt_path = os.fspath(path)

    def _write(self, trainer, path: str) -> None:
        if _writes(trainer):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if not self.weights_only:
            # during on_epoch_end: written once every callback has run (by rank 0 only)
            trainer.save_checkpoint(path)
        elif _writes(trainer):
            save(unwrap_model(trainer.model).state_dict(), path)

    def on_epoch_end(self, trainer, logs: dict[str, Any]) -> None:
        value = monitored_value("ModelCheckpoint", self.monitor, logs)
        improved = is_improvement(value, self.best, self.mode, 0.0)
        if improved:
            self.best = value
            self.best_epoch = logs.get("epoch")
        if improved or not self.save_best_only:
            try:
                path = self.path.format(**logs)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"ModelCheckpoint: cannot fill the path template {self.path!r} from the epoch logs ({exc}); "
                    f"available keys: {', '.join(logs)}."
                ) from None
            self._write(trainer, path)
            if improved:
                self.best_path = path
        if self.last_path is not None:
            self._save_resumable(trainer, self.last_path)
            self._last_epoch_written = logs.get("epoch")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "best_path": self.best_path}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.best_path = state["best_path"]


def _writes(trainer) -> bool:
    """Whether this process writes files: rank 0 (a stand-in trainer without ranks: yes)."""
    return bool(getattr(trainer, "is_main_process", True))
