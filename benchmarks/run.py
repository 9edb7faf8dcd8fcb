"""Run deepgrad's benchmarks: ``python benchmarks/run.py [CASE ...] [options]``.

Prints, per case, the median time of each implementation (deepgrad, hand-written
NumPy, PyTorch when installed...) and the ratios against the reference
implementations, all measured in one run with interleaved rounds.

Examples:
    python benchmarks/run.py                       # every case
    python benchmarks/run.py op_chain mlp_tensor   # some cases
    python benchmarks/run.py --full-speed-blas     # unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in the workers
    python benchmarks/run.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    available_cases,
    blas_description,
    cpu_model,
    format_table,
    run_case,
    worker_main,
)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        worker_main(argv[1], argv[2], argv[3])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "cases", nargs="*", help=f"cases to run (default: all): {', '.join(available_cases())}"
    )
    parser.add_argument(
        "--impl", default=None, help="comma-separated implementations to run (default: all)"
    )
    parser.add_argument(
        "--rounds", type=int, default=7, help="interleaved timing rounds (default: 7)"
    )
    parser.add_argument("--threads", type=int, default=2, help="threads per worker (default: 2)")
    parser.add_argument(
        "--block", type=float, default=0.3, help="seconds per timed block (default: 0.3)"
    )
    parser.add_argument(
        "--full-speed-blas",
        action="store_true",
        help="unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the workers",
    )
    parser.add_argument(
        "--config", default="{}", help="JSON overrides for the cases, e.g. '{\"batch\": 1000}'"
    )
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time each worker thread's CPU time, not the wall clock (use with --threads 1)",
    )
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    cases = args.cases or available_cases()
    unknown = [c for c in cases if c not in available_cases()]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; available: {', '.join(available_cases())}")
    impls = args.impl.split(",") if args.impl else None
    if args.cpu_time:
        os.environ["BENCH_CLOCK"] = "cpu"  # the workers inherit it
    reports = []
    blas = (
        "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset"
        if args.full_speed_blas
        else "environment as given"
    )
    print(f"# CPU: {cpu_model()}")
    for line in blas_description(args.full_speed_blas):
        print(f"# BLAS: {line}")
    clock = "worker-thread CPU time" if args.cpu_time else "wall clock"
    print(
        f"# {args.threads} threads per worker, {args.rounds} rounds, {clock}, BLAS: {blas}",
        flush=True,
    )
    for case in cases:
        report = run_case(
            case,
            impls,
            args.rounds,
            args.threads,
            args.full_speed_blas,
            args.block,
            json.loads(args.config),
        )
        reports.append(report)
        print(format_table(report), flush=True)
        print()
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
