"""``python -m deepgrad.cli``: the ``deepgrad`` command."""

from __future__ import annotations

import sys

from deepgrad.cli import main

sys.exit(main())
