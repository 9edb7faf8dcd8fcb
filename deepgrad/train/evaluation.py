"""Evaluation and prediction with a Trainer's model: ``evaluate``, ``predict``, ``split_batch``.

``Evaluation`` is a part of ``Trainer`` (a mixin kept in its own module for length); it uses the
Trainer's model, loss_fn, device, metrics and callbacks and is not used on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from deepgrad.autograd import Tensor, no_grad
from deepgrad.ops.shape import cat
from deepgrad.train.distributed import all_reduce_sum, sync_metrics, unwrap_model, world
from deepgrad.train.history import to_jsonable
from deepgrad.train.metrics import Metric
from deepgrad.train.updater import batch_size


class Evaluation:
    """The Trainer's evaluation side: batches split into inputs and target, eval and predict."""

    # The Trainer's attributes this part uses (set in Trainer.__init__), declared for type checkers.
    model: Any
    device: Any
    loss_fn: Any
    _eval_metrics: Any

    if TYPE_CHECKING:

        def call_hook(self, name: str, logs: dict[str, Any]) -> None: ...

    def split_batch(self, batch) -> tuple[Any, Any]:
        """``(inputs, target)`` of a batch ``(*inputs, target)``, moved to ``self.device`` when one
        was given: ``inputs`` is a sequence of the batch's first items, ``target`` its last."""
        if isinstance(batch, Tensor):
            raise TypeError(
                "Trainer: a batch must be a tuple (*inputs, target) (got a single Tensor); "
                "use TensorDataset(x, y) so the loader yields (x, y)."
            )
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError(
                f"Trainer: a batch must be a tuple (*inputs, target) (got {type(batch).__name__})"
            )
        if self.device is not None:
            batch = [
                t.to(self.device) if isinstance(t, Tensor) and t.device != self.device else t
                for t in batch
            ]
        return batch[:-1], batch[-1]

    # -- evaluation and prediction ------------------------------------------------------------
    def evaluate(self, loader) -> dict[str, Any]:
        """Mean loss and the metrics over ``loader``, in eval mode and without gradients.

        With several processes (data parallelism), each rank evaluates its own ``loader`` with
        the module inside ``DistributedDataParallel`` (no communication per batch); the loss sums,
        sample counts and metrics are then added up over the ranks, so every rank returns the
        values over all ranks' samples. Give each rank its own part of the data (e.g.
        ``Subset(data, range(rank, len(data), world_size))``): a loader that holds all the data on
        every rank gives the same means, but counts (a confusion matrix) times the world size.

        Returns:
            ``{"loss": ..., "<metric>": ...}`` (floats; array-valued metrics as Tensors).
        """
        model = unwrap_model(self.model)
        was_training = model.training
        model.eval()
        for m in self._eval_metrics:
            m.reset()
        self.call_hook("on_eval_start", {})
        loss_sum = 0.0
        seen = 0
        try:
            with no_grad():
                for batch in loader:
                    inputs, target = self.split_batch(batch)
                    output = model(*inputs)
                    size = batch_size(target)
                    loss_sum += float(self.loss_fn(output, target)._data) * size
                    seen += size
                    for m in self._eval_metrics:
                        m.update(output, target)
        finally:
            model.train(was_training)
        if world()[1] > 1:  # every rank's sums: the same values on all of them
            total_loss, total_seen = all_reduce_sum(np.array([loss_sum, seen]))
            loss_sum, seen = float(total_loss), int(total_seen)
            sync_metrics(self._eval_metrics)
        if seen == 0:
            raise ValueError("Trainer.evaluate: the loader yielded no batches.")
        results: dict[str, Any] = {"loss": loss_sum / seen}
        results.update(_computed(self._eval_metrics))
        self.call_hook("on_eval_end", results)
        return results

    def predict(self, loader) -> Tensor:
        """The model's outputs for every batch of ``loader``, concatenated along dim 0.

        With several processes, each rank predicts its own ``loader`` (no communication).

        Batches may be a Tensor of inputs, or tuples ``(*inputs, target)`` whose target is ignored
        (a 1-tuple ``(x,)`` is taken as inputs).
        """
        model = unwrap_model(self.model)
        was_training = model.training
        model.eval()
        outputs = []
        try:
            with no_grad():
                for batch in loader:
                    inputs: tuple[Any, ...]
                    if isinstance(batch, Tensor):
                        inputs = (batch,)
                    elif len(batch) == 1:
                        inputs = tuple(batch)
                    else:
                        inputs, _ = self.split_batch(batch)
                    if self.device is not None:
                        inputs = tuple(
                            t.to(self.device) if isinstance(t, Tensor) else t for t in inputs
                        )
                    outputs.append(model(*inputs))
        finally:
            model.train(was_training)
        if not outputs:
            raise ValueError("Trainer.predict: the loader yielded no batches.")
        return cat(outputs, dim=0)


def _computed(metrics: list[Metric]) -> dict[str, Any]:
    out = {}
    for m in metrics:
        value = m.compute()
        out[m.name] = value if isinstance(value, (float, Tensor)) else to_jsonable(value)
    return out
