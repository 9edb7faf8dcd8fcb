"""The documentation site's checks that need no MkDocs: docstrings of the public API, the nav's
module list, the griffe heading extension. (``mkdocs build --strict`` itself runs in .ci/run.)"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import check_docstrings


def test_every_public_name_of_the_api_reference_has_a_docstring():
    modules = check_docstrings.api_modules()
    problems = check_docstrings.problems(modules, check_docstrings.known_gaps())
    assert problems == [], "\n".join(problems) + "\n(see tools/check_docstrings.py)"


def test_the_api_reference_lists_the_public_packages_and_each_imports():
    modules = check_docstrings.api_modules()
    for name in (
        "deepgrad",
        "deepgrad.nn",
        "deepgrad.nn.functional",
        "deepgrad.optim",
        "deepgrad.data",
        "deepgrad.train",
        "deepgrad.models",
        "deepgrad.distributed",
        "deepgrad.distributions",
        "deepgrad.experiments",
        "deepgrad.cli",
    ):
        assert name in modules
    assert len(set(modules)) == len(modules)
    for name in modules:
        importlib.import_module(name)


def test_the_check_finds_a_missing_docstring(tmp_path, monkeypatch):
    (tmp_path / "fakepkg").mkdir()
    (tmp_path / "fakepkg" / "__init__.py").write_text(
        '"""A package."""\nfrom fakepkg.impl import Base, Child, documented, undocumented\n'
    )
    (tmp_path / "fakepkg" / "impl.py").write_text(
        '"""Implementation."""\n'
        'def documented():\n    """Has one."""\n'
        "def undocumented():\n    pass\n"
        'class Base:\n    """Base."""\n    def step(self):\n        """Documented here."""\n'
        "    def bare(self):\n        pass\n"
        'class Child(Base):\n    """Child."""\n    def step(self):\n        pass\n'
        "    def documented(self):\n        pass\n"  # covered: a documented package function
        "    def _private(self):\n        pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    missing = check_docstrings.missing_docstrings(["fakepkg"])
    assert sorted(missing) == ["fakepkg.Base.bare", "fakepkg.undocumented"]
    messages = check_docstrings.problems(["fakepkg"], {"fakepkg.Base.bare", "fakepkg.gone"})
    assert messages == [
        "missing docstring: fakepkg.undocumented",
        "fakepkg.gone has a docstring now (or is gone): delete its line in docstring_gaps.txt",
    ]


def test_nav_lines_are_read_one_module_per_line(tmp_path):
    yml = tmp_path / "mkdocs.yml"
    yml.write_text(
        "nav:\n  - API reference:\n      - api/index.md\n      - api/deepgrad.md\n"
        "      - Layers: api/deepgrad.nn.md\n  - Home: index.md\n"
    )
    assert check_docstrings.api_modules(yml) == ["deepgrad", "deepgrad.nn"]


def test_griffe_extension_renames_deepgrads_headings():
    pytest.importorskip("griffe")
    import griffe_deepgrad

    text = "y = f(x).\n\nParameters:\n    weight: (n,).\n\nExample:\n    >>> f(1)\n    2\n"
    renamed = griffe_deepgrad.rename_headings(text)
    assert "Learnable parameters:\n" in renamed and "Examples:\n    >>> f(1)" in renamed
    assert (
        griffe_deepgrad.rename_headings("An Example: inline stays.") == "An Example: inline stays."
    )
