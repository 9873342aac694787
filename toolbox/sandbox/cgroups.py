"""A cgroup per bubblewrap run: total memory, process count and CPU share of everything the code starts.

rlimits are per process (four processes under a 256 MiB RLIMIT_AS hold a gigabyte between them) and know
nothing of CPU share; a cgroup bounds the whole run. cgroup v1 (one hierarchy per controller, as on this
machine) and v2 (one unified hierarchy) are both handled: under v1 a child is made in each controller's
hierarchy below the service's own cgroup; under v2 a child of the service's own cgroup, which must already
delegate the controllers (list them in its cgroup.subtree_control). Whatever cannot be set up is reported,
limit by limit, so the tool's result can say which limits held only per process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CONTROLLERS", "RunCgroup", "open_run_cgroup"]

CONTROLLERS = ("memory", "pids", "cpu")
_CPU_PERIOD_US = 100_000
_REMOVE_TRIES = 50


@dataclass(frozen=True)
class _Hierarchy:
    version: int
    directory: Path  # the service's own cgroup in this hierarchy


@dataclass
class RunCgroup:
    """The cgroup directories of one run (one per v1 controller, or one under v2), and what could not be set."""

    directories: list[Path] = field(default_factory=list)
    unenforced: list[str] = field(default_factory=list)
    _oom_files: list[Path] = field(default_factory=list)

    def add(self, pid: int) -> list[str]:
        """Moves `pid` (not yet running the code) into every directory, its children inherit them; says
        which directories it could not join."""
        problems = []
        for directory in self.directories:
            try:
                (directory / "cgroup.procs").write_text(str(pid))
            except OSError as e:
                problems.append(f"cannot join the cgroup {directory} ({e.strerror}): its limits do not hold")
        return problems

    def oom_killed(self) -> bool:
        for path in self._oom_files:
            with contextlib.suppress(OSError, ValueError):
                for line in path.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        return False

    def remove(self) -> None:
        """Kills whatever is still in the run's cgroups and removes them."""
        for directory in self.directories:
            for _ in range(_REMOVE_TRIES):
                for pid in _pids(directory):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)  # EBUSY until the killed processes are gone


def _pids(directory: Path) -> list[int]:
    try:
        return [int(p) for p in (directory / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _mounts() -> list[tuple[str, Path, str, set[str]]]:
    """(root within the hierarchy, mount point, fs type, super options) of every cgroup mount."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[3], Path(fields[4]), tail[0], set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """The service's cgroup path per v1 controller, and under "" its v2 path."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _below(mount_root: str, mount_point: Path, own: str) -> Path:
    relative = os.path.relpath(own, mount_root) if own.startswith(mount_root) else own.lstrip("/")
    return (mount_point / relative).resolve() if relative != "." else mount_point


def _hierarchies() -> dict[str, _Hierarchy]:
    """Where each controller can be set: a v1 hierarchy that has it, else v2 where it is delegated."""
    own = _own_paths()
    found: dict[str, _Hierarchy] = {}
    mounts = _mounts()
    for root, point, kind, options in mounts:
        if kind != "cgroup":
            continue
        for name in CONTROLLERS:
            if name in options and name in own and name not in found:
                found[name] = _Hierarchy(1, _below(root, point, own[name]))
    for root, point, kind, _ in mounts:
        if kind != "cgroup2" or "" not in own:
            continue
        directory = _below(root, point, own[""])
        with contextlib.suppress(OSError):
            delegated = set((directory / "cgroup.subtree_control").read_text().split())
            for name in CONTROLLERS:
                if name in delegated and name not in found:
                    found[name] = _Hierarchy(2, directory)
    return found


def _limits(
    version: int, controller: str, memory_bytes: int, processes: int, cpus: float
) -> list[tuple[str, str]]:
    quota = max(1000, int(cpus * _CPU_PERIOD_US))
    if version == 1:
        return {
            "memory": [
                ("memory.limit_in_bytes", str(memory_bytes)),
                ("memory.memsw.limit_in_bytes", str(memory_bytes)),
            ],
            "pids": [("pids.max", str(processes))],
            "cpu": [("cpu.cfs_period_us", str(_CPU_PERIOD_US)), ("cpu.cfs_quota_us", str(quota))],
        }[controller]
    return {
        "memory": [("memory.max", str(memory_bytes)), ("memory.swap.max", "0")],
        "pids": [("pids.max", str(processes))],
        "cpu": [("cpu.max", f"{quota} {_CPU_PERIOD_US}")],
    }[controller]


_WHAT = {"memory": "total memory", "pids": "process count", "cpu": "CPU share"}
# Files that may be missing without weakening the limit (no swap accounting: there is no swap to limit).
_OPTIONAL = {"memory.memsw.limit_in_bytes", "memory.swap.max"}


def open_run_cgroup(memory_bytes: int, processes: int, cpus: float) -> RunCgroup:
    """A fresh cgroup for one run with the limits set; each limit that could not be set is in `unenforced`."""
    run = RunCgroup()
    try:
        hierarchies = _hierarchies()
    except OSError as e:
        hierarchies = {}
        run.unenforced.append(f"no cgroup limits: cannot read the cgroup hierarchy ({e.strerror})")
    made: dict[Path, Path] = {}
    name = f"troupe-sandbox-{uuid.uuid4().hex[:12]}"
    for controller in CONTROLLERS:
        where = hierarchies.get(controller)
        if where is None:
            run.unenforced.append(
                f"{_WHAT[controller]}: no cgroup {controller} controller available to this service "
                "(per-process rlimits only)"
            )
            continue
        try:
            directory = made.get(where.directory)
            if directory is None:
                directory = where.directory / name
                directory.mkdir()
                made[where.directory] = directory
                run.directories.append(directory)
            for file, value in _limits(where.version, controller, memory_bytes, processes, cpus):
                try:
                    (directory / file).write_text(value)
                except FileNotFoundError:
                    if file not in _OPTIONAL:
                        raise
            if controller == "memory":
                run._oom_files.append(
                    directory / ("memory.oom_control" if where.version == 1 else "memory.events")
                )
        except OSError as e:
            run.unenforced.append(
                f"{_WHAT[controller]}: cannot set up a cgroup in {where.directory} ({e.strerror}; "
                "the service needs write access there) (per-process rlimits only)"
            )
    return run
