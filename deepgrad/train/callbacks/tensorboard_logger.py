"""TensorBoardLogger: scalars, learning rate, weight and activation histograms for TensorBoard."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np

from deepgrad.autograd import Tensor
from deepgrad.backend import get_array_module
from deepgrad.train.callbacks.base import Callback


def _host(array) -> np.ndarray:
    return array if get_array_module(array) is np else array.get()


class TensorBoardLogger(Callback):
    """Write TensorBoard event files with tensorboardX (optional extra: ``pip install deepgrad[tensorboard]``).

    Logged, in ``logdir`` (view with ``tensorboard --logdir <logdir>``):

    - every epoch: ``train/<key>`` and ``val/<key>`` for the scalar entries of the epoch record
      (loss, metrics), ``lr`` and ``time``;
    - every ``step_every`` steps: ``step/loss`` and ``step/lr``;
    - every ``histogram_every`` epochs: ``weights/<parameter name>`` histograms, and
      ``activations/<module name>`` histograms of every leaf module's output on the epoch's
      first batch (captured with forward hooks that are removed right after that batch).

    Non-finite values (a diverged run) never stop the run: histograms leave them out (and are
    skipped when nothing finite is left). A resumed run purges what was logged after its
    checkpoint's step (tensorboardX ``purge_step``), so no point appears twice.

    Args:
        logdir: the folder for the event files (created if missing).
        step_every: steps between per-step scalars; 0 turns them off. Default: 10.
        histogram_every: epochs between histograms; 0 turns them off. Default: 1.
    """

    main_process_only = True  # prints or writes files: rank 0 alone

    def __init__(self, logdir: str | os.PathLike, step_every: int = 10, histogram_every: int = 1):
        if importlib.util.find_spec("tensorboardX") is None:
            raise ImportError(
                "TensorBoardLogger needs tensorboardX: pip install tensorboardX (or deepgrad[tensorboard])."
            )
        for option, value in (("step_every", step_every), ("histogram_every", histogram_every)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(
                    f"TensorBoardLogger: {option} must be an integer >= 0 (got {value!r})"
                )
        self.logdir = os.fspath(logdir)
        self.step_every = step_every
        self.histogram_every = histogram_every
        self.writer = None
        self._handles: list = []
        self._activations: dict[str, np.ndarray] = {}

    def on_fit_start(self, trainer, logs: dict[str, Any]) -> None:
        from tensorboardX import SummaryWriter

        if logs.get("resumed", False) and "start_step" in logs:
            # drop what the interrupted run logged after the checkpoint
            self.writer = SummaryWriter(logdir=self.logdir, purge_step=logs["start_step"] + 1)
        else:
            self.writer = SummaryWriter(logdir=self.logdir)

    def _histograms_due(self, epoch: int) -> bool:
        return self.histogram_every > 0 and epoch % self.histogram_every == 0

    def on_batch_start(self, trainer, logs: dict[str, Any]) -> None:
        if logs["batch"] != 0 or not self._histograms_due(logs["epoch"]):
            return
        self._activations = {}
        for name, module in trainer.model.named_modules():
            if name and not any(True for _ in module.children()):
                self._handles.append(module.register_forward_hook(self._capture(name)))

    def _capture(self, name: str):
        def hook(module, inputs, output):
            if isinstance(output, Tensor):
                self._activations[name] = _host(output._data).ravel().copy()

        return hook

    def on_batch_end(self, trainer, logs: dict[str, Any]) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        step = logs["step"]
        if self.step_every and step % self.step_every == 0:
            self.writer.add_scalar("step/loss", logs["loss"], step)
            self.writer.add_scalar("step/lr", logs["lr"], step)

    def on_epoch_end(self, trainer, logs: dict[str, Any]) -> None:
        epoch = logs["epoch"]
        for key, value in logs.items():
            if key == "epoch" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if key in ("lr", "time"):
                tag = key
            elif key.startswith("val_"):
                tag = "val/" + key[4:]
            else:
                tag = "train/" + key
            self.writer.add_scalar(tag, value, epoch)
        if self._histograms_due(epoch):
            for name, param in trainer.model.named_parameters():
                self._histogram("weights/" + name, _host(param._data), epoch)
            for name, values in self._activations.items():
                self._histogram("activations/" + name, values, epoch)
            self._activations = {}
        self.writer.flush()

    def _histogram(self, tag: str, values: np.ndarray, epoch: int) -> None:
        """A histogram of the finite values; none when nothing is left to count (a diverged run
        has NaN, or values beyond tensorboardX's buckets, about 1e20, that it cannot bin)."""
        values = np.asarray(values).ravel()
        finite = values[np.isfinite(values)] if values.dtype.kind in "fc" else values
        if not finite.size:
            return
        try:
            self.writer.add_histogram(tag, finite, epoch)
        except ValueError as exc:  # "The histogram is empty": every value outside the buckets
            if "empty" not in str(exc):
                raise

    def on_fit_end(self, trainer, logs: dict[str, Any]) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self.writer is not None:
            self.writer.close()
            self.writer = None
