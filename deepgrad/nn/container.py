"""Containers: Sequential, ModuleList, ModuleDict, ParameterList."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any

from deepgrad.nn.module import Module
from deepgrad.nn.parameter import Parameter


def _index(owner: str, idx, size: int) -> int:
    """A list index (negative allowed) checked against ``size``."""
    try:
        idx = operator.index(idx)
    except TypeError:
        raise TypeError(
            f"{owner}: indices must be integers or slices (got {type(idx).__name__})"
        ) from None
    if not -size <= idx < size:
        raise IndexError(f"{owner}: index {idx} is out of range (length {size})")
    return idx % size


class Sequential(Module):
    """Modules applied one after another: ``y = m_n(... m_2(m_1(x)))``.

    Build it from modules (named "0", "1", ...) or from an OrderedDict of named modules.
    It can be indexed (negative indices too), sliced (a slice is a new Sequential sharing
    the modules), iterated and extended with ``append``.

    Example:
        >>> import deepgrad.nn as nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
        >>> len(model), type(model[-1]).__name__
        (2, 'Linear')
    """

    def __init__(self, *modules) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                if not isinstance(module, Module):
                    raise TypeError(
                        f"Sequential: argument {i} is not a Module (got {type(module).__name__}); "
                        "pass layers such as nn.Linear(...) or an OrderedDict of them."
                    )
                self.add_module(str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        keys = list(self._modules)
        return self._modules[keys[_index("Sequential", idx, len(keys))]]

    def __setitem__(self, idx, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[_index("Sequential", idx, len(keys))], module)

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)
        if isinstance(idx, slice):
            for key in keys[idx]:
                del self._modules[key]
        else:
            del self._modules[keys[_index("Sequential", idx, len(keys))]]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end (named by its position)."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module (got {type(module).__name__})")
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain Python list's are not).

    Example:
        >>> import deepgrad.nn as nn
        >>> layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(4)])
        >>> len(list(layers.parameters()))
        8
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _check(self, module, where: str) -> Module:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.{where}: expected a Module (got {type(module).__name__})")
        return module

    def _renumber(self, modules: list) -> None:
        self._modules.clear()
        for i, module in enumerate(modules):
            self._modules[str(i)] = module

    def __getitem__(self, idx):
        values = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(values[idx])
        return values[_index("ModuleList", idx, len(values))]

    def __setitem__(self, idx, module: Module) -> None:
        self._check(module, "__setitem__")
        self._modules[str(_index("ModuleList", idx, len(self)))] = module

    def __delitem__(self, idx) -> None:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            del values[idx]
        else:
            del values[_index("ModuleList", idx, len(values))]
        self._renumber(values)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end (named ``str(len(self))``); returns the list itself."""
        self._modules[str(len(self))] = self._check(module, "append")
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append every module of ``modules`` in order; returns the list itself."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put ``module`` before position ``index`` (as ``list.insert``) and renumber the names."""
        values = list(self._modules.values())
        values.insert(index, self._check(module, "insert"))
        self._renumber(values)

    def forward(self, *args, **kwargs):
        raise TypeError(
            "ModuleList: a ModuleList is not callable; iterate over it in your forward()."
        )


class ModuleDict(Module):
    """A dict of modules (by string key) whose parameters are registered, in insertion order."""

    def __init__(
        self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module named {key!r} (have {list(self._modules)})")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(
                f"ModuleDict: value for {key!r} must be a Module (got {type(module).__name__})"
            )
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self) -> KeysView[str]:
        """The keys, in insertion order."""
        return self._modules.keys()

    def values(self) -> ValuesView[Module]:
        """The modules, in insertion order."""
        return self._modules.values()

    def items(self) -> ItemsView[str, Module]:
        """The (key, module) pairs, in insertion order."""
        return self._modules.items()

    def pop(self, key: str) -> Module:
        """Remove the module under ``key`` and return it (KeyError naming the keys if absent)."""
        module = self[key]
        del self._modules[key]
        return module

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace modules from a mapping or from (key, module) pairs, in their order."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module

    def forward(self, *args, **kwargs):
        raise TypeError(
            "ModuleDict: a ModuleDict is not callable; pick its modules by key in your forward()."
        )


class ParameterList(Module):
    """A list of parameters registered with the module (names "0", "1", ...).

    Tensors that are not Parameters are wrapped into Parameters when added.
    """

    def __init__(self, values: Iterable | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    @staticmethod
    def _as_parameter(value) -> Parameter:
        return value if isinstance(value, Parameter) else Parameter(value)

    def __getitem__(self, idx):
        values = list(self._parameters.values())
        if isinstance(idx, slice):
            return ParameterList(values[idx])
        return values[_index("ParameterList", idx, len(values))]

    def __setitem__(self, idx, value) -> None:
        self._parameters[str(_index("ParameterList", idx, len(self)))] = self._as_parameter(value)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __iadd__(self, values: Iterable) -> ParameterList:
        return self.extend(values)

    def append(self, value: Any) -> ParameterList:
        """Add ``value`` at the end (a Tensor that is not a Parameter is wrapped into one);
        returns the list itself."""
        self._parameters[str(len(self))] = self._as_parameter(value)
        return self

    def extend(self, values: Iterable) -> ParameterList:
        """Append every value of ``values`` in order; returns the list itself."""
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return ", ".join(f"({i}): Parameter{tuple(p.shape)}" for i, p in enumerate(self))

    def forward(self, *args, **kwargs):
        raise TypeError(
            "ParameterList: a ParameterList is not callable; use its parameters in your forward()."
        )
