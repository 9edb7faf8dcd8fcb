"""Algebraic simplification and numerical stabilization, as Theano's optimizer did.

- ``log(softmax(x))`` -> ``log_softmax(x)``: the log of a probability that underflowed to 0 is
  -inf; log_softmax computes ``x - logsumexp(x)`` and stays finite.
- ``log(1 + x)`` -> ``log1p(x)``: for |x| below the float epsilon ``1 + x`` rounds to 1 and the
  log to 0; log1p keeps the digits of x.
- ``exp(log(x))`` -> ``x`` and ``log(exp(x))`` -> ``x``: two transcendental calls (and, for
  ``log(exp(x))``, an overflow at x > 88 in float32) removed. Like Theano, this assumes x > 0
  for ``exp(log(x))``.
- ``x @ w.mT + b`` -> ``linear(x, w, b)`` (``b`` of shape (n,)): the fused primitive adds the
  bias into the product in place (no second output array) and its backward computes
  ``dw = dy^T @ x`` in w's layout, where MatMul's gives ``x^T @ dy``, a transposed view that
  ``.grad`` copies. The forward's values are the same; the weight gradient sums the same
  products in another order (reassociation). The input projection of the RNN layers
  (``ops/rnn._project``) is this pattern.

A rewrite changes the node in place (the backward then comes from the new primitive's own
rule) or makes the readers of its output read another value; the nodes left unread are
removed by dead-code elimination.
"""

from __future__ import annotations

from deepgrad.compile.graph import Graph, Node, Value, replace_uses
from deepgrad.ops import elementwise as ew
from deepgrad.ops import fused, linalg, shape

__all__ = ["run"]


def _producer(value: Value, cls: type) -> Node | None:
    node = value.producer
    return node if node is not None and node.kind == "op" and node.fn is cls else None


def _is_one(value: Value) -> bool:
    array = value.array
    return value.kind == "constant" and array is not None and array.size == 1 and array.item() == 1


def _become(node: Node, cls: type, inputs: list[Value], constants: dict) -> None:
    node.fn, node.name, node.inputs, node.constants = cls, cls.__name__, inputs, constants
    if node.needs_input_grad is not None:
        node.needs_input_grad = tuple(v.requires_grad for v in inputs)


def _rewrite_log(graph: Graph, node: Node) -> str | None:
    (x,) = node.inputs
    softmax = _producer(x, fused.Softmax)
    if softmax is not None:
        _become(node, fused.LogSoftmax, [softmax.inputs[0]], dict(softmax.constants))
        return "log(softmax(x)) -> log_softmax(x)"
    add = _producer(x, ew.Add)
    if add is not None:
        a, b = add.inputs
        other = b if _is_one(a) else a if _is_one(b) else None
        if other is not None and other.shape == x.shape and other.dtype == x.dtype:
            _become(node, ew.Log1p, [other], {})
            return "log(1 + x) -> log1p(x)"
    inner = _producer(x, ew.Exp)
    if inner is not None and _same_kind(inner.inputs[0], node.output):
        replace_uses(graph, node.output, inner.inputs[0])
        return "log(exp(x)) -> x"
    return None


def _rewrite_affine(graph: Graph, node: Node) -> str | None:
    """``Add(MatMul(x, Permute(w, (1, 0))), b)`` (either order) -> ``Linear(x, w, b)``."""
    uses = graph.uses()
    returned = {v.index for v in graph.output_values()}
    for k in (0, 1):
        mm, bias = _producer(node.inputs[k], linalg.MatMul), node.inputs[1 - k]
        if mm is None or mm.effectful or mm.output.index in returned:
            continue
        if len(uses.get(mm.output, [])) != 1:
            continue  # the product is read elsewhere: it must still be made
        x, wt = mm.inputs
        permute = _producer(wt, shape.Permute)
        if permute is None or permute.constants.get("dims") != (1, 0):
            continue
        w = permute.inputs[0]
        out = node.output
        if len(x.shape) < 2 or len(w.shape) != 2 or bias.shape != w.shape[:1]:
            continue
        if not (x.dtype == w.dtype == bias.dtype == out.dtype == mm.output.dtype):
            continue
        _become(node, linalg.Linear, [x, w, bias], {})
        return "x @ w.mT + b -> linear(x, w, b)"
    return None


def _same_kind(a: Value, b: Value) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.requires_grad == b.requires_grad


def run(graph: Graph) -> list[str]:
    """Apply the rewrites; return what was rewritten (one line each)."""
    done = []
    for node in list(graph.nodes):
        if node.kind != "op" or node.effectful:
            continue
        what = None
        if node.fn is ew.Log:
            what = _rewrite_log(graph, node)
        elif node.fn is ew.Add:
            what = _rewrite_affine(graph, node)
        elif node.fn is ew.Exp:
            inner = _producer(node.inputs[0], ew.Log)
            if inner is not None and _same_kind(inner.inputs[0], node.output):
                replace_uses(graph, node.output, inner.inputs[0])
                what = "exp(log(x)) -> x"
        if what is not None:
            done.append(f"{node.output.name}: {what}")
    graph.meta.setdefault("log", []).extend(done)
    return done
