"""Real sandboxes (the local Podman service and bubblewrap) and a scripted local HTTP server."""

from __future__ import annotations

import json
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from toolbox import ToolContext, ToolSettings
from toolbox.python_exec import PythonExec
from toolbox.sandbox.base import Sandbox
from toolbox.sandbox.bwrap_backend import BwrapSandbox
from toolbox.sandbox.docker_backend import DockerSandbox

BACKENDS = ["docker", "bwrap"]
TIMEOUT_S = 3.0
# What a test may ask for above the default (the run beside a fork bomb: starting a sandbox takes seconds on
# a loaded machine).
MAX_TIMEOUT_S = 30.0
OUTPUT_CAP = 16 * 1024
MEMORY_MB = 128


def sandbox_settings(backend: str) -> ToolSettings:
    return ToolSettings(
        sandbox_backend=backend,  # type: ignore[arg-type]
        exec_timeout_s=TIMEOUT_S,
        exec_max_timeout_s=MAX_TIMEOUT_S,
        memory_mb=MEMORY_MB,
        max_processes=32,
        max_output_bytes=OUTPUT_CAP,
    )


@pytest.fixture(scope="session", params=BACKENDS)
async def python_exec(request: pytest.FixtureRequest) -> PythonExec:
    settings = sandbox_settings(request.param)
    sandbox: Sandbox = DockerSandbox(settings) if request.param == "docker" else BwrapSandbox(settings)
    problem = await sandbox.available()
    if problem is not None:
        pytest.fail(
            f"{request.param} sandbox unavailable: {problem} (start it with `make infra-up`)", pytrace=False
        )
    return PythonExec(settings, sandbox)


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A directory the sandbox uid can reach: pytest's tmp_path sits under a root-only (0700) directory, which
    the bwrap backend (running as the sandbox uid) cannot traverse; task workspaces live in reachable places."""
    path = Path(tempfile.mkdtemp(prefix="troupe-sandbox-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sandbox_context(reachable_dir: Path) -> ToolContext:
    workspace = reachable_dir / "workspace"
    workspace.mkdir()
    return ToolContext(workspace=workspace)


Route = Callable[[str, dict[str, list[str]], dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


def _not_found(*_: object) -> tuple[int, dict[str, str], bytes]:
    return 404, {}, b"not found"


class ScriptedServer:
    """An HTTP server on 127.0.0.1 answering each path with a scripted function; records what it got."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                url = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                length = int(headers.get("content-length", "0"))
                body = self.rfile.read(length) if length else b""
                server.requests.append((self.command, self.path, headers))
                route = server.routes.get(url.path, _not_found)
                status, extra, payload = route(self.command, parse_qs(url.query), headers, body)
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})

    def json(self, path: str, payload: object, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.routes[path] = lambda *_: (status, {"Content-Type": "application/json"}, body)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


@pytest.fixture
def http_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server
