from __future__ import annotations

import asyncio
import re

import pytest

from toolbox import (
    InvalidArguments,
    Registry,
    ResourceLimitExceeded,
    ToolContext,
    ToolSettings,
    ToolTimeout,
    run_tool,
)
from toolbox.python_exec import PythonExec, PythonExecArgs
from toolbox.sandbox import FakeSandbox, RunLimits, SandboxRun, stop_error

LIMITS = RunLimits(
    timeout_s=2, memory_mb=64, cpus=1, max_processes=8, max_output_bytes=100, max_file_bytes=1000
)


def _run(**facts: object) -> SandboxRun:
    base: dict[str, object] = {"backend": "fake", "stdout": "", "stderr": "", "exit_code": 0}
    return SandboxRun.model_validate(base | facts)


def test_a_run_that_ended_on_its_own_is_not_an_error() -> None:
    assert stop_error(_run(exit_code=1, stderr="Traceback...\nValueError: x"), LIMITS) is None


@pytest.mark.parametrize(
    ("facts", "kind", "reason"),
    [
        ({"timed_out": True, "exit_code": None}, ToolTimeout, "wall-clock timeout of 2 s"),
        ({"output_exceeded": True, "exit_code": 137}, ResourceLimitExceeded, "more than 100 bytes of output"),
        ({"oom_killed": True, "exit_code": 137}, ResourceLimitExceeded, "memory limit of 64 MiB"),
        (
            {"exit_code": 1, "stderr": "Traceback\nMemoryError\n"},
            ResourceLimitExceeded,
            "memory limit .*MemoryError",
        ),
        ({"exit_code": 137}, ResourceLimitExceeded, "SIGKILL: most likely the memory limit"),
        ({"exit_code": 153}, ResourceLimitExceeded, "SIGXFSZ: the file size limit"),
    ],
)
def test_stopped_runs_get_a_clear_reason(facts: dict[str, object], kind: type, reason: str) -> None:
    error = stop_error(_run(**facts), LIMITS)
    assert isinstance(error, kind)
    assert error is not None
    assert re.search(reason, str(error)), str(error)


async def test_python_exec_returns_the_run(tool_settings: ToolSettings, context: ToolContext) -> None:
    sandbox = FakeSandbox(lambda code: _run(stdout="42\n"))
    registry = Registry([PythonExec(tool_settings, sandbox)])
    out = await run_tool(registry, "python_exec", {"code": "print(6*7)"}, context)
    assert out["stdout"] == "42\n"
    assert out["exit_code"] == 0
    assert sandbox.codes == ["print(6*7)"]


async def test_a_stopped_run_raises_with_the_partial_result(
    tool_settings: ToolSettings, context: ToolContext
) -> None:
    sandbox = FakeSandbox(lambda code: _run(stdout="partial", timed_out=True, exit_code=None))
    registry = Registry([PythonExec(tool_settings, sandbox)])
    with pytest.raises(ToolTimeout, match="wall-clock timeout") as caught:
        await run_tool(registry, "python_exec", {"code": "while True: pass", "timeout_s": 1}, context)
    assert caught.value.details["stdout"] == "partial"
    assert caught.value.retryable


def test_the_timeout_argument_is_capped_by_the_settings(tool_settings: ToolSettings) -> None:
    capped = tool_settings.model_copy(update={"exec_timeout_s": 3.0, "exec_max_timeout_s": 5.0})
    tool = PythonExec(capped, FakeSandbox(lambda code: _run()))
    assert tool.limits_for(PythonExecArgs(code="x", timeout_s=999)).timeout_s == 5.0
    assert tool.limits_for(PythonExecArgs(code="x")).timeout_s == 3.0


async def test_code_over_the_size_limit_is_refused(tool_settings: ToolSettings, context: ToolContext) -> None:
    registry = Registry(
        [PythonExec(tool_settings.model_copy(update={"max_code_bytes": 5}), FakeSandbox(lambda code: _run()))]
    )
    with pytest.raises(InvalidArguments, match="longer than 5 bytes"):
        await run_tool(registry, "python_exec", {"code": "print('hello')"}, context)


async def test_sandbox_runs_beyond_the_limit_wait_their_turn(
    tool_settings: ToolSettings, context: ToolContext
) -> None:
    running = most = 0

    class SlowSandbox:
        name = "slow"

        async def run(self, code: str, workspace: object, limits: RunLimits, read_only: object) -> SandboxRun:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.05)
            running -= 1
            return _run()

    tool = PythonExec(tool_settings.model_copy(update={"max_concurrent_runs": 2}), SlowSandbox())  # type: ignore[arg-type]

    results = await asyncio.gather(*(tool.run(PythonExecArgs(code="pass"), context) for _ in range(6)))

    assert len(results) == 6
    assert most == 2
