"""Build the lab notebooks (notebooks/*.ipynb) from their sources in notebooks/_src/*.py.

Each source is a plain Python file in the "percent" format that editors (VS Code, PyCharm,
Spyder, jupytext) understand: ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell
whose lines are comments (``# `` is stripped). Lines before the first marker are a header for
maintainers and do not go into the notebook. Editing, diffing and linting plain .py files is
easier than editing notebook JSON; the .ipynb files are written without outputs, with fixed
cell ids, so rebuilding an unchanged source changes nothing.

    python notebooks/_build.py            # (re)write every notebook
    python notebooks/_build.py --check    # exit 1 if a notebook differs from its source
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "_src"
MARKDOWN = "# %% [markdown]"
CODE = "# %%"


def parse_cells(text: str) -> list[tuple[str, str]]:
    """[(kind, source)] of a percent-format file; kind is "code" or "markdown"."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        stripped = line.rstrip()
        if stripped == MARKDOWN:
            cells.append(("markdown", []))
        elif stripped == CODE or stripped.startswith(CODE + " "):
            cells.append(("code", []))
        elif cells:
            kind, lines = cells[-1]
            if kind == "markdown":
                if stripped and not stripped.startswith("#"):
                    raise ValueError(
                        f"a markdown cell holds a line that is not a comment: {line!r}"
                    )
                stripped = stripped[2:] if stripped.startswith("# ") else stripped[1:]
            lines.append(stripped)
    result = []
    for kind, lines in cells:
        source = "\n".join(lines).strip("\n")
        if source:
            result.append((kind, source))
    return result


def build(source: Path) -> nbformat.NotebookNode:
    """The notebook of one source file, without outputs and with fixed cell ids."""
    cells = []
    for index, (kind, text) in enumerate(parse_cells(source.read_text())):
        make = new_code_cell if kind == "code" else new_markdown_cell
        cell = make(text)
        cell["id"] = f"{source.stem[:2]}-{index:02d}"
        cells.append(cell)
    notebook = new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    nbformat.validate(notebook)
    return notebook


def target(source: Path) -> Path:
    return HERE / (source.stem + ".ipynb")


def render(notebook: nbformat.NotebookNode) -> str:
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
