"""The backward engine: walks the graph in reverse topological order.

Nodes are the ``Context`` objects that ``Function.apply`` records; a node's
parents are the nodes of its inputs, or leaf tensors. The order is computed
with an explicit stack, so a chain of 100 000 operations does not touch
Python's recursion limit. Gradients flowing into one node from several
consumers are summed before the node runs.

Every gradient a primitive's backward returns is checked against its input
(``checked_gradient``): one per input, on the input's device, floating point,
and of the input's shape. A gradient of a broadcast shape (the forward broadcast
the input) is summed back to the input's shape here, once, instead of in every
primitive; a floating gradient of another width is cast to the input's dtype.
The common case (everything matches) costs a few comparisons per gradient.

``backward()`` accumulates each leaf's gradient as soon as it is final: the topological pass
counts, per leaf, the graph edges that feed it, and when the last of them has run the leaf's
hooks run, its ``.grad`` is updated and its post-accumulate hooks fire, while the rest of the
graph is still to be differentiated (DistributedDataParallel starts its all-reduces there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deepgrad.autograd.anomaly import AnomalyMode, add_source_note, check_backward
from deepgrad.autograd.function import BackwardError, Context, _released_error
from deepgrad.autograd.grad_mode import GradMode
from deepgrad.autograd.tensor import Tensor
from deepgrad.backend import DeviceError, DTypeError, ShapeError, is_writeable

_ndarray = np.ndarray


def _topological_order(roots: list, producers: dict | None = None) -> list:
    """Nodes reachable from ``roots``, each after every node that consumes it.

    With ``producers``, also count in it, per leaf (``id(leaf)``), the edges from those nodes
    to the leaf: how many gradients (or Nones) the leaf waits for in this pass.
    """
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
                if type(parent) is Context:
                    if parent not in visited:
                        visited.add(parent)
                        stack.append((parent, iter(parent.parents)))
                        break
                elif parent is not None and producers is not None:
                    key = id(parent)
                    if key in producers:
                        producers[key] += 1
                    else:
                        producers[key] = 1
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _summed_axes(grad_shape: tuple, shape: tuple) -> tuple | None:
    """The axes that sum a ``grad_shape`` gradient to ``shape``; None if no broadcast gives it."""
    lead = len(grad_shape) - len(shape)
    if lead < 0 or any(n != 1 and n != grad_shape[i + lead] for i, n in enumerate(shape)):
        return None
    return tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and grad_shape[i + lead] != 1
    )


def sum_to_shape(grad: Tensor, shape: tuple) -> Tensor:
    """Sum a broadcast gradient back to ``shape`` (the inverse of broadcasting)."""
    if grad.shape == shape:
        return grad
    axes = _summed_axes(grad.shape, shape)
    if axes is None:
        raise ShapeError(
            f"sum_to_shape: a gradient of shape {grad.shape} does not broadcast from shape "
            f"{shape}; it must have the input's shape or one that broadcasting the input gives."
        )
    out = grad.sum(dim=axes, keepdim=True) if axes else grad
    return out.reshape(shape) if out.shape != shape else out


def initial_gradient(tensor: Tensor, gradient: Any, index: int) -> Tensor:
    """The gradient that starts backward at ``tensor``: the given one, or ones for one element.

    The ones are made on the array module directly, not through ``Function.apply``.
    """
    if not tensor._requires_grad:
        raise RuntimeError(
            f"backward: tensor {index} (shape {tensor.shape}) does not require grad and has no "
            "grad_fn, so there is nothing to differentiate; create the leaves with "
            "requires_grad=True (and compute outside `no_grad()`)."
        )
    if gradient is None:
        if tensor._data.size != 1:
            raise RuntimeError(
                "backward: a gradient can be created implicitly only for one-element outputs (got "
                f"shape {tensor.shape}); pass gradient= with that shape, or reduce first (e.g. "
                "loss.sum())."
            )
        return Tensor._make(tensor.xp.ones(tensor.shape, dtype=tensor.dtype), None)
    if not isinstance(gradient, Tensor):
        gradient = Tensor(gradient, dtype=tensor.dtype, device=tensor.device)
    if type(gradient._data) is not type(tensor._data):
        raise DeviceError(
            f"backward: the gradient for tensor {index} is on {gradient.device} but the tensor is "
            f"on {tensor.device}; move it with .to({str(tensor.device)!r})."
        )
    if gradient.shape != tensor.shape:
        raise RuntimeError(
            f"backward: the gradient for tensor {index} has shape {gradient.shape} but the tensor "
            f"has shape {tensor.shape}; they must match."
        )
    if gradient._data.dtype != tensor._data.dtype:
        gradient = gradient.to(tensor.dtype)
    return gradient


def run_backward(
    tensors: Sequence[Tensor],
    gradients: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Tensor | Sequence[Tensor] | None = None,
    capture: Sequence[Tensor] | None = None,
) -> list[Tensor | None] | None:
    """Propagate ``gradients`` from ``tensors`` back through the graph.

    Three modes:
        - default: accumulate into the ``.grad`` of every leaf (``Tensor.backward()``);
        - ``inputs``: accumulate only into the ``.grad`` of these tensors, leaves or not
          (``backward(inputs=...)``);
        - ``capture``: accumulate nothing; return the gradients of these tensors in order,
          None for those the outputs do not depend on (``deepgrad.autograd.grad``).
    """
    if inputs is not None:
        _backward_into_inputs(tensors, gradients, retain_graph, create_graph, inputs)
        return None
    if capture is not None:
        return capture_gradients(tensors, gradients, retain_graph, create_graph, capture)
    graph = _Pass(tensors, gradients, create_graph)
    graph.pending = {}  # accumulate each leaf as soon as its gradient is final
    graph.propagate(retain_graph)
    return None


def _backward_into_inputs(tensors, gradients, retain_graph, create_graph, inputs) -> None:
    """``backward(inputs=...)``: the gradients of ``inputs``, accumulated into their ``.grad``."""
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    found = capture_gradients(tensors, gradients, retain_graph, create_graph, inputs)
    handed_out = {id(g._data) for g in gradients if isinstance(g, Tensor)}
    for t, g in zip(inputs, found):
        if g is not None:
            accumulate_grad(t, g, create_graph, handed_out)
            if t._post_accumulate_hooks:
                _run_post_accumulate_hooks(t)


def capture_gradients(
    tensors: Sequence[Tensor],
    gradients: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor],
) -> list[Tensor | None]:
    """``autograd.grad``: the gradients of ``capture`` in their dtypes; no ``.grad`` is set."""
    graph = _Pass(tensors, gradients, create_graph)
    results: list[Tensor | None] = [None] * len(capture)
    captured_leaves = {}
    for i, t in enumerate(capture):
        if t.grad_fn is None:
            captured_leaves[id(t)] = i
        else:
            graph.captured_nodes[t.grad_fn] = i
    graph.results = results
    leaf_grads = graph.propagate(retain_graph)
    for key, (leaf, g) in leaf_grads.items():
        if key not in captured_leaves:
            continue  # a gradient nobody asked for (its hooks do not run either)
        if leaf._hooks:
            g = _run_hooks(leaf._hooks, g, graph.handed_out)
        results[captured_leaves[key]] = g
    for i, (t, g) in enumerate(zip(capture, results)):
        if g is not None and g._data.dtype != t._data.dtype:
            results[i] = g.to(t.dtype)
    return results


class _Pass:
    """One backward pass: the seeds, the gradients waiting at each node, and what is captured."""

    def __init__(
        self, tensors: Sequence[Tensor], gradients: Sequence[Any], create_graph: bool
    ) -> None:
        self.create_graph = create_graph
        self.roots: list[Context] = []
        self.grads: dict = {}  # node -> the sum of the gradients that reached it so far
        self.leaf_grads: dict = {}  # id(leaf) -> (leaf, its gradient)
        # Arrays the caller can see (given gradients, hook results): never adopted as a .grad.
        self.handed_out: set = set()
        self.captured_nodes: dict = {}  # node -> position in results (autograd.grad)
        self.results: list = []
        # backward(): id(leaf) -> the edges still to deliver its gradient (or None); when one
        # reaches 0 the leaf is accumulated at once. None: collect the leaves' gradients only.
        self.pending: dict | None = None
        self.outer_modes = (True, False)  # the caller's grad mode and in_backward, for hooks
        self.in_leaf_hooks = False  # an error then comes from a leaf's hook, not a node
        self.unsent: tuple = ()  # the gradients the running node has yet to hand on
        for index, (tensor, gradient) in enumerate(zip(tensors, gradients)):
            g = initial_gradient(tensor, gradient, index)
            if gradient is not None:
                self.handed_out.add(id(g._data))
            if tensor.grad_fn is None:
                _add(self.leaf_grads, tensor, g)
            else:
                self.roots.append(tensor.grad_fn)
                _add(self.grads, tensor.grad_fn, g)

    def propagate(self, retain_graph: bool) -> dict:
        """Run every node's backward in reverse topological order; return the leaves' gradients.

        With ``pending`` set (``backward()``), each leaf is accumulated as soon as its last
        gradient has arrived, and the returned dict is empty.
        """
        grads, leaf_grads, captured_nodes = self.grads, self.leaf_grads, self.captured_nodes
        pending = self.pending
        prev_mode = GradMode.enabled
        GradMode.enabled = self.create_graph
        anomaly = AnomalyMode.enabled  # detect_anomaly(): checks each node's gradients
        in_backward = AnomalyMode.in_backward
        if anomaly:  # ... instead of the forward outputs of the ops inside backward
            AnomalyMode.in_backward = True
        self.outer_modes = (prev_mode, in_backward)
        node = None
        try:
            order = _topological_order(self.roots, pending)
            if pending is not None and leaf_grads:  # seeded leaves no node feeds: final now
                self._accumulate_leaves([k for k in leaf_grads if k not in pending])
            for node in order:
                dy = grads.pop(node, None)
                if dy is None:
                    if pending is not None:
                        self._skip_node(node, pending)
                    continue
                if node.hooks is not None or node.retained is not None or captured_nodes:
                    dy = _node_extras(node, dy, self)
                if node.released:
                    raise _released_error(node)
                dxs = node.fn.backward(node, dy)
                parents = node.parents
                if type(dxs) is not tuple:
                    dxs = (dxs,)
                if len(dxs) != len(parents):
                    raise _count_error(node, dxs)
                if anomaly:
                    check_backward(node, dxs, dy)
                for i, parent in enumerate(parents):
                    dx = dxs[i]
                    if parent is None:
                        continue
                    if dx is None:
                        if (
                            pending is not None
                            and type(parent) is not Context
                            and _edge_done(pending, parent)
                        ):
                            self.unsent = dxs[i + 1 :]
                            self._accumulate_leaves((id(parent),))
                        continue
                    try:
                        data = dx._data
                    except AttributeError:
                        raise _not_a_tensor_error(node, i, dx) from None
                    if type(parent) is Context:
                        # The input's shape, dtype and device, as the parent node recorded them.
                        if (
                            data.shape != parent.shape
                            or data.dtype is not parent.dtype
                            or ((type(data) is _ndarray) is not (parent.xp is np))
                        ):
                            dx = checked_gradient(
                                node, i, dx, parent.shape, parent.dtype, parent.xp
                            )
                        if parent in grads:
                            grads[parent] = grads[parent] + dx
                        else:
                            grads[parent] = dx
                    else:
                        array = parent._data
                        if (
                            data.shape != array.shape
                            or data.dtype is not array.dtype
                            or (type(data) is not type(array))
                        ):
                            dx = checked_gradient(node, i, dx, array.shape, array.dtype, parent.xp)
                        key = id(parent)  # _add(leaf_grads, parent, dx), inlined
                        entry = leaf_grads.get(key)
                        leaf_grads[key] = (parent, dx if entry is None else entry[1] + dx)
                        if pending is not None:
                            left = pending[key] - 1
                            pending[key] = left
                            if not left:  # final: accumulate now
                                self.unsent = dxs[i + 1 :]  # gradients that may share its array
                                self._accumulate_leaves((key,))
                if not retain_graph:
                    node.__dict__.clear()  # Context.release(), inlined: this loop is hot
                    node.released = True
        except Exception as exc:
            if anomaly and not self.in_leaf_hooks:  # a hook's error names no node
                add_source_note(exc, node)
            raise
        finally:
            GradMode.enabled = prev_mode
            if anomaly:
                AnomalyMode.in_backward = in_backward
        return leaf_grads

    def _skip_node(self, node: Context, pending: dict) -> None:
        """A node no gradient reached: its leaves wait for nothing more from it."""
        ready = [
            id(parent)
            for parent in node.parents
            if parent is not None and type(parent) is not Context and _edge_done(pending, parent)
        ]
        if ready:
            self.unsent = ()
            self._accumulate_leaves(ready)

    def _accumulate_leaves(self, keys: Sequence[int]) -> None:
        """Accumulate these leaves' final gradients: tensor hooks, ``.grad``, post-accumulate hooks.

        A gradient array that a gradient still in flight shares is copied rather than adopted
        as ``.grad``, so a post-accumulate hook may change ``.grad`` in place while the pass
        goes on.
        """
        create_graph, handed_out, leaf_grads = self.create_graph, self.handed_out, self.leaf_grads
        self.in_leaf_hooks = True
        for key in keys:
            entry = leaf_grads.pop(key, None)
            if entry is None:
                continue  # every edge into it brought None: no gradient, no hooks
            leaf, g = entry
            if create_graph or leaf._hooks or leaf._post_accumulate_hooks:
                self._accumulate_with_hooks(leaf, g)
            else:
                # No hook can change this .grad during the pass, so adopting an array that a
                # gradient in flight shares is safe (a hooked leaf that shares it later copies:
                # accumulate_grad marks the adopted array as handed out).
                accumulate_grad(leaf, g, False, handed_out)
        self.in_leaf_hooks = False

    def _accumulate_with_hooks(self, leaf: Tensor, g: Tensor) -> None:
        """One leaf's hooks and ``.grad``, under the caller's grad and anomaly modes (as they
        ran when leaves were accumulated after the pass)."""
        create_graph, handed_out = self.create_graph, self.handed_out
        GradMode.enabled, in_backward = self.outer_modes
        anomaly = AnomalyMode.enabled
        if anomaly:
            AnomalyMode.in_backward = in_backward
        if leaf._hooks:
            g = _run_hooks(leaf._hooks, g, handed_out)
        if leaf.grad is None and not create_graph and _in_flight(g._data, self):
            handed_out.add(id(g._data))
        accumulate_grad(leaf, g, create_graph, handed_out)
        if leaf._post_accumulate_hooks:
            _run_post_accumulate_hooks(leaf)
        GradMode.enabled = create_graph
        if anomaly:
            AnomalyMode.in_backward = True


def _edge_done(pending: dict, leaf: Tensor) -> bool:
    """One edge into ``leaf`` delivered no gradient; whether that was its last."""
    key = id(leaf)
    left = pending[key] - 1
    pending[key] = left
    return not left


_SCAN_LIMIT = 64  # more gradients in flight than this: copy instead of looking for sharers


def _in_flight(array: Any, graph: _Pass) -> bool:
    """Whether a gradient still waiting at a node or a leaf, or one the current node has yet to
    hand on, shares ``array`` (or may: too many to look at)."""
    grads, leaf_grads = graph.grads, graph.leaf_grads
    if len(grads) + len(leaf_grads) > _SCAN_LIMIT:
        return True
    for g in graph.unsent:
        data = getattr(g, "_data", None)
        if data is not None and (data is array or data.base is array):
            return True
    for g in grads.values():
        data = g._data
        if data is array or data.base is array:
            return True
    for _, g in leaf_grads.values():
        data = g._data
        if data is array or data.base is array:
            return True
    return False


def checked_gradient(
    node: Context, index: int, dx: Tensor, shape: tuple, dtype: Any, xp: Any
) -> Tensor:
    """The gradient a primitive returned for input ``index``, made to match the input, or an error.

    A gradient on another device, or of a non-floating type, is an error. One of a broadcast
    shape is summed back to the input's (the engine un-broadcasts for every primitive); one
    that no broadcast of the input gives is an error. A floating gradient of another width
    (float64 for a float32 input) is cast to the input's dtype, as PyTorch does.
    """
    name = node.fn.__name__
    data = dx._data
    if (type(data) is _ndarray) is not (xp is np):
        raise DeviceError(
            f"{name}: backward returned a gradient for input {index} on {dx.device}, but the input "
            f"is on {'cpu' if xp is np else 'cuda'}; return the gradient on the input's device."
        )
    if data.dtype.kind not in "fV" and dtype.kind in "fV":
        raise DTypeError(
            f"{name}: backward returned a gradient of dtype {data.dtype} for input {index}, which "
            f"is {dtype}; gradients must be floating point (convert with .to(dy.dtype))."
        )
    if data.shape != shape:
        axes = _summed_axes(data.shape, shape)
        if axes is None:
            raise BackwardError(
                f"{name}: backward returned a gradient of shape {data.shape} for input {index}, "
                f"whose shape is {shape}; return the input's shape (or one that broadcasting the "
                "input gives)."
            )
        dx = sum_to_shape(dx, shape)
    if dx._data.dtype != dtype and dtype.kind in "fV":
        dx = dx.to(dtype)
    return dx


def _count_error(node: Context, dxs: tuple) -> BackwardError:
    n = len(node.parents)
    return BackwardError(
        f"{node.fn.__name__}: backward returned an incorrect number of gradients (expected {n}, "
        f"got {len(dxs)}); return one gradient (or None) per input, as a tuple when there are "
        "several."
    )


def _not_a_tensor_error(node: Context, index: int, dx: Any) -> BackwardError:
    return BackwardError(
        f"{node.fn.__name__}: backward returned a {type(dx).__name__} as the gradient for input "
        f"{index}; return a Tensor (or None), computed with Tensor operations from dy."
    )


def _run_hooks(hooks: list, grad: Tensor, handed_out: set) -> Tensor:
    for hook in list(hooks):
        replaced = hook(grad)
        if replaced is not None:
            if not isinstance(replaced, Tensor) or replaced.shape != grad.shape:
                got = replaced.shape if isinstance(replaced, Tensor) else type(replaced).__name__
                raise RuntimeError(
                    "register_hook: a hook must return None or a Tensor of the gradient's shape "
                    f"{grad.shape} (got {got})."
                )
            handed_out.add(id(replaced._data))
            grad = replaced
    return grad


def _run_post_accumulate_hooks(leaf: Tensor) -> None:
    """``Tensor.register_post_accumulate_grad_hook``: each hook gets the leaf, its ``.grad`` final."""
    for hook in list(leaf._post_accumulate_hooks):
        if hook(leaf) is not None:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: a hook must return None (it may change "
                "tensor.grad in place); return nothing from the hook."
            )


def _node_extras(node: Context, dy: Tensor, graph: _Pass) -> Tensor:
    """Hooks, retain_grad and autograd.grad captures of a non-leaf: rare, out of the hot loop."""
    if node.hooks:
        dy = _run_hooks(node.hooks, dy, graph.handed_out)
    if node.retained is not None:
        kept = node.retained()
        if kept is not None and kept.grad_fn is node:
            accumulate_retained_grad(kept, dy, graph.create_graph, graph.handed_out)
    if node in graph.captured_nodes:
        graph.results[graph.captured_nodes[node]] = dy
    return dy


def _add(table: dict, key: Context | Tensor, grad: Tensor) -> None:
    """Sum the gradients reaching one node or leaf from its consumers (with Tensor ``+``)."""
    if type(key) is Context:
        if key in table:
            table[key] = table[key] + grad
        else:
            table[key] = grad
    else:
        entry = table.get(id(key))
        table[id(key)] = (key, grad if entry is None else entry[1] + grad)


# -- writing .grad: the engine's paths that bypass Function.apply (docs/internals.md) ---------
def accumulate_grad(leaf: Tensor, g: Tensor, create_graph: bool, handed_out: set) -> None:
    """``leaf.grad += g``, in the leaf's dtype, reusing g's array when nothing else can see it.

    Outside ``create_graph`` this works on the raw arrays (adopting ``g``'s array, or ``+=`` into
    the existing ``.grad``), not through ``Function.apply``.
    """
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
                f"backward: the tensor's .grad has shape {existing.shape} but the new gradient has "
                f"shape {array.shape}; set .grad = None (or zero_grad()) before this backward."
            )
        if (
            leaf.grad._requires_grad
            or not is_writeable(existing)
            or existing.dtype != leaf._data.dtype
        ):
            leaf.grad = Tensor._make((existing + array).astype(leaf._data.dtype, copy=False), None)
        else:
            existing += array


def accumulate_retained_grad(kept: Tensor, dy: Tensor, create_graph: bool, handed_out: set) -> None:
    """``kept.grad += dy`` for a non-leaf that called ``retain_grad()``, in its dtype.

    The gradient's array stays shared with ``dy`` (which flows on), so it is marked as handed
    out: no leaf may adopt it. Outside ``create_graph`` the sum is made on the raw arrays.
    """
    handed_out.add(id(dy._data))
    g = dy if dy._data.dtype == kept._data.dtype else dy.to(kept.dtype)
    if create_graph:
        kept.grad = g if kept.grad is None else kept.grad + g
    else:
        g = g.detach()
        kept.grad = g if kept.grad is None else Tensor._make(kept.grad._data + g._data, None)
