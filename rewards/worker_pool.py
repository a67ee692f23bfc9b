"""Hard per-item time limits for verifier work, usable from any thread and any process.

Rule: every item sent through :func:`run_limited` either returns its function's value or the caller's
``default``. An item still running ``timeout`` seconds after it started has its worker process killed
(SIGKILL) and replaced, and scores ``default``; so does an item that raises or whose worker dies
(crash, memory cap). Nothing here uses signals in the calling process, so it works off the main
thread (TRL async reward functions, thread pools) and in any process.

Why hand-written: ``concurrent.futures.ProcessPoolExecutor`` cannot cancel a running task or kill one
worker, ``multiprocessing.Pool`` timeouts leave the stuck worker running, math-verify's own limit is
SIGALRM-based (main thread only), and multiprocessing's spawn/forkserver workers re-import the
caller's ``__main__`` script (a training script without a ``__main__`` guard would start itself
again). So workers are plain ``python -m rewards._worker`` subprocesses that talk pickled messages
over their stdin/stdout; they import their pool's modules once at start (:data:`POOL_PRELOAD`: math-verify for
``"math"``, IFEval for ``"ifeval"``) and run each preloaded module's ``worker_warmup()``, before they report
ready, so no item pays for imports.

Independence: each verifier has its own named pool (:func:`get_pool`), with its own lock and workers, so
a call of one verifier never waits for another's batch, nor for the kill and restart of its overdue item.

Work is batched: each worker gets a contiguous chunk of items in one message and streams back one
result per item, so the parent knows when each item started (when the previous result arrived) and
enforces the deadline per item. Workers call functions named ``"package.module:function"``
(importlib inside the worker), so only plain data crosses the pipe.
"""

from __future__ import annotations

import atexit
import importlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

DEFAULT_TIMEOUT = 3.0
"""Seconds one item may run in a worker before the worker is killed."""

STARTUP_TIMEOUT = 120.0
"""Seconds a new worker may take to import its modules and report ready."""

MAX_FAILED_STARTS = 3
"""Consecutive workers that die before reporting ready before a call gives up (all items default)."""

_functions: dict[str, Callable[..., Any]] = {}


def resolve(path: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` and return the function (cached per process)."""
    func = _functions.get(path)
    if func is None:
        module_name, sep, attr = path.partition(":")
        if not sep or not module_name or not attr:
            raise ValueError(f"expected 'package.module:function', got {path!r}")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ImportError(f"cannot import module {module_name!r} (from {path!r}): {err}") from err
        try:
            func = getattr(module, attr)
        except AttributeError as err:
            raise AttributeError(f"module {module_name!r} has no attribute {attr!r} (from {path!r})") from err
        if not callable(func):
            raise TypeError(f"{path!r} is not callable")
        _functions[path] = func
    return func


class _Worker:
    """One worker subprocess and the parent's two ends of its pipes."""

    def __init__(self, preload: Sequence[str]) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rewards._worker", *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.send_conn = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.recv_conn = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        self.ready = False
        self.born = time.monotonic()

    def kill(self) -> None:
        for conn in (self.send_conn, self.recv_conn):
            try:
                conn.close()
            except OSError:
                pass
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def stop(self) -> None:
        try:
            self.send_conn.send(None)
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
        self.kill()


class _Lane:
    """Progress of one worker through its chunk: next item to report, end, start of the current item."""

    def __init__(self, start: int, end: int) -> None:
        self.next, self.end = start, end
        self.started = time.monotonic()


class TimeLimitedPool:
    """A small pool of killable worker processes; see the module docstring for the rule."""

    def __init__(self, workers: int | None = None, preload: Sequence[str] = ()) -> None:
        self.size = workers or max(1, min(4, os.cpu_count() or 1))
        self.preload = tuple(preload)
        self.kills = 0
        self._failed_starts = 0
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []

    def _worker(self, index: int) -> _Worker:
        while len(self._workers) <= index:
            self._workers.append(_Worker(self.preload))
        if self._workers[index].process.poll() is not None:
            return self._replace(index)
        return self._workers[index]

    def _replace(self, index: int) -> _Worker:
        self._workers[index].kill()
        self._workers[index] = _Worker(self.preload)
        return self._workers[index]

    def _deadline(self, index: int, lane: _Lane, timeout: float) -> float:
        worker = self._workers[index]
        if not worker.ready:
            return worker.born + STARTUP_TIMEOUT
        return lane.started + timeout

    def map(
        self, func_path: str, items: Sequence[tuple], timeout: float = DEFAULT_TIMEOUT, default: Any = None
    ) -> list[Any]:
        """Run ``func(*args)`` for every ``args`` in ``items``; overdue or failed items give ``default``."""
        results: list[Any] = [default] * len(items)
        if not items:
            return results
        with self._lock:
            count = min(self.size, len(items))
            bounds = [round(k * len(items) / count) for k in range(count + 1)]
            lanes: dict[int, _Lane] = {}
            for index in range(count):
                self._worker(index)  # start them all before any (possibly blocking) send
            for index in range(count):
                lanes[index] = _Lane(bounds[index], bounds[index + 1])
                self._send(index, lanes[index], func_path, timeout, items)
            while lanes:
                wake = min(self._deadline(i, lane, timeout) for i, lane in lanes.items())
                by_conn = {self._workers[i].recv_conn: i for i in lanes}
                for conn in wait(list(by_conn), timeout=max(0.0, wake - time.monotonic()) + 0.001):
                    index = by_conn[conn]
                    lane, worker = lanes[index], self._workers[index]
                    try:
                        ok, value = conn.recv()
                    except (EOFError, OSError):
                        self._give_up_current(index, lanes, func_path, timeout, items)  # worker died
                        continue
                    if not worker.ready:  # the ("ready", pid) greeting
                        worker.ready = True
                        self._failed_starts = 0
                        lane.started = time.monotonic()
                        continue
                    if ok:
                        results[lane.next] = value
                    lane.next += 1
                    lane.started = time.monotonic()
                    if lane.next >= lane.end:
                        del lanes[index]
                now = time.monotonic()
                for index in [i for i, lane in lanes.items() if now > self._deadline(i, lane, timeout)]:
                    self._give_up_current(index, lanes, func_path, timeout, items)
        return results

    def _send(self, index: int, lane: _Lane, func_path: str, timeout: float, items: Sequence[tuple]) -> None:
        chunk = [tuple(args) for args in items[lane.next : lane.end]]
        try:
            self._worker(index).send_conn.send((func_path, timeout, chunk))
        except (OSError, ValueError):
            self._replace(index).send_conn.send((func_path, timeout, chunk))
        lane.started = time.monotonic()

    def _give_up_current(
        self, index: int, lanes: dict[int, _Lane], func_path: str, timeout: float, items: Sequence[tuple]
    ) -> None:
        """Kill the lane's worker; its running item keeps the default; resend the rest of its chunk."""
        self.kills += 1
        lane = lanes[index]
        ready = self._workers[index].ready
        self._replace(index)
        if ready:  # a worker that never became ready was not running an item
            lane.next += 1
        else:
            self._failed_starts += 1
            if self._failed_starts >= MAX_FAILED_STARTS:  # workers cannot start: give up on the lane
                lane.next = lane.end
        if lane.next >= lane.end:
            del lanes[index]
            return
        self._send(index, lane, func_path, timeout, items)

    def close(self) -> None:
        """Stop all workers (the pool starts new ones on the next call)."""
        with self._lock:
            for worker in self._workers:
                worker.stop()
            self._workers.clear()


POOL_PRELOAD: dict[str, tuple[str, ...]] = {
    "math": ("math_verify", "rewards.symbolic"),
    "ifeval": ("rewards.ifeval", "rewards.builtins"),
    "ifbench": ("rewards.ifbench",),
}
"""Modules each named pool's workers import before they report ready; other pools preload nothing."""

_pools: dict[str, TimeLimitedPool] = {}
_pools_pid: int | None = None
_pool_lock = threading.Lock()


def get_pool(name: str = "default") -> TimeLimitedPool:
    """The process-wide pool called ``name``, created lazily; a forked child gets fresh pools.

    Each verifier uses its own pool (``"math"``, ``"ifeval"``, one per plug-in path), each with its own lock
    and workers, so a call never waits on another verifier's batch or on the kill of its overdue item.
    """
    global _pools_pid
    with _pool_lock:
        if _pools_pid != os.getpid():
            _pools.clear()
            _pools_pid = os.getpid()
        pool = _pools.get(name)
        if pool is None:
            pool = _pools[name] = TimeLimitedPool(preload=POOL_PRELOAD.get(name, ()))
        return pool


def run_limited(
    func_path: str, items: Sequence[tuple], timeout: float = DEFAULT_TIMEOUT, default: Any = None, pool: str = "default"
) -> list[Any]:
    """Run ``func_path`` on each argument tuple in the pool ``pool`` under a hard per-item limit."""
    return get_pool(pool).map(func_path, items, timeout=timeout, default=default)


@atexit.register
def _shutdown() -> None:
    if _pools_pid == os.getpid():
        for pool in list(_pools.values()):
            pool.close()
