"""One rank stops taking part (it exits, hangs, or raises); the others must not wait for it.

Usage: faults.py exit|hang|raise TIMEOUT_SECONDS
"""

from __future__ import annotations

import datetime
import os
import sys
import time

from _common import emit

import deepgrad as dg
import deepgrad.distributed as dist

mode, seconds = sys.argv[1], float(sys.argv[2])
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=seconds))
rank = dist.get_rank()
t = dg.ones(4)
dist.all_reduce(t)  # everyone is alive here
if rank == 1:
    if mode == "exit":
        os._exit(0)  # dies without a word to MPI
    if mode == "raise":
        raise ValueError("bad batch on rank 1")  # uncaught: the job must end at once
    time.sleep(120)  # hangs
start = time.monotonic()
try:
    dist.all_reduce(t)
except dist.DistBackendError as exc:
    emit(rank=rank, error=str(exc), waited=time.monotonic() - start)
    raise
emit(rank=rank, error=None)
