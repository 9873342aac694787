"""What http_client puts on the wire, read raw by a local server: one Host header, no credentials elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from toolbox import Registry, ToolContext, ToolSettings, run_tool
from toolbox.http_client import HttpClient


@dataclass
class RawServer:
    """Answers every request with `reply` and keeps each request's header lines exactly as they came."""

    reply: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    requests: list[list[str]] = field(default_factory=list)
    port: int = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head.decode("latin-1").split("\r\n")[1:-2])
        writer.write(self.reply)
        await writer.drain()
        writer.close()

    def header(self, request: int, name: str) -> list[str]:
        return [
            line.split(":", 1)[1].strip()
            for line in self.requests[request]
            if line.split(":", 1)[0].lower() == name
        ]


@pytest.fixture
async def raw_servers() -> AsyncIterator[tuple[RawServer, RawServer]]:
    pair = (RawServer(), RawServer())
    servers = [await asyncio.start_server(s._serve, "127.0.0.1", 0) for s in pair]
    for recorder, server in zip(pair, servers, strict=True):
        recorder.port = server.sockets[0].getsockname()[1]
    yield pair
    for server in servers:
        server.close()
        await server.wait_closed()


def _http() -> Registry:
    return Registry([HttpClient(ToolSettings(http_allowlist=["127.0.0.1"], search_url=None))])


@pytest.mark.parametrize("name", ["host", "HOST", "Host", "hOsT"])
async def test_a_step_s_host_header_is_dropped_whatever_its_case(
    raw_servers: tuple[RawServer, RawServer], tmp_path: Path, name: str
) -> None:
    server, _ = raw_servers
    args = {"url": f"http://127.0.0.1:{server.port}/", "headers": {name: "internal.example", "X-A": "1"}}
    out: Any = await run_tool(_http(), "http_client", args, ToolContext(tmp_path))
    assert out["status_code"] == 200
    assert server.header(0, "host") == [f"127.0.0.1:{server.port}"]
    assert server.header(0, "x-a") == ["1"]


async def test_credentials_are_not_sent_to_another_origin_a_redirect_names(
    raw_servers: tuple[RawServer, RawServer], tmp_path: Path
) -> None:
    first, other = raw_servers
    first.reply = (
        f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{other.port}/next\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    ).encode()
    secrets = {
        "Authorization": "Bearer s3cret",
        "cookie": "session=s3cret",
        "Proxy-Authorization": "Basic eA==",
    }
    args = {"url": f"http://127.0.0.1:{first.port}/", "headers": {**secrets, "X-Keep": "yes"}}
    out: Any = await run_tool(_http(), "http_client", args, ToolContext(tmp_path))
    assert out["status_code"] == 200
    assert first.header(0, "authorization") == ["Bearer s3cret"]
    assert first.header(0, "cookie") == ["session=s3cret"]
    for name in ("authorization", "cookie", "proxy-authorization"):
        assert other.header(0, name) == [], name
    assert other.header(0, "x-keep") == ["yes"]


async def test_credentials_follow_a_redirect_within_the_same_origin(
    raw_servers: tuple[RawServer, RawServer], tmp_path: Path
) -> None:
    server, _ = raw_servers
    server.reply = b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    args = {"url": f"http://127.0.0.1:{server.port}/", "headers": {"Authorization": "Bearer s3cret"}}
    with pytest.raises(Exception, match="redirects"):
        await run_tool(_http(), "http_client", args, ToolContext(tmp_path))
    assert all(server.header(i, "authorization") == ["Bearer s3cret"] for i in range(len(server.requests)))
    assert len(server.requests) > 1
