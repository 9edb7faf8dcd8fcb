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
from deepgrad.backend import DeviceError, is_writeable

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
    if len(grad.shape) < len(shape) or any(n != 1 and n != grad.shape[i + lead] for i, n in enumerate(shape)):
        raise RuntimeError(f"internal: gradient of shape {grad.shape} does not broadcast from input shape {shape}")
    out = grad.sum(dim=axes, keepdim=True) if axes else grad
    return out.reshape(shape) if out.shape != shape else out


def _initial_gradient(tensor: Tensor, gradient, index: int) -> Tensor:
    """The gradient that starts backward at ``tensor``: ones for a one-element tensor, else the given one."""
    if not tensor._requires_grad:
        raise RuntimeError(
            f"backward: tensor {index} (shape {tensor.shape}) does not require grad and has no grad_fn, so "
            "there is nothing to differentiate; create the leaves with requires_grad=True "
            "(and compute outside `no_grad()`)."
        )
    if gradient is None:
        if tensor._data.size != 1:
            raise RuntimeError(
                f"backward: a gradient can be created implicitly only for one-element outputs (got shape "
                f"{tensor.shape}); pass gradient= with that shape, or reduce first (e.g. loss.sum())."
            )
        return Tensor._make(tensor.xp.ones(tensor.shape, dtype=tensor.dtype), None)
    if not isinstance(gradient, Tensor):
        gradient = Tensor(gradient, dtype=tensor.dtype, device=tensor.device)
    if type(gradient._data) is not type(tensor._data):
        raise DeviceError(
            f"backward: the gradient for tensor {index} is on {gradient.device} but the tensor is on "
            f"{tensor.device}; move it with .to({str(tensor.device)!r})."
        )
    if gradient.shape != tensor.shape:
        raise RuntimeError(
            f"backward: the gradient for tensor {index} has shape {gradient.shape} but the tensor has shape "
            f"{tensor.shape}; they must match."
        )
    if gradient._data.dtype != tensor._data.dtype:
        gradient = gradient.to(tensor.dtype)
    return gradient


def run_backward(tensors, gradients, retain_graph: bool, create_graph: bool, inputs=None, capture=None):
    """Propagate ``gradients`` from ``tensors`` back through the graph.

    Without ``capture``, gradients are accumulated into the ``.grad`` of leaves
    (or only into the ``.grad`` of ``inputs`` when given). With ``capture`` (a list of
    tensors), nothing is accumulated and the gradients of those tensors are returned
    in order, None for those the outputs do not depend on (the engine behind
    ``deepgrad.autograd.grad``).
    """
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        found = run_backward(tensors, gradients, retain_graph, create_graph, capture=inputs)
        handed_out = {id(g._data) for g in gradients if isinstance(g, Tensor)}
        for t, g in zip(inputs, found):
            if g is not None:
                _accumulate(t, g, create_graph, handed_out)
        return None

    roots = []
    grads: dict = {}
    leaf_grads: dict = {}
    # Arrays the caller can see (given gradients, hook results): never adopted as a .grad.
    handed_out = set()
    for index, (tensor, gradient) in enumerate(zip(tensors, gradients)):
        g = _initial_gradient(tensor, gradient, index)
        if gradient is not None:
            handed_out.add(id(g._data))
        if tensor.grad_fn is None:
            _add(leaf_grads, tensor, g)
        else:
            roots.append(tensor.grad_fn)
            _add(grads, tensor.grad_fn, g)

    captured_nodes = {}
    captured_leaves = {}
    if capture is not None:
        for i, t in enumerate(capture):
            if t.grad_fn is None:
                captured_leaves[id(t)] = i
            else:
                captured_nodes[t.grad_fn] = i
    results = [None] * (len(capture) if capture is not None else 0)

    prev_mode = GradMode.enabled
    GradMode.enabled = create_graph
    try:
        for node in _topological_order(roots):
            dy = grads.pop(node, None)
            if dy is None:
                continue
            if node.hooks is not None or node.retained is not None or captured_nodes:
                dy = _node_extras(node, dy, create_graph, captured_nodes, results, handed_out)
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

    for key, (leaf, g) in leaf_grads.items():
        if capture is not None and key not in captured_leaves:
            continue  # autograd.grad: a gradient nobody asked for (its hooks do not run either)
        if leaf._hooks:
            g = _run_hooks(leaf._hooks, g, handed_out)
        if capture is not None:
            results[captured_leaves[key]] = g
        else:
            _accumulate(leaf, g, create_graph, handed_out)
    if capture is not None:
        for i, (t, g) in enumerate(zip(capture, results)):
            if g is not None and g._data.dtype != t._data.dtype:
                results[i] = g.to(t.dtype)
    return results


def _run_hooks(hooks: list, grad: Tensor, handed_out: set) -> Tensor:
    for hook in list(hooks):
        replaced = hook(grad)
        if replaced is not None:
            if not isinstance(replaced, Tensor) or replaced.shape != grad.shape:
                raise RuntimeError(
                    f"register_hook: a hook must return None or a Tensor of the gradient's shape {grad.shape} "
                    f"(got {replaced.shape if isinstance(replaced, Tensor) else type(replaced).__name__})."
                )
            handed_out.add(id(replaced._data))
            grad = replaced
    return grad


def _node_extras(node, dy, create_graph, captured_nodes, results, handed_out):
    """Hooks, retain_grad and autograd.grad's captures of a non-leaf: the rare cases, out of the hot loop."""
    if node.hooks:
        dy = _run_hooks(node.hooks, dy, handed_out)
    if node.retained is not None:
        kept = node.retained()
        if kept is not None and kept.grad_fn is node:
            handed_out.add(id(dy._data))  # visible as kept.grad: no leaf may adopt this array
            g = dy if dy._data.dtype == kept._data.dtype else dy.to(kept.dtype)
            if create_graph:
                kept.grad = g if kept.grad is None else kept.grad + g
            else:
                g = g.detach()
                kept.grad = g if kept.grad is None else Tensor._make(kept.grad._data + g._data, None)
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
        owns = array.base is None and is_writeable(array) and id(array) not in handed_out
        if array.dtype != leaf.dtype:
            array = array.astype(leaf.dtype)
        elif not owns:
            array = array.copy()
        handed_out.add(id(array))
        leaf.grad = Tensor._make(array, None)
    else:
        existing = leaf.grad._data
        if existing.shape != array.shape:
            raise BackwardError(
                f"backward: the tensor's .grad has shape {existing.shape} but the new gradient has shape "
                f"{array.shape}; set .grad = None (or zero_grad()) before this backward."
            )
        if leaf.grad._requires_grad or not is_writeable(existing) or existing.dtype != leaf._data.dtype:
            leaf.grad = Tensor._make((existing + array).astype(leaf._data.dtype, copy=False), None)
        else:
            existing += array
