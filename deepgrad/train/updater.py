"""Updater: what ``Trainer.fit`` does with one batch (an Updater in Chainer's sense).

The Trainer owns the loop (epochs, callbacks, validation, checkpoints, the per-step learning-rate
schedule); an ``Updater`` owns the step. ``StandardUpdater`` is supervised learning:

    output = model(*inputs);  loss = loss_fn(output, target)
    zero_grad;  backward;  on_backward_end hooks (GradientClipping);  optimizer.step

Training that steps differently (a GAN's two players, reinforcement learning, a compiled or a
data-parallel step) subclasses ``Updater`` and passes it as ``Trainer(updater=...)``; everything
else about the Trainer stays as it is.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotations: trainer.py imports this module
    from deepgrad.train.trainer import Trainer


class Updater(ABC):
    """One training step on one batch; ``Trainer.fit`` calls ``update`` once per batch.

    The Trainer calls, for every batch::

        on_batch_start hooks
        logs = updater.update(trainer, batch)   # forward, backward, optimizer step(s)
        scheduler.step()                        # if Trainer(scheduler=...)
        on_batch_end hooks                      # logs: epoch, batch, step, **logs, lr

    ``update`` returns a dict of logs:

    - ``"loss"`` (required): the batch's loss as a float. It is recorded per step in
      ``history.steps`` and averaged into the epoch record's ``loss``.
    - ``"size"``: the number of samples in the batch (an int), the weight of this step in
      the epoch averages. Default: 1.
    - any other entry (a float) is passed to ``on_batch_end`` and averaged over the epoch,
      weighted by ``size``, into the epoch record under its own name (after ``loss``, before
      the metrics). The names ``epoch``, ``batch``, ``step``, ``lr``, ``time`` and ``val_*``
      are the Trainer's own and are refused.

    What an updater may use: ``trainer.model``, ``trainer.loss_fn``, ``trainer.optimizer``,
    ``trainer.metrics`` (update them if the step computes outputs to score),
    ``trainer.split_batch(batch)`` (inputs and target, moved to the trainer's device) and
    ``trainer.call_hook("on_backward_end", logs)``, which it calls between ``backward()`` and
    ``optimizer.step()`` so that gradient clipping and other gradient callbacks run.

    A NaN or infinite loss: an updater calls ``trainer.check_loss(value)`` with the loss it
    read, before ``optimizer.step()``, when the value is not finite; True means ``nan_policy``
    drops this step (return the logs without stepping), and with "raise" it raises. An updater
    that does not call it still gets "raise" and "stop", but "skip_step" cannot undo its
    update (the Trainer warns).

    An updater with state of its own (a replay buffer, a step counter) returns it from
    ``state_dict()``; checkpoints keep it and a resumed run takes it back through
    ``load_state_dict``.

    Example:
        >>> import deepgrad as dg, deepgrad.nn as nn
        >>> from deepgrad.train import Trainer
        >>> class TwoLosses(StandardUpdater):   # also log the L1 error of each batch
        ...     def update(self, trainer, batch):
        ...         logs = super().update(trainer, batch)
        ...         x, y = trainer.split_batch(batch)
        ...         with dg.no_grad():
        ...             logs["l1"] = float((trainer.model(*x) - y).abs().mean())
        ...         return logs
        >>> model = nn.Linear(2, 1)
        >>> opt = dg.optim.SGD(model.parameters(), lr=0.1)
        >>> trainer = Trainer(model, nn.functional.mse_loss, opt, updater=TwoLosses(), progress=False)
        >>> history = trainer.fit([(dg.ones(4, 2), dg.ones(4, 1))], epochs=2)
        >>> sorted(history.epochs[-1])
        ['epoch', 'l1', 'loss', 'lr', 'time']
    """

    @abstractmethod
    def update(self, trainer: Trainer, batch: Any) -> dict[str, float]:
        """Train on ``batch`` (one optimizer step or several); return its logs (see the class)."""

    def state_dict(self) -> dict[str, Any]:
        """State to keep in checkpoints (empty: nothing to restore)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what ``state_dict`` returned."""


class StandardUpdater(Updater):
    """The supervised step: forward, loss, backward, on_backward_end hooks, optimizer step.

    output = model(*inputs);  loss = loss_fn(output, target);  optimizer.zero_grad()
    loss.backward();  on_backward_end hooks (GradientClipping);  optimizer.step()

    The batch is ``(*inputs, target)``; the trainer's metrics are updated with
    ``(output, target)``. Returns ``{"loss": float(loss), "size": len(target)}`` (with several
    processes, both over all ranks: ``Trainer.reduce_step_logs``). A non-finite
    loss goes to ``trainer.check_loss`` before the backward pass: a skipped step changes neither
    the gradients, the weights nor the metrics.
    """

    def update(self, trainer: Trainer, batch: Any) -> dict[str, float]:
        inputs, target = trainer.split_batch(batch)
        output = trainer.model(*inputs)
        loss = trainer.loss_fn(output, target)
        _check_scalar(loss)
        # summed over the ranks first (data parallelism): nan_policy decides alike on all of them
        logs = trainer.reduce_step_logs({"loss": float(loss._data), "size": batch_size(target)})
        value = logs["loss"]
        if not math.isfinite(value) and trainer.check_loss(value):  # nan_policy: skip the step
            return logs
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.call_hook(
            "on_backward_end", {"epoch": trainer.epoch, "step": trainer.global_step + 1}
        )
        trainer.optimizer.step()
        for metric in trainer.metrics:
            metric.update(output, target)
        return logs


class CompiledUpdater(Updater):
    """``Trainer(compile=True)``: the ``StandardUpdater``'s step, its gradient part compiled.

    compiled (``deepgrad.compile``): output = model(*inputs);  loss = loss_fn(output, target)
                                     optimizer.zero_grad();  loss.backward()
    eager:    nan_policy check;  on_backward_end hooks (GradientClipping);  optimizer.step()

    The optimizer step stays outside the compiled function: it is a host node in a compiled
    graph anyway (the optimizer's own in-place ``step``), and outside it the gradient
    callbacks run between ``backward()`` and ``step()`` as in eager mode. The weights equal
    those of ``StandardUpdater`` (dropout masks are drawn in the same order). Differences: the
    loss is checked for ``nan_policy`` after the backward pass, so a skipped step leaves that
    step's gradients in ``.grad`` (the weights are unchanged); a model the compiler cannot
    take as one graph (a graph break: ``GraphBreakWarning`` names the line) trains eagerly.

    Args:
        compile_options: keyword arguments of ``deepgrad.compile`` (``passes``,
            ``cache_size_limit``, ``fullgraph``); the trainer's optimizer is passed for you.
    """

    def __init__(self, **compile_options: Any) -> None:
        self.compile_options = compile_options
        self.step: Any = None  # the CompiledFunction, made on the first update
        self._built_for: tuple[int, ...] = ()

    def compiled_step(self, trainer: Trainer) -> Any:
        """The compiled forward-backward function for the trainer's model, loss and optimizer."""
        model, loss_fn, optimizer = trainer.model, trainer.loss_fn, trainer.optimizer
        key = (id(model), id(loss_fn), id(optimizer))
        if self.step is None or key != self._built_for:
            from deepgrad.compile import CompiledFunction

            def forward_backward(inputs: tuple, target: Any) -> tuple[Any, Any]:
                output = model(*inputs)
                loss = loss_fn(output, target)
                _check_scalar(loss)
                optimizer.zero_grad()
                loss.backward()
                return output, loss

            options = {"optimizers": [optimizer], **self.compile_options}
            self.step = CompiledFunction(forward_backward, **options)
            self._built_for = key
        return self.step

    def update(self, trainer: Trainer, batch: Any) -> dict[str, float]:
        inputs, target = trainer.split_batch(batch)
        output, loss = self.compiled_step(trainer)(tuple(inputs), target)
        logs = trainer.reduce_step_logs({"loss": float(loss._data), "size": batch_size(target)})
        value = logs["loss"]
        if not math.isfinite(value) and trainer.check_loss(value):  # nan_policy: skip the step
            return logs
        trainer.call_hook(
            "on_backward_end", {"epoch": trainer.epoch, "step": trainer.global_step + 1}
        )
        trainer.optimizer.step()
        for metric in trainer.metrics:
            metric.update(output, target)
        return logs


def _check_scalar(loss: Any) -> None:
    if loss.ndim != 0:
        raise ValueError(
            f"Trainer: loss_fn must return a scalar (got shape {tuple(loss.shape)}); "
            "use reduction='mean'."
        )


def batch_size(target: Any) -> int:
    """The number of samples in a batch: the target's first dimension (1 for a scalar)."""
    shape: tuple[int, ...] = tuple(getattr(target, "shape", ()))
    return int(shape[0]) if len(shape) else 1


# keys of the batch logs and epoch records that the Trainer writes itself (not an updater's logs)
RESERVED_LOGS = frozenset({"epoch", "batch", "step", "lr", "time"})


def loss_and_size(logs: dict[str, float]) -> tuple[float, int]:
    """The step's loss and batch size from an updater's logs, after checking the logs' keys."""
    if not isinstance(logs, dict) or "loss" not in logs:
        got = sorted(logs) if isinstance(logs, dict) else type(logs).__name__
        raise TypeError(
            f"Trainer: Updater.update must return a dict of logs with a 'loss' (got {got}); "
            "return e.g. {'loss': float(loss), 'size': batch_size}."
        )
    if len(logs) > 2:
        for key in logs:
            if key in RESERVED_LOGS or key.startswith("val_"):
                raise ValueError(
                    f"Trainer: the updater logged {key!r}, a name the Trainer writes itself "
                    f"({', '.join(sorted(RESERVED_LOGS))}, val_*); rename it."
                )
    return logs["loss"], int(logs.get("size", 1))


__all__ = [
    "RESERVED_LOGS",
    "CompiledUpdater",
    "StandardUpdater",
    "Updater",
    "batch_size",
    "loss_and_size",
]
