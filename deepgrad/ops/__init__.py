"""The differentiable primitives, grouped by kind, and the composites built from them."""

from deepgrad.ops import tensor_methods as _tensor_methods

_tensor_methods.install()
