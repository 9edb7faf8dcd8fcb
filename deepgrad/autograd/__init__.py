"""Reverse-mode automatic differentiation: Tensor, Function, the backward engine, grad mode."""

from deepgrad.autograd.anomaly import (
    AnomalyError,
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
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
    "AnomalyError",
    "BackwardError",
    "Context",
    "Function",
    "GradcheckError",
    "Tensor",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_detect_anomaly",
    "set_grad_enabled",
]
