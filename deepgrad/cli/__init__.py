"""The ``deepgrad`` command: train the seeds' models, compare variants, find a learning rate,
evaluate checkpoints, summarize models and diagnose runs.

    deepgrad train mnist-mlp                      the main job: seed 004's MNIST classifier
    deepgrad train --resume runs/mnist-mlp-...    continue a run from its last checkpoint
    deepgrad train autoencoder --set kind=sparse  a recipe with one of its options changed
    deepgrad compare mnist-mlp --vary init=zeros,normal,xavier,kaiming
    deepgrad lr-find mnist-mlp --optimizer momentum
    deepgrad evaluate runs/mnist-mlp-.../best.safetensors
    deepgrad summary mnist-cnn
    deepgrad doctor runs/mnist-mlp-...
    deepgrad --version

``main(argv)`` runs it in-process and returns the exit status: 0 on success, 2 for bad
arguments (the message lists what is allowed), 1 for any other error (a missing, damaged or
unwritable file, a full disk), 130 when interrupted (Ctrl-C or SIGTERM; the records are written
first). Every error is one line on stderr that names the file or setting and what to do;
``deepgrad --debug ...`` adds the traceback. ``report_error`` holds the table of messages.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Any

from deepgrad.cli.commands import COMMANDS
from deepgrad.cli.errors import (
    ERRORS,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_MISSING,
    EXIT_USAGE,
    end_job,
    report_error,
)
from deepgrad.cli.parser import build_parser, package_version

__all__ = [
    "COMMANDS",
    "ERRORS",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_MISSING",
    "EXIT_USAGE",
    "build_parser",
    "main",
    "package_version",
    "report_error",
]


class _OneLineFormatter(logging.Formatter):
    """Log records (warnings of the library) as one line each. Records that carry a traceback
    report a second failure while an error is being handled (a callback's cleanup on a full
    disk): the error's own line says what to do, so they show only with --debug."""

    def format(self, record: logging.LogRecord) -> str:
        return f"deepgrad: {record.levelname.lower()}: {' '.join(record.getMessage().split())}"

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is None


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("SIGTERM")  # handled like Ctrl-C: records written, exit 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    handler = logging.StreamHandler(sys.stderr)
    if not args.debug:
        handler.setFormatter(_OneLineFormatter())
        handler.addFilter(handler.formatter)
    logging.getLogger("deepgrad").addHandler(handler)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"\ndeepgrad {args.command}: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        status, line = report_error(error, args.command)
        if args.debug:
            traceback.print_exception(error, file=sys.stderr)
        print(line, file=sys.stderr)
        end_job(status)  # mpiexec -n N: the other processes end too, instead of waiting
        return status
    finally:
        logging.getLogger("deepgrad").removeHandler(handler)
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
