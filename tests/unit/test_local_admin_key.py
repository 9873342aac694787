"""The local admin key: a file only its owner reads, handed to the gateway's process and no other."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from troupe.cli import local_admin_key

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("planner_svc", "executor_svc", "reviewer_svc", "gateway_svc")
KEY = "trp_local_test_key"

# Stands in for the venv's python: records its environment, then looks started to infra/services.sh.
FAKE_PYTHON = f"""#!/usr/bin/env bash
if [[ $1 == -c ]]; then exec {sys.executable} "$@"; fi
env >"$DUMP/$2.env"
if [[ $2 == gateway_svc ]]; then
  mkdir -p "$DUMP/www" && : >"$DUMP/www/healthz"
  {sys.executable} -m http.server --bind 127.0.0.1 --directory "$DUMP/www" "$TROUPE_GATEWAY_PORT" >/dev/null 2>&1 &
else
  echo "started successfully"
  sleep 300 &
fi
trap 'kill $!; exit 0' TERM
wait
"""


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TROUPE_ADMIN_API_KEY"}
    return env | extra


def _make(directory: Path, **extra: str) -> str:
    """Parse a copy of the Makefile in `directory` and print the environment its recipes get."""
    shutil.copy(REPO / "Makefile", directory / "Makefile")
    done = subprocess.run(
        ["make", "-s", "--eval", "print-env: ; @env", "print-env"],
        cwd=directory,
        env=_environment(**extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_the_makefile_makes_the_key_file_readable_by_its_owner_only(tmp_path: Path) -> None:
    _make(tmp_path)
    made = tmp_path / ".troupe" / "admin-api-key"
    assert made.read_text().startswith("trp_local_")
    assert stat.S_IMODE(made.stat().st_mode) == 0o600


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_the_makefile_narrows_an_existing_key_file_and_exports_no_key(tmp_path: Path) -> None:
    (tmp_path / ".troupe").mkdir()
    existing = tmp_path / ".troupe" / "admin-api-key"
    existing.write_text(KEY + "\n")
    existing.chmod(0o644)
    recipes_see = _make(tmp_path)
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert existing.read_text() == KEY + "\n"
    assert "TROUPE_ADMIN_API_KEY" not in recipes_see
    assert KEY not in recipes_see


@pytest.fixture
def fake_stack(tmp_path: Path) -> Iterator[dict[str, str]]:
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = _environment(
        TROUPE_HOME=str(tmp_path / "home"),
        TROUPE_PYTHON=str(python),
        TROUPE_GATEWAY_PORT=str(port),
        DUMP=str(tmp_path),
    )
    yield env
    subprocess.run(["bash", str(REPO / "infra" / "services.sh"), "stop"], env=env, timeout=120, check=False)


def _started_environments(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    subprocess.run(
        ["bash", str(REPO / "infra" / "services.sh"), "start"],
        env=env,
        timeout=120,
        check=True,
        capture_output=True,
    )
    return {name: (tmp_path / f"{name}.env").read_text() for name in SERVICES}


def test_only_the_gateway_gets_the_admin_key_from_the_environment(
    fake_stack: dict[str, str], tmp_path: Path
) -> None:
    seen = _started_environments(fake_stack | {"TROUPE_ADMIN_API_KEY": KEY}, tmp_path)
    assert f"TROUPE_ADMIN_API_KEY={KEY}\n" in seen["gateway_svc"]
    for name in ("planner_svc", "executor_svc", "reviewer_svc"):
        assert KEY not in seen[name], name


def test_the_gateway_gets_the_admin_key_from_the_local_key_file(
    fake_stack: dict[str, str], tmp_path: Path
) -> None:
    home = Path(fake_stack["TROUPE_HOME"])
    home.mkdir()
    (home / "admin-api-key").write_text(KEY + "\n")
    seen = _started_environments(fake_stack, tmp_path)
    assert f"TROUPE_ADMIN_API_KEY={KEY}\n" in seen["gateway_svc"]
    assert all(KEY not in seen[name] for name in ("planner_svc", "executor_svc", "reviewer_svc"))


def test_the_cli_reads_the_local_key_file_when_the_environment_has_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TROUPE_ADMIN_API_KEY", raising=False)
    monkeypatch.setenv("TROUPE_HOME", str(tmp_path))
    assert local_admin_key() is None
    (tmp_path / "admin-api-key").write_text(KEY + "\n")
    assert local_admin_key() == KEY
    monkeypatch.setenv("TROUPE_ADMIN_API_KEY", "from-env")
    assert local_admin_key() == "from-env"
