"""Fail when a public name of the API reference has no docstring.

The modules are the ``api/<module>.md`` lines of mkdocs.yml's nav (one line per module), so the
site and this check cover the same list. A module's public names are its ``__all__``, or, where
it has none, the names it binds that do not start with ``_``. Checked: each public function and
class, and each public method or property a public class defines itself; a method overriding a
documented method of a base class (``forward``, ``step``...) is covered by the base's
docstring, and so is a method named like a documented function of the package (``Tensor.exp``
is ``deepgrad.exp``, PyTorch's "See torch.exp()"); data (dtypes, constants) is not checked.

The methods that had no docstring when this check came in are listed in
tools/docstring_gaps.txt, a ratchet: the check fails on a missing docstring not in that list,
and on a listed name that has one now (delete its line). Module-level names have no such list.

    python3 tools/check_docstrings.py          # exit 1 on a new gap (or a stale line in the list)
    python3 tools/check_docstrings.py --all    # also print the known gaps

``tools/mkdocs_hooks.py`` runs the same check during ``mkdocs build`` (a warning per missing
docstring, so ``--strict`` fails) and renders exactly the names listed by ``public_names``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GAPS = ROOT / "tools" / "docstring_gaps.txt"
API_LINE = re.compile(r"^\s*-\s+(?:[^:]+:\s+)?api/([A-Za-z_][\w.]*)\.md\s*$")


def api_modules(mkdocs_yml: Path = ROOT / "mkdocs.yml") -> list[str]:
    """The module names of the ``api/<module>.md`` nav lines of mkdocs.yml, in order."""
    names = []
    for line in mkdocs_yml.read_text().splitlines():
        match = API_LINE.match(line)
        if match and match.group(1) != "index":
            names.append(match.group(1))
    return names


def _documentable(value: object) -> bool:
    return inspect.isclass(value) or inspect.isroutine(value)


def public_names(module: types.ModuleType) -> list[str]:
    """The functions and classes a module offers: ``__all__`` if it has one, else its non-_ names."""
    names = getattr(module, "__all__", None)
    if names is None:  # without __all__, what the module imports from elsewhere is not its API
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and getattr(value, "__module__", "").partition(".")[0] == _package(module)
        ]
    return [name for name in names if _documentable(getattr(module, name, None))]


def _package(module: types.ModuleType) -> str:
    return module.__name__.partition(".")[0]


def _has_doc(value: object) -> bool:
    doc = getattr(value, "__doc__", None)
    return isinstance(doc, str) and bool(doc.strip())


def _inherits_doc(cls: type, name: str) -> bool:
    if any(_has_doc(vars(base).get(name)) for base in cls.__mro__[1:]):
        return True
    namesake = getattr(sys.modules.get(cls.__module__.partition(".")[0]), name, None)
    return inspect.isroutine(namesake) and _has_doc(namesake)


def _members(cls: type) -> Iterator[tuple[str, object]]:
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            yield name, value


def missing_in_class(cls: type, path: str) -> list[str]:
    """The dotted paths of a class's own public methods and properties that lack a docstring."""
    return [
        f"{path}.{name}"
        for name, value in _members(cls)
        if not _has_doc(value) and not _inherits_doc(cls, name)
    ]


def missing_docstrings(module_names: list[str]) -> list[str]:
    """The dotted paths (as the reference shows them) of public objects without a docstring."""
    missing: list[str] = []
    seen: set[int] = set()
    for module_name in module_names:
        module = importlib.import_module(module_name)
        if not _has_doc(module):
            missing.append(module_name)
        for name in public_names(module):
            value = getattr(module, name)
            path = f"{module_name}.{name}"
            if not _has_doc(value):
                missing.append(path)
            if inspect.isclass(value) and id(value) not in seen:
                seen.add(id(value))
                missing.extend(missing_in_class(value, path))
    return missing


def known_gaps(path: Path = GAPS) -> set[str]:
    """The dotted names listed in tools/docstring_gaps.txt (one a line; # starts a comment)."""
    lines = (line.partition("#")[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line}


def problems(module_names: list[str], gaps: set[str]) -> list[str]:
    """One message per public name without a docstring (not in ``gaps``) and per stale gap."""
    missing = missing_docstrings(module_names)
    new = [f"missing docstring: {path}" for path in missing if path not in gaps]
    fixed = sorted(gaps - set(missing))
    return new + [
        f"{path} has a docstring now (or is gone): delete its line in {GAPS.name}" for path in fixed
    ]


def main(argv: list[str] | None = None) -> int:
    """Print each new gap (and, with --all, the known ones); 1 if there is any, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also list the known gaps")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    modules, gaps = api_modules(), known_gaps()
    found = problems(modules, gaps)
    if args.all:
        for path in sorted(gaps):
            print(f"known gap: {path}")
    for message in found:
        print(message, file=sys.stderr)
    print(f"{len(modules)} modules checked: {len(found)} problem(s), {len(gaps)} known gap(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
