"""Module: the base class of every layer and model.

A Module owns parameters (``Parameter``), buffers (state that is saved but not
trained, such as batch-norm running means) and submodules. They register
themselves when assigned as attributes::

    class MLP(Module):
        def __init__(self):
            super().__init__()
            self.hidden = Linear(784, 100)   # a submodule
            self.out = Linear(100, 10)

        def forward(self, x):
            return self.out(self.hidden(x).relu())

``model(x)`` runs the forward pre-hooks, ``forward`` and the forward hooks;
``model.parameters()`` walks the tree for the optimizer; ``state_dict()`` /
``load_state_dict()`` save and restore every weight by its dotted name.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import is_floating, parse_device, to_device, to_dtype
from deepgrad.backend.validation import boolean
from deepgrad.nn.parameter import Parameter
from deepgrad.nn.state_dict import match_state_dict

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class RemovableHandle:
    """Returned by ``register_*_hook``; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        """Unregister the hook; removing it again does nothing."""
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class Module:
    """Base class of layers and models (PyTorch's ``nn.Module``).

    Subclasses call ``super().__init__()`` first, assign their parameters and
    submodules as attributes, and define ``forward``. Call the module, not
    ``forward``, so that hooks run.

    Attributes:
        training: True in training mode (dropout active, batch norm uses batch
            statistics); switch with ``train()`` / ``eval()``.
    """

    training: bool

    def __init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", OrderedDict())
        setattr_(self, "_buffers", OrderedDict())
        setattr_(self, "_non_persistent_buffers", set())
        setattr_(self, "_modules", OrderedDict())
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        """The computation of the module; subclasses define it.

        Call the module (``model(x)``), not ``forward``, so that the hooks run.
        """
        raise NotImplementedError(
            f"{type(self).__name__}: Module subclasses must define forward(self, ...); "
            "it was not found on this class."
        )

    # -- calling ------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks or self._forward_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before each forward; a returned value replaces the inputs.

        ``inputs`` is the tuple of positional arguments. Returns a handle with ``remove()``.
        """
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after each forward; a returned value replaces the output.

        Returns a handle with ``remove()``.
        """
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # -- registration ---------------------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError(_init_first(self, name))
            self._forget(name, keep="_parameters")
            params[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter '{name}'; "
                    "assign a deepgrad.nn.Parameter or None."
                )
            params[name] = None
        elif isinstance(value, Module):
            modules = self.__dict__.get("_modules")
            if modules is None:
                raise AttributeError(_init_first(self, name))
            self._forget(name, keep="_modules")
            modules[name] = value
        elif name in self.__dict__.get("_modules", ()):
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to submodule '{name}'; "
                    "assign a Module or None."
                )
            self._modules[name] = None
        elif name in self.__dict__.get("_buffers", ()):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to buffer '{name}'; "
                    "assign a Tensor or None."
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Remove ``name`` from the instance dict and every registry but ``keep`` (before
        re-registering it there), so replacing a parameter keeps its place in ``state_dict()``."""
        d = self.__dict__
        d.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                d[registry].pop(name, None)
        d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name: str):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            found = d.get(registry)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            found = self.__dict__[registry]
            if name in found:
                del found[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        names = list(super().__dir__())
        names += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted({n for n in names if not n[:1].isdigit()})

    def _check_name(self, method: str, kind: str, name) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(_init_first(self, name))
        if not isinstance(name, str):
            raise TypeError(
                f"{type(self).__name__}.{method}: name must be a str (got {type(name).__name__})"
            )
        if name == "" or "." in name:
            raise KeyError(
                f"{type(self).__name__}.{method}: name must be non-empty and contain no '.' (got {name!r})"
            )
        if name in self.__dict__:
            raise KeyError(
                f"{type(self).__name__}.{method}: attribute '{name}' already exists and is not a {kind}"
            )

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a Parameter, or None for an absent one such as ``bias=False``)."""
        self._check_name("register_parameter", "parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"{type(self).__name__}.register_parameter: '{name}' must be a Parameter or None "
                f"(got {type(param).__name__}); wrap it: Parameter(tensor)."
            )
        self._forget(name, keep="_parameters")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a buffer: state that moves with ``to()`` and is saved, but is not trained.

        Args:
            name: attribute name.
            tensor: the buffer (or None).
            persistent: whether it is part of ``state_dict()``. Default: True.
        """
        self._check_name("register_buffer", "buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"{type(self).__name__}.register_buffer: '{name}' must be a Tensor or None "
                f"(got {type(tensor).__name__})"
            )
        self._forget(name, keep="_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a submodule called ``name``."""
        self._check_name("add_module", "submodule", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(
                f"{type(self).__name__}.add_module: '{name}' must be a Module (got {type(module).__name__})"
            )
        self._forget(name, keep="_modules")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` (``""`` is self), e.g. ``"encoder.0"``."""
        module = self
        if target == "":
            return module
        walked = []
        for part in target.split("."):
            child = module._modules.get(part) if isinstance(module, Module) else None
            if child is None:
                where = ".".join(walked) or type(self).__name__
                raise AttributeError(
                    f"get_submodule: '{where}' has no submodule '{part}' (path {target!r}); "
                    f"its submodules are {list(module._modules)}."
                )
            walked.append(part)
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target``, e.g. ``"encoder.0.weight"``."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._parameters:
            raise AttributeError(
                f"get_parameter: '{module_path or type(self).__name__}' has no parameter '{name}'"
            )
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._buffers:
            raise AttributeError(
                f"get_buffer: '{module_path or type(self).__name__}' has no buffer '{name}'"
            )
        return module._buffers[name]

    # -- walking the tree -----------------------------------------------------------------------
    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ):
        """Yield (dotted name, module) for self and every descendant, each module once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(
                memo, prefix + ("." if prefix else "") + name, remove_duplicate
            )

    def modules(self) -> Iterator[Module]:
        """This module and every submodule, depth first, each once."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for each direct submodule, each once."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self) -> Iterator[Module]:
        """Each direct submodule, once."""
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        seen = set()
        for module_prefix, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ):
        """Yield (dotted name, Parameter); a parameter shared by two modules comes once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter of the tree (each once): what an optimizer is given."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, tensor) for each buffer (running statistics...), of submodules too when ``recurse``."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Each buffer (running statistics...), of submodules too when ``recurse``."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # -- modes and gradients -------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=False`` is evaluation mode) here and in every submodule."""
        boolean(mode, "mode", f"{type(self).__name__}.train", fix="eval() is train(False)")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn training of every parameter on or off (freeze a part of a model)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (default, frees memory) or to zeros in place."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                grad = param.grad
                if grad.grad_fn is not None:
                    grad = param.grad = grad.detach()
                grad._data.fill(0)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn(module)`` on every submodule (children first) and then on self.

        Example: ``model.apply(weights_init)`` to initialize each layer by its type.
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- moving and casting --------------------------------------------------------------------
    def _apply_to_arrays(self, convert: Callable, floating_only: bool) -> Module:
        """Replace the array of every parameter, gradient and buffer in place (objects kept)."""
        seen = set()
        for module in self.modules():
            for registry in ("_parameters", "_buffers"):
                for tensor in module.__dict__[registry].values():
                    if tensor is None or id(tensor) in seen:
                        continue
                    seen.add(id(tensor))
                    if floating_only and not is_floating(tensor.dtype):
                        continue
                    with no_grad():
                        tensor._data = convert(tensor._data)
                        if tensor.grad is not None:
                            tensor.grad._data = convert(tensor.grad._data)
                    tensor._version += 1
        return self

    def to(self, *args, device=None, dtype=None) -> Module:
        """Move and/or cast parameters and buffers in place: ``to("cuda")``, ``to(float64)``, ``to(t)``.

        The Parameter objects stay the same, so an optimizer built earlier still holds them.
        Only floating-point tensors are cast to ``dtype``; integer buffers keep theirs.
        """
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif (isinstance(arg, str) and (arg == "cpu" or arg.startswith("cuda"))) or (
                hasattr(arg, "type") and hasattr(arg, "index")
            ):
                device = arg
            else:
                dtype = arg
        if dtype is not None:
            dtype = to_dtype(dtype)
            if not is_floating(dtype):
                raise TypeError(
                    f"{type(self).__name__}.to: only floating-point dtypes are allowed (got {dtype}); "
                    "integer parameters cannot be trained."
                )
            self._apply_to_arrays(
                lambda a: a if a.dtype == dtype else a.astype(dtype), floating_only=True
            )
        if device is not None:
            device = parse_device(device)
            self._apply_to_arrays(lambda a: to_device(a, device), floating_only=False)
        return self

    def float(self) -> Module:
        """Cast floating parameters and buffers to float32, in place; returns self."""
        return self.to(dtype="float32")

    def double(self) -> Module:
        """Cast floating parameters and buffers to float64, in place; returns self."""
        return self.to(dtype="float64")

    def half(self) -> Module:
        """Cast floating parameters and buffers to float16, in place; returns self."""
        return self.to(dtype="float16")

    def cuda(self, device=None) -> Module:
        """Move parameters and buffers to a CUDA device (default ``"cuda"``), in place; returns self."""
        return self.to(device=device if device is not None else "cuda")

    def cpu(self) -> Module:
        """Move parameters and buffers to the CPU, in place; returns self."""
        return self.to(device="cpu")

    # -- saving and loading --------------------------------------------------------------------
    def state_dict(
        self, destination: OrderedDict | None = None, prefix: str = "", keep_vars: bool = False
    ):
        """Every parameter and persistent buffer by dotted name (an OrderedDict of Tensors).

        Tensors are detached (they share memory with the model) unless ``keep_vars``.
        A parameter shared by two modules appears under both names, as in PyTorch.
        """
        if destination is None:
            destination = OrderedDict()
        for module_prefix, module in self.named_modules(
            prefix=prefix.rstrip("."), remove_duplicate=False
        ):
            head = module_prefix + "." if module_prefix else ""
            for name, param in module._parameters.items():
                if param is not None:
                    destination[head + name] = param if keep_vars else param.detach()
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent_buffers:
                    destination[head + name] = buffer if keep_vars else buffer.detach()
        return destination

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        Everything is checked before anything is copied: with ``strict`` (default) a missing
        or unexpected key is an error; a shape mismatch, or a dtype that cannot be copied
        (complex into real, anything that is not a number), is always an error. The error lists
        every missing, unexpected, mis-shaped and mis-typed key, and the model is left unchanged.
        Values are cast as ``copy_`` casts. ``deepgrad.load`` of a PyTorch safetensors or
        ``torch.save`` file gives a fitting state dict: the parameter names are PyTorch's.

        Returns:
            ``(missing_keys, unexpected_keys)`` (a named tuple), useful with ``strict=False``.
        """
        own = self.state_dict(keep_vars=True)
        missing, unexpected, sources = match_state_dict(
            type(self).__name__, own, state_dict, strict
        )
        for key, array in sources.items():
            target = own[key]
            if type(array) is not type(target._data):
                array = to_device(array, target.device)
            target._data[...] = array  # casts to the target's dtype, as copy_ does
            target._version += 1
        return IncompatibleKeys(missing, unexpected)

    # -- repr ----------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's settings shown in ``repr`` (e.g. ``in_features=784, out_features=10``)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        children = [(name, m) for name, m in self._modules.items() if m is not None]
        if not children:
            return f"{self._get_name()}({extra})"
        lines = [extra] if extra else []
        for name, module in children:
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


def _init_first(module: Module, name) -> str:
    return (
        f"{type(module).__name__}: cannot assign '{name}' before Module.__init__() was called; "
        "call super().__init__() first in your __init__."
    )
