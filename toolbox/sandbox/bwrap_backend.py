"""Runs code under bubblewrap with the host's python3, for machines without a container engine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from toolbox.errors import SandboxUnavailable
from toolbox.sandbox.base import (
    BackendName,
    RunLimits,
    SandboxRun,
    give_workspace_to,
    runner_args,
    runner_source,
)
from toolbox.sandbox.cgroups import RunCgroup, open_run_cgroup
from toolbox.sandbox.seccomp_filter import bwrap_filter_fd, filter_problem
from toolbox.settings import ToolSettings

__all__ = ["BwrapSandbox"]

WORKDIR = "/workspace"
_READ_CHUNK = 65536
_PROBE = "pass"
TMP_BYTES = 16 * 1024 * 1024
# /dev itself is read-only; /dev/shm (POSIX shared memory, multiprocessing's semaphores) is a tmpfs this big.
SHM_BYTES = 16 * 1024 * 1024
# bwrap starts only once its pid is in the run's cgroups: the gate waits for one line on stdin.
_GATE = ["/bin/sh", "-c", 'read -r go && exec "$@" </dev/null', "troupe-cgroup-gate"]


class BwrapSandbox:
    """Every namespace unshared (network included) and no further user namespace, a seccomp filter
    (`seccomp_filter`), a read-only root holding only /usr and its merged-usr links, fresh /proc, a read-only
    /dev with a sized /dev/shm, a sized /tmp, the workspace bound read-write, a cleared environment, an
    unprivileged uid on the host when the service is root, a cgroup per run (`cgroups`) and the runner's
    rlimits for the code. Killing bwrap ends the whole PID namespace."""

    name: BackendName = "bwrap"

    def __init__(self, settings: ToolSettings) -> None:
        self._settings = settings

    async def available(self) -> str | None:
        missing = await asyncio.to_thread(self._missing)
        if missing is not None:
            return missing
        with _scratch_dir() as scratch:
            limits = RunLimits(
                timeout_s=10,
                memory_mb=256,
                cpus=1,
                max_processes=16,
                max_output_bytes=1024,
                max_file_bytes=1024,
            )
            run = await self._exec(_PROBE, scratch, limits)
        if run.exit_code != 0:
            return (
                f"bubblewrap cannot start a sandbox here (exit {run.exit_code}): {run.stderr.strip()[-300:]}"
            )
        return None

    def _missing(self) -> str | None:
        s = self._settings
        if shutil.which(s.bwrap_path) is None:
            return f"bubblewrap ({s.bwrap_path}) is not installed (apt-get install bubblewrap)"
        if not os.path.isfile(s.bwrap_python):
            return f"no python at {s.bwrap_python} for the bwrap backend"
        return filter_problem()

    async def run(
        self, code: str, workspace: Path, limits: RunLimits, read_only: Sequence[Path] = ()
    ) -> SandboxRun:
        if shutil.which(self._settings.bwrap_path) is None:
            raise SandboxUnavailable(f"bubblewrap ({self._settings.bwrap_path}) is not installed")
        if (problem := filter_problem()) is not None:
            raise SandboxUnavailable(f"bwrap backend: {problem}")
        # In a thread: the walk touches every entry earlier runs left in the workspace (seconds for 200k files).
        await asyncio.to_thread(
            give_workspace_to, workspace, self._settings.sandbox_uid, self._settings.sandbox_gid
        )
        return await self._exec(code, workspace, limits, read_only)

    def _command(
        self, code: str, workspace: Path, read_only: Sequence[Path], limits: RunLimits, seccomp_fd: int
    ) -> list[str]:
        s = self._settings
        cmd = [
            s.bwrap_path,
            "--unshare-all",
            # --disable-userns needs an explicit --unshare-user (--unshare-all only tries it).
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        # Merged-usr systems link /bin, /lib... into /usr: recreate the links so the interpreter can load.
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            link = Path("/") / top
            if link.is_symlink():
                cmd += ["--symlink", os.readlink(link), f"/{top}"]
            elif link.is_dir():
                cmd += ["--ro-bind", str(link), f"/{top}"]
        cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
        cmd += ["--remount-ro", "/dev", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
        for root in read_only:
            cmd += ["--ro-bind", str(root.resolve()), str(root.resolve())]
        cmd += ["--bind", str(workspace.resolve()), WORKDIR, "--chdir", WORKDIR, "--remount-ro", "/"]
        cmd += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp"]
        cmd += ["--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--seccomp", str(seccomp_fd)]
        cmd += ["--", s.bwrap_python, "-E", "-s", "-c", runner_source(), *runner_args(limits, code)]
        return cmd

    async def _exec(
        self, code: str, workspace: Path, limits: RunLimits, read_only: Sequence[Path] = ()
    ) -> SandboxRun:
        if os.geteuid() == 0:
            for path in (workspace, *read_only):
                blocked = _blocked_ancestor(
                    path.resolve(), self._settings.sandbox_uid, self._settings.sandbox_gid
                )
                if blocked is not None:
                    raise SandboxUnavailable(
                        f"bwrap backend: {path} is not reachable by the sandbox uid {self._settings.sandbox_uid} "
                        f"({blocked} is not searchable by it); keep task workspaces under directories with o+x"
                    )
        seccomp_fd = bwrap_filter_fd()
        try:
            command = self._command(code, workspace, read_only, limits, seccomp_fd)
            cgroup = await asyncio.to_thread(
                open_run_cgroup, limits.memory_mb * 1024 * 1024, limits.max_processes, limits.cpus
            )
            try:
                return await self._spawn(command, limits, seccomp_fd, cgroup)
            finally:
                await asyncio.to_thread(cgroup.remove)
        finally:
            os.close(seccomp_fd)

    async def _spawn(
        self, command: list[str], limits: RunLimits, seccomp_fd: int, cgroup: RunCgroup
    ) -> SandboxRun:
        s = self._settings
        # As root, drop to the sandbox uid before bwrap: then the code is not host root even outside its
        # user namespace, and RLIMIT_NPROC counts (the kernel exempts root from it).
        as_root = os.geteuid() == 0
        gated = bool(cgroup.directories)
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *(_GATE + command if gated else command),
            stdin=asyncio.subprocess.PIPE if gated else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin"},
            start_new_session=True,
            pass_fds=(seccomp_fd,),
            user=s.sandbox_uid if as_root else None,
            group=s.sandbox_gid if as_root else None,
            extra_groups=[] if as_root else None,
        )
        assert proc.stdout is not None and proc.stderr is not None
        unenforced = list(cgroup.unenforced)
        if gated:
            assert proc.stdin is not None
            unenforced += cgroup.add(proc.pid)
            proc.stdin.write(b"go\n")
            proc.stdin.close()
        cap = limits.max_output_bytes
        exceeded = asyncio.Event()
        readers = [
            asyncio.create_task(_read_capped(proc.stdout, cap, exceeded)),
            asyncio.create_task(_read_capped(proc.stderr, cap, exceeded)),
        ]
        timed_out = False
        waiter = asyncio.create_task(proc.wait())
        stopper = asyncio.create_task(exceeded.wait())
        try:
            done, _ = await asyncio.wait(
                {waiter, stopper}, timeout=limits.timeout_s, return_when="FIRST_COMPLETED"
            )
            if not done:
                timed_out = True
            if waiter not in done:
                _kill(proc)
            await waiter
            stdout, stderr = [await r for r in readers]
        finally:
            stopper.cancel()
            if proc.returncode is None:
                _kill(proc)
                await proc.wait()
            for task in readers:
                task.cancel()
        status = proc.returncode
        exit_code = None if timed_out else (128 - status if status is not None and status < 0 else status)
        return SandboxRun(
            backend=self.name,
            stdout=stdout[:cap].decode("utf-8", "replace"),
            stderr=stderr[:cap].decode("utf-8", "replace"),
            exit_code=exit_code,
            timed_out=timed_out,
            output_exceeded=len(stdout) > cap or len(stderr) > cap,
            oom_killed=cgroup.oom_killed() and not timed_out,
            duration_s=round(time.monotonic() - started, 3),
            unenforced=unenforced,
        )


def _blocked_ancestor(path: Path, uid: int, gid: int) -> Path | None:
    """The first directory on the way to `path` that uid/gid may not search (bwrap runs as them)."""
    for directory in [*reversed(path.parents), path]:
        st = directory.stat()
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return directory
    return None


def _kill(proc: asyncio.subprocess.Process) -> None:
    # bwrap runs in its own session; killing the group takes bwrap and (through its PID namespace) everything.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _read_capped(stream: asyncio.StreamReader, cap: int, exceeded: asyncio.Event) -> bytes:
    out = bytearray()
    while chunk := await stream.read(_READ_CHUNK):
        if len(out) <= cap:
            out += chunk[: cap + 1 - len(out)]
        if len(out) > cap:
            exceeded.set()
    return bytes(out)


@contextlib.contextmanager
def _scratch_dir() -> Iterator[Path]:
    # The probe runs as the sandbox uid, which must be able to enter its workspace.
    with tempfile.TemporaryDirectory(prefix="troupe-bwrap-probe-") as d:
        os.chmod(d, 0o777)
        yield Path(d)
