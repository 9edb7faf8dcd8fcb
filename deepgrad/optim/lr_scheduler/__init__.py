"""Learning-rate schedulers: set each parameter group's ``lr`` as training goes on.

Call ``scheduler.step()`` once per epoch (or per batch for OneCycleLR), after
``optimizer.step()``::

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, optimizer)
        scheduler.step()

Every scheduler here except ReduceLROnPlateau computes the rate in closed form from the
group's starting rate (``group["initial_lr"]``) and the step count ``last_epoch``: the values
are exactly the formulas in the docstrings, and never drift through repeated multiplication.
To run schedules one after another (warm-up, then decay) use :class:`SequentialLR`.
"""

from __future__ import annotations

from deepgrad.optim.lr_scheduler.base import LRScheduler
from deepgrad.optim.lr_scheduler.closed_form import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    StepLR,
)
from deepgrad.optim.lr_scheduler.one_cycle import OneCycleLR
from deepgrad.optim.lr_scheduler.plateau import ReduceLROnPlateau
from deepgrad.optim.lr_scheduler.sequential import SequentialLR

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]
