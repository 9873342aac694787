"""The host's file tools and the sandbox take turns in a workspace: a file tool never runs while sandboxed code
is running there, so a check and a later use of a path cannot straddle a change the code makes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from toolbox import ToolContext, ToolSettings
from toolbox.file_operations import FileOpArgs, FileOperations
from toolbox.python_exec import PythonExec, PythonExecArgs
from toolbox.sandbox import RunLimits, SandboxRun
from toolbox.workspace_sides import WorkspaceSides


class SlowSandbox:
    """A sandbox run that takes a while and notes when it ran."""

    name = "slow"

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []

    async def run(self, code: str, workspace: Path, limits: RunLimits, read_only: object = ()) -> SandboxRun:
        started = time.monotonic()
        await asyncio.sleep(0.3)
        self.spans.append((started, time.monotonic()))
        return SandboxRun.model_validate({"backend": "fake", "stdout": "", "stderr": "", "exit_code": 0})


async def test_a_file_tool_waits_for_the_sandbox_running_in_its_workspace(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    settings = ToolSettings(sandbox_backend="auto", search_url=None, http_allowlist=[])
    sandbox = SlowSandbox()
    python_exec = PythonExec(settings, sandbox)  # type: ignore[arg-type]
    files = FileOperations(settings)
    context = ToolContext(workspace=tmp_path)
    read_at: list[float] = []

    async def read() -> None:
        await asyncio.sleep(0.05)  # the sandbox run has started by now
        await files.run(FileOpArgs.model_validate({"op": "read", "path": "notes.txt"}), context)
        read_at.append(time.monotonic())

    await asyncio.gather(python_exec.run(PythonExecArgs(code="pass"), context), read())

    [(_, sandbox_ended)] = sandbox.spans
    assert read_at[0] >= sandbox_ended


async def test_steps_on_one_side_run_together_and_the_other_side_waits() -> None:
    sides = WorkspaceSides()
    log: list[str] = []

    async def use(side: str, name: str, hold_s: float) -> None:
        async with sides.use(side):  # type: ignore[arg-type]
            log.append(f"+{name}")
            await asyncio.sleep(hold_s)
            log.append(f"-{name}")

    await asyncio.gather(use("host", "a", 0.1), use("host", "b", 0.1), use("sandbox", "s", 0.05))

    assert log[:2] == ["+a", "+b"]  # both host steps at once
    assert log.index("+s") > max(log.index("-a"), log.index("-b"))
