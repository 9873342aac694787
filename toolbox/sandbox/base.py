"""The sandbox interface both backends implement, the data of a run, and a fake for unit tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BackendName",
    "FakeSandbox",
    "RunLimits",
    "Sandbox",
    "SandboxRun",
    "give_workspace_to",
    "runner_args",
    "runner_source",
]

BackendName = Literal["docker", "bwrap", "fake"]


class RunLimits(BaseModel):
    model_config = ConfigDict(frozen=True)

    timeout_s: float = Field(gt=0)
    memory_mb: int = Field(ge=16)
    cpus: float = Field(gt=0)
    max_processes: int = Field(ge=1)
    max_output_bytes: int = Field(ge=1)
    max_file_bytes: int = Field(ge=1)


class SandboxRun(BaseModel):
    """What happened, as facts; `toolbox.sandbox.outcome` turns them into a reason."""

    backend: BackendName
    stdout: str
    stderr: str
    exit_code: int | None
    timed_out: bool = False
    output_exceeded: bool = False
    oom_killed: bool = False
    duration_s: float = 0.0
    # Limits this backend could not enforce here, each with why (a cgroup it could not create, say).
    unenforced: list[str] = Field(default_factory=list)


class Sandbox(Protocol):
    @property
    def name(self) -> BackendName: ...

    async def available(self) -> str | None:
        """None when the backend can run code, else why not."""
        ...

    async def run(
        self, code: str, workspace: Path, limits: RunLimits, read_only: Sequence[Path] = ()
    ) -> SandboxRun:
        """Run `code` with `workspace` read-write at /workspace and each `read_only` root at its own path."""
        ...


class FakeSandbox:
    """Answers every run with what `respond` returns; records the code it was given."""

    name: BackendName = "fake"

    def __init__(self, respond: Callable[[str], SandboxRun]) -> None:
        self.respond = respond
        self.codes: list[str] = []

    async def available(self) -> str | None:
        return None

    async def run(
        self, code: str, workspace: Path, limits: RunLimits, read_only: Sequence[Path] = ()
    ) -> SandboxRun:
        self.codes.append(code)
        return self.respond(code)


def runner_source() -> str:
    """The text of `runner.py`, run inside the sandbox as `python3 -c`."""
    return (Path(__file__).parent / "runner.py").read_text(encoding="utf-8")


def runner_args(limits: RunLimits, code: str, *, rlimit_processes: bool = True) -> list[str]:
    """The runner's command line. RLIMIT_NPROC counts every process of the uid on the host, so it is shared
    by concurrent runs; a backend with a per-run process limit (a pids cgroup) turns it off."""
    return [
        str(limits.max_output_bytes),
        str(limits.memory_mb * 1024 * 1024),
        str(limits.max_processes if rlimit_processes else 0),
        str(limits.max_file_bytes),
        str(int(limits.timeout_s) + 1),
        code,
    ]


def give_workspace_to(workspace: Path, uid: int, gid: int) -> None:
    """Code runs as an unprivileged uid; when the service is root, the task's workspace becomes that uid's.

    Without this the sandboxed code could not write its own workspace. The walk holds a folder fd at every
    level and changes names relative to it without following symlinks, so a folder swapped for a symlink by
    code still running in the workspace cannot lead it outside.
    """
    if os.geteuid() != 0:
        return
    root = os.open(workspace.resolve(), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.chown(root, uid, gid)
        for _, dirs, files, dir_fd in os.fwalk(".", dir_fd=root, follow_symlinks=False):
            for name in (*dirs, *files):
                with contextlib.suppress(FileNotFoundError):  # removed meanwhile
                    os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
    finally:
        os.close(root)
