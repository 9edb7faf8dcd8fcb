"""Errors of the ``deepgrad`` command: the exit statuses, and one line per error that names the
file or setting and the fix (``ERRORS``, ``report_error``)."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from deepgrad.distributed.collectives import DistBackendError
from deepgrad.experiments.config import RecipeError, RunFileError
from deepgrad.io import SerializationError
from deepgrad.train.distributed import world
from deepgrad.train.guards import NonFiniteLossError

EXIT_USAGE = 2
EXIT_ERROR = 1
EXIT_MISSING = EXIT_ERROR  # the old name: a missing file is one of the errors
EXIT_INTERRUPTED = 130

# -- errors: one line each, naming the file or setting and the fix -----------------------------
_OS_FIXES = {
    errno.ENOSPC: "the disk is full: free some space and run the command again "
    "(a training run continues with deepgrad train --resume RUN_DIR)",
    errno.EDQUOT: "the disk quota is used up: free some space and run the command again",
    errno.EACCES: "permission denied: choose a file or folder you may use (--out), "
    "or change its permissions",
    errno.EPERM: "operation not permitted: choose a file or folder you may use (--out)",
    errno.EROFS: "the file system is read-only: choose a folder elsewhere (--out)",
    errno.ENOENT: "no such file or folder: check the path",
    errno.EEXIST: "it exists and is not a folder: give a new or empty folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder: give a folder path",
    errno.EISDIR: "it is a folder: give a file",
}


def _os_error(error: OSError) -> str:
    if error.filename is None:  # our own FileNotFoundError("no config.json in ...")
        return str(error)
    names = f"{error.filename}" + (f" -> {error.filename2}" if error.filename2 else "")
    fix = _OS_FIXES.get(error.errno, f"{error.strerror or error}: check the path and try again")
    return f"{names}: {fix}"


# (exception type, exit status, message); the first matching row wins
ERRORS: tuple[tuple[type[BaseException], int, Callable[[Any], str]], ...] = (
    (RecipeError, EXIT_USAGE, str),
    (RunFileError, EXIT_ERROR, str),
    (
        SerializationError,
        EXIT_ERROR,
        lambda e: f"{e}; the file is damaged or not a deepgrad file: give another one",
    ),
    (OSError, EXIT_ERROR, _os_error),
    (
        NonFiniteLossError,
        EXIT_ERROR,
        lambda e: (
            f"{str(e).split(';')[0]}: the run diverged or the data holds NaN/inf; its records "
            "are written (doctor.txt says which): lower --lr, or check the data"
        ),
    ),
    (
        DistBackendError,
        EXIT_ERROR,
        lambda e: (
            f"{str(e).split('.')[0]}: another process of the job died or hangs; restart the "
            "job with deepgrad train --resume RUN_DIR (it continues from rank 0's last "
            "checkpoint, with the same or another number of processes)"
        ),
    ),
    (
        Exception,
        EXIT_ERROR,
        lambda e: (
            f"{type(e).__name__}: {e} (unexpected: run again with --debug for the "
            "traceback and report it if it is a bug)"
        ),
    ),
)


def report_error(error: BaseException, command: str) -> tuple[int, str]:
    """The exit status and the one-line message of an error of ``deepgrad COMMAND`` (``ERRORS``);
    under ``mpiexec -n N`` the line names the process (``deepgrad train (rank 1 of 2): ...``)."""
    rank, size = world()
    where = f" (rank {rank} of {size})" if size > 1 else ""
    for kind, status, describe in ERRORS:
        if isinstance(error, kind):
            return status, f"deepgrad {command}{where}: error: " + " ".join(describe(error).split())
    raise error


def end_job(status: int) -> None:
    """After an error under ``mpiexec -n N``: end every process of the job now (MPI_Abort).

    The others may be waiting for this one in a collective; without this they would wait out
    their timeout, and this process would wait for them in MPI_Finalize at exit.
    """
    if world()[1] > 1:
        import sys

        from mpi4py import MPI

        sys.stdout.flush()
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(status)
