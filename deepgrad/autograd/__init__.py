"""Reverse-mode automatic differentiation: Tensor, Function, the backward engine, grad mode."""

from deepgrad.autograd.function import BackwardError, Context, Function
from deepgrad.autograd.functional import grad
from deepgrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from deepgrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from deepgrad.autograd.tensor import Tensor

__all__ = [
    "BackwardError",
    "Context",
    "Function",
    "GradcheckError",
    "Tensor",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_grad_enabled",
]
