"""The one asyncio event loop that generation's requests run on: a daemon thread, started on first use.

Why ours: the pipelines are synchronous entry points (recipes, datatrove tasks), yet drive each model through one
``openai.AsyncOpenAI`` client on one event loop: at concurrency 64, 64 threads each in a sync ``openai`` call spend
more CPU per request than the executor itself (``benchmarks/generation_orchestrator.py``). ``asyncio.run`` would make
a new loop per call, while a client's connection pool (an aiohttp session) belongs to the loop it first ran on; so
the loop lives as long as the process, and :func:`run` hands it a coroutine from any other thread and waits.

- A forked child (datatrove's local workers fork) starts a loop of its own on first use.
- Clients given to :func:`close_at_exit` are closed on the loop when the process exits, and :func:`close_soon` closes
  one whose owner is gone, so no pooled connection is left to a "unclosed client session" warning.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_clients: weakref.WeakSet[Any] = weakref.WeakSet()


def get_loop() -> asyncio.AbstractEventLoop:
    """The process's generation loop, started (in a daemon thread) on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="generation event loop", daemon=True)
            thread.start()
            _loop, _thread = loop, thread
        return _loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the generation loop and wait for its result. On an interrupt (Ctrl-C) the coroutine is
    cancelled and its ``finally`` blocks run before the interrupt goes on."""
    loop = get_loop()
    if threading.current_thread() is _thread:
        coro.close()
        raise RuntimeError("a blocking generation call on the generation event loop itself: await its async form")
    finished = threading.Event()

    async def tracked() -> T:
        try:
            return await coro
        finally:
            finished.set()

    future = asyncio.run_coroutine_threadsafe(tracked(), loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        finished.wait(timeout=30)
        raise


def close_at_exit(client: Any) -> None:
    """Close ``client`` (anything with ``async close()`` and ``is_closed()``) on the loop when the process exits."""
    _clients.add(client)


def close_soon(loop: asyncio.AbstractEventLoop, client: Any) -> None:
    """Close ``client`` on ``loop`` without waiting (for a finalizer: its owner is gone)."""
    if not loop.is_closed() and loop.is_running() and not client.is_closed():
        asyncio.run_coroutine_threadsafe(client.close(), loop)


def _close_all() -> None:
    loop = _loop
    if loop is None or not loop.is_running():
        return
    clients = [client for client in list(_clients) if not client.is_closed()]

    async def close() -> None:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)

    try:
        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=5)
    except Exception:  # noqa: BLE001 - exiting anyway; a slow close must not hang the exit
        pass
    loop.call_soon_threadsafe(loop.stop)


def _forget_after_fork() -> None:
    # The parent's loop thread does not exist in the child: start a fresh one on first use.
    global _lock, _loop, _thread, _clients
    _lock, _loop, _thread, _clients = threading.Lock(), None, None, weakref.WeakSet()


atexit.register(_close_all)
os.register_at_fork(after_in_child=_forget_after_fork)
