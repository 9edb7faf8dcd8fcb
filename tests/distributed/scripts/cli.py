"""``deepgrad ARGS`` as one rank of an mpiexec job (the command, unchanged)."""

from __future__ import annotations

import sys

from deepgrad.cli import main

sys.exit(main(sys.argv[1:]))
