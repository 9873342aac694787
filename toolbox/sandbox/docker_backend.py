"""Runs code in a container through the `docker` SDK: Docker itself, or Podman's Docker-compatible service."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.types import LogConfig

from toolbox.errors import SandboxUnavailable
from toolbox.sandbox.base import (
    BackendName,
    RunLimits,
    SandboxRun,
    give_workspace_to,
    runner_args,
    runner_source,
)
from toolbox.sandbox.seccomp_profile import PROFILE_PATH, profile_text
from toolbox.settings import ToolSettings

__all__ = ["DockerSandbox"]

WORKDIR = "/workspace"
LABEL = "troupe.sandbox"
# Seconds the API gets beyond the run's own timeout before the wait counts as the run's timeout.
_API_SLACK_S = 5.0
SHM_BYTES = 16 * 1024 * 1024


class DockerSandbox:
    """No network, read-only root, no capabilities, an unprivileged uid, a seccomp profile without namespaces,
    mount, keyring, bpf, io_uring and the like (`seccomp_profile`), memory/CPU/pids limits, a sized /dev/shm,
    the workspace mounted read-write at /workspace; the runner inside caps output and sets the code's rlimits."""

    name: BackendName = "docker"

    def __init__(self, settings: ToolSettings) -> None:
        self._settings = settings
        self._seccomp: str | None = None
        # The docker SDK blocks for a whole run: runs get threads of their own, so slow ones cannot take every
        # thread of the default pool that other tenants' file tools and workspace removals wait on.
        self._threads = ThreadPoolExecutor(
            max_workers=settings.max_concurrent_runs, thread_name_prefix="docker-run"
        )

    def _client(self, timeout_s: float) -> Any:
        # A fixed API version: auto-detection costs a round trip per client and leaks its socket when the
        # engine is down. 1.41 is served by Docker 20.10+ and Podman 4.x.
        return docker.DockerClient(
            base_url=self._settings.docker_base_url,
            version=self._settings.docker_api_version,
            timeout=max(1, round(timeout_s)),
        )

    async def available(self) -> str | None:
        return await asyncio.to_thread(self._check)

    def _check(self) -> str | None:
        url, image = self._settings.docker_base_url, self._settings.image
        unreachable = _unix_socket_problem(url)
        if unreachable is not None:
            return f"no Docker-compatible engine answers at {url} ({unreachable})"
        try:
            client = self._client(5)
            try:
                client.ping()
                client.images.get(image)
            finally:
                client.close()
        except docker.errors.ImageNotFound:
            return f"the engine at {url} has no image {image!r} (build it: bash infra/sandbox.sh install)"
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            return f"no Docker-compatible engine answers at {url} ({type(e).__name__}: {e})"
        return None

    async def run(
        self, code: str, workspace: Path, limits: RunLimits, read_only: Sequence[Path] = ()
    ) -> SandboxRun:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._threads, functools.partial(self._run, code, workspace, limits, read_only)
        )

    def _run(self, code: str, workspace: Path, limits: RunLimits, read_only: Sequence[Path]) -> SandboxRun:
        s = self._settings
        give_workspace_to(workspace, s.sandbox_uid, s.sandbox_gid)
        client = self._client(limits.timeout_s + _API_SLACK_S)
        started = time.monotonic()
        try:
            container = self._create(client, code, workspace, limits, read_only)
        except docker.errors.ImageNotFound:
            client.close()
            raise SandboxUnavailable(
                f"image {s.image!r} not found (build it: bash infra/sandbox.sh install)"
            ) from None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            client.close()
            raise SandboxUnavailable(f"docker backend at {s.docker_base_url}: {e}") from None
        try:
            container.start()
            timed_out = False
            try:
                status = container.wait(timeout=limits.timeout_s)
                exit_code: int | None = int(status.get("StatusCode", -1))
            except requests.exceptions.RequestException as e:
                if not _is_read_timeout(e):
                    raise SandboxUnavailable(f"docker backend: lost the engine during the run: {e}") from None
                timed_out, exit_code = True, None
                with contextlib.suppress(docker.errors.APIError):
                    container.kill()
            duration = time.monotonic() - started
            container.reload()
            oom = bool(container.attrs.get("State", {}).get("OOMKilled", False))
            stdout = _capped(container, limits.max_output_bytes, stdout=True)
            stderr = _capped(container, limits.max_output_bytes, stdout=False)
        finally:
            with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
                container.remove(force=True)
            client.close()
        cap = limits.max_output_bytes
        return SandboxRun(
            backend=self.name,
            stdout=stdout[:cap].decode("utf-8", "replace"),
            stderr=stderr[:cap].decode("utf-8", "replace"),
            exit_code=exit_code,
            timed_out=timed_out,
            output_exceeded=len(stdout) > cap or len(stderr) > cap,
            oom_killed=oom and not timed_out,
            duration_s=round(duration, 3),
        )

    def _create(
        self, client: Any, code: str, workspace: Path, limits: RunLimits, read_only: Sequence[Path]
    ) -> Any:
        s = self._settings
        memory = f"{limits.memory_mb}m"
        volumes = {str(workspace.resolve()): {"bind": WORKDIR, "mode": "rw"}}
        for root in read_only:
            volumes[str(root.resolve())] = {"bind": str(root.resolve()), "mode": "ro"}
        return client.containers.create(
            s.image,
            [
                "python3",
                "-E",
                "-s",
                "-c",
                runner_source(),
                *runner_args(limits, code, rlimit_processes=False),
            ],
            network_mode="none",
            mem_limit=memory,
            memswap_limit=memory,
            nano_cpus=int(limits.cpus * 1_000_000_000),
            pids_limit=limits.max_processes,
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges", self._seccomp_option(client)],
            shm_size=SHM_BYTES,
            user=f"{s.sandbox_uid}:{s.sandbox_gid}",
            volumes=volumes,
            working_dir=WORKDIR,
            tmpfs={"/tmp": "rw,size=16m,mode=1777"},
            # The image's environment only: nothing of the service's (its secrets) reaches the code.
            environment={"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},
            labels={LABEL: "1"},
            # The runner caps what it forwards, but code can write to /proc/1/fd/1 directly: bound the log too.
            log_config=LogConfig(type="k8s-file", config={"max-size": str(4 * limits.max_output_bytes)}),
            detach=True,
        )

    def _seccomp_option(self, client: Any) -> str:
        # Docker takes the profile's JSON in the API call; Podman's compat API takes a path it opens itself.
        if self._seccomp is None:
            components = client.version().get("Components") or []
            podman = any("podman" in str(c.get("Name", "")).lower() for c in components)
            self._seccomp = f"seccomp={PROFILE_PATH}" if podman else f"seccomp={profile_text()}"
        return self._seccomp


def _unix_socket_problem(url: str) -> str | None:
    """Why a unix:// engine socket cannot be connected to, checked with a socket we close ourselves (the SDK
    leaks its socket when the connect fails)."""
    if not url.startswith("unix://"):
        return None
    path = url.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(path)
        except OSError as e:
            return f"{type(e).__name__}: {e.strerror or e}"
    return None


def _is_read_timeout(error: requests.exceptions.RequestException) -> bool:
    # Over a unix socket the SDK reports its read timeout as a ConnectionError wrapping urllib3's.
    return isinstance(error, requests.exceptions.ReadTimeout) or "timed out" in str(error).lower()


def _capped(container: Any, cap: int, *, stdout: bool) -> bytes:
    """At most cap+1 bytes of one stream (the extra byte says it was longer); the log's max-size bounds the read."""
    data: bytes = container.logs(stdout=stdout, stderr=not stdout)
    return data[: cap + 1]
