"""Helpers of the CLI tests: run ``deepgrad`` in-process and capture what it prints."""

from __future__ import annotations

import importlib.util

from deepgrad.cli import main

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
HAVE_TENSORBOARDX = importlib.util.find_spec("tensorboardX") is not None


def run(capsys, *argv) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``deepgrad argv...``."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err
