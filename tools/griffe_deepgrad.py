"""A griffe extension for the documentation site: read deepgrad's docstring headings as meant.

deepgrad's docstrings say ``Example:`` (one doctest) where Google style's parser knows only
``Examples:``, and say ``Parameters:`` for a layer's *learnable* parameters (weights and their
init), which Google style reads as the function's arguments. Before griffe parses a docstring,
this extension renames the first to ``Examples:`` (so ``>>>`` lines render as code, not as
Markdown) and the second to ``Learnable parameters:`` (an ordinary titled block). The source
is not changed. mkdocs.yml loads it with ``extensions: [tools/griffe_deepgrad.py:DocstringHeadings]``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

RENAMES = (
    (re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE), r"\1Examples:"),
    (re.compile(r"^(\s*)Parameters:[ \t]*$", re.MULTILINE), r"\1Learnable parameters:"),
)


def rename_headings(text: str) -> str:
    """The docstring text with deepgrad's ``Example:``/``Parameters:`` headings renamed."""
    for pattern, replacement in RENAMES:
        text = pattern.sub(replacement, text)
    return text


class DocstringHeadings(griffe.Extension):
    """Rename deepgrad's docstring headings before griffe parses them (see the module docstring)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Called by griffe for every object it loads."""
        if obj.docstring is not None:
            obj.docstring.value = rename_headings(obj.docstring.value)
