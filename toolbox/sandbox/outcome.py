"""Why a sandbox run stopped, in words a step result can carry, and which ToolError that is."""

from __future__ import annotations

import signal

from toolbox.errors import ResourceLimitExceeded, ToolError, ToolTimeout
from toolbox.sandbox.base import RunLimits, SandboxRun

__all__ = ["stop_error"]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def stop_error(run: SandboxRun, limits: RunLimits) -> ToolError | None:
    """The error for a run the sandbox stopped, or None for a run that ended on its own (any exit code)."""
    if run.timed_out:
        return ToolTimeout(
            f"the code ran past its wall-clock timeout of {limits.timeout_s:g} s and was killed"
        )
    if run.output_exceeded:
        return ResourceLimitExceeded(
            f"the code wrote more than {limits.max_output_bytes} bytes of output and was stopped "
            "(output truncated)"
        )
    if run.oom_killed:
        return ResourceLimitExceeded(
            f"the code exceeded the memory limit of {limits.memory_mb} MiB and was killed"
        )
    last = _last_line(run.stderr)
    if last.startswith("MemoryError"):
        return ResourceLimitExceeded(
            f"the code reached the memory limit of {limits.memory_mb} MiB (MemoryError)"
        )
    code = run.exit_code
    if code is not None and code > 128 and code - 128 in (signal.SIGKILL, signal.SIGXCPU, signal.SIGXFSZ):
        sig = code - 128
        why = {
            signal.SIGKILL: f"most likely the memory limit of {limits.memory_mb} MiB",
            signal.SIGXCPU: "the CPU-time limit",
            signal.SIGXFSZ: f"the file size limit of {limits.max_file_bytes} bytes",
        }[signal.Signals(sig)]
        return ResourceLimitExceeded(f"the code was killed by {_signal_name(sig)}: {why}")
    return None
