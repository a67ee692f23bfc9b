"""Entry point of one verifier worker process (``python -m rewards._worker MODULE...``).

Protocol (pickled messages over the process's stdin/stdout, see :mod:`rewards.worker_pool`):
the worker imports the modules named on its command line (calling each one's ``worker_warmup()``
when it has one), sends ``("ready", pid)``, then for each
``(func_path, timeout, [args, ...])`` chunk sends one ``(ok, value)`` per item, in order. Before each
item its CPU-time limit is raised to "used so far + a margin", so a worker whose parent vanished
cannot spin forever (the parent's kill is the real, wall-clock limit). Standard output is moved to
standard error first, so a stray ``print`` in a library cannot corrupt the channel.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from multiprocessing.connection import Connection

MEMORY_BYTES = 4 * 1024**3


def _limit_cpu(seconds: float) -> None:
    try:
        import resource

        used = resource.getrusage(resource.RUSAGE_SELF)
        spent = used.ru_utime + used.ru_stime
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        soft = int(spent + seconds) + 1
        if hard == resource.RLIM_INFINITY or soft <= hard:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ImportError, ValueError, OSError):
        pass


def main() -> None:
    """Run the worker loop until the parent closes the channel."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns shutdown
    channel_out = os.dup(1)
    os.dup2(2, 1)
    receive = Connection(0, writable=False)
    send = Connection(channel_out, readable=False)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    for name in sys.argv[1:]:
        try:
            module = importlib.import_module(name)
            warmup = getattr(module, "worker_warmup", None)
            if callable(warmup):
                warmup()
        except Exception:  # noqa: BLE001 - preloading is an optimisation only
            pass
    from rewards.worker_pool import resolve

    send.send(("ready", os.getpid()))
    while True:
        try:
            message = receive.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        func_path, timeout, chunk = message
        for args in chunk:
            _limit_cpu(max(10.0, 4 * timeout))
            try:
                reply = (True, resolve(func_path)(*args))
            except BaseException as err:  # noqa: BLE001 - any failure scores the caller's default
                reply = (False, f"{type(err).__name__}: {err}"[:500])
            try:
                send.send(reply)
            except (OSError, ValueError, EOFError):
                return
            except Exception as err:  # noqa: BLE001 - e.g. a result that cannot be pickled
                send.send((False, f"unsendable result: {type(err).__name__}"))


if __name__ == "__main__":
    main()
