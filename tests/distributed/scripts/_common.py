"""Shared by the scripts that tests/distributed launches under mpiexec: one JSON line per rank."""

from __future__ import annotations

import json
import sys


def emit(**fields) -> None:
    """Print this rank's results as one JSON line (the test collects one per rank)."""
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()
