"""A Kafka broker or a FerretDB of a test's own, on free ports, that it may stop and start: the shared servers
of `make infra-up` are never touched. The infra scripts run them from the shared cache (TROUPE_HOME) with
their data, log and pid file in the test's folder (TROUPE_DATA_HOME), which a restart keeps."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.conftest import REPO, free_port


@dataclass
class PrivateServer:
    """One infra script's server: `start()` and `stop()` return how long they took, in seconds."""

    script: str
    home: Path
    env: dict[str, str]  # its ports first

    @property
    def address(self) -> str:
        return f"127.0.0.1:{next(iter(self.env.values()))}"

    @property
    def log(self) -> Path:
        return self.home / "log" / f"{self.script}.log"

    def start(self) -> float:
        return self._run("start")

    def stop(self) -> float:
        return self._run("stop")

    def _run(self, command: str) -> float:
        env = os.environ | {"TROUPE_DATA_HOME": str(self.home)} | self.env
        started = time.monotonic()
        done = subprocess.run(
            ["bash", str(REPO / "infra" / f"{self.script}.sh"), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.script}.sh {command} failed:\n{done.stdout}\n{done.stderr}")
        return time.monotonic() - started


@contextmanager
def private_kafka(home: Path) -> Iterator[PrivateServer]:
    env = {
        "TROUPE_KAFKA_PORT": str(free_port()),
        "TROUPE_KAFKA_CONTROLLER_PORT": str(free_port()),
        "TROUPE_KAFKA_HEAP": "512m",  # a few hundred partitions, not the shared broker's thousands
    }
    with _running(PrivateServer("kafka", home, env)) as server:
        yield server


@contextmanager
def private_ferretdb(home: Path) -> Iterator[PrivateServer]:
    with _running(PrivateServer("ferretdb", home, {"TROUPE_MONGO_PORT": str(free_port())})) as server:
        yield server


@contextmanager
def _running(server: PrivateServer) -> Iterator[PrivateServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
