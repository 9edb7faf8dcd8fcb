"""``deepgrad.autograd.grad``: gradients of outputs with respect to chosen inputs, returned, not accumulated."""

from __future__ import annotations

from deepgrad.autograd.engine import run_backward
from deepgrad.autograd.tensor import Tensor


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False, allow_unused: bool = False):
    """Sum of gradients of ``outputs`` with respect to each of ``inputs``.

    Args:
        outputs: a Tensor or sequence of Tensors.
        inputs: a Tensor or sequence of Tensors (leaves or intermediate results).
        grad_outputs: the vectors of the vector-Jacobian products (None for scalar outputs).
        retain_graph: keep the graph for another backward. Default: ``create_graph``.
        create_graph: record the computation of the gradients (for higher orders).
        allow_unused: return None for inputs the outputs do not depend on instead of raising.

    Returns:
        A tuple with one gradient per input.

    Example:
        >>> import deepgrad as dg
        >>> x = dg.tensor(3.0, requires_grad=True)
        >>> (g,) = grad(x * x, x)
        >>> g.item()
        6.0
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    results = run_backward(outputs, grad_outputs, retain_graph, create_graph, capture=inputs)
    for i, (t, g) in enumerate(zip(inputs, results)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it."
                )
        elif not create_graph:
            results[i] = g.detach()
    return tuple(results)
