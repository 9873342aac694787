"""The executor's own settings (TROUPE_EXECUTOR_*), on top of the shared ones."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from troupe.settings import Settings

__all__ = ["ExecutorSettings"]


class ExecutorSettings(Settings):
    # Each task gets a fresh writable workspace below this folder.
    executor_workspace_root: Path = Path(".troupe/workspaces")
    # Folders every task may read (the code_analyzer's projects, for instance); nothing here is writable.
    # None by default: any task of any tenant may read these, so the working directory (with .troupe/, the
    # admin key and the database files below it) must never be one by accident.
    executor_read_only_roots: list[Path] = Field(default_factory=list)
    executor_max_parallel_steps: int = Field(default=4, ge=1, le=64)
    # Each workspace is a tmpfs of this size (0: a plain folder, no cap); mounting it needs root.
    executor_workspace_quota_mb: int = Field(default=256, ge=0)
    # How long a workspace stays after its task ends (0: removed at once; negative: kept).
    executor_workspace_retention_s: float = 0.0
    # How often the executor looks for waits for approval that expired (decision 16).
    executor_approval_sweep_s: float = Field(default=1.0, gt=0, le=60)
