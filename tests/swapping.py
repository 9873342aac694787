"""The symlink-swap race on the file tools: code in the workspace swaps a folder `d` with a symlink to a host
folder outside, while file_operations reads, writes, lists and searches under `d` and the workspace is handed
to the sandbox uid. Shared by the unit tier (the swapper as a host process) and the integration tier (the
swapper inside a real sandbox)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from toolbox import PathRefused, ToolContext
from toolbox.file_operations import FileOpArgs, FileOperations
from toolbox.sandbox.base import give_workspace_to

SECRET = "HOST-SECRET"
HOST_ONLY = "host-only-file"
SANDBOX_UID = 65534


def make_outside(folder: Path) -> dict[str, tuple[int, int]]:
    """A host folder the race aims at: a canary with the secret and a file only it has; its owners."""
    folder.mkdir()
    (folder / "canary").write_text(SECRET)
    (folder / HOST_ONLY).write_text(SECRET)
    return owners(folder)


def owners(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.lstat().st_uid, p.lstat().st_gid) for p in [folder, *folder.iterdir()]}


def swapper_code(outside: Path, seconds: float) -> str:
    """Python run with the workspace as working directory: swaps `d` (a folder) and `dl` (a symlink to
    `outside`) atomically with renameat2(RENAME_EXCHANGE) for `seconds`, marking the time with a file."""
    return f"""
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
def exchange():
    if libc.syscall(316, -100, b'd', -100, b'dl', 2) != 0:  # x86_64 renameat2(AT_FDCWD, RENAME_EXCHANGE)
        raise OSError(ctypes.get_errno(), 'renameat2')
os.makedirs('d', exist_ok=True)
with open('d/canary', 'w') as f:
    f.write('inside')
if not os.path.islink('dl'):
    os.symlink({str(outside)!r}, 'dl')
open('swapping', 'w').close()
swaps, end = 0, time.monotonic() + {seconds}
while time.monotonic() < end:
    exchange()
    swaps += 1
if os.path.islink('d'):
    exchange()
os.remove('swapping')
print(swaps)
"""


@dataclass
class Tally:
    attempts: int = 0
    refused: int = 0  # the tool met `d` as a symlink leading out
    inside: int = 0  # the tool reached the real folder
    escapes: list[str] = field(default_factory=list)
    chowns: int = 0


async def _attack_once(tool: FileOperations, context: ToolContext, tally: Tally) -> None:
    for args in (
        {"op": "read", "path": "d/canary"},
        {"op": "write", "path": "d/x", "content": "planted"},
        {"op": "list", "path": "d"},
        {"op": "search", "path": "d", "pattern": "SECRET|inside"},
    ):
        tally.attempts += 1
        try:
            result = await tool.run(FileOpArgs.model_validate(args), context)
        except PathRefused:
            tally.refused += 1
            continue
        except Exception:  # any other failure (the old code's raw OSErrors) is not an escape
            continue
        shown = result.model_dump_json()
        if SECRET in shown or HOST_ONLY in shown:
            tally.escapes.append(f"{args['op']}: {shown[:200]}")
        elif args["op"] == "read":
            tally.inside += 1


async def hammer(
    tool: FileOperations, context: ToolContext, swapping: Callable[[], bool], workers: int = 2
) -> Tally:
    """Attack while `swapping()` holds: file_operations on `d` from `workers` concurrent loops, and
    give_workspace_to in a loop on a thread, as a parallel python_exec step starting would call it."""
    tally = Tally()
    stop = threading.Event()

    def chown_loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):  # a name gone mid-walk
                give_workspace_to(context.workspace, SANDBOX_UID, SANDBOX_UID)
            tally.chowns += 1

    async def attack_loop() -> None:
        while swapping():
            await _attack_once(tool, context, tally)

    chowner = threading.Thread(target=chown_loop, daemon=True)
    chowner.start()
    try:
        await asyncio.gather(*(attack_loop() for _ in range(workers)))
    finally:
        stop.set()
        await asyncio.to_thread(chowner.join)
    return tally


def writes_outside(outside: Path) -> list[str]:
    return sorted(p.name for p in outside.iterdir() if p.name not in ("canary", HOST_ONLY))


def release_fifo(path: Path) -> None:
    """Open both ends of a FIFO for a moment, so a thread stuck opening either end (the old code) is released
    instead of hanging the session's thread pool."""
    with contextlib.suppress(OSError):
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        os.close(reader)


def swapping_in(workspace: Path) -> Callable[[], bool]:
    """Whether the swapper is running there (its marker file exists)."""
    return lambda: os.path.exists(workspace / "swapping")


def swapper_started(workspace: Path, seconds: float = 60) -> None:
    """Wait (blocking; call it on a thread from async code) for the swapper's marker."""
    deadline = time.monotonic() + seconds
    while not swapping_in(workspace)():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the swapper did not start within {seconds} s")
        time.sleep(0.02)
