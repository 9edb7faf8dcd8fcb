"""deepgrad.viz: the computational graph as DOT text, rendered by Graphviz, and drawn by matplotlib."""

from __future__ import annotations

import io
import re
import shutil

import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, viz

NODE = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$')
EDGE = re.compile(r"^\s*(n\d+) -> (n\d+);$")


def parse_dot(text: str):
    """{id: (label, attributes)} and [(source id, target id)] of the DOT text draw_graph writes."""
    nodes, edges = {}, []
    for line in text.splitlines():
        if match := NODE.match(line):
            nodes[match[1]] = (match[2].replace("\\n", "\n").replace('\\"', '"'), match[3])
        elif match := EDGE.match(line):
            edges.append((match[1], match[2]))
    return nodes, edges


def labelled_edges(text: str) -> tuple[dict, list]:
    nodes, edges = parse_dot(text)
    return nodes, sorted((nodes[a][0], nodes[b][0]) for a, b in edges)


@pytest.fixture
def seed_graph():
    """The seed deck's graph (seed 004): a = t1 + t2, b = a * t3, c = sum(b)."""
    dg.manual_seed(0)
    t1, t2, t3 = (dg.rand(4, 5, requires_grad=True) for _ in range(3))
    c = dg.sum((t1 + t2) * t3)
    return c, {"t1": t1, "t2": t2, "t3": t3}


def test_dot_of_the_seed_graph_has_its_nodes_and_edges(seed_graph):
    c, params = seed_graph
    text = viz.draw_graph(c, params=params)
    assert text.startswith("digraph") and text.rstrip().endswith("}")
    nodes, edges = labelled_edges(text)
    assert sorted(label for label, _ in nodes.values()) == sorted(
        ["t1\n(4, 5)", "t2\n(4, 5)", "t3\n(4, 5)", "Add\n(4, 5)", "Mul\n(4, 5)", "Sum\n()"]
    )
    assert edges == sorted(
        [
            ("t1\n(4, 5)", "Add\n(4, 5)"),
            ("t2\n(4, 5)", "Add\n(4, 5)"),
            ("Add\n(4, 5)", "Mul\n(4, 5)"),
            ("t3\n(4, 5)", "Mul\n(4, 5)"),
            ("Mul\n(4, 5)", "Sum\n()"),
        ]
    )
    shapes = {label.split("\n")[0]: attributes for label, attributes in nodes.values()}
    assert all("shape=box" in shapes[name] for name in ("t1", "t2", "t3"))
    assert all("shape=ellipse" in shapes[name] for name in ("Add", "Mul", "Sum"))
    # the drawn tensor's node stands out
    assert shapes["Sum"] != shapes["Mul"]


def test_nodes_come_in_data_flow_order(seed_graph):
    c, params = seed_graph
    nodes = viz.graph_nodes(c, params=params, show_shapes=False)
    assert [n.label for n in nodes] == ["t1", "t2", "Add", "t3", "Mul", "Sum"]
    position = {n.id: i for i, n in enumerate(nodes)}
    assert all(position[source] < i for i, n in enumerate(nodes) for source in n.inputs)
    assert [n.root for n in nodes] == [False] * 5 + [True]


def test_unnamed_leaves_and_no_shapes(seed_graph):
    c, _ = seed_graph
    nodes, edges = labelled_edges(viz.draw_graph(c, show_shapes=False))
    assert sorted(label for label, _ in nodes.values()) == [
        "Add",
        "Mul",
        "Sum",
        "leaf",
        "leaf",
        "leaf",
    ]
    assert len(edges) == 5


def _reference_walk(tensor):
    """Ops and parameter leaves reachable from tensor, and the number of edges (a plain recursion)."""
    ops, leaves, edges, seen = [], set(), 0, set()

    def visit(node):
        nonlocal edges
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, dg.Tensor):
            leaves.add(id(node))
            return
        ops.append(node.fn.__name__)
        for parent in node.parents:
            if parent is not None:
                edges += 1
                visit(parent)

    visit(tensor.grad_fn)
    return sorted(ops), leaves, edges


def test_dot_of_a_small_mlp_names_every_parameter():
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x, y = dg.randn(5, 3), dg.tensor([0, 1, 0, 1, 1])
    loss = F.cross_entropy(model(x), y)
    text = viz.draw_graph(loss, params=model.named_parameters())
    nodes, edges = parse_dot(text)
    leaves = sorted(label for label, attributes in nodes.values() if "shape=box" in attributes)
    # the parameters, with their shapes; the data x needs no gradient and is not part of the graph
    assert leaves == ["0.bias\n(4,)", "0.weight\n(4, 3)", "2.bias\n(2,)", "2.weight\n(2, 4)"]
    ops = sorted(
        label.split("\n")[0]
        for label, attributes in nodes.values()
        if "shape=box" not in attributes
    )
    expected_ops, _, expected_edges = _reference_walk(loss)
    assert ops == expected_ops
    assert any("relu" in op.lower() for op in ops)
    assert len(edges) == expected_edges
    # every parameter reaches the loss, and the first layer's weight goes through the ReLU
    following = {}
    for source, target in edges:
        following.setdefault(source, []).append(target)
    (root,) = [i for i, (_, attributes) in nodes.items() if "#d9ead3" in attributes]

    def paths_from(node):
        if node == root:
            return [[node]]
        return [[node, *rest] for nxt in following.get(node, []) for rest in paths_from(nxt)]

    by_label = {label.split("\n")[0]: i for i, (label, _) in nodes.items()}
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert paths_from(by_label[name]), name
    through = [
        [nodes[i][0].split("\n")[0] for i in path] for path in paths_from(by_label["0.weight"])
    ]
    assert all(any("relu" in op.lower() for op in path) for path in through)


def test_the_graph_can_be_drawn_after_backward(seed_graph):
    c, params = seed_graph
    before = viz.draw_graph(c, params=params)
    c.backward()
    assert viz.draw_graph(c, params=params) == before


def test_a_leaf_used_twice_is_one_node_with_two_edges():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    nodes, edges = labelled_edges(viz.draw_graph(x * x, params={"x": x}))
    assert sorted(label for label, _ in nodes.values()) == ["Mul\n(2,)", "x\n(2,)"]
    assert edges == [("x\n(2,)", "Mul\n(2,)"), ("x\n(2,)", "Mul\n(2,)")]


def test_a_leaf_that_requires_grad_is_a_one_node_graph():
    w = dg.zeros(3, requires_grad=True)
    nodes, edges = parse_dot(viz.draw_graph(w, params={"w": w}))
    assert [label for label, _ in nodes.values()] == ["w\n(3,)"] and edges == []


def test_labels_are_quoted_for_dot():
    w = dg.zeros(2, requires_grad=True)
    text = viz.draw_graph(w.sum(), params={'say "hi"\\': w})
    assert 'label="say \\"hi\\"\\\\\\n(2,)"' in text


def test_dot_is_written_to_path(seed_graph, tmp_path):
    c, params = seed_graph
    text = viz.draw_graph(c, path=tmp_path / "g.dot", params=params)
    assert (tmp_path / "g.dot").read_text() == text


def test_errors_say_what_is_wrong(seed_graph):
    c, _ = seed_graph
    with pytest.raises(ValueError, match="unknown format 'jpg'; allowed: dot, svg, png"):
        viz.draw_graph(c, format="jpg")
    with pytest.raises(TypeError, match="expected a Tensor"):
        viz.draw_graph([1.0, 2.0])
    with pytest.raises(ValueError, match="no computational graph.*requires_grad=True"):
        viz.draw_graph(dg.ones(3) * 2)
    with pytest.raises(TypeError, match="params must map names to tensors"):
        viz.draw_graph(c, params=[c])
    with pytest.raises(TypeError, match=r"params\['t1'\] must be a Tensor"):
        viz.draw_graph(c, params={"t1": 1.0})


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_rendering_without_graphviz_says_how_to_install_it(seed_graph, monkeypatch, fmt):
    c, _ = seed_graph
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz.*draw_graph_matplotlib"):
        viz.draw_graph(c, format=fmt)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_rendering_with_graphviz(seed_graph, tmp_path):
    c, params = seed_graph
    svg = viz.draw_graph(c, format="svg", params=params)
    assert isinstance(svg, str) and "<svg" in svg and ">t3<" in svg and ">Mul<" in svg
    png = viz.draw_graph(c, format="png", path=tmp_path / "g.png", params=params)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "g.png").read_bytes() == png


def test_matplotlib_drawing_lays_out_the_data_flow_downwards(seed_graph):
    pytest.importorskip("matplotlib")
    from matplotlib.patches import FancyArrowPatch

    c, params = seed_graph
    ax = viz.draw_graph_matplotlib(c, params=params)
    where = {text.get_text().split("\n")[0]: text.get_position() for text in ax.texts}
    assert sorted(where) == ["Add", "Mul", "Sum", "t1", "t2", "t3"]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 5
    for source, target in [
        ("t1", "Add"),
        ("t2", "Add"),
        ("Add", "Mul"),
        ("t3", "Mul"),
        ("Mul", "Sum"),
    ]:
        assert where[source][1] > where[target][1], (source, target)
    assert where["t1"][1] == where["t2"][1]  # both feed Add: one level
    assert len(set(where.values())) == 6  # no two nodes on top of each other
    ax.figure.savefig(io.BytesIO(), format="png")  # the arrows are clipped to the boxes when drawn


def test_matplotlib_drawing_uses_a_given_axes():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    w = dg.ones(2, requires_grad=True)
    assert viz.draw_graph_matplotlib((w * 3).sum(), ax=ax, show_shapes=False) is ax
    assert sorted(t.get_text() for t in ax.texts) == ["Mul", "Sum", "leaf"]
