"""DataLoader workers: threads or processes that fetch batches ahead of the training loop.

A worker runs ``_worker_loop``: it takes tasks ``(epoch, k, payload)`` from its own
index queue, fetches batch ``k`` (map-style: the batch of the indices in ``payload``;
iterable: the next batch of its copy of the dataset's iterator) and puts
``(epoch, k, worker_id, result)`` on the shared result queue. The main side
(``_MultiWorkerIterator``) hands out tasks round-robin, at most ``prefetch_factor``
per worker ahead, and yields results in task order (or as they come, with
``in_order=False``). The same loop runs in a thread or in a process; which one the
``DataLoader`` uses, and why, is in its docstring.

Inside a worker ``get_worker_info()`` says which worker it is; a process worker
also seeds Python's ``random``, NumPy's global generator and deepgrad's default
generator from its ``seed`` (``base_seed + worker_id``, as PyTorch), so random
transforms differ between workers and repeat from run to run.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import queue
import random
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepgrad.backend.random import default_generator

_local = threading.local()
_POLL_S = 0.5  # how often a waiting side wakes up to check that the other side is alive


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker.

    Attributes:
        id: this worker's number, 0 .. num_workers - 1.
        num_workers: how many workers the loader runs.
        seed: this worker's seed, ``base_seed + id`` (a new base seed every epoch unless
            the workers are persistent).
        dataset: the worker's dataset object (in a process worker, its own copy).
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any


def get_worker_info() -> WorkerInfo | None:
    """The calling worker's ``WorkerInfo``; None outside DataLoader workers (in the main process).

    An ``IterableDataset`` uses it in ``__iter__`` to give each worker its own share of the
    data: without that, every worker yields the whole dataset (as in PyTorch).

    Example:
        >>> get_worker_info() is None
        True
    """
    return getattr(_local, "info", None)


class _Exhausted:
    """An iterable dataset's worker has no more batches this epoch."""


class _WorkerError:
    """An exception raised in a worker, carried to the main side and raised there."""

    def __init__(self, error: BaseException, worker_id: int, in_process: bool):
        self.type = type(error)
        self.text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.where = f"DataLoader worker {'process' if in_process else 'thread'} {worker_id}"
        self.original = None if in_process else error

    def reraise(self) -> None:
        message = f"Caught {self.type.__name__} in {self.where}.\nOriginal traceback:\n{self.text}"
        try:
            error = self.type(message)
        except Exception:
            error = RuntimeError(message)
        raise error from self.original


def _seed_process(seed: int, worker_id: int) -> None:
    random.seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, seed]).generate_state(4))
    default_generator.manual_seed(seed)


def _send(result_queue, item: tuple, in_process: bool, worker_id: int) -> None:
    if not in_process:
        result_queue.put(item)
        return
    epoch, k, _, result = item
    # pickled here, not in the queue's feeder thread, so that a failure reaches the main process
    try:
        blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        wrapped = RuntimeError(
            f"DataLoader: batch {k} cannot be sent to the main process ({error}); "
            "return Tensors, arrays, numbers or containers of them"
        )
        blob = pickle.dumps(_WorkerError(wrapped, worker_id, True))
    result_queue.put((epoch, k, worker_id, blob))


def _worker_loop(
    fetcher,
    index_queue,
    result_queue,
    done,
    worker_id: int,
    num_workers: int,
    seed: int,
    worker_init_fn: Callable[[int], None] | None,
    in_process: bool,
    parent_pid: int,
) -> None:
    _local.info = WorkerInfo(worker_id, num_workers, seed, fetcher.dataset)
    if in_process:
        _seed_process(seed, worker_id)
    init_error = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(worker_id)
        except Exception as error:
            init_error = _WorkerError(error, worker_id, in_process)
    iterator, iterator_epoch, exhausted = None, None, False
    while not done.is_set():
        try:
            task = index_queue.get(timeout=_POLL_S)
        except queue.Empty:
            if in_process and os.getppid() != parent_pid:
                return  # the main process died: do not linger as an orphan
            continue
        if task is None or done.is_set():
            break
        epoch, k, payload = task
        try:
            if init_error is not None:
                result = init_error
            elif not fetcher.iterable:
                result = fetcher.fetch(payload)
            else:
                if epoch != iterator_epoch:
                    iterator, iterator_epoch, exhausted = iter(fetcher.dataset), epoch, False
                result = _Exhausted() if exhausted else fetcher.next_batch(iterator)
                exhausted = isinstance(result, _Exhausted)
        except Exception as error:
            result = _WorkerError(error, worker_id, in_process)
        _send(result_queue, (epoch, k, worker_id, result), in_process, worker_id)
        del result
    if in_process:
        result_queue.cancel_join_thread()  # leave unread results behind instead of blocking exit


class _WorkerPool:
    """``num_workers`` threads or processes running ``_worker_loop``, with their queues."""

    def __init__(
        self, fetcher, num_workers: int, worker_init_fn, base_seed: int, use_threads: bool, context
    ):
        self.in_process = not use_threads
        self.num_workers = num_workers
        self.epoch = 0
        self.closed = False
        self.current: weakref.ref | None = None  # the iterator now reading results, if any
        make_queue = queue.Queue if use_threads else context.Queue
        self.done = threading.Event() if use_threads else context.Event()
        self.result_queue = make_queue()
        self.index_queues, self.workers = [], []
        for i in range(num_workers):
            index_queue = make_queue()
            args = (
                fetcher,
                index_queue,
                self.result_queue,
                self.done,
                i,
                num_workers,
                base_seed + i,
                worker_init_fn,
                self.in_process,
                os.getpid(),
            )
            if use_threads:
                worker = threading.Thread(
                    target=_worker_loop, args=args, name=f"deepgrad-loader-{i}", daemon=True
                )
            else:
                worker = context.Process(
                    target=_worker_loop, args=args, name=f"deepgrad-loader-{i}", daemon=True
                )
            worker.start()
            self.index_queues.append(index_queue)
            self.workers.append(worker)

    def new_epoch(self, iterator, keep: bool) -> int:
        """Start an epoch; ``keep``: remember ``iterator`` (persistent workers) to stop it at the next."""
        previous = self.current() if self.current is not None else None
        if previous is not None:
            previous._closed = True  # a new epoch takes over the workers (as PyTorch's reset)
        self.current = (
            weakref.ref(iterator) if keep else None
        )  # weak: no cycle keeps the loader alive
        self.epoch += 1
        return self.epoch

    def put(self, worker_id: int, task: tuple) -> None:
        self.index_queues[worker_id].put(task)

    def get(self, timeout: float) -> tuple:
        epoch, k, worker_id, result = self.result_queue.get(timeout=timeout)
        if self.in_process:
            result = pickle.loads(result)
        return epoch, k, worker_id, result

    def check_alive(self) -> None:
        for i, worker in enumerate(self.workers):
            if self.in_process and worker.exitcode is not None:
                raise RuntimeError(
                    f"DataLoader: worker process {i} (pid {worker.pid}) exited unexpectedly with exit code "
                    f"{worker.exitcode}; a crash in native code or running out of memory can cause this"
                )
            if not self.in_process and not worker.is_alive():
                raise RuntimeError(
                    f"DataLoader: worker thread {i} stopped unexpectedly (see the error it printed)"
                )

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.done.set()
        for index_queue in self.index_queues:
            index_queue.put(None)
        for worker in self.workers:
            worker.join(timeout=5.0)
        if not self.in_process:
            return
        for worker in self.workers:
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for q in (*self.index_queues, self.result_queue):
            q.cancel_join_thread()
            q.close()
            q.join_thread()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()


class _MultiWorkerIterator:
    """Hands tasks to a ``_WorkerPool`` and yields the batches, in task order if ``in_order``."""

    def __init__(self, loader, pool: _WorkerPool, tasks: Iterator | None, owns_pool: bool):
        self._closed = False
        self._pool, self._owns_pool = pool, owns_pool
        self._tasks = (
            tasks  # payloads for map-style datasets; None: iterable (ask for "the next batch")
        )
        self._loader = loader  # kept alive while iterating: its persistent workers end with it
        self._in_order, self._timeout = loader.in_order, float(loader.timeout)
        self._limit = loader.prefetch_factor * pool.num_workers
        self._sent, self._next = 0, 0
        self._outstanding: dict[int, int] = {}  # task -> worker
        self._ready: dict[int, Any] = {}
        self._skipped: set[int] = set()
        self._active = [True] * pool.num_workers
        self._cycle = itertools.cycle(range(pool.num_workers))
        self._epoch = pool.new_epoch(self, keep=not owns_pool)
        self._refill()

    def _dispatch(self) -> bool:
        if len(self._outstanding) + len(self._ready) >= self._limit or not any(self._active):
            return False
        worker = next(w for w in self._cycle if self._active[w])
        payload = None
        if self._tasks is not None:
            payload = next(self._tasks, _Exhausted)
            if payload is _Exhausted:
                self._tasks = iter(())
                return False
        self._pool.put(worker, (self._epoch, self._sent, payload))
        self._outstanding[self._sent] = worker
        self._sent += 1
        return True

    def _refill(self) -> None:
        while self._dispatch():
            pass

    def __iter__(self) -> _MultiWorkerIterator:
        return self

    def __next__(self):
        while not self._closed:
            if self._in_order:
                while self._next in self._skipped:
                    self._skipped.discard(self._next)
                    self._next += 1
                if self._next in self._ready:
                    self._next += 1
                    return self._deliver(self._ready.pop(self._next - 1))
            elif self._ready:
                return self._deliver(self._ready.pop(min(self._ready)))
            if not self._outstanding:
                self.close()
                break
            self._receive()
        raise StopIteration

    def _deliver(self, result):
        if isinstance(result, _WorkerError):
            self.close()
            result.reraise()
        self._refill()
        return self._loader._finish(result)

    def _receive(self) -> None:
        start = time.monotonic()
        while True:
            wait = (
                _POLL_S
                if not self._timeout
                else max(0.0, min(_POLL_S, start + self._timeout - time.monotonic()))
            )
            try:
                epoch, k, worker, result = self._pool.get(wait)
            except queue.Empty:
                try:
                    self._pool.check_alive()
                except RuntimeError:
                    self.close()
                    raise
                if self._timeout and time.monotonic() - start >= self._timeout:
                    self.close()
                    raise RuntimeError(
                        f"DataLoader: no batch came from the workers within timeout={self._timeout:g} s; "
                        "raise the timeout or make the dataset faster"
                    ) from None
                continue
            if epoch != self._epoch or k not in self._outstanding:
                continue  # left over from an earlier epoch of persistent workers
            del self._outstanding[k]
            if isinstance(result, _Exhausted):
                self._active[worker] = False
                if self._in_order:
                    self._skipped.add(k)
            else:
                self._ready[k] = result
            self._refill()
            return

    def close(self) -> None:
        """Stop: end the workers unless they are persistent, and drop what is queued."""
        if self._closed:
            return
        self._closed = True
        self._ready.clear()
        if self._owns_pool:
            self._pool.close()
        elif self._pool.current is not None and self._pool.current() is self:
            self._pool.current = None

    def __del__(self):
        self.close()


__all__ = ["WorkerInfo", "get_worker_info"]
