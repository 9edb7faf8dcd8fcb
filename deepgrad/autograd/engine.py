"""The backward engine: walks the graph in reverse topological order.

Nodes are the ``Context`` objects that ``Function.apply`` records; a node's
parents are the nodes of its inputs, or leaf tensors. The order is computed
with an explicit stack, so a chain of 100 000 operations does not touch
Python's recursion limit. Gradients flowing into one node from several
consumers are summed before the node runs. A gradient whose shape differs from
the input's (the forward broadcast it) is summed back to the input's shape
here, once, instead of in every primitive.
"""

from __future__ import annotations

import numpy as np

from deepgrad.autograd.function import BackwardError, Context, _released_error
from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor

_ndarray = np.ndarray


def _topological_order(roots: list) -> list:
    """Nodes reachable from ``roots``, each after every node that consumes it."""
    order = []
    visited = set()
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(root.parents))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if type(parent) is Context and parent not in visited:
                    visited.add(parent)
                    stack.append((parent, iter(parent.parents)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def sum_to_shape(grad: Tensor, shape: tuple) -> Tensor:
    """Sum a broadcast gradient back to ``shape`` (the inverse of broadcasting)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1)
    if len(grad.shape) < len(shape) or any(
        n != 1 and n != grad.shape[i + lead] for i, n in enumerate(shape)
    ):
        raise RuntimeError(f"internal: gradient of shape {grad.shape} does not broadcast from input shape {shape}")
    out = grad.sum(dim=axes, keepdim=True) if axes else grad
    return out.reshape(shape) if out.shape != shape else out


def _initial_gradient(tensor: Tensor, gradient) -> Tensor:
    if gradient is None:
        if tensor._data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for scalar outputs (got shape {tensor.shape}); "
                "pass gradient=... with the same shape, or reduce first (e.g. loss.sum())."
            )
        return Tensor._make(tensor.xp.ones(tensor.shape, dtype=tensor.dtype), None)
    if not isinstance(gradient, Tensor):
        gradient = Tensor(gradient, dtype=tensor.dtype)
    if gradient.shape != tensor.shape:
        raise RuntimeError(
            f"backward: gradient has shape {gradient.shape} but the tensor has shape {tensor.shape}; they must match."
        )
    return gradient


def run_backward(tensors, gradients, retain_graph: bool, create_graph: bool, inputs=None, capture=None):
    """Propagate ``gradients`` from ``tensors`` back through the graph.

    Without ``capture``, gradients are accumulated into the ``.grad`` of leaves
    (restricted to ``inputs`` when given). With ``capture`` (a list of tensors),
    nothing is accumulated and the gradients of those tensors are returned in order
    (the engine behind ``deepgrad.autograd.grad``).
    """
    roots = []
    grads: dict = {}
    leaf_grads: dict = {}
    for tensor, gradient in zip(tensors, gradients):
        if not tensor.requires_grad:
            raise RuntimeError(
                "backward: element 0 of tensors does not require grad and does not have a grad_fn; "
                "make a leaf require grad (requires_grad=True) before computing from it."
            )
        g = _initial_gradient(tensor, gradient)
        if tensor.grad_fn is None:
            _add(leaf_grads, tensor, g)
        else:
            roots.append(tensor.grad_fn)
            _add(grads, tensor.grad_fn, g)

    captured_nodes = {}
    captured_leaves = {}
    only_leaves = None
    if capture is not None:
        for i, t in enumerate(capture):
            if t.grad_fn is None:
                captured_leaves[id(t)] = i
            else:
                captured_nodes[t.grad_fn] = i
    elif inputs is not None:
        only_leaves = {id(t) for t in (inputs if isinstance(inputs, (list, tuple)) else [inputs])}
    results = [None] * (len(capture) if capture is not None else 0)

    prev_mode = GradMode.enabled
    GradMode.enabled = create_graph
    try:
        for node in _topological_order(roots):
            dy = grads.pop(node, None)
            if dy is None:
                continue
            if node.hooks is not None or node.retained is not None or captured_nodes:
                dy = _node_extras(node, dy, create_graph, captured_nodes, results)
            if node.released:
                raise _released_error(node)
            dxs = node.fn.backward(node, dy)
            if type(dxs) is not tuple:
                dxs = (dxs,)
            for parent, dx in zip(node.parents, dxs):
                if parent is None or dx is None:
                    continue
                if dx._data.shape != parent.shape:
                    dx = sum_to_shape(dx, parent.shape)
                if type(parent) is Context:
                    if parent in grads:
                        grads[parent] = grads[parent] + dx
                    else:
                        grads[parent] = dx
                else:
                    _add(leaf_grads, parent, dx)
            if not retain_graph:
                node.__dict__.clear()  # Context.release(), inlined: this loop is hot
                node.released = True
    finally:
        GradMode.enabled = prev_mode

    handed_out = set()
    for key, (leaf, g) in leaf_grads.items():
        if leaf._hooks:
            for hook in leaf._hooks:
                replaced = hook(g)
                if replaced is not None:
                    g = replaced
        if capture is not None:
            if key in captured_leaves:
                results[captured_leaves[key]] = g
            continue
        if only_leaves is not None and key not in only_leaves:
            continue
        _accumulate(leaf, g, create_graph, handed_out)
    return results


def _node_extras(node, dy, create_graph, captured_nodes, results):
    """Hooks, retain_grad and autograd.grad's captures of a non-leaf: the rare cases, out of the hot loop."""
    if node.hooks:
        for hook in node.hooks:
            replaced = hook(dy)
            if replaced is not None:
                dy = replaced
    if node.retained is not None:
        kept = node.retained()
        if kept is not None:
            kept.grad = dy if create_graph else dy.detach()
    if node in captured_nodes:
        results[captured_nodes[node]] = dy
    return dy


def _add(table: dict, key, grad: Tensor) -> None:
    if type(key) is Context:
        if key in table:
            table[key] = table[key] + grad
        else:
            table[key] = grad
    else:
        entry = table.get(id(key))
        table[id(key)] = (key, grad if entry is None else entry[1] + grad)


def _accumulate(leaf: Tensor, g: Tensor, create_graph: bool, handed_out: set) -> None:
    """leaf.grad += g, reusing g's array when nothing else can see it."""
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    array = g._data
    if leaf.grad is None:
        # Gradients may alias each other (Add hands the same dy to both inputs) or be
        # read-only broadcast views; copy those, keep fresh arrays as they are.
        owns = array.base is None and array.flags.writeable and id(array) not in handed_out
        if array.dtype != leaf.dtype:
            array = array.astype(leaf.dtype)
        elif not owns:
            array = array.copy()
        handed_out.add(id(array))
        leaf.grad = Tensor._make(array, None)
    else:
        existing = leaf.grad._data
        if existing.shape != array.shape:
            raise BackwardError(f"internal: accumulated grad shape {existing.shape} != {array.shape}")
        if leaf.grad.requires_grad or not existing.flags.writeable:
            leaf.grad = Tensor._make(existing + array, None)
        else:
            existing += array
