"""Attacks on file_operations from code sharing the workspace (a python_exec step run beside it): a folder
swapped for a symlink mid-operation, FIFOs, a catastrophic regex. Each must end in a refusal or a result,
never in a host file read or written, nor in a stalled event loop or thread pool."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.swapping import (
    SANDBOX_UID,
    hammer,
    make_outside,
    owners,
    release_fifo,
    swapper_code,
    swapper_started,
    swapping_in,
    writes_outside,
)
from toolbox import InvalidArguments, PathRefused, ToolContext, ToolSettings
from toolbox.file_operations import FileOpArgs, FileOperations, FileOpResult
from toolbox.sandbox.base import give_workspace_to

SWAP_SECONDS = 4.0


async def _op(tool: FileOperations, context: ToolContext, **args: object) -> FileOpResult:
    return await tool.run(FileOpArgs.model_validate(args), context)


async def test_a_folder_swapped_for_a_symlink_never_leads_the_file_tool_outside(
    tool_settings: ToolSettings, context: ToolContext, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    before = make_outside(outside)
    swapper = await asyncio.create_subprocess_exec(
        sys.executable, "-c", swapper_code(outside, SWAP_SECONDS), cwd=context.workspace
    )
    try:
        await asyncio.to_thread(swapper_started, context.workspace)
        tally = await hammer(FileOperations(tool_settings), context, swapping_in(context.workspace))
    finally:
        assert await swapper.wait() == 0
    print(f"swap race: {tally.attempts} attempts, {tally.refused} refused, {len(tally.escapes)} escapes")
    assert tally.escapes == []
    assert writes_outside(outside) == []
    assert owners(outside) == before
    # The race was really run: the tool met `d` both as the folder and as the symlink.
    assert tally.attempts >= 200
    assert tally.inside > 0 and tally.refused > 0


@pytest.mark.skipif(os.geteuid() != 0, reason="handing a workspace over needs root")
def test_handing_the_workspace_over_never_changes_owners_outside(tmp_path: Path) -> None:
    workspace, outside = tmp_path / "workspace", tmp_path / "outside"
    workspace.mkdir()
    before = make_outside(outside)
    (workspace / "d").mkdir()
    (workspace / "d" / "canary").write_text("inside")
    (workspace / "d" / "sub").mkdir()
    os.symlink(outside, workspace / "dl")
    os.symlink(outside / "canary", workspace / "link")
    swapper = subprocess.Popen([sys.executable, "-c", swapper_code(outside, SWAP_SECONDS)], cwd=workspace)
    try:
        walks = 0
        swapper_started(workspace)
        while swapping_in(workspace)():
            with contextlib.suppress(OSError):  # a name gone mid-walk
                give_workspace_to(workspace, SANDBOX_UID, SANDBOX_UID)
            walks += 1
    finally:
        assert swapper.wait(60) == 0
    assert walks >= 100
    assert owners(outside) == before
    # Inside, everything (links themselves included) became the sandbox uid's.
    give_workspace_to(workspace, SANDBOX_UID, SANDBOX_UID)
    for path in [workspace, *workspace.rglob("*")]:
        assert path.lstat().st_uid == SANDBOX_UID, path


async def test_symlinks_that_stay_inside_are_followed(
    tool_settings: ToolSettings, context: ToolContext
) -> None:
    tool = FileOperations(tool_settings)
    ws = context.workspace
    (ws / "src").mkdir()
    (ws / "src" / "a.py").write_text("x = 1\n")
    os.symlink("src/a.py", ws / "alias.py")
    os.symlink("../src", ws / "src" / "again")
    os.symlink(ws / "src", ws / "absolute")
    os.symlink("src/new.py", ws / "dangling")
    assert (await _op(tool, context, op="read", path="alias.py")).content == "x = 1\n"
    assert (await _op(tool, context, op="read", path="src/again/again/a.py")).content == "x = 1\n"
    assert (await _op(tool, context, op="read", path="absolute/a.py")).content == "x = 1\n"
    assert (await _op(tool, context, op="list", path="absolute")).entries == ["a.py", "again"]
    await _op(tool, context, op="write", path="dangling", content="y = 2\n")
    assert (ws / "src" / "new.py").read_text() == "y = 2\n"


@pytest.mark.parametrize("link", ["../..", "/", "../outside", "src/../../outside"])
async def test_symlinks_that_climb_out_are_refused(
    tool_settings: ToolSettings, context: ToolContext, tmp_path: Path, link: str
) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "canary").write_text("HOST")
    (context.workspace / "src").mkdir()
    os.symlink(link, context.workspace / "l")
    tool = FileOperations(tool_settings)
    for args in (
        {"op": "read", "path": "l/canary"},
        {"op": "write", "path": "l/x", "content": "planted"},
        {"op": "list", "path": "l"},
        {"op": "search", "path": "l", "pattern": "HOST"},
    ):
        with pytest.raises(PathRefused, match="symlink that points outside the workspace"):
            await _op(tool, context, **args)
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["canary"]


@pytest.fixture
async def fifos(context: ToolContext) -> AsyncIterator[list[Path]]:
    """More FIFOs than the default thread pool has threads, each released afterwards."""
    paths = [context.workspace / f"pipe{i}" for i in range(12)]
    for path in paths:
        os.mkfifo(path)
    yield paths
    for path in paths:
        release_fifo(path)


async def _bounded(awaitable: Awaitable[Any], seconds: float = 5.0) -> Any:
    """The awaitable's outcome (value or exception), or TimeoutError if it hangs."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except Exception as e:  # the outcome is what the test inspects
        return e


async def test_a_fifo_is_refused_without_blocking_any_thread(
    tool_settings: ToolSettings, context: ToolContext, fifos: list[Path]
) -> None:
    tool = FileOperations(tool_settings)
    reads = [_op(tool, context, op="read", path=p.name) for p in fifos]
    outcomes = await asyncio.gather(*(_bounded(r) for r in reads))
    assert all(isinstance(o, InvalidArguments) for o in outcomes), outcomes
    assert "is not a regular file" in str(outcomes[0])
    # Writing into one is refused too, with or without a reader at the other end.
    reader = os.open(fifos[0], os.O_RDONLY | os.O_NONBLOCK)
    try:
        for path in fifos[:2]:
            written = await _bounded(_op(tool, context, op="write", path=path.name, content="x"))
            assert isinstance(written, InvalidArguments), written
        assert os.read(reader, 10) == b""
    finally:
        os.close(reader)
    # A search skips them; the loop's default thread pool still serves other work.
    assert (await _op(tool, context, op="search", path=".", pattern="x")).matches == []
    assert await _bounded(asyncio.to_thread(lambda: "pool alive")) == "pool alive"


async def test_a_catastrophic_regex_neither_stalls_the_loop_nor_runs_on(
    tool_settings: ToolSettings, context: ToolContext
) -> None:
    # `(a+)+$` on "aaa…b" backtracks 2**n ways in Python's `re`: seconds at n=28, holding the GIL.
    (context.workspace / "evil.txt").write_text("a" * 28 + "b\n" + "a" * 40 + "\n")
    tool = FileOperations(tool_settings)
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.05)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.1)
    try:
        found = await _bounded(_op(tool, context, op="search", path=".", pattern=r"(a+)+$"), 30)
    finally:
        done.set()
        await ticking
    print(f"loop lag while searching: max {max(gaps) - 0.05:.3f} s over {len(gaps)} ticks")
    assert isinstance(found, FileOpResult), found
    assert [m.line for m in found.matches or []] == [2]
    assert max(gaps) < 1.0, "the event loop stalled while the regex ran"


async def test_patterns_re2_cannot_run_in_linear_time_are_refused_clearly(
    tool_settings: ToolSettings, context: ToolContext
) -> None:
    tool = FileOperations(tool_settings)
    (context.workspace / "a.txt").write_text("abab\n")
    for pattern in [r"(a)\1", r"a(?=b)"]:
        with pytest.raises(InvalidArguments, match="no backreferences or lookaround"):
            await _op(tool, context, op="search", path=".", pattern=pattern)
    found = await _op(tool, context, op="search", path=".", pattern=r"\bab(?:ab)?$")
    assert [(m.path, m.line) for m in found.matches or []] == [("a.txt", 1)]


@contextlib.contextmanager
def _few_fds_left(spare: int) -> Iterator[None]:
    """The process may open only `spare` more fds (the executor's default soft limit is often 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + spare, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _remove_deep(top: Path) -> None:
    """Python's rmtree recurses once per folder; pytest's clean-up of old temp folders would fail on these."""
    subprocess.run(["rm", "-rf", "--", str(top)], check=True)


def _deep_tree(top: Path, depth: int) -> None:
    """top/d/d/.../d (depth folders) with found.txt at the bottom, as code in the workspace makes it."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(os.open("found.txt", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.close(fd)


async def test_redteam_a_very_deep_path_is_refused_without_an_fd_held_per_folder(
    tool_settings: ToolSettings, context: ToolContext
) -> None:
    # The walk held one fd per folder: a 2000-folder path (4 kB of arguments) took 2000 of the executor's fds.
    tool = FileOperations(tool_settings)
    deep = "d/" * 2000 + "f.txt"
    with _few_fds_left(300), pytest.raises(PathRefused, match="deep"):
        await _op(tool, context, op="write", path=deep, content="x")
    (context.workspace / "made").mkdir()
    try:
        _deep_tree(context.workspace / "made", 2000)
        with _few_fds_left(300), pytest.raises(PathRefused, match="deep"):
            await _op(tool, context, op="read", path="made/" + "d/" * 2000 + "found.txt")
    finally:
        _remove_deep(context.workspace / "made")


async def test_redteam_search_through_a_very_deep_tree_ends_in_a_result(
    tool_settings: ToolSettings, context: ToolContext
) -> None:
    # os.fwalk recursed once per level: RecursionError past ~1000 folders, holding an fd per level meanwhile.
    (context.workspace / "top.txt").write_text("needle\n")
    _deep_tree(context.workspace, 1500)
    tool = FileOperations(tool_settings)
    try:
        with _few_fds_left(300):
            result = await _op(tool, context, op="search", path=".", pattern="needle")
    finally:
        _remove_deep(context.workspace / "d")
    assert [m.path for m in result.matches or []] == ["top.txt"]
    assert result.truncated
