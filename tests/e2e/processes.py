"""The four services as separate OS processes, each with its own log file, which tests can kill and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from troupe.settings import Settings

READY_LINE = "started successfully"


def log_says(line: str) -> Callable[[ServiceProcess], bool]:
    return lambda service: line in service.log_path.read_text(errors="replace")[service.log_offset :]


def answers(url: str, timeout_s: float = 1) -> Callable[[ServiceProcess], bool]:
    def check(_: ServiceProcess) -> bool:
        try:
            return httpx.get(url, timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    return check


@dataclass
class ServiceProcess:
    module: str
    env: dict[str, str]
    log_dir: Path
    ready: Callable[[ServiceProcess], bool] = field(default_factory=lambda: log_says(READY_LINE))
    process: subprocess.Popen[bytes] | None = None
    log_offset: int = 0
    starts: int = 0
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.log_dir / f"{self.module}.log"

    def start(self, timeout_s: float = 180) -> None:  # a loaded 2-core machine needed over 60 s
        self.starts += 1
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout_s
        while not self.ready(self):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.module} exited with {self.process.returncode}; see {self.log_path}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.module} not ready after {timeout_s} s; see {self.log_path}")
            time.sleep(0.1)

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()


SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def deployment_environment(deployment: Settings, workspaces: Path, extra: dict[str, str]) -> dict[str, str]:
    """The environment of services that make up `deployment`: its servers, topic prefix and database, task
    workspaces under `workspaces`, the sample projects readable; then `extra`."""
    return base_environment(
        {
            "KAFKA_BOOTSTRAP_SERVERS": deployment.kafka_bootstrap_servers,
            "MONGODB_URI": deployment.mongodb_uri,
            "TROUPE_TOPIC_PREFIX": deployment.topic_prefix,
            "TROUPE_MONGODB_DATABASE": deployment.mongodb_database,
            "TROUPE_EXECUTOR_WORKSPACE_ROOT": str(workspaces),
            "TROUPE_EXECUTOR_READ_ONLY_ROOTS": f'["{SAMPLES}"]',
            **extra,
        }
    )


def base_environment(extra: dict[str, str]) -> dict[str, str]:
    # Provider keys of the machine must not leak into the tests' services.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update({"PYTHONUNBUFFERED": "1", "TROUPE_LOG_JSON": "true"})
    env.update(extra)
    return env
