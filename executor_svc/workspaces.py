"""Task workspaces' lifecycle: made on a task's first plan, capped in size, removed when the task ends.

A workspace is a size-capped tmpfs mounted on the task's folder, so code that fills it gets ENOSPC instead of
filling the executor's disk (this disk has no quota support). Mounting needs root (CAP_SYS_ADMIN): without it
the workspace is a plain folder with no cap, and the executor says so once in its log. The tmpfs lives in
memory, charged to whoever writes it (a sandbox's memory cgroup when there is one).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import shutil
from pathlib import Path

import structlog

__all__ = ["Workspaces"]

log = structlog.get_logger("troupe.executor.workspaces")

_MS_NOSUID, _MS_NODEV = 0x2, 0x4
_MNT_DETACH = 0x2
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class Workspaces:
    """Every task's workspace below `root`: `open` makes (or finds) one, `release` removes it after
    `retention_s` (negative: kept)."""

    def __init__(self, root: Path, quota_mb: int, retention_s: float) -> None:
        self.root = root.resolve()
        self.quota_mb = quota_mb
        self.retention_s = retention_s
        self._pending: set[asyncio.Task[None]] = set()
        self._warned = False

    def path(self, tenant: str | None, task_id: str) -> Path:
        """One folder per tenant and task id, so no task id reaches another tenant's files."""
        for part in (tenant or "_", task_id):
            if not part or "/" in part or "\0" in part or part in (".", ".."):
                raise ValueError(f"{part!r} cannot name a workspace folder")
        return self.root / (tenant or "_") / task_id

    def holds(self, tenant: str | None, task_id: str) -> bool:
        try:
            return self.path(tenant, task_id).exists()
        except ValueError:
            return False

    def open(self, tenant: str | None, task_id: str) -> Path:
        """The task's workspace, made and capped on first use; a later plan of the same task gets it again."""
        workspace = self.path(tenant, task_id)
        workspace.mkdir(parents=True, exist_ok=True)
        if self.quota_mb > 0 and not os.path.ismount(workspace):
            problem = _mount_tmpfs(workspace, self.quota_mb)
            if problem is not None and not self._warned:
                self._warned = True
                log.warning("workspace.no_quota", reason=problem, quota_mb=self.quota_mb)
        return workspace

    def remove(self, tenant: str | None, task_id: str) -> None:
        workspace = self.path(tenant, task_id)
        if os.path.ismount(workspace):
            # Detached: a sandbox still running in it (a task stopped mid-step) keeps it until it ends.
            _libc.umount2(os.fsencode(workspace), _MNT_DETACH)
        shutil.rmtree(workspace, ignore_errors=True)

    async def release(self, tenant: str | None, task_id: str) -> None:
        """Removes the task's workspace now, or after the retention time in the background."""
        if self.retention_s < 0 or not self.holds(tenant, task_id):
            return
        if self.retention_s == 0:
            await asyncio.to_thread(self.remove, tenant, task_id)
            return
        later = asyncio.create_task(self._remove_after(tenant, task_id, self.retention_s))
        self._pending.add(later)
        later.add_done_callback(self._pending.discard)

    async def _remove_after(self, tenant: str | None, task_id: str, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await asyncio.to_thread(self.remove, tenant, task_id)


def _mount_tmpfs(target: Path, size_mb: int) -> str | None:
    """None when a tmpfs of `size_mb` is mounted on `target`, else why not."""
    options = f"size={size_mb}m,mode=0755".encode()
    if _libc.mount(b"tmpfs", os.fsencode(target), b"tmpfs", _MS_NOSUID | _MS_NODEV, options) == 0:
        return None
    err = ctypes.get_errno()
    return (
        f"cannot mount a {size_mb} MiB tmpfs on {target} ({os.strerror(err)}); mounting needs root, so "
        "workspaces have no size cap"
    )
