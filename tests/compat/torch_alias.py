"""Run a PyTorch program on deepgrad: ``import torch`` and ``from torch.X import Y`` resolve to deepgrad.

    python tests/compat/torch_alias.py PROGRAM.py [ARGS...]

This is the whole of "porting": a finder maps every module name ``torch`` or ``torch.*`` to
``deepgrad`` or ``deepgrad.*``, so the program's source is not changed at all. A module that
deepgrad lacks fails with the usual ModuleNotFoundError naming the deepgrad path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import runpy
import sys


class _TorchAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``torch[.x.y]`` as the already importable ``deepgrad[.x.y]``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        real = "deepgrad" + fullname[len("torch") :]
        if importlib.util.find_spec(real) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def create_module(self, spec):
        return importlib.import_module("deepgrad" + spec.name[len("torch") :])

    def exec_module(self, module):
        pass  # the deepgrad module is already executed


def install() -> None:
    sys.meta_path.insert(0, _TorchAlias())


if __name__ == "__main__":
    install()
    program = sys.argv[1]
    sys.argv = sys.argv[1:]
    runpy.run_path(program, run_name="__main__")
