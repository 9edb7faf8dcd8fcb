"""Resuming a run exactly: the Trainer's checkpoint state, its position inside an epoch, and
the checkpoints callbacks ask for while the loop is in a hook.

``ResumableRun`` is a part of ``Trainer`` (a mixin kept in its own module for length); it reads
and writes the Trainer's attributes (model, optimizer, scheduler, updater, callbacks, history,
epoch, global_step, the epoch in progress) and is not used on its own.
"""

from __future__ import annotations

import copy
import itertools
import logging
from collections.abc import Callable
from typing import Any

from deepgrad.train import checkpoint as ckpt
from deepgrad.train.callbacks.base import Callback
from deepgrad.train.distributed import sync_metrics, unwrap_model, world
from deepgrad.train.history import History

logger = logging.getLogger("deepgrad.train")


class ResumableRun:
    """The Trainer's checkpoint state: ``save_checkpoint``, ``state_dict`` and their inverse."""

    # The Trainer's attributes this part uses (set in Trainer.__init__), declared for type checkers.
    model: Any
    optimizer: Any
    scheduler: Any
    updater: Any
    metrics: Any
    callbacks: list[Callback]
    _train_loader: Any
    _in_epoch: bool
    _epoch_state: Any
    _deferring: bool
    _boundary: Any
    _pending_checkpoints: list[tuple[Any, Callable[[Any], None] | None]]

    def save_checkpoint(self, path, after: Callable[[Any], None] | None = None) -> None:
        """Write everything needed to resume: model, optimizer, scheduler, callbacks' state, epoch,
        step, position in the epoch, random state and history, atomically (a crash never leaves a
        partial file).

        Called from a callback's ``on_batch_end`` or ``on_epoch_end``, the write waits until every
        callback has seen the batch or epoch, so that all their state is in the file.

        Args:
            path: the file.
            after: called with ``path`` once the file is written (e.g. to point a manifest at it).
        """
        if self._deferring:
            self._pending_checkpoints.append((path, after))
            return
        state = self.state_dict()  # every rank: inside an epoch it merges the ranks' metrics
        if world()[0] != 0:  # only rank 0 writes
            return
        ckpt.save_checkpoint(state, path)
        if after is not None:
            after(path)

    def state_dict(self) -> dict[str, Any]:
        """The resumable state of the run (what ``save_checkpoint`` writes)."""
        return {
            "epoch": self.epoch,
            "global_step": self.global_step,
            "model": unwrap_model(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "updater": self.updater.state_dict(),
            "callbacks": {key: cb.state_dict() for key, cb in self._callback_keys().items()},
            "rng": ckpt.rng_state(self._train_loader),
            "history": self.history.state_dict(),
            "position": self._position() if self._in_epoch else None,
            "skipped_steps": self.skipped_steps,
            "world_size": world()[1],
        }

    def _position(self) -> dict[str, Any]:
        """Where the epoch in progress stands: batches done, running sums, metrics, loader."""
        state = self._epoch_state
        done = state.get("batches", 0)
        loader = self._train_loader
        loader_state = loader.state_dict() if hasattr(loader, "state_dict") else {}
        metrics = self.metrics
        if world()[1] > 1:  # rank 0 writes: it keeps the sums of all ranks
            metrics = [copy.deepcopy(m) for m in metrics]
            sync_metrics(metrics)
        return {
            "batches": done,
            "sums": dict(state.get("sums", {})),
            "counts": dict(state.get("counts", {})),
            "skipped": state.get("skipped", 0),
            "metrics": [m.state_dict() for m in metrics],
            "loader": {**loader_state, "batches": done},
        }

    def _callback_keys(self) -> dict[str, Callback]:
        keys: dict[str, Callback] = {}
        for cb in self.callbacks:
            name = type(cb).__name__
            key, n = name, 1
            while key in keys:
                key, n = f"{name}_{n}", n + 1
            keys[key] = cb
        return keys

    def _restore(self, state: dict[str, Any], train_loader) -> None:
        unwrap_model(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scheduler") is not None:
            if self.scheduler is None:
                raise ValueError(
                    "Trainer.fit: the checkpoint has a scheduler's state but this Trainer has no scheduler."
                )
            self.scheduler.load_state_dict(state["scheduler"])
        if state.get("updater"):
            self.updater.load_state_dict(state["updater"])
        ckpt.restore_rng(state["rng"], train_loader)
        self.history = History()
        self.history.load_state_dict(state["history"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.skipped_steps = int(state.get("skipped_steps", 0))
        position = state.get("position")
        if position is not None:  # inside an epoch: _run_epoch continues it
            self.epoch -= 1
            self._resume_position = position

    def _restore_callbacks(self, states: dict[str, Any]) -> None:
        for key, cb in self._callback_keys().items():
            if states.get(key):
                cb.load_state_dict(states[key])

    def _snapshot_at_boundary(self, agreed: bool = True) -> None:
        """Keep a copy of the state when the run ended between two steps (else None).

        Args:
            agreed: every rank ends at this step (a shared signal or non-finite loss). Else,
                with several processes, no snapshot: taking it may need the other ranks, and
                one of them may be the reason the run ended (dead, hung).
        """
        self.interrupted_state = None
        if world()[1] > 1 and not agreed:
            logger.info("fit ended on one rank only: the previous checkpoint stays the newest")
            return
        if not self._boundary:
            # documented: the previous checkpoint stays the newest; the exception says the rest
            logger.info("fit ended inside a training step: no checkpoint of that moment")
            return
        try:
            self.interrupted_state = ckpt.detached(self.state_dict())
        except Exception:  # the interruption matters more than its checkpoint
            logger.exception("could not take the state of the interrupted run")

    def _write_pending(self) -> None:
        pending, self._pending_checkpoints = self._pending_checkpoints, []
        for path, after in pending:
            self.save_checkpoint(path, after)

    def _epoch_batches(self, train_loader, position):
        """The loader's batches for this epoch: from where ``position`` left it when resuming."""
        if position is None:
            return train_loader
        done = position["batches"]
        try:
            finished = done >= len(train_loader)
        except TypeError:
            finished = False
        if finished:  # the checkpoint came after the epoch's last batch
            return ()
        if hasattr(train_loader, "load_state_dict"):
            train_loader.load_state_dict(position["loader"])
            return train_loader
        return itertools.islice(train_loader, done, None)  # a list of batches, a generator


def _epoch_state(position: dict[str, Any] | None) -> dict[str, Any]:
    """The running state of an epoch: fresh, or continued from a checkpoint's position."""
    if position is None:
        return {"batches": 0, "sums": {}, "counts": {}, "skipped": 0}
    return {
        "batches": int(position["batches"]),
        "sums": {k: float(v) for k, v in position["sums"].items()},
        "counts": {k: int(v) for k, v in position["counts"].items()},
        "skipped": int(position.get("skipped", 0)),
    }
