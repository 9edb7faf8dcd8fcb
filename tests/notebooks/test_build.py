"""notebooks/_build.py: jupytext parses the percent sources; the script keeps ids, metadata and --check."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")

BUILD = Path(__file__).resolve().parents[2] / "notebooks" / "_build.py"
SOURCE = """# Source of notebooks/42_demo.ipynb (a maintainers' header: not in the notebook).

# %% [markdown]
# # A title
#
# Some *prose*.

# %%
import math

x = math.pi

# %% [markdown]
# More prose.

# %%
# a comment in code stays code
print(x)
"""


@pytest.fixture
def build(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("notebooks_build_under_test", BUILD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "_src").mkdir()
    monkeypatch.setattr(module, "HERE", tmp_path)
    monkeypatch.setattr(module, "SOURCES", tmp_path / "_src")
    return module


def test_cells_ids_and_metadata(build, tmp_path):
    source = tmp_path / "_src" / "42_demo.py"
    source.write_text(SOURCE)
    notebook = build.build(source)
    kinds = [(cell.cell_type, cell.source) for cell in notebook.cells]
    assert kinds == [
        ("markdown", "# A title\n\nSome *prose*."),
        ("code", "import math\n\nx = math.pi"),
        ("markdown", "More prose."),
        ("code", "# a comment in code stays code\nprint(x)"),
    ]
    assert [cell.id for cell in notebook.cells] == ["42-00", "42-01", "42-02", "42-03"]
    assert all(cell.metadata == {} for cell in notebook.cells)
    assert set(notebook.metadata) == {"kernelspec", "language_info"}  # no jupytext metadata
    assert build.render(build.build(source)) == build.render(notebook)  # deterministic


def test_a_code_line_inside_a_markdown_cell_is_an_error(build, tmp_path):
    source = tmp_path / "_src" / "43_bad.py"
    source.write_text("# %% [markdown]\n# prose\nx = 1  # the '# ' was forgotten\n")
    with pytest.raises(ValueError, match="not a comment"):
        build.build(source)


def test_check_reports_stale_notebooks_and_build_fixes_them(build, tmp_path, capsys):
    (tmp_path / "_src" / "42_demo.py").write_text(SOURCE)
    assert build.main(["--check"]) == 1  # no notebook yet
    assert "42_demo.ipynb" in capsys.readouterr().err
    assert build.main([]) == 0
    first = (tmp_path / "42_demo.ipynb").read_text()
    assert build.main(["--check"]) == 0
    assert build.main([]) == 0 and (tmp_path / "42_demo.ipynb").read_text() == first
    (tmp_path / "_src" / "42_demo.py").write_text(SOURCE.replace("More prose.", "Changed."))
    assert build.main(["--check"]) == 1
