from __future__ import annotations

import asyncio
import os
import weakref
from pathlib import Path

import pytest

from toolbox import InvalidArguments, ResourceLimitExceeded, ToolTimeout
from toolbox.isolated import Limits, run_isolated


def _spin(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    while True:
        pass


def _allocate(mib: int) -> int:
    return len(bytearray(mib * 1024 * 1024))


def _refuse(reason: str) -> None:
    raise InvalidArguments(reason)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_the_result_comes_back_from_the_worker() -> None:
    assert await run_isolated("t", Limits(wall_s=30, memory_mib=64), pow, 3, 4) == 81


async def test_a_worker_past_its_time_is_refused_and_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(ToolTimeout, match=r"took longer than 1\.5 s"):
        await run_isolated("spin", Limits(wall_s=1.5, memory_mib=64), _spin, str(pid_file))
    assert _gone(int(pid_file.read_text()))


async def test_a_worker_past_its_memory_is_refused() -> None:
    with pytest.raises(ResourceLimitExceeded, match="used more than 64 MiB"):
        await run_isolated("alloc", Limits(wall_s=30, memory_mib=64), _allocate, 256)
    assert await run_isolated("alloc", Limits(wall_s=30, memory_mib=64), _allocate, 16) == 16 * 1024 * 1024


async def test_the_function_s_own_error_is_raised_in_the_caller() -> None:
    with pytest.raises(InvalidArguments, match="no such thing"):
        await run_isolated("t", Limits(wall_s=30, memory_mib=64), _refuse, "no such thing")


async def test_cancelling_the_caller_kills_the_worker(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    call = asyncio.create_task(run_isolated("spin", Limits(wall_s=60, memory_mib=64), _spin, str(pid_file)))
    for _ in range(600):  # until the worker runs
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.05)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert _gone(int(pid_file.read_text()))


def _live_workers(folder: str) -> int:
    """How many workers are running at once, seen from inside one of them."""
    import time

    mine = Path(folder, str(os.getpid()))
    mine.write_text("")
    time.sleep(0.3)
    seen = len(os.listdir(folder))
    mine.unlink()
    return seen


async def test_workers_beyond_the_limit_wait_for_a_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolbox import isolated

    monkeypatch.setattr(isolated, "MAX_WORKERS", 2)
    monkeypatch.setattr(isolated, "_slots", weakref.WeakKeyDictionary())

    seen = await asyncio.gather(
        *(run_isolated("n", Limits(wall_s=30, memory_mib=64), _live_workers, str(tmp_path)) for _ in range(6))
    )

    assert len(seen) == 6
    assert max(seen) <= 2
