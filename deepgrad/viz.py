"""Drawings of a tensor's computational graph: Graphviz DOT text, SVG/PNG, or a matplotlib figure.

Every tensor computed from tensors that require a gradient remembers how it was made: its
``grad_fn`` is the node of the primitive that produced it (``ctx.fn`` is the Function class,
``ctx.parents`` the inputs' nodes, leaf tensors, or None for inputs that need no gradient).
Walking those links from the result back to the leaves gives the graph that ``backward()``
runs through in reverse::

    a = t1 + t2; b = a * t3; c = b.sum()
    print(draw_graph(c, params={"t1": t1, "t2": t2, "t3": t3}))     # DOT text
    draw_graph(c, format="svg", path="graph.svg")                  # needs Graphviz's `dot`
    draw_graph_matplotlib(c)                                       # needs only matplotlib

Nodes are drawn in the direction the data flows (inputs at the top, the result at the bottom).
Leaves are blue boxes with their shape (and their name, when ``params`` names them); operations
are grey ellipses named after their primitive (``Add``, ``MatMul``, ``Relu``...) with the shape
of their output; the node that made the drawn tensor is green. Inputs that need no gradient
(data batches, constants) are not part of the graph and are not drawn.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from deepgrad.autograd import Tensor

FORMATS = ("dot", "svg", "png")
_INSTALL_HINT = (
    "install Graphviz, which provides the `dot` program (Debian/Ubuntu: apt-get install graphviz; "
    "macOS: brew install graphviz; conda: conda install graphviz; others: https://graphviz.org/download/), "
    "or use format='dot' for the text, or draw_graph_matplotlib(tensor) for a picture without Graphviz"
)


@dataclass
class GraphNode:
    """One node of a drawn graph.

    Attributes:
        id: the node's name in the DOT text (``n0``, ``n1``... in data-flow order).
        kind: ``"op"`` (a primitive's node) or ``"leaf"`` (a tensor made by the user).
        label: the text shown: primitive name or leaf name, then the shape.
        inputs: ids of the nodes whose outputs this node reads, in argument order.
        root: whether this node made the drawn tensor.
    """

    id: str
    kind: str
    label: str
    inputs: list[str] = field(default_factory=list)
    root: bool = False


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _names(params) -> dict[int, str]:
    if params is None:
        return {}
    if isinstance(params, Mapping):
        items = params.items()
    elif isinstance(params, Iterable):
        items = list(params)
        if not all(isinstance(p, tuple) and len(p) == 2 for p in items):
            raise TypeError(
                "draw_graph: params must map names to tensors, e.g. dict(model.named_parameters()) "
                f"(got an iterable of {type(items[0]).__name__ if items else 'nothing'})."
            )
    else:
        raise TypeError(
            f"draw_graph: params must map names to tensors, e.g. dict(model.named_parameters()) "
            f"(got {type(params).__name__})."
        )
    names = {}
    for name, tensor in items:
        if not isinstance(tensor, Tensor):
            raise TypeError(
                f"draw_graph: params[{name!r}] must be a Tensor (got {type(tensor).__name__})."
            )
        names[id(tensor)] = str(name)
    return names


def graph_nodes(tensor: Tensor, params=None, show_shapes: bool = True) -> list[GraphNode]:
    """The nodes of ``tensor``'s computational graph in the order the data flows.

    Args:
        tensor: a tensor computed from tensors with ``requires_grad=True`` (or such a leaf).
        params: names for leaf tensors: a dict ``{name: tensor}`` or ``model.named_parameters()``.
            Default: leaves are labelled ``leaf``.
        show_shapes: add each node's output shape to its label. Default: True.

    Returns:
        the nodes in a topological order (every node after its inputs, inputs visited in
        argument order), so the drawn tensor's node comes last; ids are ``n0, n1, ...`` in that
        order. Each node lists the ids of its inputs: the edges are ``(input, node)`` pairs.

    Raises:
        TypeError: ``tensor`` is not a Tensor, or ``params`` is not a name -> tensor mapping.
        ValueError: ``tensor`` has no graph (it does not require a gradient).
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor (got {type(tensor).__name__}).")
    if tensor.grad_fn is None and not tensor.requires_grad:
        raise ValueError(
            f"draw_graph: the tensor (shape {tensor.shape}) has no computational graph because it does not "
            "require a gradient; create its inputs with requires_grad=True (and compute it outside no_grad())."
        )
    names = _names(params)
    ids: dict[int, str] = {}
    nodes: list[GraphNode] = []
    root = tensor.grad_fn if tensor.grad_fn is not None else tensor
    # Iterative depth-first post-order: deep graphs (long unrolled RNNs) would overflow a recursion.
    seen = {id(root)}
    stack = [(root, iter(() if isinstance(root, Tensor) else root.parents))]
    while stack:
        obj, parents = stack[-1]
        for parent in parents:
            if parent is not None and id(parent) not in seen:
                seen.add(id(parent))
                stack.append((parent, iter(() if isinstance(parent, Tensor) else parent.parents)))
                break
        else:
            stack.pop()
            ids[id(obj)] = node_id = f"n{len(nodes)}"
            if isinstance(obj, Tensor):
                node = GraphNode(node_id, "leaf", names.get(id(obj), "leaf"))
            else:
                node = GraphNode(node_id, "op", obj.fn.__name__)
                node.inputs = [ids[id(p)] for p in obj.parents if p is not None]
            if show_shapes:
                node.label += "\n" + _shape_text(obj.shape)
            nodes.append(node)
    nodes[-1].root = True
    return nodes


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(nodes: list[GraphNode], name: str = "graph") -> str:
    """DOT text of the nodes from :func:`graph_nodes`: inputs point to the nodes that read them."""
    lines = [
        f"digraph {_dot_quote(name)} {{",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555"];',
    ]
    for node in nodes:
        if node.kind == "leaf":
            style = 'shape=box, style="rounded,filled", fillcolor="#cfe2f3"'
        elif node.root:
            style = 'shape=ellipse, style=filled, fillcolor="#d9ead3"'
        else:
            style = 'shape=ellipse, style=filled, fillcolor="#eeeeee"'
        if node.root and node.kind == "leaf":
            style += ", penwidth=2"
        lines.append(f"  {node.id} [label={_dot_quote(node.label)}, {style}];")
    for node in nodes:
        for source in node.inputs:
            lines.append(f"  {source} -> {node.id};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _render(dot_text: str, format: str) -> bytes:
    executable = shutil.which("dot")
    if executable is None:
        raise RuntimeError(
            f"draw_graph: format={format!r} needs Graphviz's `dot` program, which was not found; {_INSTALL_HINT}."
        )
    done = subprocess.run(
        [executable, f"-T{format}"], input=dot_text.encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise RuntimeError(
            f"draw_graph: Graphviz's `dot -T{format}` failed (exit {done.returncode}): {message}."
        )
    return done.stdout


def draw_graph(
    tensor: Tensor,
    format: str = "dot",
    path: str | os.PathLike | None = None,
    show_shapes: bool = True,
    params=None,
) -> str | bytes:
    """Draw the computational graph that produced ``tensor``.

    ``format="dot"`` gives Graphviz DOT text (always available); ``"svg"`` and ``"png"`` run
    Graphviz's ``dot`` program on it (install Graphviz for those; the Python package
    ``graphviz`` alone is not enough, it calls the same program). In a notebook,
    ``IPython.display.SVG(draw_graph(loss, format="svg"))`` shows the picture.

    Args:
        tensor: the result whose graph to draw, e.g. a loss.
        format: ``"dot"``, ``"svg"`` or ``"png"``. Default: ``"dot"``.
        path: also write the result to this file. Default: None.
        show_shapes: show each node's output shape. Default: True.
        params: names for leaf tensors: ``{name: tensor}`` or ``model.named_parameters()``.
            Default: leaves are labelled ``leaf``.

    Returns:
        the DOT or SVG text (``str``), or the PNG bytes.

    Raises:
        ValueError: an unknown format, or a tensor without a graph.
        RuntimeError: SVG/PNG asked for and Graphviz's ``dot`` is not installed (the message
            says how to install it) or failed.

    Example:
        >>> import deepgrad as dg
        >>> t1, t2 = dg.ones(2, requires_grad=True), dg.ones(2, requires_grad=True)
        >>> text = draw_graph((t1 * t2).sum(), params={"t1": t1, "t2": t2})
        >>> [line.strip() for line in text.splitlines() if "->" in line]
        ['n0 -> n2;', 'n1 -> n2;', 'n2 -> n3;']

    See also:
        :func:`draw_graph_matplotlib` for a picture without Graphviz.
    """
    if format not in FORMATS:
        raise ValueError(f"draw_graph: unknown format {format!r}; allowed: {', '.join(FORMATS)}.")
    dot_text = to_dot(graph_nodes(tensor, params=params, show_shapes=show_shapes))
    result: str | bytes = dot_text if format == "dot" else _render(dot_text, format)
    if format == "svg":
        result = result.decode()
    if path is not None:
        mode = "wb" if isinstance(result, bytes) else "w"
        with open(os.fspath(path), mode) as file:
            file.write(result)
    return result


def _layers(nodes: list[GraphNode], consumers: dict[int, list[int]]) -> list[list[int]]:
    """Node indices by depth = the longest path to the root, so that every edge goes up a level."""
    depth = [0] * len(nodes)
    # nodes are in data-flow order: walking backwards places every consumer before its inputs
    for i in range(len(nodes) - 1, -1, -1):
        depth[i] = max((depth[c] + 1 for c in consumers[i]), default=0)
    layers: list[list[int]] = [[] for _ in range(max(depth) + 1)]
    for i, d in enumerate(depth):
        layers[d].append(i)
    return layers


def _axes(ax, width: float, height: float):
    if ax is not None:
        return ax
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "draw_graph_matplotlib: needs matplotlib; pip install 'deepgrad[plot]'."
        ) from exc
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(width, height))
    else:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(width, height))
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.98)
    return figure.subplots()


def draw_graph_matplotlib(tensor: Tensor, ax=None, show_shapes: bool = True, params=None):
    """Draw the computational graph of ``tensor`` with matplotlib (no Graphviz needed).

    Nodes are laid out by depth: the drawn tensor's node at the bottom, each input one level
    above the highest node that reads it, so every arrow points down, in the direction the
    data flows. Within a level, nodes sit near the nodes they feed (fewer crossing arrows).

    Args:
        tensor: the result whose graph to draw.
        ax: the matplotlib Axes to draw on. Default: a new figure sized to the graph.
        show_shapes: show each node's output shape. Default: True.
        params: names for leaf tensors, as in :func:`draw_graph`.

    Returns:
        the Axes (``ax.figure`` is the figure).
    """
    nodes = graph_nodes(tensor, params=params, show_shapes=show_shapes)
    index = {node.id: i for i, node in enumerate(nodes)}
    consumers: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
    for i, node in enumerate(nodes):
        for source in node.inputs:
            consumers[index[source]].append(i)
    layers = _layers(nodes, consumers)
    widest = max(len(layer) for layer in layers)
    x = [0.0] * len(nodes)
    for depth, layer in enumerate(layers):
        if depth:
            # barycentre ordering: each node near the mean position of the nodes it feeds
            layer.sort(key=lambda i: sum(x[c] for c in consumers[i]) / len(consumers[i]))
        for slot, i in enumerate(layer):
            x[i] = slot - (len(layer) - 1) / 2
    y = [0.0] * len(nodes)
    for depth, layer in enumerate(layers):
        for i in layer:
            y[i] = float(depth)

    ax = _axes(ax, max(4.0, 1.9 * widest), max(2.5, 1.0 * len(layers)))
    from matplotlib.patches import FancyArrowPatch

    texts = []
    for i, node in enumerate(nodes):
        if node.kind == "leaf":
            box = {"boxstyle": "round,pad=0.4", "facecolor": "#cfe2f3", "edgecolor": "#3d6d99"}
        else:
            color = "#d9ead3" if node.root else "#eeeeee"
            box = {
                "boxstyle": "round,pad=0.4,rounding_size=0.8",
                "facecolor": color,
                "edgecolor": "#666666",
            }
        texts.append(
            ax.text(
                x[i], y[i], node.label, ha="center", va="center", fontsize=9, bbox=box, zorder=2
            )
        )
    for i, node in enumerate(nodes):
        for source in node.inputs:
            s = index[source]
            # clipped to the two boxes when drawn, so the arrow heads end at the box edges; drawn
            # after the texts (higher zorder) because a text places its box only when it is drawn
            arrow = FancyArrowPatch(
                (x[s], y[s]),
                (x[i], y[i]),
                arrowstyle="-|>",
                mutation_scale=12,
                color="#555555",
                linewidth=1,
                patchA=texts[s].get_bbox_patch(),
                patchB=texts[i].get_bbox_patch(),
                shrinkA=1,
                shrinkB=1,
                zorder=3,
            )
            ax.add_patch(arrow)
    ax.set_xlim(-widest / 2 - 0.3, widest / 2 + 0.3)
    ax.set_ylim(-0.6, len(layers) - 0.4)  # depth 0 (the result) at the bottom, leaves on top
    ax.set_axis_off()
    return ax
