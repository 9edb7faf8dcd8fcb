"""Optimizer: the base class of every optimizer, with parameter groups and per-parameter state.

An optimizer holds ``param_groups``: a list of dicts, each with its ``params`` (a list of
tensors) and its options (``lr``, ``weight_decay`` ...). Giving each layer its own group is
how per-layer learning rates are written::

    opt = SGD([{"params": model.features.parameters(), "lr": 1e-3},
               {"params": model.head.parameters()}], lr=1e-2, momentum=0.9)

A subclass writes two methods: ``_init_state(param, group)`` (the state of one parameter,
made at its first update) and ``_update(param, grad, state, group)`` (the math of one step
for one parameter, on raw arrays, in place). The loop, grad mode, skipping parameters
without a gradient and the state dict live here, once.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Callable, Iterable
from typing import Any

from deepgrad.autograd.grad_mode import enable_grad, no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import (
    DTypeError,
    ShapeError,
    device_of,
    get_array_module,
    is_floating,
    is_writeable,
    to_device,
)
from deepgrad.backend.validation import boolean, non_negative_float, probability


class Optimizer(abc.ABC):
    """Base class of optimizers: parameter groups, ``step``, ``zero_grad``, state dicts.

    A new optimizer writes ``_update`` (the math of one step for one parameter, in place on
    raw arrays) and, when it keeps state, ``_init_state``; ``_check_options`` validates its
    options for the constructor and for every group added later.

    Args:
        params: an iterable of Tensors (one group), or of dicts ``{"params": [...], **options}``
            (one group each; options missing from a dict take the optimizer's defaults).
        defaults: the default value of every option this optimizer understands.

    Example:
        >>> import deepgrad as dg
        >>> from deepgrad.backend import get_array_module
        >>> class SignSGD(Optimizer):
        ...     # p ← p - lr·sign(g)   (signSGD, Bernstein et al., 2018)
        ...     def __init__(self, params, lr=0.01):
        ...         super().__init__(params, {"lr": lr})
        ...     def _update(self, param, grad, state, group):
        ...         xp = get_array_module(param)
        ...         param -= group["lr"] * xp.sign(grad)
        >>> w = dg.tensor([0.5, -2.0], requires_grad=True)
        >>> opt = SignSGD([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.4, -1.9], requires_grad=True)

    Attributes:
        param_groups: list of dicts, ``{"params": [Tensor, ...], "lr": ..., ...}``; schedulers
            change ``group["lr"]`` between steps.
        state: per-parameter state, ``{param: {"step": int, "exp_avg": Tensor, ...}}``.
        defaults: the options given at construction.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]):
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        self._workspace: dict = {}
        self._check_options(self.defaults)
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts (got a single Tensor); "
                "wrap it in a list: [param]."
            )
        if isinstance(params, dict):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts (got a dict); "
                "wrap the group in a list: [{'params': ..., 'lr': ...}]."
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: params must be an ordered sequence (got a set, whose order changes between runs "
                "and would scramble state dicts); use a list, e.g. list(model.parameters())."
            )
        groups = list(params)
        if not groups:
            raise ValueError(
                f"{name}: got an empty parameter list; pass model.parameters() or a list of Tensors."
            )
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- what a subclass writes ------------------------------------------------------------------
    def _check_options(self, options: dict[str, Any]) -> None:
        """Raise ValueError for an option value out of range (called for the defaults and every group)."""

    def _init_state(self, param, group: dict[str, Any]) -> dict[str, Any]:
        """The state of one parameter before its first update (``param`` is its raw array)."""
        return {}

    @abc.abstractmethod
    def _update(self, param, grad, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update the raw array ``param`` in place from its gradient array ``grad``."""

    # -- parameter groups ------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (e.g. a new layer being unfrozen).

        Options missing from ``param_group`` take the optimizer's defaults. A parameter may
        belong to one group only, and unknown option names are errors.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}.add_param_group: expected a dict (got {type(param_group).__name__})."
            )
        if "params" not in param_group:
            raise ValueError(
                f"{name}.add_param_group: the group has no 'params' key (got keys {sorted(param_group)})."
            )
        unknown = sorted(key for key in param_group if key != "params" and key not in self.defaults)
        if unknown:
            raise ValueError(
                f"{name}: unknown option(s) {unknown} in a parameter group; allowed: {sorted(self.defaults)}."
            )
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: a group's params must be an ordered sequence (got a set, whose order changes "
                "between runs and would scramble state dicts); use a list."
            )
        else:
            params = list(params)
        if not params:
            raise ValueError(
                f"{name}: a parameter group has no parameters; remove it or add tensors to it."
            )
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for index, param in enumerate(params):
            if not isinstance(param, Tensor):
                raise TypeError(
                    f"{name}: params must be Tensors (got {type(param).__name__} at position {index})."
                )
            if param.grad_fn is not None:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf tensor (position {index} was computed from others); "
                    "optimize the leaf it comes from, or .detach() it and set requires_grad=True."
                )
            if not is_floating(param.dtype):
                raise TypeError(
                    f"{name}: only floating-point tensors can be optimized (got {param.dtype} at position {index})."
                )
            if id(param) in seen:
                raise ValueError(
                    f"{name}: a parameter appears twice (position {index} of the new group is already in this "
                    "or another group); each parameter must belong to exactly one group."
                )
            seen.add(id(param))
        group = {key: param_group.get(key, default) for key, default in self.defaults.items()}
        self._check_options(group)
        group["params"] = params
        self.param_groups.append(group)

    # -- the training-loop API -------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (default), or fill them with zeros in place."""
        for group in self.param_groups:
            for param in group["params"]:
                grad = param.grad
                if grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                elif grad.grad_fn is not None or not is_writeable(grad._data):
                    param.grad = Tensor._make(grad.xp.zeros_like(grad._data), None)
                else:
                    grad._data.fill(0)

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; parameters whose ``grad`` is None are skipped.

        Args:
            closure: optional function that clears the gradients, recomputes the loss, calls
                ``backward()`` and returns the loss (needed by methods that evaluate the loss
                several times per step).

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is None:
                        continue
                    grad = param.grad._data
                    if grad.shape != param._data.shape or grad.dtype != param._data.dtype:
                        self._bad_grad(param, grad)
                    state = self.state.get(param)
                    if state is None:
                        state = self.state[param] = self._init_state(param._data, group)
                    self._update(param._data, grad, state, group)
                    param._version += 1
        return loss

    def _bad_grad(self, param: Tensor, grad) -> None:
        index = [id(p) for group in self.param_groups for p in group["params"]].index(id(param))
        name = type(self).__name__
        if grad.shape != param.shape:
            raise ShapeError(
                f"{name}.step: parameter {index} has shape {tuple(param.shape)} but its grad has shape "
                f"{tuple(grad.shape)}; a gradient must have its parameter's shape."
            )
        raise DTypeError(
            f"{name}.step: parameter {index} is {param.dtype} but its grad is {grad.dtype}; "
            "assign a gradient of the parameter's dtype (backward() always does)."
        )

    # -- helpers for subclasses ------------------------------------------------------------------
    def _scratch(self, param, slot: int = 0):
        """A reusable scratch array shaped like ``param`` (its contents are garbage).

        Updates run in place with ``out=``; their temporaries live in one flat buffer per
        (dtype, device, slot), grown to the largest parameter and reused every step, so a step
        allocates nothing (fresh arrays cost page faults, docs/performance.md, note 3).
        """
        key = (param.dtype, str(device_of(param)), slot)
        buffer = self._workspace.get(key)
        if buffer is None or buffer.size < param.size:
            xp = get_array_module(param)
            buffer = xp.empty(param.size, dtype=param.dtype)
            self._workspace[key] = buffer
        return buffer[: param.size].reshape(param.shape)

    def _regularized_grad(self, param, grad, weight_decay: float, maximize: bool):
        """``g = ±grad + weight_decay * param`` (L2 penalty folded into the gradient), in scratch slot 1.

        Returns ``grad`` itself when there is nothing to add, so the common case copies nothing.
        """
        if weight_decay == 0 and not maximize:
            return grad
        out = self._scratch(param, 1)
        xp = get_array_module(param)
        if weight_decay == 0:
            return xp.negative(grad, out=out)
        xp.multiply(param, weight_decay, out=out)
        if maximize:
            return xp.subtract(out, grad, out=out)
        return xp.add(grad, out, out=out)

    @staticmethod
    def _zeros_state(param, fill: float = 0.0) -> Tensor:
        """A state tensor shaped like ``param`` (a raw array), filled with ``fill``."""
        xp = get_array_module(param)
        return Tensor._make(xp.full(param.shape, fill, dtype=param.dtype), None)

    # -- state dicts -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state, with parameters referred to by index (as PyTorch does).

        Returns ``{"state": {index: {"step": ..., "exp_avg": Tensor, ...}}, "param_groups":
        [{"lr": ..., ..., "params": [index, ...]}]}``; indices count through the groups in
        order. State tensors are the live ones (not copies): deep-copy the result to keep a
        snapshot while training goes on, or save it with ``deepgrad.save``.
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            indices = []
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
                indices.append(index_of[id(param)])
            packed["params"] = indices
            groups.append(packed)
        state = {
            index_of[id(param)]: dict(values)
            for param, values in self.state.items()
            if id(param) in index_of
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state from :meth:`state_dict` output (this optimizer's params keep their identity).

        The saved groups must have the same number of parameters as this optimizer's groups.
        State tensors are copied onto each parameter's device, floating ones cast to its dtype,
        so the loaded optimizer shares no memory with ``state_dict``.
        """
        name = type(self).__name__
        if (
            not isinstance(state_dict, dict)
            or "state" not in state_dict
            or "param_groups" not in state_dict
        ):
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' "
                f"(got {type(state_dict).__name__}"
                f"{' with keys ' + str(sorted(state_dict)) if isinstance(state_dict, dict) else ''})."
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter group(s) but this "
                f"optimizer has {len(self.param_groups)}; build the optimizer with the same groups."
            )
        saved_sizes = [len(group["params"]) for group in saved_groups]
        own_sizes = [len(group["params"]) for group in self.param_groups]
        if saved_sizes != own_sizes:
            raise ValueError(
                f"{name}.load_state_dict: group sizes differ (state dict {saved_sizes}, optimizer {own_sizes}); "
                "the parameter groups must hold the same parameters in the same order."
            )
        param_of = {}
        for saved, own in zip(saved_groups, self.param_groups):
            for index, param in zip(saved["params"], own["params"]):
                param_of[index] = param
        new_state: dict[Tensor, dict[str, Any]] = {}
        for index, values in state_dict["state"].items():
            key = int(index)  # a state dict read back from JSON metadata may have string keys
            if key not in param_of:
                raise ValueError(
                    f"{name}.load_state_dict: state for parameter index {index} but the groups only list "
                    f"indices {sorted(param_of)}."
                )
            param = param_of[key]
            new_state[param] = {
                k: _state_value_for(param, k, v, name, key) for k, v in values.items()
            }
        new_groups = []
        for saved, own in zip(saved_groups, self.param_groups):
            group = {key: copy.deepcopy(value) for key, value in saved.items() if key != "params"}
            group["params"] = own["params"]
            new_groups.append(group)
        self.state = new_state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for index, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {index}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _state_value_for(param: Tensor, key: str, value, optimizer_name: str, index: int):
    """A fresh copy of one saved state value, on ``param``'s device (floating values in its dtype)."""
    if (
        isinstance(value, Tensor)
        or hasattr(value, "__array_interface__")
        or hasattr(value, "__cuda_array_interface__")
    ):
        array = value._data if isinstance(value, Tensor) else value
        if array.shape and tuple(array.shape) != tuple(param.shape):
            raise ValueError(
                f"{optimizer_name}.load_state_dict: state '{key}' of parameter {index} has shape "
                f"{tuple(array.shape)} but the parameter has shape {tuple(param.shape)}."
            )
        array = to_device(array, param.device)
        dtype = param.dtype if is_floating(array.dtype) else array.dtype
        return Tensor._make(array.astype(dtype, copy=True), None)
    return copy.deepcopy(value)


# -- shared by the optimizers' constructors and updates -------------------------------------------
# The option checks are deepgrad.backend.validation's; these three names stay for optimizers
# written against them (new code calls validation.non_negative_float, probability, boolean).
def check_nonnegative(owner: str, option: str, value: Any) -> None:
    """Raise unless ``value`` is a real number >= 0 (``owner`` names the optimizer)."""
    non_negative_float(value, option, owner)


def check_fraction(owner: str, option: str, value: Any) -> None:
    """Raise unless ``0 <= value < 1`` (decay rates such as betas and alpha)."""
    probability(value, option, owner)


def check_bool(owner: str, option: str, value: Any) -> None:
    """Raise TypeError unless ``value`` is True or False."""
    boolean(value, option, owner)


def check_betas(owner: str, betas: Any) -> None:
    """Raise unless ``betas`` is a pair of decay rates in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2) (got {betas!r}).")
    probability(betas[0], "betas[0]", owner)
    probability(betas[1], "betas[1]", owner)


def lerp_(xp, start, end, weight: float, scratch) -> None:
    """start ← start + weight·(end - start), in place; ``scratch`` is overwritten.

    For weight >= 0.5 the same value is computed as end - (1 - weight)·(end - start), which
    rounds better there (and is how PyTorch's ``lerp_`` computes it, so parity holds).
    """
    xp.subtract(end, start, out=scratch)
    if weight < 0.5:
        scratch *= weight
        start += scratch
    else:
        scratch *= 1.0 - weight
        xp.subtract(end, scratch, out=start)
