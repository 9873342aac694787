"""Run a pure, picklable function in a worker process that is killed when it takes too long or grows too big.

CPU-bound tool work (big-integer math, parsing a large tree) must neither hold the executor's event loop nor
its GIL, or one tenant's step stalls every other tenant's steps and the Kafka heartbeats. Each call gets its
own process from a forkserver: forking a clean server process is cheap, the executor's own threads are never
forked, and killing the worker cannot break a pool that other calls share. The parent waits on the worker's
pipe and exit sentinel with the event loop, so no thread of any pool is held while a worker runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import resource
import signal
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from toolbox.errors import ResourceLimitExceeded, ToolFailed, ToolTimeout

__all__ = ["Limits", "run_isolated"]

T = TypeVar("T")

# Imported once by the forkserver, so a worker starts with the tools' code already loaded.
_PRELOAD = ["toolbox"]
_MIB = 1024 * 1024
_STARTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="isolated-start")
# Workers alive at once per process: with hundreds of steps in flight, each may ask for one, and every worker
# costs a process and up to its memory limit. The rest wait for a slot (their wall time starts with it).
MAX_WORKERS = max(2, 2 * (os.cpu_count() or 1))
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Limits:
    """Wall time, and memory the worker may take on top of what it holds when it starts."""

    wall_s: float
    memory_mib: int


def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, multiprocessing.context.ForkServerContext)
    context.set_forkserver_preload(_PRELOAD)  # read only when the forkserver boots
    return context


def _limit_memory(extra_mib: int) -> None:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    ceiling = pages * os.sysconf("SC_PAGE_SIZE") + extra_mib * _MIB
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))


def _work(out: Connection, extra_mib: int, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """The worker: limit itself, run, and write ("value" | "raised" | "memory", payload) to the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C stops the parent, which then kills its workers
    try:
        _limit_memory(extra_mib)
        outcome: tuple[str, Any] = ("value", func(*args))
        data = pickle.dumps(outcome)
    except MemoryError:
        data = pickle.dumps(("memory", None))
    except Exception as exc:  # the parent re-raises it; an unpicklable one becomes its description
        try:
            data = pickle.dumps(("raised", exc))
        except Exception:
            data = pickle.dumps(("raised", ToolFailed(f"{type(exc).__name__}: {exc}")))
    with os.fdopen(out.fileno(), "wb", closefd=False) as stream:
        stream.write(data)
    out.close()


async def _read_all(fd: int) -> bytes:
    """Everything the worker writes until it closes its end (or dies); readiness comes from the event loop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**31)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    try:
        return await reader.read()
    finally:
        transport.close()


async def _exited(process: multiprocessing.process.BaseProcess) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(process.sentinel, ready)
    try:
        await done
    finally:
        loop.remove_reader(process.sentinel)
    process.join()  # the sentinel is ready, so this only collects the exit code


async def _stop(process: multiprocessing.process.BaseProcess, started: asyncio.Future[None]) -> int | None:
    """Kill the worker if it still runs; its exit code."""
    with contextlib.suppress(Exception):
        await started
    if started.exception() is None and process.exitcode is None:
        process.kill()
        await _exited(process)
    exitcode = process.exitcode if started.exception() is None else None
    process.close()
    return exitcode


async def run_isolated(what: str, limits: Limits, func: Callable[..., T], *args: Any) -> T:
    """`func(*args)` in a fresh worker process; ToolTimeout past `limits.wall_s`, ResourceLimitExceeded past
    `limits.memory_mib`, and the function's own exception (a ToolError, say) re-raised here."""
    loop = asyncio.get_running_loop()
    slots = _slots.setdefault(loop, asyncio.Semaphore(MAX_WORKERS))
    async with slots:
        return await _run(what, limits, func, *args)


async def _run(what: str, limits: Limits, func: Callable[..., T], *args: Any) -> T:
    context = _context()
    reading, writing = context.Pipe(duplex=False)
    process = context.Process(target=_work, args=(writing, limits.memory_mib, func, args), daemon=True)
    # Starting waits for the forkserver to fork (and, the first time, to boot): off the loop, on a thread of
    # its own, since the forkserver serves one start at a time anyway.
    started = asyncio.get_running_loop().run_in_executor(_STARTER, process.start)
    data = b""
    try:
        async with asyncio.timeout(limits.wall_s):
            await asyncio.shield(started)
            writing.close()  # the worker holds the only writing end now, so its exit ends the data
            data = await _read_all(os.dup(reading.fileno()))
            await _exited(process)
    except TimeoutError:
        raise ToolTimeout(f"{what}: took longer than {limits.wall_s:g} s; stopped") from None
    finally:
        writing.close()
        reading.close()
        exitcode = await _stop(process, started)
    if not data:
        raise ToolFailed(f"{what}: the worker process ended without a result (exit code {exitcode})")
    kind, payload = pickle.loads(data)
    if kind == "memory":
        raise ResourceLimitExceeded(f"{what}: used more than {limits.memory_mib} MiB; stopped")
    if kind == "raised":
        raise payload
    value: T = payload
    return value
