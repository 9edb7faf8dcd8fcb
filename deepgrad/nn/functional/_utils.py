"""Argument checks and small helpers shared by the modules of ``deepgrad.nn.functional``.

Private: the public functions are in the sibling modules, re-exported by the package.
"""

from __future__ import annotations

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, ShapeError
from deepgrad.ops import composite as cp
from deepgrad.ops import elementwise as ew
from deepgrad.ops.inplace import inplace_op

_REDUCTIONS = ("mean", "sum", "none")

# SELU's constants (Klambauer et al., 2017), shared by selu and alpha_dropout.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check_tensor(name: str, arg: str, value) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{name}: {arg} must be a deepgrad Tensor (got {type(value).__name__}); wrap it with "
            "deepgrad.tensor(...)."
        )


def _check_same_shape(name: str, input: Tensor, target: Tensor) -> None:
    _check_tensor(name, "input", input)
    _check_tensor(name, "target", target)
    if input.shape != target.shape:
        raise ShapeError(
            f"{name}: input and target shapes differ (got input {input.shape}, target "
            f"{target.shape}); they must match element for element (reshape or squeeze the one "
            "with extra size-1 dimensions)."
        )


def _check_same_device(name: str, input: Tensor, other: Tensor, arg: str) -> None:
    if type(other._data) is not type(input._data):
        raise DeviceError(
            f"{name}: {arg} is on {other.device} but the other tensor is on {input.device}; move "
            f"it with {arg}.to(device) first."
        )


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return cp.mean(loss)
    if reduction == "sum":
        return loss.sum()
    return loss


def _maybe_inplace(name: str, fn, input: Tensor, inplace: bool, *args) -> Tensor:
    """Run ``fn(input, *args)``, written into ``input`` when ``inplace`` (the in-place rules)."""
    if inplace:
        return inplace_op(name, fn)(input, *args)
    return fn(input, *args)


def _softplus(z: Tensor) -> Tensor:
    # ln(1 + e^z) = max(z, 0) + ln(1 + e^-|z|) never overflows; maximum (unlike relu) splits the
    # tie at z = 0 evenly, which gives the exact gradient there, sigmoid(0) = 1/2.
    return ew.maximum(z, 0.0) + ew.log1p(ew.exp(-ew.abs(z)))
