"""deepgrad.nn.functional is a package split by kind; every public name of the old single module
still works as ``F.name`` and ``from deepgrad.nn.functional import name``."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import deepgrad.nn.functional as F
from deepgrad.ops import rnn as ops_rnn

# The compatibility contract: ``__all__`` of deepgrad/nn/functional.py (1 124 lines) just before it
# became a package. A name may be added; none of these may disappear. (Names the old module only
# imported for its own use, such as F.Tensor or F.ew, were never public and are not kept.)
PUBLIC_BEFORE_SPLIT = frozenset(
    {
        "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "alpha_dropout",
        "apl", "avg_pool1d", "avg_pool2d", "batch_norm", "binary_cross_entropy",
        "binary_cross_entropy_with_logits", "celu", "centered_softplus", "conv1d", "conv2d",
        "conv_transpose1d", "conv_transpose2d", "cross_entropy", "dropout", "dropout2d", "elu",
        "embedding", "gaussian_nll_loss", "gelu", "hardtanh", "huber_loss", "identity", "kl_div",
        "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax", "logsigmoid", "max_pool1d",
        "max_pool2d", "maxout", "mish", "mse_loss", "nll_loss", "one_hot", "prelu", "relu", "relu6",
        "rrelu", "selu", "sigmoid", "silu", "smooth_l1_loss", "softmax", "softplus", "softsign",
        "tanh", "vleaky_relu",
    }
)  # fmt: skip
# Added with the split: the recurrent functions of deepgrad/ops/rnn.py, which nn.RNN and the
# cell layers call.
ADDED_BY_SPLIT = frozenset(
    {"rnn_cell", "lstm_cell", "gru_cell", "rnn_layer", "lstm_layer", "gru_layer"}
)
# Added by issue 11 (nn and F): vision.py, attention.py and two norms in normalization.py.
ADDED_BY_ISSUE_11 = frozenset(
    {
        "pad", "interpolate", "pixel_shuffle", "pixel_unshuffle", "scaled_dot_product_attention",
        "multi_head_attention_forward", "instance_norm", "group_norm",
    }
)  # fmt: skip
# Private helpers that layers in deepgrad.nn reach as F._name. (The reduction and dropout
# probability checks now live in deepgrad.backend.validation.)
PRIVATE_USED_BY_LAYERS = ("_padding_index",)

PACKAGE_DIR = Path(F.__file__).parent
SUBMODULES = sorted(info.name for info in pkgutil.iter_modules([str(PACKAGE_DIR)]))


def test_the_public_names_are_the_old_ones_plus_the_added_ones():
    assert len(PUBLIC_BEFORE_SPLIT) == 53
    assert len(F.__all__) == len(set(F.__all__)), "a name is listed twice in F.__all__"
    assert set(F.__all__) == PUBLIC_BEFORE_SPLIT | ADDED_BY_SPLIT | ADDED_BY_ISSUE_11


@pytest.mark.parametrize("name", sorted(PUBLIC_BEFORE_SPLIT | ADDED_BY_SPLIT | ADDED_BY_ISSUE_11))
def test_every_public_name_imports_both_ways_as_a_function(name):
    namespace: dict = {}
    exec(f"from deepgrad.nn.functional import {name}", namespace)
    assert namespace[name] is getattr(F, name)
    assert callable(namespace[name]) and not isinstance(namespace[name], type(F))


def test_the_package_exports_exactly_what_its_modules_export():
    exported = []
    for module_name in SUBMODULES:
        module = importlib.import_module(f"deepgrad.nn.functional.{module_name}")
        if module_name.startswith("_"):
            assert not hasattr(module, "__all__"), f"{module_name} is private and exports nothing"
            continue
        for name in module.__all__:
            assert getattr(F, name) is getattr(module, name), (
                f"F.{name} is not {module_name}.{name}"
            )
        exported += module.__all__
    assert sorted(exported) == sorted(F.__all__)


def test_no_module_is_named_like_a_function_it_would_shadow():
    # A submodule named `dropout` would make `import deepgrad.nn.functional.dropout as m` bind
    # the function, and `F.dropout` depend on import order; hence noise.py and affine.py.
    assert set(SUBMODULES) & set(F.__all__) == set()


def test_recurrent_functions_are_the_ops_ones():
    for name in ADDED_BY_SPLIT:
        assert getattr(F, name) is getattr(ops_rnn, name)


def test_private_helpers_the_layers_use_are_still_reachable():
    for name in PRIVATE_USED_BY_LAYERS:
        assert callable(getattr(F, name))
    with pytest.raises(ValueError, match=r"embedding: padding_idx must be in \[-3, 3\) \(got 5\)"):
        F._padding_index(5, 3)


def _sources() -> dict[str, ast.Module]:
    return {path.name: ast.parse(path.read_text()) for path in sorted(PACKAGE_DIR.glob("*.py"))}


def test_nn_functional_uses_only_public_names_of_ops():
    # Coupling through private names is invisible to the layering test (issue 10).
    sites = [
        (file, node.lineno, alias.name)
        for file, tree in _sources().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deepgrad.ops")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert sites == [], sites


def test_modules_and_functions_stay_small():
    for file, tree in _sources().items():
        lines = (PACKAGE_DIR / file).read_text().count("\n")
        assert lines <= 600, f"{file} has {lines} lines"
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"{file}:{node.lineno} {node.name} is {length} lines"
