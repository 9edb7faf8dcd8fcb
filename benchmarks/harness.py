"""Benchmark harness: the same work in several implementations, each in its own process.

On a 2-core machine NumPy and PyTorch in one process disturb each other's
thread pools (docs/performance.md, note 8), so every implementation runs in a
worker process of its own, pinned to the same number of threads. The parent
interleaves the timing rounds (rotating the order each round), sleeps a little
before each timed block, and reports medians over rounds and their ratios.

A case is a module in ``benchmarks/cases`` with a ``CASE = Case(...)``; each
implementation is a function ``setup(config) -> step`` whose ``step()`` does
one unit of work (a training step, a forward+backward pass...).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


@dataclasses.dataclass
class Case:
    """One benchmark: a name, what one step is, and its implementations (name -> setup function).

    ``per`` divides the step time for reporting (e.g. 100 ops per step -> time per op).
    ``reference`` names the implementations that ratios are taken against.
    """

    name: str
    description: str
    implementations: dict
    per: int = 1
    unit: str = "ms"
    reference: tuple = ("torch", "numpy")
    config: dict = dataclasses.field(default_factory=dict)


NOFAST = "deepgrad-nofast"
"""deepgrad without its fast extra: NumPy's BLAS only (DEEPGRAD_BLAS=numpy), numba kernels off."""


def load_case(name: str) -> Case:
    return importlib.import_module(f"cases.{name}").CASE


def implementations(case: Case) -> dict:
    """The case's implementations, plus ``deepgrad-nofast`` beside every case that has ``deepgrad``:
    the same code with deepgrad's optional fast paths switched off, timed in the same run (issue 13)."""
    impls = dict(case.implementations)
    if "deepgrad" in impls and NOFAST not in impls:
        setup = impls.pop("deepgrad")
        impls = {"deepgrad": setup, NOFAST: _without_fast(setup), **impls}
    return impls


def _without_fast(setup):
    def wrapped(config):
        os.environ["DEEPGRAD_BLAS"] = "numpy"
        from deepgrad.backend import blas, kernels

        blas.use_blas("numpy")
        kernels.use_numba(False)
        return setup(config)

    return wrapped


def deepgrad_report() -> dict:
    """What deepgrad chose in this worker (GEMM library per shape class, numba kernels), if loaded."""
    if "deepgrad.backend.blas" not in sys.modules:
        return {}
    from deepgrad.backend import blas, kernels

    return {
        "gemm": blas.active_mode(),
        "decisions": blas.decisions(),
        "kernels": list(kernels.active_kernels()),
    }


def available_cases() -> list[str]:
    return sorted(p.stem for p in (ROOT / "cases").glob("*.py") if not p.stem.startswith("_"))


# -- worker side -------------------------------------------------------------------------------
def worker_main(case_name: str, impl: str, config_json: str) -> None:
    """Runs in the worker process: set up, then answer 'time N' requests on stdin."""
    threads = os.environ.get("BENCH_THREADS", "2")
    # BENCH_CLOCK=cpu (run.py --cpu-time): the worker thread's CPU time, which other processes'
    # load on a shared machine moves less than the wall clock (one thread per worker only)
    clock = time.thread_time if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter
    case = load_case(case_name)
    config = {**case.config, **json.loads(config_json)}
    if impl.startswith("torch"):
        import torch

        torch.set_num_threads(int(threads))
    try:
        step = implementations(case)[impl](config)
        step()  # warm-up: first-call costs (imports, allocation, caches) are not measured
        step()
    except Exception as exc:  # report setup failures (e.g. torch not installed) instead of hanging
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        if request.get("report"):
            print(json.dumps(deepgrad_report()), flush=True)
            continue
        n = request["iterations"]
        start = clock()
        for _ in range(n):
            step()
        elapsed = clock() - start
        print(json.dumps({"seconds": elapsed / n}), flush=True)


# -- parent side -------------------------------------------------------------------------------
def cpu_model() -> str:
    """The processor's model name (/proc/cpuinfo on Linux, else what ``platform`` knows)."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_description(full_speed_blas: bool) -> list[str]:
    """One line per library: which BLAS the workers use, its kernel set and the OPENBLAS_* settings."""
    import numpy

    lines = []
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        blas = (
            ", ".join(
                f"{p['internal_api']} {p.get('version')} ({p.get('architecture')} kernels in this "
                "process)"
                for p in pools
            )
            or "unknown"
        )
    except ImportError:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"].get("name", "unknown")
    coretype = "unset" if full_speed_blas else os.environ.get("OPENBLAS_CORETYPE", "unset")
    l2 = "unset" if full_speed_blas else os.environ.get("OPENBLAS_L2_SIZE", "unset")
    lines.append(
        f"numpy {numpy.__version__}: {blas}; workers get OPENBLAS_CORETYPE={coretype}, "
        f"OPENBLAS_L2_SIZE={l2}"
    )
    lines.append(deepgrad_description())
    try:
        import torch

        mkl = "MKL" if torch.backends.mkl.is_available() else "no MKL"
        dnn = "oneDNN" if torch.backends.mkldnn.is_available() else "no oneDNN"
        lines.append(f"torch {torch.__version__}: {mkl}, {dnn}")
    except ImportError:
        lines.append("torch: not installed")
    return lines


def deepgrad_description() -> str:
    """deepgrad's GEMM library and numba kernels as the workers will find them (loads no MKL)."""
    if str(ROOT.parent) not in sys.path:
        sys.path.append(str(ROOT.parent))
    from deepgrad.backend import kernels, sysinfo

    numba = "numba kernels on" if kernels.numba_enabled() else "numba absent or off"
    return f"deepgrad: GEMM {sysinfo.gemm_description()}; {numba}; {NOFAST}: NumPy's BLAS, no numba"


class Worker:
    def __init__(self, case: str, impl: str, config: dict, env: dict):
        self.impl = impl
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "--worker", case, impl, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(ROOT),
        )
        reply = json.loads(self.proc.stdout.readline() or '{"error": "worker died during setup"}')
        self.error = reply.get("error")

    def time(self, iterations: int) -> float:
        self.proc.stdin.write(json.dumps({"iterations": iterations}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["seconds"]

    def report(self) -> dict:
        self.proc.stdin.write(json.dumps({"report": True}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            self.proc.wait(timeout=30)


def worker_env(threads: int, full_speed_blas: bool) -> dict:
    env = dict(os.environ)
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    ):
        env[var] = str(threads)
    env["BENCH_THREADS"] = str(threads)
    if full_speed_blas:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    env["PYTHONPATH"] = str(ROOT.parent) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def calibrate(worker: Worker, target_seconds: float) -> int:
    """Iterations so that one timed block lasts about ``target_seconds``."""
    one = worker.time(1)
    return max(1, min(10_000, int(target_seconds / max(one, 1e-7))))


def run_case(
    case_name: str,
    impls: list[str] | None,
    rounds: int,
    threads: int,
    full_speed_blas: bool,
    block_seconds: float,
    config: dict,
) -> dict:
    case = load_case(case_name)
    names = [n for n in implementations(case) if impls is None or n in impls]
    env = worker_env(threads, full_speed_blas)
    workers = [Worker(case_name, n, config, env) for n in names]
    results = {}
    try:
        live = []
        for w in workers:
            if w.error:
                results[w.impl] = {"error": w.error}
            else:
                live.append(w)
        iterations = {w.impl: calibrate(w, block_seconds) for w in live}
        samples = {w.impl: [] for w in live}
        for r in range(rounds):
            order = live[r % len(live) :] + live[: r % len(live)] if live else []
            for w in order:
                time.sleep(0.05)  # let the other worker's spinning thread pool go idle
                samples[w.impl].append(w.time(iterations[w.impl]))
        for w in live:
            s = sorted(samples[w.impl])
            results[w.impl] = {
                "median": statistics.median(s) / case.per,
                "min": s[0] / case.per,
                "max": s[-1] / case.per,
                "iterations": iterations[w.impl],
            }
            if w.impl.startswith("deepgrad"):
                results[w.impl]["deepgrad"] = w.report()
    finally:
        for w in workers:
            w.close()
    return {
        "case": case.name,
        "description": case.description,
        "unit": case.unit,
        "results": results,
        "reference": list(case.reference),
    }


def format_table(report: dict) -> str:
    scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[report["unit"]]
    refs = [r for r in report["reference"] if "median" in report["results"].get(r, {})]
    header = (
        f"{'implementation':<22}{'median ' + report['unit']:>14}{'min':>10}{'max':>10}"
        + "".join(f"{'x ' + r:>12}" for r in refs)
    )
    lines = [f"== {report['case']}: {report['description']}", header]
    for name, res in report["results"].items():
        if "error" in res:
            lines.append(f"{name:<22}  skipped: {res['error']}")
            continue
        row = f"{name:<22}{res['median'] * scale:>14.3f}{res['min'] * scale:>10.3f}{res['max'] * scale:>10.3f}"
        for r in refs:
            row += f"{res['median'] / report['results'][r]['median']:>12.2f}"
        lines.append(row)
    for name, res in report["results"].items():
        chosen = res.get("deepgrad", {})
        if chosen.get("decisions") or chosen.get("kernels"):
            tally = ", ".join(
                f"{b} {list(chosen['decisions'].values()).count(b)}"
                for b in sorted(set(chosen["decisions"].values()))
            )
            lines.append(
                f"  {name}: GEMM {chosen['gemm']} ({tally or 'no products measured'} shape classes); "
                f"numba kernels: {', '.join(chosen['kernels']) or 'none'}"
            )
    return "\n".join(lines)
