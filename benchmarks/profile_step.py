"""Profile one benchmark implementation's step: ``python benchmarks/profile_step.py CASE IMPL``.

Runs the step a few times to warm up, then ``--steps`` times under cProfile, and prints the
functions with the most time of their own. On a GPU, time spent waiting for the device shows up
in whichever call synchronizes (a ``get``, a conversion to a Python number, ``synchronize``),
so a step whose time sits in Python frames is bound by launch overhead, not by the GPU.

Example:
    python benchmarks/profile_step.py gpu_lstm deepgrad_cuda --steps 20
    python benchmarks/profile_step.py op_chain deepgrad --sort cumulative
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # this checkout's deepgrad

from harness import load_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case")
    parser.add_argument("impl")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative", "ncalls"])
    parser.add_argument("--config", default="{}", help="JSON overrides of the case's config")
    args = parser.parse_args(argv)
    case = load_case(args.case)
    step = case.implementations[args.impl]({**case.config, **json.loads(args.config)})
    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    plain = (time.perf_counter() - start) / args.steps
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.steps):
        step()
    profiler.disable()
    print(f"# {args.case} / {args.impl}: {plain * 1e3:.3f} ms per step without the profiler")
    stats = pstats.Stats(profiler)
    print(f"# {stats.total_calls / args.steps:.0f} Python-level calls per step")
    stats.sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
