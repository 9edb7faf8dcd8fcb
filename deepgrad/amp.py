"""Automatic mixed precision: ``autocast`` runs matmul/conv in half precision, ``GradScaler`` keeps
small gradients from vanishing in it (like ``torch.amp``).

Half precision (float16, or bfloat16 through the ``ml_dtypes`` package) halves the memory traffic
of the big products and runs on a GPU's tensor cores. float16 has 5 exponent bits: gradients
below ~6e-8 become 0. The loss scaler multiplies the loss by a large factor S before backward so
that the gradients are S times larger and survive, divides them by S before the optimizer step,
and skips the step whenever a gradient overflowed to inf or nan.

Typical loop::

    scaler = deepgrad.amp.GradScaler()
    for x, y in loader:
        optimizer.zero_grad()
        with deepgrad.amp.autocast("cuda"):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)       # unscales, then steps unless a gradient is inf/nan
        scaler.update()              # shrinks S after an overflow, grows it after 2000 clean steps

What autocast changes (``deepgrad.backend.amp_state``): matmul, linear (F.linear, nn.Linear),
conv1d/conv2d and their transposes cast float32 inputs to the autocast dtype (float64 is left
alone); softmax, log_softmax, cross_entropy and nll_loss cast half inputs up to float32.
Parameters stay float32, and gradients flow back through the casts, so every parameter's
gradient arrives in its own dtype. Other ops run in whatever dtype their inputs have.

Accumulation: NumPy's float16 matmul (no BLAS for half) accumulates each dot product in float32
and rounds the result to float16 (``tests/amp`` checks this: a 4096-term sum of ones comes out
4096, which a float16 accumulator stops short of at 2048). It is a reference loop, far slower than
float32 BLAS, so on the CPU autocast saves memory, not time. On CUDA the half products go to
cuBLAS through CuPy, whose default compute type for float16 accumulates in float32; the GPU run
that checks this is still owed.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import amp_state, float16, to_dtype
from deepgrad.backend.validation import (
    boolean,
    in_interval,
    message,
    one_of,
    positive_float,
    positive_int,
)

_DEFAULT_DTYPE = {"cuda": "float16", "cpu": "bfloat16"}  # PyTorch's defaults


class autocast:
    """Context manager (or decorator) that runs matmul/linear/conv in half precision on ``device_type``.

    Args:
        device_type: 'cuda' or 'cpu': tensors on this kind of device are affected.
        dtype: float16 or bfloat16 (deepgrad.float16, 'bfloat16', ml_dtypes.bfloat16). Default:
            float16 on 'cuda', bfloat16 on 'cpu' (as in PyTorch; bfloat16 needs ``pip install ml_dtypes``).
        enabled: False turns autocast off inside the block (also inside an enclosing autocast).

    Example:
        >>> import deepgrad as dg
        >>> w = dg.randn(4, 3, requires_grad=True)
        >>> with autocast("cpu", dtype=dg.float16):
        ...     y = dg.randn(2, 3) @ w.mT
        >>> y.dtype
        dtype('float16')
        >>> y.float().sum().backward()
        >>> w.grad.dtype
        dtype('float32')
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True):
        fix = "pass the type of the device the model runs on"
        one_of(device_type, amp_state.DEVICE_TYPES, "device_type", "autocast", fix=fix)
        boolean(enabled, "enabled", "autocast")
        dtype = to_dtype(_DEFAULT_DTYPE[device_type] if dtype is None else dtype)
        if dtype != float16 and dtype.name != "bfloat16":
            raise ValueError(
                f"autocast: dtype must be float16 or bfloat16 (got {dtype}); "
                "autocast lowers precision, so pass deepgrad.float16 or 'bfloat16'."
            )
        self.device_type, self.dtype, self.enabled = device_type, dtype, enabled

    def __enter__(self) -> autocast:
        amp_state.push(self.device_type, self.dtype if self.enabled else None)
        return self

    def __exit__(self, *exc) -> None:
        amp_state.pop()

    def __call__(self, fn):
        """Use as a decorator: ``@autocast("cuda")`` runs the function inside the region."""

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with autocast(self.device_type, self.dtype, self.enabled):
                return fn(*args, **kwargs)

        return wrapped

    def __repr__(self) -> str:
        return f"autocast(device_type={self.device_type!r}, dtype={self.dtype}, enabled={self.enabled})"


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """True inside an enabled autocast region for ``device_type``."""
    return amp_state.dtype_for(device_type) is not None


def get_autocast_dtype(device_type: str):
    """The dtype autocast uses on ``device_type`` here: the region's, or the default outside one."""
    return amp_state.dtype_for(device_type) or to_dtype(_DEFAULT_DTYPE[device_type])


_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


class GradScaler:
    """Dynamic loss scaling for half-precision training (the algorithm of ``torch.amp.GradScaler``).

    Each iteration, with S the current scale::

        scale(loss)          -> loss * S                (backward then gives S * gradients)
        unscale_(optimizer)  : g <- g / S for every gradient; found_inf <- any g is inf or nan
        step(optimizer)      : unscale_ if not done yet; optimizer.step() unless found_inf
        update()             : if found_inf:  S <- S * backoff_factor, streak <- 0
                               else:           streak <- streak + 1;
                                               if streak == growth_interval: S <- S * growth_factor, streak <- 0

    Skipped steps do not touch the parameters or the optimizer's state (Adam's moments stay as
    they were). Micikevicius et al., 2018, "Mixed Precision Training".

    Args:
        device: 'cuda' or 'cpu', the device the model trains on (accepted for PyTorch's signature;
            the scaler works with gradients on any device). Default: 'cuda'.
        init_scale: the first S. Default: 2**16.
        growth_factor: S is multiplied by it after ``growth_interval`` clean steps in a row (> 1). Default: 2.
        backoff_factor: S is multiplied by it after a step with inf/nan gradients (in (0, 1)). Default: 0.5.
        growth_interval: clean steps in a row before S grows. Default: 2000.
        enabled: False makes every method a pass-through (scale returns the loss, step just steps).

    Example:
        >>> import deepgrad as dg
        >>> w = dg.tensor([1.0, 2.0], requires_grad=True)
        >>> opt = dg.optim.SGD([w], lr=0.1)
        >>> scaler = GradScaler(init_scale=1024.0)
        >>> scaler.scale((w * w).sum()).backward()
        >>> w.grad                     # 1024 times the true gradient [2, 4]
        tensor([2048., 4096.])
        >>> scaler.step(opt)           # unscales to [2, 4], finite, so SGD steps
        >>> scaler.update()
        >>> w
        tensor([0.8, 1.6], requires_grad=True)
    """

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ):
        one_of(device, amp_state.DEVICE_TYPES, "device", "GradScaler")
        _loss_scale(init_scale, "init_scale", "GradScaler")
        grows, shrinks = "it grows the scale", "it shrinks the scale"
        in_interval(
            growth_factor, "growth_factor", "GradScaler", low=1.0, include_low=False, fix=grows
        )
        in_interval(
            backoff_factor,
            "backoff_factor",
            "GradScaler",
            low=0.0,
            high=1.0,
            include_low=False,
            include_high=False,
            fix=shrinks,
        )
        positive_int(growth_interval, "growth_interval", "GradScaler")
        boolean(enabled, "enabled", "GradScaler")
        self.device = device
        self._scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = growth_interval
        self._growth_tracker = 0
        self._enabled = enabled
        self._per_optimizer: dict[int, dict] = {}

    # -- the four steps of an iteration -----------------------------------------------------------
    def scale(self, outputs):
        """``outputs * S`` (a Tensor, or a list/tuple of them). The product is at least float32,
        so a float16 loss times 2**16 does not overflow to inf."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale_tensor(outputs)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise TypeError(
            f"GradScaler.scale: outputs must be a Tensor or a list/tuple of Tensors (got {type(outputs).__name__})."
        )

    def unscale_(self, optimizer) -> None:
        """Divide the gradients of ``optimizer``'s parameters by S, in place, and record whether any is inf/nan.

        Call it before clipping gradients (``clip_grad_norm_`` then sees the true norm); ``step``
        calls it when you have not. At most once per optimizer between two ``update()`` calls.
        """
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["stage"] is _UNSCALED:
            raise RuntimeError(
                "GradScaler.unscale_: already called on this optimizer since the last update(); "
                "call it once per iteration, before step()."
            )
        if state["stage"] is _STEPPED:
            raise RuntimeError(
                "GradScaler.unscale_: called after step(); unscale before stepping, then update()."
            )
        state["found_inf"] = self._unscale_grads(optimizer, 1.0 / self._scale)
        state["stage"] = _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``unscale_(optimizer)`` if not done yet, then ``optimizer.step(*args, **kwargs)`` unless a
        gradient was inf/nan. Returns what ``optimizer.step`` returned, or None when skipped."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        state = self._state(optimizer)
        if state["stage"] is _STEPPED:
            raise RuntimeError(
                "GradScaler.step: already called on this optimizer since the last update()."
            )
        if state["stage"] is _READY:
            self.unscale_(optimizer)
        state["stage"] = _STEPPED
        if state["found_inf"]:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: float | None = None) -> None:
        """Adjust S for the next iteration (see the class docstring), or set it to ``new_scale``."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = _loss_scale(new_scale, "new_scale", "GradScaler.update")
        else:
            recorded = [s for s in self._per_optimizer.values() if s["stage"] is not _READY]
            if not recorded:
                raise RuntimeError(
                    "GradScaler.update: no inf/nan check was recorded since the last update(); "
                    "call scaler.step(optimizer) (or unscale_) first."
                )
            if any(s["found_inf"] for s in recorded):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale *= self._growth_factor
                    self._growth_tracker = 0
        self._per_optimizer.clear()

    # -- inspection and checkpoints ----------------------------------------------------------------
    def get_scale(self) -> float:
        """The current S (1.0 when disabled)."""
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """The scaler's settings and progress (PyTorch's keys); empty when disabled."""
        if not self._enabled:
            return {}
        return {
            "scale": self._scale,
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore from ``state_dict()`` output."""
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError(
                "GradScaler.load_state_dict: the state dict is empty (it came from a disabled scaler); "
                "build this scaler with enabled=False too, or load a state from an enabled one."
            )
        missing = {
            "scale",
            "growth_factor",
            "backoff_factor",
            "growth_interval",
            "_growth_tracker",
        } - set(state_dict)
        if missing:
            raise KeyError(f"GradScaler.load_state_dict: missing keys {sorted(missing)}.")
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])

    def __repr__(self) -> str:
        return (
            f"GradScaler(scale={self.get_scale()}, growth_factor={self._growth_factor}, "
            f"backoff_factor={self._backoff_factor}, growth_interval={self._growth_interval}, enabled={self._enabled})"
        )

    # -- helpers ---------------------------------------------------------------------------------------
    def _scale_tensor(self, like: Tensor) -> Tensor:
        xp = like.xp
        return Tensor._make(xp.asarray(self._scale, dtype=np.float32), None)

    def _state(self, optimizer) -> dict:
        state = self._per_optimizer.get(id(optimizer))
        if state is None:
            state = self._per_optimizer[id(optimizer)] = {"stage": _READY, "found_inf": False}
        return state

    @staticmethod
    def _unscale_grads(optimizer, inv_scale: float) -> bool:
        """g <- g * inv_scale for every gradient (in place); True when any is inf or nan.

        The per-gradient finiteness flags stay on the device and are read once, so the check
        costs one GPU synchronization, not one per parameter.
        """
        flags = []
        xp = None
        with no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    grad = param.grad
                    if grad is None:
                        continue
                    array = grad._data
                    if array.dtype == float16:
                        raise ValueError(
                            f"GradScaler: a gradient is float16 (parameter of shape {tuple(param.shape)}); "
                            "keep the parameters float32 (autocast casts them for the products) so that "
                            "unscaled gradients keep their precision."
                        )
                    xp = grad.xp
                    array *= array.dtype.type(inv_scale)
                    grad._version += 1
                    flags.append(xp.isfinite(array).all())
        if not flags:
            return False
        return not bool(xp.stack(flags).all())


def _loss_scale(value: object, name: str, owner: str) -> float:
    """A loss scale as a float, > 0 and finite (an infinite one makes every gradient inf or nan)."""
    fix = "a power of two such as 2.0**16 is usual"
    scale = positive_float(value, name, owner, fix=fix)
    if not math.isfinite(scale):
        raise ValueError(message(owner, name, "finite", repr(scale), fix))
    return scale


__all__ = ["GradScaler", "autocast", "get_autocast_dtype", "is_autocast_enabled"]
