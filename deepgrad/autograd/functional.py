"""``deepgrad.autograd.grad``: gradients of outputs with respect to chosen inputs, returned, not accumulated."""

from __future__ import annotations

from deepgrad.autograd.engine import capture_gradients
from deepgrad.autograd.tensor import Tensor


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """Sum of gradients of ``outputs`` with respect to each of ``inputs``, without touching any ``.grad``.

    Args:
        outputs: a Tensor or sequence of Tensors.
        inputs: a Tensor or sequence of Tensors (leaves or intermediate results).
        grad_outputs: the vectors of the vector-Jacobian products, one per output
            (None, or None entries, for one-element outputs).
        retain_graph: keep the graph for another backward. Default: ``create_graph``.
        create_graph: record the computation of the gradients, so that they can be
            differentiated again (higher-order derivatives).
        allow_unused: return None for inputs the outputs do not depend on instead of raising.

    Returns:
        A tuple with one gradient per input, each of the input's shape and dtype.

    Example:
        >>> import deepgrad as dg
        >>> x = dg.tensor(3.0, requires_grad=True)
        >>> (g,) = grad(x * x, x)
        >>> g.item()
        6.0
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    else:
        grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs; pass one per output "
            "(None for one-element outputs)."
        )
    for name, seq in (("output", outputs), ("input", inputs)):
        for i, t in enumerate(seq):
            if not isinstance(t, Tensor):
                raise TypeError(f"grad: {name} {i} is a {type(t).__name__}, not a Tensor")
            if not t._requires_grad:
                raise RuntimeError(
                    f"grad: {name} {i} (shape {t.shape}) does not require grad; "
                    + (
                        "the outputs must be computed from tensors with requires_grad=True (outside no_grad())."
                        if name == "output"
                        else "set requires_grad=True on it before computing the outputs."
                    )
                )
    if retain_graph is None:
        retain_graph = create_graph
    results = capture_gradients(outputs, grad_outputs, retain_graph, create_graph, inputs)
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
