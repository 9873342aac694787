"""The tool registry and the tools the executor runs (sandboxed where they execute code).

`build_registry(settings)` gives every built-in tool plus those of the `troupe.tools` entry-point group;
`run_tool(registry, name, args, context)` validates, runs and checks one call. Every failure is a
`ToolError` (see `toolbox.errors`). See docs/tools.md.
"""

from toolbox.builtin import build_registry
from toolbox.errors import (
    AddressRefused,
    InvalidArguments,
    InvalidResult,
    PathRefused,
    ProviderNotConfigured,
    ResourceLimitExceeded,
    SandboxUnavailable,
    ToolError,
    ToolFailed,
    ToolNotFound,
    ToolTimeout,
)
from toolbox.registry import (
    ENTRY_POINT_GROUP,
    Complete,
    Registry,
    Tool,
    ToolContext,
    ToolSpec,
    check_result,
    run_tool,
    validate_args,
)
from toolbox.settings import ToolSettings

__all__ = [
    "ENTRY_POINT_GROUP",
    "AddressRefused",
    "Complete",
    "InvalidArguments",
    "InvalidResult",
    "PathRefused",
    "ProviderNotConfigured",
    "Registry",
    "ResourceLimitExceeded",
    "SandboxUnavailable",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolFailed",
    "ToolNotFound",
    "ToolSettings",
    "ToolSpec",
    "ToolTimeout",
    "build_registry",
    "check_result",
    "run_tool",
    "validate_args",
]
