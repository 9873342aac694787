"""The processes a benchmark run brings up: the instant LLM, N replicas of each worker, and the gateway.

Each run gets its own topic prefix and database, so it shares the local broker with other users safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from pymongo import AsyncMongoClient

from bench.db_commands import COUNTS_VARIABLE
from bench.in_flight import METRICS_PORT_VARIABLE
from bench.llm import llm_environment, offline_environment
from troupe.kafka import delete_topics

REPO = Path(__file__).resolve().parents[1]
WORKERS = ("planner_svc", "executor_svc", "reviewer_svc")
READY_LINE = "started successfully"
# A fresh admin key per run, in the gateway's key format.
BENCH_API_KEY = "trp_" + secrets.token_urlsafe(32)


def temporal(command: str) -> bool:
    """infra/temporal.sh start|stop: the Temporal dev server of the baseline."""
    return subprocess.run(["bash", str(REPO / "infra" / "temporal.sh"), command], check=False).returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pids() -> dict[str, int]:
    """The local broker's and store's pids, from the pid files infra/ writes (none if they run elsewhere)."""
    run = Path(os.environ.get("TROUPE_DATA_HOME", os.environ.get("TROUPE_HOME", REPO / ".troupe"))) / "run"
    pids = {}
    for server, name in (("kafka broker", "kafka.pid"), ("ferretdb", "ferretdb.pid")):
        with contextlib.suppress(OSError, ValueError):
            pid = int((run / name).read_text().strip())
            if Path(f"/proc/{pid}").exists():
                pids[server] = pid
    return pids


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB: resident now, and its peak."""
    values = {"VmRSS": 0, "VmHWM": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in values:
            values[name] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    cwd: Path = REPO

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited; see {self.log_path}")

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_until(ready: Proc, condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        ready.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{ready.name} not ready after {timeout_s} s; see {ready.log_path}")
        time.sleep(0.05)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@dataclass
class Stack:
    """The benchmark's own deployment: one prefix, one database, one log folder."""

    run_id: str
    log_dir: Path
    kafka: str
    mongo: str
    tuning: dict[str, str] = field(default_factory=dict)
    llm: Proc | None = None
    workers: list[Proc] = field(default_factory=list)
    gateway: Proc | None = None
    gateway_url: str = ""
    # The checkout whose services run (another one measures a baseline side by side), and whether each
    # service counts its MongoDB commands (bench/db_commands.py).
    code: Path = REPO
    counting: bool = False

    @property
    def prefix(self) -> str:
        return f"bench{self.run_id}"

    @property
    def database(self) -> str:
        return f"bench_{self.run_id}"

    def environment(self) -> dict[str, str]:
        # No provider keys of the machine, and no trace export: the services measure without a trace store
        # (make exports an OTLP endpoint whether one runs or not).
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("_API_KEY") and k not in ("OTEL_EXPORTER_OTLP_ENDPOINT", "TROUPE_OTLP_ENDPOINT")
        }
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "TROUPE_LOG_JSON": "true",
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
                "MONGODB_URI": self.mongo,
                "TROUPE_TOPIC_PREFIX": self.prefix,
                "TROUPE_MONGODB_DATABASE": self.database,
                "TROUPE_EXECUTOR_WORKSPACE_ROOT": str(self.log_dir / "workspaces"),
                "TROUPE_EXECUTOR_READ_ONLY_ROOTS": f'["{REPO / "samples"}"]',
                "TROUPE_ADMIN_API_KEY": BENCH_API_KEY,
                "TROUPE_RATE_LIMIT_PER_MINUTE": "100000000",
                # Without the scripted LLM, every role plans and reviews offline (troupe/llm/offline.py).
                **(llm_environment(self.llm_url) if self.llm else offline_environment()),
                **self.tuning,
            }
        )
        return env

    @property
    def llm_url(self) -> str:
        assert self.llm is not None
        return f"http://127.0.0.1:{self.llm.argv[-1]}/v1"

    def start_llm(self, delay_s: float = 0.0) -> None:
        port = free_port()
        self.llm = Proc(
            "llm",
            [sys.executable, "-m", "bench.llm", "--delay", str(delay_s), "--port", str(port)],
            dict(os.environ),
            self.log_dir / "llm.log",
        )
        self.llm.start()
        wait_until(self.llm, lambda: _port_open(port), timeout_s=20)

    def start_workers(self, replicas: int) -> None:
        """Start workers until there are `replicas` of each; extra ones join the same consumer groups."""
        env = self.environment()
        new: list[Proc] = []
        for module in WORKERS:
            have = sum(1 for w in self.workers if w.argv[-1] == module)
            for index in range(have, replicas):
                proc = self._service(
                    f"{module}#{index + 1}",
                    module,
                    {**env, METRICS_PORT_VARIABLE: str(free_port())},
                    self.log_dir / f"{module}-{index + 1}.log",
                )
                proc.start()
                new.append(proc)
        for proc in new:
            wait_until(proc, partial(_logged, proc, READY_LINE))
        self.workers.extend(new)

    def start_gateway(self) -> bool:
        """Start the gateway if this checkout has one that starts; False (and why, in its log) if not."""
        if not (self.code / "gateway_svc" / "__main__.py").exists():
            return False
        port = free_port()
        env = {
            **self.environment(),
            "TROUPE_GATEWAY_PORT": str(port),
            "TROUPE_SERVICE_NAME": "gateway",
            METRICS_PORT_VARIABLE: str(free_port()),
        }
        self.gateway = self._service("gateway_svc", "gateway_svc", env, self.log_dir / "gateway.log")
        self.gateway.start()
        self.gateway_url = f"http://127.0.0.1:{port}"
        try:
            wait_until(self.gateway, lambda: http_ok(f"{self.gateway_url}/readyz"), timeout_s=60)
        except RuntimeError:
            self.gateway.stop()
            self.gateway = None
            return False
        return True

    def _service(self, name: str, module: str, env: dict[str, str], log_path: Path) -> Proc:
        if not self.counting:
            return Proc(name, [sys.executable, "-m", module], env, log_path, cwd=self.code)
        counts = {COUNTS_VARIABLE: str(log_path.with_suffix(".dbcounts.json"))}
        argv = [sys.executable, str(REPO / "bench" / "db_commands.py"), module]
        return Proc(name, argv, {**env, **counts}, log_path, cwd=self.code)

    @property
    def services(self) -> list[Proc]:
        return [*self.workers, *([self.gateway] if self.gateway else [])]

    def metrics_ports(self) -> dict[str, int]:
        """Each service's metrics port (bench/in_flight.py: where it will serve its events in flight)."""
        return {p.name: int(p.env[METRICS_PORT_VARIABLE]) for p in self.services}

    def memory(self) -> dict[str, tuple[int, int]]:
        """Resident memory (now, peak) per running process, KiB."""
        procs = [*self.workers, *([self.gateway] if self.gateway else [])]
        return {p.name: rss_kib(p.pid) for p in procs if p.alive()}

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of every process a task costs: ours, the local servers and this load generator."""
        procs = [*self.workers, *([self.gateway] if self.gateway else []), *([self.llm] if self.llm else [])]
        used = {p.name: cpu_seconds(p.pid) for p in procs if p.alive()}
        for server, pid in server_pids().items():
            used[server] = cpu_seconds(pid)
        used["load generator"] = cpu_seconds(os.getpid())
        return used

    def check(self) -> None:
        for proc in [*self.workers, *([self.gateway] if self.gateway else [])]:
            proc.check()

    def stop(self) -> None:
        for proc in [*reversed(self.workers), *([self.gateway] if self.gateway else []), self.llm]:
            if proc is not None:
                proc.stop()
        self.discard_data()

    def discard_data(self) -> None:
        """Delete the run's topics and database: the broker and store outlive it, and every run would leave
        its partitions (the floor's relay topics included) and a database behind."""
        try:
            asyncio.run(self._discard())
        except Exception as exc:  # a run that failed because a server is away must still say why it failed
            print(
                f"bench: could not delete run {self.run_id}'s topics and database: {exc!r}", file=sys.stderr
            )

    async def _discard(self) -> None:
        prefix = f"{self.prefix}."
        await delete_topics(self.kafka, lambda topic: topic.startswith(prefix))
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            self.mongo, serverSelectionTimeoutMS=5_000
        )
        try:
            await client.drop_database(self.database)
        finally:
            await client.close()


def _logged(proc: Proc, line: str) -> bool:
    return line in proc.log_path.read_text(errors="replace")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
