"""Shared setup of the compiled-step cases (issue 14): the same training step four ways.

``build(lib, config) -> (train_step, args)`` makes the step of one case with ``lib`` (deepgrad or
torch: the same code); ``implementations`` gives deepgrad eager, ``deepgrad.compile``, PyTorch
eager and ``torch.compile``. The compiled ones run their first calls (deepgrad's two traces,
torch.compile's compilation) in setup and print the time they took to stderr.
"""

import importlib
import sys
import time


def _setup(case: str, library: str, compiled: bool, build):
    def setup(config):
        lib = importlib.import_module(library)
        lib.manual_seed(0)
        train_step, args = build(lib, config)
        if not compiled:
            return lambda: train_step(*args)
        fn = lib.compile(train_step)
        start = time.perf_counter()
        for _ in range(3):  # deepgrad traces twice, then runs the program; torch compiles once
            fn(*args)
        print(
            f"{case}: {library}.compile: first 3 calls {time.perf_counter() - start:.2f} s",
            file=sys.stderr,
        )
        if library == "deepgrad" and not fn.programs:
            raise RuntimeError(f"deepgrad.compile ran eagerly: {fn.eager_reason}")
        return lambda: fn(*args)

    return setup


def implementations(case: str, build) -> dict:
    """deepgrad eager and compiled, torch eager and torch.compile, for one case's ``build``."""
    return {
        "deepgrad": _setup(case, "deepgrad", False, build),
        "deepgrad_compiled": _setup(case, "deepgrad", True, build),
        "torch": _setup(case, "torch", False, build),
        "torch_compile": _setup(case, "torch", True, build),
    }
