"""python_exec: runs a Python snippet in a sandbox with the task's workspace as its working directory."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from toolbox.errors import InvalidArguments
from toolbox.registry import ToolContext, ToolSpec
from toolbox.sandbox import RunLimits, Sandbox, choose_sandbox, stop_error
from toolbox.settings import ToolSettings

__all__ = ["PythonExec", "PythonExecArgs", "PythonExecResult"]


class PythonExecArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        min_length=1, description="Python 3 source; the working directory is the task's workspace"
    )
    timeout_s: float | None = Field(
        default=None, gt=0, description="wall-clock limit; capped by the settings"
    )


class PythonExecResult(BaseModel):
    stdout: str
    stderr: str
    exit_code: int | None
    timed_out: bool = False
    truncated: bool = False
    backend: Literal["docker", "bwrap", "fake"]
    duration_s: float
    unenforced_limits: list[str] = Field(
        default_factory=list, description="limits the sandbox could not enforce on this machine, with why"
    )


class PythonExec:
    """Runs code that ended on its own as a result (any exit code); a run the sandbox had to stop (timeout,
    memory, output) raises ToolTimeout or ResourceLimitExceeded carrying the partial result as details."""

    def __init__(self, settings: ToolSettings, sandbox: Sandbox | None = None) -> None:
        self._settings = settings
        self._sandbox = sandbox
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(settings.max_concurrent_runs)
        s = settings
        self.spec = ToolSpec(
            name="python_exec",
            description=(
                "Run a Python 3 snippet in an isolated sandbox (no network, limited memory, processes and time). "
                "The task's workspace is the working directory; print what you want to see."
            ),
            args_model=PythonExecArgs,
            result_model=PythonExecResult,
            timeout_s=s.exec_timeout_s,
            limits={
                "max_timeout_s": s.exec_max_timeout_s,
                "memory_mb": s.memory_mb,
                "cpus": s.cpus,
                "max_processes": s.max_processes,
                "max_output_bytes": s.max_output_bytes,
                "max_file_bytes": s.max_file_bytes,
                "max_code_bytes": s.max_code_bytes,
                "network": False,
            },
        )

    async def _backend(self) -> Sandbox:
        # Chosen on first use, not at construction: nothing connects before a tool actually runs.
        async with self._lock:
            if self._sandbox is None:
                self._sandbox = await choose_sandbox(self._settings)
            return self._sandbox

    def limits_for(self, args: PythonExecArgs) -> RunLimits:
        s = self._settings
        return RunLimits(
            timeout_s=min(args.timeout_s or s.exec_timeout_s, s.exec_max_timeout_s),
            memory_mb=s.memory_mb,
            cpus=s.cpus,
            max_processes=s.max_processes,
            max_output_bytes=s.max_output_bytes,
            max_file_bytes=s.max_file_bytes,
        )

    async def run(self, args: PythonExecArgs, context: ToolContext) -> PythonExecResult:
        if len(args.code.encode()) > self._settings.max_code_bytes:
            raise InvalidArguments(f"python_exec: code is longer than {self._settings.max_code_bytes} bytes")
        if not context.workspace.is_dir():
            raise InvalidArguments(f"python_exec: the workspace {context.workspace} is not a directory")
        limits = self.limits_for(args)
        sandbox = await self._backend()
        async with self._slots, context.sides.use("sandbox"):
            run = await sandbox.run(args.code, context.workspace, limits, context.read_only_roots)
        result = PythonExecResult(
            stdout=run.stdout,
            stderr=run.stderr,
            exit_code=run.exit_code,
            timed_out=run.timed_out,
            truncated=run.output_exceeded,
            backend=run.backend,
            duration_s=run.duration_s,
            unenforced_limits=run.unenforced,
        )
        error = stop_error(run, limits)
        if error is not None:
            error.details = result.model_dump(mode="json")
            raise error
        return result
