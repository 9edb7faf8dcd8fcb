"""Trainer: the training loop, written once, with callbacks, metrics, checkpoints and diagnoses."""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from deepgrad.backend import parse_device, validation
from deepgrad.optim.lr_scheduler import ReduceLROnPlateau
from deepgrad.train import checkpoint as ckpt
from deepgrad.train.callbacks.base import Callback
from deepgrad.train.callbacks.gradient_clipping import GradientClipping
from deepgrad.train.callbacks.progress_bar import ProgressBar
from deepgrad.train.distributed import DataParallelRun, set_sampler_epoch, sync_metrics
from deepgrad.train.evaluation import Evaluation, _computed
from deepgrad.train.guards import (
    GuardedRun,
    NonFiniteLossError,
    SignalGuard,
    TrainingInterrupted,
    check_nan_policy,
)
from deepgrad.train.history import History
from deepgrad.train.metrics import Metric, get_metric
from deepgrad.train.resume import ResumableRun, _epoch_state
from deepgrad.train.updater import (
    RESERVED_LOGS,  # noqa: F401 (its home was this module)
    CompiledUpdater,
    StandardUpdater,
    Updater,
    loss_and_size,
)

logger = logging.getLogger("deepgrad.train")


class Trainer(GuardedRun, ResumableRun, Evaluation, DataParallelRun):
    """Trains a model with mini-batches: one readable loop, extended by callbacks and an updater.

    Each training step is, in this order::

        output = model(*inputs)                 # the updater's part: updater.update(trainer, batch)
        loss = loss_fn(output, target)          #   (StandardUpdater unless Trainer(updater=...))
        optimizer.zero_grad()
        loss.backward()
        on_backward_end hooks                   #   GradientClipping (and grad_clip) clip here
        optimizer.step()
        scheduler.step()                        # the Trainer's part: if scheduler (per step)

    so the learning-rate schedule always steps after the optimizer. A batch from the loader is
    a tuple ``(*inputs, target)`` of Tensors (``(x, y)`` for a ``TensorDataset(x, y)``).

    The step hook: the first six lines are the ``updater``'s, the only part of ``fit`` that
    differs between kinds of training. Pass an ``Updater`` (``deepgrad.train.updater``) whose
    ``update(trainer, batch)`` trains on one batch and returns its logs (``{"loss": ...,
    "size": ..., **others}``) for a GAN's two players (``GANTrainer``), reinforcement learning,
    a compiled or a data-parallel step. Callbacks, epoch records, validation, checkpoints and
    exact resume work the same for every updater; the other entries of its logs reach
    ``on_batch_end`` and are averaged over the epoch into the epoch record.

    Args:
        model: the ``nn.Module`` to train.
        loss_fn: ``loss_fn(output, target) -> scalar Tensor``, e.g. ``F.cross_entropy`` or
            ``nn.CrossEntropyLoss()``.
        optimizer: a ``deepgrad.optim`` optimizer over the model's parameters.
        metrics: names (``"accuracy"``, ``"f1"`` ... see ``metrics.METRICS``) or ``Metric``
            instances, computed on training batches and on validation data. Default: none.
        callbacks: ``Callback`` instances, called in the order given. Default: none.
        device: move the model and every batch there ("cpu", "cuda"). Default: leave as is.
        scheduler: a learning-rate scheduler stepped after every optimizer step (warm-up,
            one-cycle, cosine over steps). For per-epoch schedules and ``ReduceLROnPlateau`` use
            ``LRSchedulerCallback(scheduler, interval="epoch")``. Default: None.
        grad_clip: clip the gradients' joint 2-norm to this value before each step; the same
            as putting ``GradientClipping(grad_clip)`` first in ``callbacks``. Default: None.
        monitor: True (or a ``Monitor`` instance) records hidden-unit and gradient statistics
            per layer (see ``deepgrad.train.Monitor``). Default: False.
        doctor: print the Doctor's diagnoses at the end of ``fit`` (adds a Monitor when there is
            none, since most diagnoses read it). Default: False.
        progress: add a ``ProgressBar`` when the callbacks have none. Default: True.
        updater: the ``Updater`` that trains on each batch. Default: ``StandardUpdater()``.
        compile: True trains with ``CompiledUpdater()``: forward, loss and backward compiled by
            ``deepgrad.compile`` (same weights as eager; a graph break warns and trains
            eagerly). Not together with ``updater``. Default: False.
        nan_policy: what a NaN or infinite training loss does: ``"raise"`` a
            ``NonFiniteLossError`` naming the step, epoch and value; ``"skip_step"``: the step's
            update is not applied (its loss is recorded, left out of the epoch's mean, and the
            epoch record counts ``skipped_steps``); ``"stop"``: the update is not applied and
            the run stops after the batch (``history.stop_reason`` says why). Checked on the
            loss value the step reads anyway (``Trainer.check_loss``). Default: "raise".

    Interruptions and exact resume: during ``fit``, SIGINT (Ctrl-C) and SIGTERM end the run at
    the next step boundary with ``TrainingInterrupted`` (a ``KeyboardInterrupt``; a second
    signal stops at once). A checkpoint taken inside an epoch (``ModelCheckpoint(save_last=...,
    every_n_steps=N)``, or the one it writes on an interruption) holds the position in the
    epoch: the loader's order and batches used, the epoch's running sums and metrics, and every
    random state, so ``fit(resume_from=...)`` ends with the weights of an uninterrupted run.

    Data parallelism: run the same program as N processes (``mpiexec -n N``), with
    ``deepgrad.distributed.init_process_group("mpi")``, the model wrapped in
    ``DistributedDataParallel`` and the training loader sharded by a ``DistributedSampler``
    (the Trainer calls its ``set_epoch``). Then only rank 0 prints and writes (callbacks with
    ``main_process_only``, checkpoints); each step's loss and logs are summed over the ranks
    before ``nan_policy`` sees them, and metrics and evaluations are merged over the ranks, so
    every rank records the same history and early stopping, ``nan_policy`` and a signal stop
    all ranks after the same step. Checkpoints hold the unwrapped model's weights and the
    position in the epoch's global order: a run resumes with the same or another number of
    processes (see ``deepgrad.train.distributed`` and docs/distributed.md).

    Attributes:
        history: the ``History`` of the last ``fit``.
        epoch: the 1-based number of the running (or last finished) epoch; 0 before training.
        global_step: optimizer steps taken so far.
        diagnoses: the Doctor's findings after ``fit`` with ``doctor=True``.
        skipped_steps: steps whose update ``nan_policy`` dropped, over the whole run.
        interrupted_state: when an exception or signal ended ``fit`` at a step boundary, a copy
            of ``state_dict()`` at that boundary (``ModelCheckpoint`` writes it); else None.

    Example:
        >>> import deepgrad as dg, deepgrad.nn as nn
        >>> from deepgrad.data import DataLoader, TensorDataset
        >>> _ = dg.manual_seed(0)
        >>> x = dg.randn(64, 2); y = (x[:, 0] > 0).long()
        >>> model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> trainer = Trainer(model, nn.functional.cross_entropy, dg.optim.SGD(model.parameters(), lr=0.5),
        ...                   metrics=["accuracy"], progress=False)
        >>> history = trainer.fit(DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True), epochs=20)
        >>> history.epochs[-1]["accuracy"] > 0.9
        True
    """

    def __init__(
        self,
        model,
        loss_fn: Callable,
        optimizer,
        metrics: Iterable[str | Metric] | None = None,
        callbacks: Iterable[Callback] | None = None,
        device=None,
        scheduler=None,
        grad_clip: float | None = None,
        monitor=False,
        doctor: bool = False,
        progress: bool = True,
        updater: Updater | None = None,
        nan_policy: str = "raise",
        compile: bool = False,
    ) -> None:
        _check_arguments(model, loss_fn, optimizer, grad_clip, scheduler, updater)
        self.nan_policy = check_nan_policy(nan_policy)
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.grad_clip = grad_clip
        self.updater: Updater = _pick_updater(updater, compile)
        self.device = parse_device(device) if device is not None else None
        if self.device is not None:
            model.to(self.device)

        self.metrics: list[Metric] = _build_metrics(metrics)
        self._eval_metrics = [copy.deepcopy(m) for m in self.metrics]
        self.callbacks: list[Callback] = self._build_callbacks(
            callbacks, grad_clip, monitor, doctor, progress
        )
        self.doctor = bool(doctor)

        self.history = History()
        self.epoch = 0
        self.epochs = 0
        self.global_step = 0
        self.stop_reason: str | None = None
        self.diagnoses: list = []
        self._stop_requested = False
        self._deferring = False  # inside on_batch_end / on_epoch_end: checkpoints wait
        self._pending_checkpoints: list[tuple[Any, Callable | None]] = []
        self._train_loader = None
        self.skipped_steps = 0
        self.interrupted_state: dict[str, Any] | None = None
        self._signal: str | None = None
        self._boundary = True  # model, optimizer and position agree (between two steps)
        self._in_epoch = False
        self._resume_position: dict[str, Any] | None = None
        self._epoch_state: dict[str, Any] = {}  # the epoch in progress: sums, counts, batches
        self._skip_step = False
        self._checked_step = 0
        self._pending_signal: str | None = None  # a signal not yet shared with the other ranks
        self._reduced_step = 0  # the last step whose logs were summed over the ranks

    def _build_callbacks(self, callbacks, grad_clip, monitor, doctor, progress) -> list[Callback]:
        """The callbacks given, with GradientClipping (grad_clip) first, and a Monitor and a
        ProgressBar added when asked for and not already there; sets ``self.monitor``."""
        found = list(callbacks or [])
        for cb in found:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"Trainer: callbacks must be Callback instances (got {type(cb).__name__})"
                )
        if grad_clip is not None:
            found.insert(0, GradientClipping(float(grad_clip)))
        self.monitor = None
        if monitor or doctor:
            from deepgrad.train.monitor import Monitor

            monitors = [cb for cb in found if isinstance(cb, Monitor)]
            if isinstance(monitor, Monitor):
                if monitor not in found:
                    found.append(monitor)
                self.monitor = monitor
            elif monitors:
                self.monitor = monitors[0]
            else:
                self.monitor = Monitor()
                found.append(self.monitor)
        if progress and not any(isinstance(cb, ProgressBar) for cb in found):
            found.append(ProgressBar())
        return found

    # -- callbacks ----------------------------------------------------------------------------
    def _hooks(self, name: str) -> list:
        """Bound hooks of the callbacks that override ``name`` (the others cost nothing per step);
        on ranks other than 0, not those of callbacks marked ``main_process_only``."""
        base = getattr(Callback, name)
        main = self.is_main_process
        return [
            getattr(cb, name)
            for cb in self.callbacks
            if getattr(type(cb), name) is not base and (main or not cb.main_process_only)
        ]

    def call_hook(self, name: str, logs: dict[str, Any]) -> None:
        """Call the hook ``name`` (e.g. ``"on_backward_end"``) of every callback, in order.

        Updaters call ``call_hook("on_backward_end", logs)`` between ``backward()`` and
        ``optimizer.step()``; a Trainer subclass that replaces ``evaluate`` calls the eval hooks.
        """
        for hook in self._hooks(name):
            hook(self, logs)

    def request_stop(self, reason: str) -> None:
        """Ask ``fit`` to stop after the current batch (the epoch is then closed and validated).

        The reason is logged and kept in ``history.stop_reason``.
        """
        if not isinstance(reason, str) or not reason:
            raise ValueError(
                f"Trainer.request_stop: give the reason as a non-empty string (got {reason!r})"
            )
        if not self._stop_requested:
            self._stop_requested = True
            self.stop_reason = reason
            logger.info("stop requested: %s", reason)

    @property
    def stop_requested(self) -> bool:
        """Whether ``request_stop`` was called in this ``fit``: it ends after the current batch
        (the reason is in ``history.stop_reason``)."""
        return self._stop_requested

    # -- the loop -----------------------------------------------------------------------------
    def fit(self, train_loader, val_loader=None, epochs: int = 1, resume_from=None) -> History:
        """Train for ``epochs`` epochs in total (a resumed run continues up to the same total).

        Args:
            train_loader: an iterable of batches ``(*inputs, target)``; iterated once per epoch.
            val_loader: batches for validation after every epoch, logged as ``val_loss`` and
                ``val_<metric>``. Default: None.
            epochs: the epoch to stop after (counting epochs of the resumed run too). Default: 1.
            resume_from: a checkpoint written by ``save_checkpoint`` or ``ModelCheckpoint``:
                model, optimizer, schedulers, updater, callbacks, random state, epoch, step and
                history continue from it, so the resumed run ends with the weights of an
                uninterrupted one.

        Returns:
            The ``History`` (also ``trainer.history``). On an exception (Ctrl-C included) the
            callbacks' ``on_fit_end`` runs (best weights restored, files closed) and the
            exception propagates; ``trainer.history`` holds what was recorded.
        """
        validation.positive_int(epochs, "epochs", "Trainer.fit")
        guard = SignalGuard(self._on_signal)
        with guard:
            return self._fit(train_loader, val_loader, epochs, resume_from)

    def _fit(self, train_loader, val_loader, epochs: int, resume_from) -> History:
        self._start_fit(train_loader, epochs, resume_from)
        start_epoch = self.epoch
        status = "interrupted"
        try:
            while self.epoch < epochs and not self._stop_requested:
                self._run_epoch(train_loader, val_loader)
            if self._signal is not None:  # arrived outside the batches: stop at the epoch's end
                raise TrainingInterrupted(self._signal, self.global_step)
            status = "stopped" if self._stop_requested else "completed"
            if not self._stop_requested:
                self.stop_reason = (
                    f"completed {epochs} epochs"
                    if start_epoch < epochs
                    else (f"nothing to do: the run already has {start_epoch} of {epochs} epochs")
                )
        except BaseException as exc:
            self.stop_reason = f"interrupted by {type(exc).__name__} in epoch {self.epoch}" + (
                f": {exc}" if str(exc) else ""
            )
            # under data parallelism only these end every rank at the same step
            self._snapshot_at_boundary(
                agreed=isinstance(exc, (TrainingInterrupted, NonFiniteLossError))
            )
            self._end_fit(status, failing=True)
            raise
        self._end_fit(status, failing=False)
        return self.history

    def _start_fit(self, train_loader, epochs: int, resume_from) -> None:
        """Restore the checkpoint (or start afresh), reset the run's flags and call on_fit_start."""
        state = None
        self._resume_position = None
        if resume_from is not None:
            state = ckpt.resolve_checkpoint(resume_from)
            self._restore(state, train_loader)
        else:
            self.history = History()
            self.epoch = 0
            self.global_step = 0
            self.skipped_steps = 0
        self.epochs = epochs
        self.stop_reason = None
        self._stop_requested = False
        self._signal = None
        self._pending_signal = None
        self._reduced_step = 0
        self._boundary = True
        self._in_epoch = False
        self.interrupted_state = None
        self._train_loader = train_loader
        self._pending_checkpoints = []
        self.call_hook(
            "on_fit_start",
            {
                "epochs": epochs,
                "start_epoch": self.epoch,
                "start_step": self.global_step,
                "resumed": state is not None,
            },
        )
        if state is not None:
            self._restore_callbacks(state.get("callbacks", {}))

    def _end_fit(self, status: str, failing: bool) -> None:
        self.history.stop_reason = self.stop_reason
        logs = {"status": status, "stop_reason": self.stop_reason, "epochs_run": self.epoch}
        for hook in self._hooks("on_fit_end"):
            if not failing:
                hook(self, logs)
                continue
            try:
                hook(self, logs)
            except Exception:  # the original exception matters more; keep cleaning up
                logger.exception(
                    "on_fit_end of %s failed while handling an interruption", hook.__self__
                )
        if self.doctor:
            from deepgrad.train.doctor import Doctor

            doc = Doctor(self.history, self.monitor)
            self.diagnoses = doc.diagnose()
            if self.is_main_process:
                print(doc.report(), file=sys.stderr)

    def _run_epoch(self, train_loader, val_loader) -> None:
        self.epoch += 1
        epoch = self.epoch
        position, self._resume_position = self._resume_position, None
        self.model.train()
        for m in self.metrics:
            m.reset()
        start_logs: dict[str, Any] = {"epoch": epoch}
        if position is not None:
            if self.is_main_process:  # the saved metrics hold every rank's sums (merged once)
                for m, state in zip(self.metrics, position["metrics"]):
                    m.load_state_dict(state)
            start_logs["resumed_at_batch"] = position["batches"]
        set_sampler_epoch(train_loader, epoch - 1)
        self._in_epoch = True
        self.call_hook("on_epoch_start", start_logs)
        started = time.perf_counter()
        record: dict[str, Any] = {"epoch": epoch}
        record.update(self._train_batches(train_loader, epoch, position))
        clashes = sorted(m.name for m in self.metrics if m.name in record)
        if clashes:
            raise ValueError(
                f"Trainer: the updater's logs and a metric both log {clashes}; rename one of them."
            )
        sync_metrics(self.metrics)
        record.update(_computed(self.metrics))
        if val_loader is not None:
            for key, value in self.evaluate(val_loader).items():
                record["val_" + key] = value
        record["lr"] = self.optimizer.param_groups[0]["lr"]
        record["time"] = time.perf_counter() - started
        self._boundary = False  # until every callback has seen the epoch
        self.history.add_epoch(record)
        self._deferring = True
        try:
            self.call_hook("on_epoch_end", record)
        finally:
            self._deferring = False
        self._in_epoch = False
        self._write_pending()
        self._boundary = True

    def _train_batches(self, train_loader, epoch: int, position) -> dict[str, float]:
        """One pass over the training batches (the rest of the epoch when resuming at
        ``position``); returns the epoch means of the updater's logs (``loss`` first), each
        weighted by the batches' sizes, and ``skipped_steps`` under ``nan_policy='skip_step'``."""
        batch_start = self._hooks("on_batch_start")
        batch_end = self._hooks("on_batch_end")
        want_logs = bool(batch_start or batch_end)
        history = self.history
        group = self.optimizer.param_groups[0]
        state = self._epoch_state = _epoch_state(position)
        sums: dict[str, float] = state["sums"]
        counts: dict[str, int] = state["counts"]
        isfinite = math.isfinite
        for index, batch in enumerate(
            self._epoch_batches(train_loader, position), state["batches"]
        ):
            logs: dict[str, Any] = (
                {"epoch": epoch, "batch": index, "step": self.global_step + 1} if want_logs else {}
            )
            for hook in batch_start:
                hook(self, logs)
            lr = group["lr"]
            self._boundary = self._skip_step = False
            step_logs = self.reduce_step_logs(self.updater.update(self, batch))
            loss, size = loss_and_size(step_logs)
            if not isfinite(loss) and self._checked_step != self.global_step + 1:
                self._late_loss_check(loss)
            if self.scheduler is not None:
                self.scheduler.step()
            self.global_step += 1
            history.add_step(self.global_step, epoch, loss, lr)
            if self._skip_step:
                state["skipped"] += 1
                self.skipped_steps += 1
            else:
                for key, value in step_logs.items():
                    if key != "size":
                        sums[key] = sums.get(key, 0.0) + value * size
                        counts[key] = counts.get(key, 0) + size
            state["batches"] = index + 1
            self._boundary = True
            if want_logs:
                logs.update(step_logs)
                logs["size"] = size
                logs["lr"] = lr
                self._batch_end(batch_end, logs)
            if self._stop_requested:
                if self._signal is not None:
                    raise TrainingInterrupted(self._signal, self.global_step)
                break
        return self._epoch_means(state)

    def _batch_end(self, hooks: list, logs: dict[str, Any]) -> None:
        """The on_batch_end hooks; checkpoints they ask for are written after the last one."""
        self._deferring = True
        try:
            for hook in hooks:
                hook(self, logs)
        finally:
            self._deferring = False
        if self._pending_checkpoints:
            self._write_pending()

    def _epoch_means(self, state: dict[str, Any]) -> dict[str, float]:
        sums, counts = state["sums"], state["counts"]
        if not state["batches"]:
            raise ValueError(
                "Trainer.fit: the training loader yielded no batches; check the dataset and batch_size."
            )
        means = {"loss": math.nan}  # every step skipped: no mean
        means.update({key: total / counts[key] for key, total in sums.items()})
        if self.nan_policy == "skip_step":
            means["skipped_steps"] = state["skipped"]
        return means

    # -- checkpoints --------------------------------------------------------------------------


def _check_arguments(model, loss_fn, optimizer, grad_clip, scheduler, updater) -> None:
    if not callable(model) or not hasattr(model, "parameters"):
        raise TypeError(f"Trainer: model must be an nn.Module (got {type(model).__name__})")
    if not callable(loss_fn):
        raise TypeError(
            f"Trainer: loss_fn must be callable as loss_fn(output, target) (got {type(loss_fn).__name__})"
        )
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
        raise TypeError(
            f"Trainer: optimizer must be a deepgrad.optim optimizer (got {type(optimizer).__name__})"
        )
    if grad_clip is not None:
        validation.positive_float(
            grad_clip, "grad_clip", "Trainer", fix="it is a max norm, or None"
        )
    if scheduler is not None and isinstance(scheduler, ReduceLROnPlateau):
        raise ValueError(
            f"Trainer: {type(scheduler).__name__} steps on a metric, not once per optimizer step; "
            "pass LRSchedulerCallback(scheduler, interval='epoch', monitor='val_loss') in callbacks instead."
        )
    if updater is not None and not isinstance(updater, Updater):
        raise TypeError(
            f"Trainer: updater must be an Updater (got {type(updater).__name__}); "
            "subclass deepgrad.train.Updater and define update(trainer, batch)."
        )


def _pick_updater(updater: Updater | None, compile: bool) -> Updater:
    if compile and updater is not None:
        raise ValueError(
            f"Trainer: compile=True and an updater ({type(updater).__name__}) were both "
            "given; pass one (compile=True is updater=CompiledUpdater())."
        )
    if compile:
        return CompiledUpdater()
    return updater if updater is not None else StandardUpdater()


def _build_metrics(metrics: Iterable[str | Metric] | None) -> list[Metric]:
    built = [get_metric(m) for m in (metrics or [])]
    names = [m.name for m in built]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates or "loss" in names:
        raise ValueError(
            f"Trainer: two metrics log under the same name {duplicates or ['loss']}; "
            "give one a name, e.g. F1(average='micro', name='f1_micro')."
        )
    return built
