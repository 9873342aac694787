"""The toolbox's own settings (TROUPE_TOOLS_*): sandbox backend and limits, HTTP policy, search provider."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["SandboxBackendName", "ToolSettings", "default_analysis_cache_dir", "default_docker_url"]

SandboxBackendName = Literal["auto", "docker", "bwrap"]

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _troupe_home() -> Path:
    return Path(os.environ.get("TROUPE_HOME") or _REPO_ROOT / ".troupe")


def default_analysis_cache_dir() -> Path:
    return _troupe_home().resolve() / "cache" / "code_analyzer"


def default_docker_url() -> str:
    """The socket `infra/sandbox.sh start` serves Podman's Docker-compatible API on."""
    return f"unix://{_troupe_home().resolve() / 'run' / 'podman.sock'}"


class ToolSettings(BaseSettings):
    """Limits are per run; the defaults suit short analysis scripts, not long jobs."""

    model_config = SettingsConfigDict(env_prefix="TROUPE_TOOLS_", env_file=".env", extra="ignore")

    sandbox_backend: SandboxBackendName = "auto"
    # DOCKER_HOST is honoured so a machine with real Docker needs no Troupe-specific setting.
    docker_base_url: str = Field(
        default_factory=default_docker_url,
        validation_alias=AliasChoices("TROUPE_TOOLS_DOCKER_BASE_URL", "DOCKER_HOST", "docker_base_url"),
    )
    docker_api_version: str = "1.41"
    image: str = "troupe-sandbox:1"
    bwrap_path: str = "bwrap"
    # The host python the bwrap backend runs (it only sees /usr, so it must live there).
    bwrap_python: str = "/usr/bin/python3"
    # Code runs as this uid:gid, never as the service's user; 65534 is "nobody" on Debian.
    sandbox_uid: int = Field(default=65534, ge=1)
    sandbox_gid: int = Field(default=65534, ge=1)

    exec_timeout_s: float = Field(default=10.0, gt=0)
    exec_max_timeout_s: float = Field(default=60.0, gt=0)
    memory_mb: int = Field(default=256, ge=32)
    cpus: float = Field(default=1.0, gt=0)
    max_processes: int = Field(default=64, ge=4)
    max_output_bytes: int = Field(default=64 * 1024, ge=1024)
    max_file_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_code_bytes: int = Field(default=100_000, ge=1)
    # Sandbox runs one executor process has going at once; more wait their turn (inside their step's timeout).
    max_concurrent_runs: int = Field(default=16, ge=1, le=1_000)

    file_max_read_bytes: int = Field(default=1024 * 1024, ge=1)
    file_max_write_bytes: int = Field(default=1024 * 1024, ge=1)
    file_max_matches: int = Field(default=200, ge=1)

    http_timeout_s: float = Field(default=15.0, gt=0)
    http_max_response_bytes: int = Field(default=1024 * 1024, ge=1)
    http_allowed_methods: list[str] = Field(default_factory=lambda: ["GET", "HEAD"])
    # Hosts or networks (CIDR) that may be reached although private, loopback or link-local.
    http_allowlist: list[str] = Field(default_factory=list)

    search_url: str | None = None
    search_api_key: str | None = None
    search_timeout_s: float = Field(default=10.0, gt=0)
    search_max_results: int = Field(default=10, ge=1, le=50)

    ai_timeout_s: float = Field(default=120.0, gt=0)

    # CPU-bound tools run in a worker process that is killed past these (see toolbox/isolated.py).
    math_timeout_s: float = Field(default=5.0, gt=0)
    math_memory_mb: int = Field(default=64, ge=16)
    analysis_timeout_s: float = Field(default=60.0, gt=0)
    analysis_memory_mb: int = Field(default=1024, ge=64)
    # Share of analysis_timeout_s the analysis may spend before it stops and returns a partial result, so the
    # worker is not killed with nothing; the rest covers the worker's start and sending the result back.
    analysis_budget_share: float = Field(default=0.75, gt=0, lt=1)
    # What the analyser learnt per file, kept under the hash of the file's bytes (code_analyzer/facts_cache.py);
    # the folder must be the service's own. 0 MiB turns the cache off.
    analysis_cache_dir: Path = Field(default_factory=default_analysis_cache_dir)
    analysis_cache_mb: int = Field(default=512, ge=0)
