"""Checking a state dict against a model before ``Module.load_state_dict`` copies anything."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import as_array


def match_state_dict(
    name: str, own: Mapping[str, Tensor], state_dict: Any, strict: bool
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Pair every key of the model's own state dict with the array of ``state_dict`` to load.

    Args:
        name: the model's class name, for the error.
        own: the model's state dict (``keep_vars=True``): the tensors to load into.
        state_dict: the values to load, by dotted name.
        strict: missing or unexpected keys are an error.

    Returns:
        ``(missing_keys, unexpected_keys, arrays)``: arrays by key, for the keys both hold.

    Raises:
        TypeError: ``state_dict`` is not a mapping, or a value is not a tensor.
        RuntimeError: a shape or dtype that does not fit (always), missing or unexpected keys
            (with ``strict``); the message lists every such key.
    """
    if not hasattr(state_dict, "items"):
        raise TypeError(
            f"{name}.load_state_dict: expected a dict of tensors (got {type(state_dict).__name__})"
        )
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    mismatched: list[str] = []
    mistyped: list[str] = []
    sources = {}
    for key, target in own.items():
        if key not in state_dict:
            continue
        value = state_dict[key]
        try:
            array = value._data if isinstance(value, Tensor) else as_array(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name}.load_state_dict: value for '{key}' is not a tensor "
                f"(got {type(value).__name__}: {exc})"
            ) from None
        if tuple(array.shape) != tuple(target.shape):
            mismatched.append(
                f"{key}: checkpoint {tuple(array.shape)} vs model {tuple(target.shape)}"
            )
        if not _castable(array.dtype, target.dtype):
            mistyped.append(f"{key}: checkpoint {array.dtype} vs model {target.dtype}")
        sources[key] = array
    if mismatched or mistyped or (strict and (missing or unexpected)):
        raise RuntimeError(_load_report(name, missing, unexpected, mismatched, mistyped))
    return missing, unexpected, sources


def _castable(source: np.dtype, target: np.dtype) -> bool:
    """Numbers cast as ``copy_`` casts them, except complex into real (it would drop the
    imaginary part); anything that is not a number (strings, objects) never fits."""
    if source.kind not in "biufcV":  # "V": bfloat16 (ml_dtypes)
        return False
    return source.kind != "c" or target.kind == "c"


def _load_report(
    name: str,
    missing: list[str],
    unexpected: list[str],
    mismatched: list[str],
    mistyped: list[str] | None = None,
) -> str:
    """The load_state_dict error: every missing, unexpected, mis-shaped and mis-typed key, and what to do."""
    lines = [f"{name}.load_state_dict: the state dict does not fit the model; nothing was loaded."]
    if missing:
        lines.append(f"  missing keys ({len(missing)}): {', '.join(missing)}")
    if unexpected:
        lines.append(f"  unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
    if mismatched:
        lines.append(f"  mis-shaped keys ({len(mismatched)}): " + "; ".join(mismatched))
    if mistyped:
        lines.append(
            f"  keys of a dtype that cannot be copied ({len(mistyped)}): " + "; ".join(mistyped)
        )
    lines.append(
        "  Check that the model is built with the same sizes, "
        "or pass strict=False to skip missing/unexpected keys."
    )
    return "\n".join(lines)
