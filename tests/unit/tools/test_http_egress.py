"""http_client keeps to the tenant's egress allowlist on every hop, a redirect included."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.unit.tools.test_http_policy import _client
from toolbox import AddressRefused, ToolContext, ToolSettings, run_tool
from toolbox.egress import host_listed

ADDRESSES = {"api.example.com": "93.184.215.14", "evil.example.net": "93.184.215.15"}


def test_the_allowlist_matches_exact_names_and_subdomains_of_wildcards() -> None:
    assert host_listed("API.example.com.", ["api.example.com"])
    assert host_listed("a.b.example.com", ["*.example.com"])
    assert not host_listed("example.com", ["*.example.com"])
    assert not host_listed("badexample.com", ["*.example.com"])
    assert not host_listed("api.example.com.evil.net", ["api.example.com"])


async def test_a_host_outside_the_allowlist_is_refused_before_any_request(
    tool_settings: ToolSettings, tmp_path: Path
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    registry = _client(tool_settings, handler, ADDRESSES)
    context = ToolContext(tmp_path, egress_hosts=("api.example.com",))
    with pytest.raises(AddressRefused, match=r"'evil\.example\.net' is not in the tenant's egress allowlist"):
        await run_tool(registry, "http_client", {"url": "https://evil.example.net/x"}, context)
    assert seen == []


async def test_a_redirect_out_of_the_allowlist_is_refused_at_that_hop(
    tool_settings: ToolSettings, tmp_path: Path
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["host"])
        return httpx.Response(302, headers={"location": "http://evil.example.net/steal"})

    registry = _client(tool_settings, handler, ADDRESSES)
    context = ToolContext(tmp_path, egress_hosts=("*.example.com",))
    with pytest.raises(AddressRefused, match=r"evil\.example\.net"):
        await run_tool(registry, "http_client", {"url": "http://api.example.com/"}, context)
    assert seen == ["api.example.com"]


async def test_an_allowlisted_host_is_reached_and_no_allowlist_allows_any_public_host(
    tool_settings: ToolSettings, tmp_path: Path
) -> None:
    registry = _client(tool_settings, lambda r: httpx.Response(200, text="ok"), ADDRESSES)
    listed = ToolContext(tmp_path, egress_hosts=("api.example.com",))
    out = await run_tool(registry, "http_client", {"url": "http://api.example.com/"}, listed)
    assert out["body"] == "ok"
    out = await run_tool(registry, "http_client", {"url": "http://evil.example.net/"}, ToolContext(tmp_path))
    assert out["body"] == "ok"
