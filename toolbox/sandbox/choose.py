"""Picks the sandbox backend the settings ask for, or says clearly why none can run code."""

from __future__ import annotations

from toolbox.errors import SandboxUnavailable
from toolbox.sandbox.base import Sandbox
from toolbox.sandbox.bwrap_backend import BwrapSandbox
from toolbox.sandbox.docker_backend import DockerSandbox
from toolbox.settings import ToolSettings

__all__ = ["choose_sandbox"]


async def choose_sandbox(settings: ToolSettings) -> Sandbox:
    """`docker` or `bwrap` as configured; `auto` prefers the container engine and falls back to bubblewrap."""
    candidates: list[Sandbox]
    if settings.sandbox_backend == "docker":
        candidates = [DockerSandbox(settings)]
    elif settings.sandbox_backend == "bwrap":
        candidates = [BwrapSandbox(settings)]
    else:
        candidates = [DockerSandbox(settings), BwrapSandbox(settings)]
    problems = []
    for sandbox in candidates:
        problem = await sandbox.available()
        if problem is None:
            return sandbox
        problems.append(f"{sandbox.name}: {problem}")
    raise SandboxUnavailable(
        f"no sandbox backend can run code (TROUPE_TOOLS_SANDBOX_BACKEND={settings.sandbox_backend}): "
        + "; ".join(problems)
        + ". Start the container engine with `bash infra/sandbox.sh start` or install bubblewrap."
    )
