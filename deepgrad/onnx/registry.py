"""Which ONNX nodes stand for which primitive or module: the two conversion tables.

A *primitive converter* turns one traced call of a ``Function`` into nodes::

    @register_converter(Exp)
    def _exp(g: GraphBuilder, inputs: tuple[Tensor, ...], out: Tensor, **constants) -> str:
        return g.node("Exp", [g.value(inputs[0])])

It gets the call's input Tensors, its output Tensor (for shapes and dtypes) and its keyword
constants, and returns the name of the ONNX value that holds the output.

A *module converter* replaces the trace of a whole module's forward (used where ONNX has one
operator for the layer, such as LSTM): ``convert(g, module, args, kwargs, output)`` emits the
nodes and binds every output Tensor itself (``g.bind``). Its ``accepts(module, args, kwargs)``
says whether it handles this call; when it does not, the module's primitives are traced instead.
Module converters match the exact class (a subclass may change ``forward``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deepgrad.autograd.function import Function
from deepgrad.nn.module import Module

PrimitiveConverter = Callable[..., str]
ModuleConverter = Callable[..., None]
Accepts = Callable[[Any, tuple, dict], bool]

PRIMITIVES: dict[type[Function], PrimitiveConverter] = {}
MODULES: dict[type[Module], tuple[Accepts, ModuleConverter]] = {}


def _always(module: Any, args: tuple, kwargs: dict) -> bool:
    return True


def register_converter(
    target: type, accepts: Accepts | None = None
) -> Callable[[Callable], Callable]:
    """Decorator: register a converter for a primitive (``Function`` subclass) or a module class.

    Args:
        target: the ``Function`` subclass or ``nn.Module`` subclass it converts.
        accepts: for modules only, ``accepts(module, args, kwargs) -> bool``; default: always.

    Returns:
        The decorator, which returns the converter unchanged.

    Example:
        >>> from deepgrad.ops.elementwise import Exp
        >>> PRIMITIVES[Exp].__name__
        '_exp'
    """

    def decorate(convert: Callable) -> Callable:
        if isinstance(target, type) and issubclass(target, Function):
            if accepts is not None:
                raise TypeError("register_converter: accepts= is for module converters only.")
            PRIMITIVES[target] = convert
        elif isinstance(target, type) and issubclass(target, Module):
            MODULES[target] = (accepts or _always, convert)
        else:
            raise TypeError(
                f"register_converter: target must be a Function or nn.Module subclass (got {target!r})."
            )
        return convert

    return decorate
