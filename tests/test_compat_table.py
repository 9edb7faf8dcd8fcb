"""docs/compatibility.md is what tools/compat_table.py makes from the code (without torch)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location(
        "compat_table", ROOT / "tools" / "compat_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_compatibility_table_is_up_to_date(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # generating must not need PyTorch
    tool = _tool()
    expected = tool.render(tool.classify())
    current = (ROOT / "docs" / "compatibility.md").read_text()
    assert current == expected, (
        "docs/compatibility.md is out of date: run `python3 tools/compat_table.py` and commit it"
    )


def test_differs_and_reasons_name_curated_names_in_the_right_state():
    assert _tool().stale_entries() == []


def test_classification_follows_the_code(monkeypatch):
    import deepgrad

    tool = _tool()
    monkeypatch.setattr(tool, "NAMES", {"torch": ("zeros", "save", "cfloat", "no_such_name")})
    monkeypatch.setattr(tool, "DIFFERS", {("torch", "save"): "safetensors"})
    monkeypatch.setattr(tool, "REASONS", {("torch", "cfloat"): "no complex dtypes"})
    table = tool.classify()["torch"]
    assert table == {
        "supported": ["zeros"],
        "differs": [("save", "safetensors")],
        "missing": [("cfloat", "no complex dtypes"), ("no_such_name", "")],
    }
    text = tool.render({"torch": table})
    assert (
        "| `torch` | 4 | 1 | 1 | 2 | 50% |" in text and "| `cfloat` | no complex dtypes |" in text
    )
    monkeypatch.setattr(deepgrad, "no_such_name", 1, raising=False)
    assert tool.classify()["torch"]["supported"] == ["no_such_name", "zeros"]


def test_a_dunder_counts_only_when_deepgrad_defines_it(monkeypatch):
    tool = _tool()
    monkeypatch.setattr(tool, "NAMES", {"torch.Tensor": ("__getitem__", "__class_getitem__")})
    assert tool.classify()["torch.Tensor"]["supported"] == ["__getitem__"]


def test_check_mode_reports_a_stale_file(tmp_path, monkeypatch, capsys):
    tool = _tool()
    monkeypatch.setattr(tool, "OUTPUT", tmp_path / "compatibility.md")
    (tmp_path / "compatibility.md").write_text("old\n")
    assert tool.main(["--check"]) == 1 and "out of date" in capsys.readouterr().out
    assert tool.main([]) == 0
    assert tool.main(["--check"]) == 0


@pytest.mark.parity
def test_every_curated_name_exists_in_torch():
    pytest.importorskip("torch")
    assert _tool().missing_from_torch() == []
