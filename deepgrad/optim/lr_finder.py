"""The learning-rate range test: find a stable learning rate before training.

Train for a few dozen batches while the learning rate grows exponentially from tiny to huge,
watch the loss, and pick a rate where the loss falls fastest, well before it blows up.
Smith, 2017, "Cyclical Learning Rates for Training Neural Networks", section 3.3 (popularized
by fast.ai as the "LR finder")::

    result = find_lr(model, F.cross_entropy, SGD(model.parameters(), lr=1e-3), train_loader)
    result.plot()
    optimizer = SGD(model.parameters(), lr=result.suggestion)

The model and the optimizer come back exactly as they were: the test is a measurement, not
training.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend.validation import in_interval, int_at_least, non_negative_int, probability
from deepgrad.optim.optimizer import Optimizer


@dataclass
class LRFinderResult:
    """What :func:`find_lr` measured.

    Attributes:
        lrs: the learning rate of each step taken.
        losses: the smoothed loss (bias-corrected exponential average) at each step.
        raw_losses: the loss of each batch as computed.
        diverged: whether the test stopped early because the loss blew up (or became nan).
        best_loss: the lowest smoothed loss.
        suggestion: the rate where the smoothed loss falls fastest (see :meth:`suggest`), or
            None when too few steps were recorded to tell.
    """

    lrs: list[float]
    losses: list[float]
    raw_losses: list[float]
    diverged: bool
    best_loss: float
    suggestion: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.suggestion = self.suggest()

    def suggest(self, skip_start: int | None = None, skip_end: int | None = None) -> float | None:
        """The rate at the steepest descent of the smoothed loss against log10(lr).

        The slope d(loss)/d(log10 lr) at point i is the central difference between points
        i - k and i + k, with k a twentieth of the points (at least 1): wider than neighbours,
        so that the batch-to-batch wobble the average has not yet absorbed in the first steps
        does not pass for a descent. The first ``skip_start`` points (default: a tenth) and the
        last ``skip_end`` (default: a twentieth, at least one, where the loss blows up) are
        ignored. Returns None when fewer than 3 points remain.
        """
        count = len(self.lrs)
        skip_start = count // 10 if skip_start is None else skip_start
        skip_end = max(1, count // 20) if skip_end is None else skip_end
        non_negative_int(skip_start, "skip_start", "LRFinderResult.suggest")
        non_negative_int(skip_end, "skip_end", "LRFinderResult.suggest")
        k = max(1, count // 20)
        first, last = max(skip_start, k), min(count - skip_end, count - k)
        if last - first < 3:
            return None
        log_lrs = np.log10(np.asarray(self.lrs, dtype=np.float64))
        losses = np.asarray(self.losses, dtype=np.float64)
        centre = np.arange(first, last)
        slope = (losses[centre + k] - losses[centre - k]) / (
            log_lrs[centre + k] - log_lrs[centre - k]
        )
        return float(self.lrs[first + int(np.argmin(slope))])

    def plot(self, ax=None, show_raw: bool = True):
        """Draw loss against learning rate (log scale) with the suggestion marked; returns the Axes.

        Needs matplotlib (``pip install deepgrad[plot]``).
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError(
                "LRFinderResult.plot: needs matplotlib; install it with pip install 'deepgrad[plot]'."
            ) from exc
        if ax is None:
            _, ax = plt.subplots()
        if show_raw:
            ax.plot(self.lrs, self.raw_losses, color="0.75", linewidth=1, label="batch loss")
        ax.plot(self.lrs, self.losses, color="C0", label="smoothed loss")
        if self.suggestion is not None:
            index = self.lrs.index(self.suggestion)
            ax.plot(
                [self.suggestion],
                [self.losses[index]],
                "o",
                color="C3",
                label=f"suggestion: {self.suggestion:.2e}",
            )
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title("learning-rate range test")
        ax.legend()
        return ax


def find_lr(
    model: Callable,
    loss_fn: Callable,
    optimizer: Optimizer,
    loader: Iterable,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    smooth: float = 0.98,
    diverge_threshold: float = 4.0,
) -> LRFinderResult:
    """Run the learning-rate range test, then put the model and the optimizer back as they were.

    Step i of num_steps (i = 0 .. num_steps - 1) trains on one batch with every group's rate at::

        lr_i = start_lr · (end_lr / start_lr)^(i / (num_steps - 1))
        avg ← smooth·avg + (1 - smooth)·loss_i;   smoothed_i = avg / (1 - smooth^(i+1))
        stop when smoothed_i > diverge_threshold · min(smoothed) or the loss is not finite

    The loader is cycled when it runs out before num_steps. The model's and the optimizer's
    state dicts are deep-copied first and restored at the end, also when an exception
    interrupts the test; the parameters' gradients are restored too.

    Args:
        model: called as ``model(inputs)``; a Module (its ``state_dict`` is restored) or any
            callable whose parameters are those of ``optimizer``.
        loss_fn: ``loss_fn(output, targets)`` -> scalar loss tensor (assumed positive).
        optimizer: the optimizer to test, with the options (momentum ...) you will train with.
        loader: yields ``(inputs, targets)`` batches of Tensors.
        start_lr: first rate. Default: 1e-7.
        end_lr: last rate. Default: 10.
        num_steps: number of batches (rates) at most. Default: 100.
        smooth: smoothing factor of the loss average, in [0, 1). Default: 0.98.
        diverge_threshold: stop when the smoothed loss exceeds this multiple of the best. Default: 4.

    Returns:
        An :class:`LRFinderResult` with ``lrs``, ``losses`` (smoothed), ``raw_losses`` and
        ``suggestion``.
    """
    _check_arguments(optimizer, start_lr, end_lr, num_steps, smooth, diverge_threshold)
    restore = _snapshot(model, optimizer)
    lrs: list[float] = []
    losses: list[float] = []
    raw_losses: list[float] = []
    diverged = False
    best = math.inf
    average = 0.0
    try:
        batches = _cycle(loader)
        growth = end_lr / start_lr
        for step in range(num_steps):
            lr = start_lr * growth ** (step / (num_steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            value = _train_on(next(batches), model, loss_fn, optimizer)
            if not math.isfinite(value):
                diverged = True
                break
            average = smooth * average + (1.0 - smooth) * value
            smoothed = average / (1.0 - smooth ** (step + 1))
            lrs.append(lr)
            losses.append(smoothed)
            raw_losses.append(value)
            best = min(best, smoothed)
            if smoothed > diverge_threshold * best:
                diverged = True
                break
    finally:
        restore()
    return LRFinderResult(
        lrs=lrs, losses=losses, raw_losses=raw_losses, diverged=diverged, best_loss=best
    )


def _cycle(loader: Iterable) -> Iterator:
    """The loader's batches, starting over each time it runs out."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError(
                "find_lr: the loader yielded no batches; it must yield (inputs, targets) tuples."
            )


def _train_on(batch, model: Callable, loss_fn: Callable, optimizer: Optimizer) -> float:
    """One training step on ``(inputs, targets)``; the loss as a Python float."""
    inputs, targets = batch
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return float(loss.item())


def _check_arguments(optimizer, start_lr, end_lr, num_steps, smooth, diverge_threshold) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"find_lr: optimizer must be a deepgrad Optimizer (got {type(optimizer).__name__})."
        )
    if not 0 < start_lr < end_lr:
        raise ValueError(
            f"find_lr: need 0 < start_lr < end_lr (got start_lr={start_lr}, end_lr={end_lr})."
        )
    int_at_least(num_steps, 2, "num_steps", "find_lr")
    probability(smooth, "smooth", "find_lr")
    in_interval(diverge_threshold, "diverge_threshold", "find_lr", low=1, include_low=False)


def _snapshot(model, optimizer: Optimizer) -> Callable[[], None]:
    """Deep-copy everything the test changes; return the function that puts it back."""
    has_state_dict = hasattr(model, "state_dict") and hasattr(model, "load_state_dict")
    model_state = _copy_tree(model.state_dict()) if has_state_dict else None
    optimizer_state = _copy_tree(optimizer.state_dict())
    params = [param for group in optimizer.param_groups for param in group["params"]]
    arrays = None if has_state_dict else [param._data.copy() for param in params]
    grads = [None if param.grad is None else param.grad._data.copy() for param in params]

    def restore() -> None:
        if has_state_dict:
            model.load_state_dict(model_state)
        else:
            for param, array in zip(params, arrays):
                param._data[...] = array
                param._version += 1
        optimizer.load_state_dict(optimizer_state)
        for param, grad in zip(params, grads):
            param.grad = None if grad is None else Tensor._make(grad, None)

    return restore


def _copy_tree(value):
    """A deep copy of a state dict whose tensors get fresh arrays (``t._data.copy()``)."""
    if isinstance(value, Tensor):
        return Tensor._make(value._data.copy(), None)
    if isinstance(value, OrderedDict):
        return OrderedDict((key, _copy_tree(item)) for key, item in value.items())
    if isinstance(value, dict):
        return {key: _copy_tree(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_tree(item) for item in value)
    return copy.deepcopy(value)
