"""Build the lab notebooks (notebooks/*.ipynb) from their sources in notebooks/_src/*.py, with jupytext.

Each source is a plain Python file in jupytext's "percent" format, which editors (VS Code,
PyCharm, Spyder) understand too: ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown
cell whose lines are ``# `` comments. Lines before the first ``# %%`` are a header for
maintainers and do not go into the notebook. jupytext parses the cells; this script adds what
the repository wants on top: no outputs, fixed cell ids (``<two-digit lab number>-<index>``)
and fixed metadata, so rebuilding an unchanged source changes nothing, and a check that every
line of a markdown cell is a comment (jupytext would quietly turn a stray code line into prose).

    python notebooks/_build.py            # (re)write every notebook
    python notebooks/_build.py --check    # exit 1 if a notebook differs from its source

(``jupytext --to ipynb notebooks/_src/01_autodiff.py`` gives the same cells, with random ids and
jupytext's metadata; use this script so the committed notebooks stay stable.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

try:
    import jupytext
except ImportError:  # pragma: no cover - exercised by hand
    sys.exit(
        "notebooks/_build.py needs jupytext: pip install jupytext (it is in the test and docs extras)."
    )

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "_src"
MARKER = "# %%"
MARKDOWN = "# %% [markdown]"
METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def cell_text(text: str) -> str:
    """The part of a source that holds cells: the maintainers' header before the first ``# %%`` is dropped."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(MARKER)), len(lines))
    markdown = False
    for line in lines[start:]:
        stripped = line.rstrip()
        if stripped.startswith(MARKER):
            markdown = stripped == MARKDOWN
        elif markdown and stripped and not stripped.startswith("#"):
            raise ValueError(f"a markdown cell holds a line that is not a comment: {line!r}")
    return "".join(lines[start:])


def build(source: Path) -> nbformat.NotebookNode:
    """The notebook of one source file, without outputs and with fixed cell ids."""
    notebook = jupytext.reads(cell_text(source.read_text()), fmt="py:percent")
    notebook.cells = [cell for cell in notebook.cells if cell.source.strip()]
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{source.stem[:2]}-{index:02d}"
        cell["metadata"] = {}
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
    notebook.metadata = nbformat.from_dict(METADATA)
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    nbformat.validate(notebook)
    return notebook


def target(source: Path) -> Path:
    """The notebook path of a source: notebooks/<stem>.ipynb."""
    return HERE / (source.stem + ".ipynb")


def render(notebook: nbformat.NotebookNode) -> str:
    """The notebook as the text committed to the repository."""
    return nbformat.writes(notebook) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only check that the notebooks are up to date"
    )
    args = parser.parse_args(argv)
    stale = []
    for source in sorted(SOURCES.glob("[0-9]*.py")):
        text = render(build(source))
        path = target(source)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path.name)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run python notebooks/_build.py", file=sys.stderr)
        return 1
    if not args.check:
        print(f"wrote {len(stale)} notebook(s)" + (f": {', '.join(stale)}" if stale else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
