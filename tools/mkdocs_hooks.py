"""MkDocs hooks (mkdocs.yml ``hooks:``): tutorials from notebooks/, API pages from module names.

- Tutorials: every ``notebooks/NN_*.ipynb`` becomes the page ``notebooks/NN_*/``, rendered by
  mkdocs-jupyter without running it, and is appended to the "Tutorials" section of the nav;
  ``notebooks/README.md`` becomes its index page. A new lab needs no edit here. (The notebook
  files keep the repository root as their source folder: mkdocs-jupyter reads them from disk,
  which a generated in-memory file would not allow.)
- API reference: each nav line ``api/<module>.md`` with no such file in docs/ becomes a page
  holding ``::: <module>`` with the module's public functions and classes
  (``tools/check_docstrings.public_names``) as its members.
- Docstrings: before the build, ``tools/check_docstrings.py`` runs on the same modules; each
  problem is a warning, so ``mkdocs build --strict`` fails on a missing docstring.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TUTORIALS = "Tutorials"
log = logging.getLogger("mkdocs.hooks.deepgrad")

sys.path.insert(0, str(ROOT / "tools"))  # MkDocs restores sys.path after loading this file
import check_docstrings  # a sibling tool, found through the path set just above


def notebooks() -> list[Path]:
    """The lab notebooks, in file (lab number) order."""
    return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def api_page(module_name: str) -> str:
    """The Markdown of one generated API page: the module and its public names as members."""
    module = importlib.import_module(module_name)
    members = ", ".join(check_docstrings.public_names(module))
    return f"# `{module_name}`\n\n::: {module_name}\n    options:\n      members: [{members}]\n"


def on_config(config: Any) -> Any:
    """Make this checkout's deepgrad importable; append the notebooks to the nav's Tutorials."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    for entry in config["nav"]:
        if isinstance(entry, dict) and TUTORIALS in entry:
            entry[TUTORIALS] += [f"notebooks/{path.name}" for path in notebooks()]
    return config


@event_priority(100)  # before mkdocs-jupyter's on_files, which must see the notebooks
def on_files(files: Files, config: Any) -> Files:
    """Add the notebooks, the tutorials index and the API pages that have no file of their own."""
    for path in notebooks():
        uri = f"notebooks/{path.name}"
        files.append(File(uri, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    readme = (NOTEBOOKS / "README.md").read_text()
    files.append(File.generated(config, "notebooks/index.md", content=readme))
    for module_name in check_docstrings.api_modules(Path(config["config_file_path"])):
        uri = f"api/{module_name}.md"
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, content=api_page(module_name)))
    return files


def on_pre_build(config: Any) -> None:
    """Warn (an error under --strict) for each public name without a docstring."""
    modules = check_docstrings.api_modules(Path(config["config_file_path"]))
    for message in check_docstrings.problems(modules, check_docstrings.known_gaps()):
        log.warning("check_docstrings: %s", message)
