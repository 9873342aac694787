"""http_client and web_search against real local HTTP servers on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import json
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.tools.conftest import ScriptedServer
from toolbox import (
    AddressRefused,
    ProviderNotConfigured,
    Registry,
    ToolContext,
    ToolFailed,
    ToolSettings,
    ToolTimeout,
    run_tool,
)
from toolbox.address_policy import IPAddress
from toolbox.http_client import HttpClient
from toolbox.web_search import WebSearch


def _http(**settings: Any) -> Registry:
    return Registry([HttpClient(ToolSettings(**settings))])


async def test_loopback_is_refused_by_default(
    http_server: ScriptedServer, sandbox_context: ToolContext
) -> None:
    http_server.json("/data", {"ok": True})
    with pytest.raises(AddressRefused, match="loopback address; refused"):
        await run_tool(_http(), "http_client", {"url": f"{http_server.url}/data"}, sandbox_context)
    with pytest.raises(AddressRefused, match="loopback"):
        url = f"http://localhost:{http_server.port}/data"
        await run_tool(_http(), "http_client", {"url": url}, sandbox_context)
    assert http_server.requests == []


async def test_the_allowlist_opens_loopback(
    http_server: ScriptedServer, sandbox_context: ToolContext
) -> None:
    http_server.json("/data", {"ok": True})
    registry = _http(http_allowlist=["127.0.0.1/32"])
    out: Any = await run_tool(
        registry,
        "http_client",
        {"url": f"{http_server.url}/data?x=1", "headers": {"X-Trace": "t1"}},
        sandbox_context,
    )
    assert out["status_code"] == 200
    assert out["body"] == '{"ok": true}'
    assert out["headers"]["content-type"] == "application/json"
    assert out["truncated"] is False
    method, path, headers = http_server.requests[0]
    assert (method, path, headers["x-trace"]) == ("GET", "/data?x=1", "t1")
    assert headers["host"] == f"127.0.0.1:{http_server.port}"


async def test_post_needs_the_method_allowed(
    http_server: ScriptedServer, sandbox_context: ToolContext
) -> None:
    http_server.routes["/echo"] = lambda method, query, headers, body: (201, {}, body.upper())
    args = {"url": f"{http_server.url}/echo", "method": "POST", "body": "hello"}
    with pytest.raises(AddressRefused, match="method POST is not allowed"):
        await run_tool(_http(http_allowlist=["127.0.0.1"]), "http_client", args, sandbox_context)
    registry = _http(http_allowlist=["127.0.0.1"], http_allowed_methods=["GET", "POST"])
    out: Any = await run_tool(registry, "http_client", args, sandbox_context)
    assert (out["status_code"], out["body"]) == (201, "HELLO")


async def test_large_responses_are_capped(http_server: ScriptedServer, sandbox_context: ToolContext) -> None:
    http_server.routes["/big"] = lambda *_: (200, {}, b"a" * 100_000)
    registry = _http(http_allowlist=["127.0.0.1"], http_max_response_bytes=1000)
    out: Any = await run_tool(registry, "http_client", {"url": f"{http_server.url}/big"}, sandbox_context)
    assert (len(out["body"]), out["truncated"]) == (1000, True)


async def test_a_slow_server_times_out(http_server: ScriptedServer, sandbox_context: ToolContext) -> None:
    def slow(*_: object) -> tuple[int, dict[str, str], bytes]:
        time.sleep(3.0)
        return 200, {}, b"late"

    http_server.routes["/slow"] = slow
    # 1 s, not less: the runner's backstop is twice the tool's timeout, and on a loaded machine a 0.2 s timeout
    # was once overtaken by its 0.4 s backstop.
    registry = _http(http_allowlist=["127.0.0.1"], http_timeout_s=1.0)
    with pytest.raises(ToolTimeout, match=r"did not answer within 1(\.0)? s"):
        await run_tool(registry, "http_client", {"url": f"{http_server.url}/slow"}, sandbox_context)


async def test_redirects_are_followed_and_rechecked(
    http_server: ScriptedServer, sandbox_context: ToolContext
) -> None:
    http_server.json("/final", {"here": 1})
    http_server.routes["/hop"] = lambda *_: (302, {"Location": "/final"}, b"")
    http_server.routes["/meta"] = lambda *_: (302, {"Location": "http://169.254.169.254/latest/"}, b"")
    registry = _http(http_allowlist=["127.0.0.1"])
    out: Any = await run_tool(registry, "http_client", {"url": f"{http_server.url}/hop"}, sandbox_context)
    assert (out["status_code"], out["url"]) == (200, f"{http_server.url}/final")
    with pytest.raises(AddressRefused, match="link-local"):
        await run_tool(registry, "http_client", {"url": f"{http_server.url}/meta"}, sandbox_context)


async def test_connection_refused_is_a_clear_failure(sandbox_context: ToolContext) -> None:
    with ScriptedServer() as server:
        url = f"{server.url}/gone"
    with pytest.raises(ToolFailed, match=r"request to .* failed: ConnectError"):
        await run_tool(_http(http_allowlist=["127.0.0.1"]), "http_client", {"url": url}, sandbox_context)


def _searxng(server: ScriptedServer, key: str) -> None:
    def search(
        method: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if headers.get("authorization") != f"Bearer {key}":
            return 403, {}, b"forbidden"
        q = query["q"][0]
        results = [
            {
                "title": f"{q} result {i}",
                "url": f"https://example.com/{i}",
                "content": f"about {q} {i}",
                "engine": "x",
            }
            for i in range(8)
        ]
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps({"query": q, "results": results}).encode(),
        )

    server.routes["/search"] = search


async def test_web_search_through_a_searxng_json_api(
    http_server: ScriptedServer, sandbox_context: ToolContext
) -> None:
    _searxng(http_server, key="k1")
    registry = Registry([WebSearch(ToolSettings(search_url=http_server.url, search_api_key="k1"))])
    out: Any = await run_tool(registry, "web_search", {"query": "kafka", "max_results": 3}, sandbox_context)
    assert out["provider"] == "searxng"
    assert out["results"] == [
        {"title": f"kafka result {i}", "url": f"https://example.com/{i}", "snippet": f"about kafka {i}"}
        for i in range(3)
    ]
    assert http_server.requests[0][1].startswith("/search?q=kafka&format=json")


async def test_web_search_reports_provider_errors(
    http_server: ScriptedServer, sandbox_context: ToolContext
) -> None:
    _searxng(http_server, key="right")
    registry = Registry([WebSearch(ToolSettings(search_url=http_server.url, search_api_key="wrong"))])
    with pytest.raises(ToolFailed, match="answered HTTP 403"):
        await run_tool(registry, "web_search", {"query": "x"}, sandbox_context)
    with pytest.raises(ProviderNotConfigured, match="no search provider is configured"):
        await run_tool(
            Registry([WebSearch(ToolSettings(search_url=None))]),
            "web_search",
            {"query": "x"},
            sandbox_context,
        )


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for troupe-test.local (made with the openssl CLI)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
         "-out", str(cert), "-subj", "/CN=troupe-test.local", "-addext", "subjectAltName=DNS:troupe-test.local"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_https_is_pinned_to_the_checked_address_and_verified_against_the_name(
    tls_files: tuple[Path, Path], sandbox_context: ToolContext
) -> None:
    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.1")]

    trust = ssl.create_default_context(cafile=str(cert))
    client = HttpClient(
        ToolSettings(http_allowlist=["127.0.0.1"]),
        transport=httpx.AsyncHTTPTransport(verify=trust),
        resolver=resolve,
    )
    with ScriptedServer(tls=server_tls) as server:
        server.json("/secure", {"tls": True})
        out: Any = await run_tool(
            Registry([client]),
            "http_client",
            {"url": f"https://troupe-test.local:{server.port}/secure"},
            sandbox_context,
        )
        assert (out["status_code"], out["body"]) == (200, '{"tls": true}')
        assert server.requests[0][2]["host"] == f"troupe-test.local:{server.port}"
        # Pinning to the IP does not weaken verification: the certificate is checked against the name.
        with pytest.raises(ToolFailed, match="ConnectError"):
            await run_tool(
                Registry([client]),
                "http_client",
                {"url": f"https://other.local:{server.port}/secure"},
                sandbox_context,
            )
