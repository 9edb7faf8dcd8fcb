"""GradientClipping: rescale the gradients before every optimizer step."""

from __future__ import annotations

from typing import Any

from deepgrad.nn.utils import clip_grad_norm_
from deepgrad.train.callbacks.base import Callback


class GradientClipping(Callback):
    """Clip the joint norm of all gradients to ``max_norm`` before each ``optimizer.step()``.

    g_i <- g_i * max_norm / ||(g_1, ..., g_n)||_p   when the norm exceeds max_norm.

    It clips in ``on_backward_end``, which the Trainer's updater calls between ``backward()``
    and ``optimizer.step()``, with ``nn.utils.clip_grad_norm_``. ``Trainer(grad_clip=max_norm)``
    is a shorthand for this callback with the 2-norm, placed first among the callbacks.

    Args:
        max_norm: the largest allowed norm (> 0).
        norm_type: p of the p-norm; ``float('inf')`` for the largest absolute value. Default: 2.0.

    Attributes:
        last_norm: the gradients' norm before clipping at the last step (a float), useful to
            watch for exploding gradients.
    """

    def __init__(self, max_norm: float, norm_type: float = 2.0) -> None:
        if not isinstance(max_norm, (int, float)) or isinstance(max_norm, bool) or not max_norm > 0:
            raise ValueError(
                f"GradientClipping: max_norm must be a positive number (got {max_norm!r})"
            )
        if not float(norm_type) > 0:
            raise ValueError(
                f"GradientClipping: norm_type must be > 0 or float('inf') (got {norm_type!r})"
            )
        self.max_norm = float(max_norm)
        self.norm_type = float(norm_type)
        self.last_norm: float | None = None

    def on_backward_end(self, trainer, logs: dict[str, Any]) -> None:
        self.clip(trainer)

    def clip(self, trainer) -> None:
        """Clip the gradients of ``trainer.model`` in place and keep their norm in ``last_norm``."""
        total = clip_grad_norm_(trainer.model.parameters(), self.max_norm, self.norm_type)
        self.last_norm = float(total._data)
