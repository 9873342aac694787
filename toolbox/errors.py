"""The one error hierarchy of the toolbox: every tool failure the executor sees is a ToolError.

`retryable` tells the executor whether running the same step again may succeed (a timeout, a provider
that was down) or is pointless (bad arguments, a refused path). `details` carries what a tool still
produced before it was stopped (a sandbox run's partial output), so the step result can show it.
"""

from __future__ import annotations

from pydantic import JsonValue

__all__ = [
    "AddressRefused",
    "InvalidArguments",
    "InvalidResult",
    "PathRefused",
    "ProviderNotConfigured",
    "ResourceLimitExceeded",
    "SandboxUnavailable",
    "ToolError",
    "ToolFailed",
    "ToolNotFound",
    "ToolTimeout",
]


class ToolError(Exception):
    """Base of every tool failure; its message is the reason shown in the step result."""

    retryable = False

    def __init__(self, reason: str, *, details: dict[str, JsonValue] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details: dict[str, JsonValue] = details or {}


class ToolNotFound(ToolError):
    """No tool of that name is registered."""


class InvalidArguments(ToolError):
    """The arguments do not match the tool's Args model (or break one of its rules)."""


class InvalidResult(ToolError):
    """An output does not have the tool's Result form."""


class PathRefused(ToolError):
    """A path leaves the task's workspace and its allowed read-only roots, or needs write access it lacks."""


class AddressRefused(ToolError):
    """An HTTP request would reach an address or use a method the settings do not allow."""


class ProviderNotConfigured(ToolError):
    """A tool needs an external service (a search API, an LLM) that is not configured."""


class SandboxUnavailable(ToolError):
    """No sandbox backend is reachable: neither a Docker-compatible engine nor bubblewrap."""


class ResourceLimitExceeded(ToolError):
    """The sandbox stopped a run that hit a limit: memory, processes, output size."""


class ToolTimeout(ToolError):
    """The tool ran past its wall-clock timeout and was stopped."""

    retryable = True


class ToolFailed(ToolError):
    """The tool ran but its work failed (an HTTP transport error, a search provider error, an LLM error)."""

    retryable = True
