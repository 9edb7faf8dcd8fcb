"""GradientClipping: rescale the gradients before every optimizer step."""

from __future__ import annotations

from deepgrad.nn.utils import clip_grad_norm_
from deepgrad.train.callbacks.base import Callback


class GradientClipping(Callback):
    """Clip the joint norm of all gradients to ``max_norm`` before each ``optimizer.step()``.

    g_i <- g_i * max_norm / ||(g_1, ..., g_n)||_p   when the norm exceeds max_norm.

    No hook sits between ``backward()`` and ``optimizer.step()``, so the Trainer calls
    ``clip(trainer)`` there itself for every GradientClipping in its callbacks; it is the same
    as ``Trainer(grad_clip=max_norm)`` for the 2-norm.

    Args:
        max_norm: the largest allowed norm (> 0).
        norm_type: p of the p-norm; ``float('inf')`` for the largest absolute value. Default: 2.0.

    Attributes:
        last_norm: the gradients' norm before clipping at the last step (a float), useful to
            watch for exploding gradients.
    """

    def __init__(self, max_norm: float, norm_type: float = 2.0):
        if not isinstance(max_norm, (int, float)) or isinstance(max_norm, bool) or not max_norm > 0:
            raise ValueError(f"GradientClipping: max_norm must be a positive number (got {max_norm!r})")
        if not float(norm_type) > 0:
            raise ValueError(f"GradientClipping: norm_type must be > 0 or float('inf') (got {norm_type!r})")
        self.max_norm = float(max_norm)
        self.norm_type = float(norm_type)
        self.last_norm: float | None = None

    def clip(self, trainer) -> None:
        """Clip the gradients of ``trainer.model`` in place (called by the Trainer after backward)."""
        total = clip_grad_norm_(trainer.model.parameters(), self.max_norm, self.norm_type)
        self.last_norm = float(total._data)
