from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from toolbox import AddressRefused, InvalidArguments, Registry, ToolContext, ToolSettings, run_tool
from toolbox.address_policy import IPAddress, check_address, check_host_name
from toolbox.http_client import HttpClient


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("fd00:ec2::254", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.100.100.200", "shared"),
        ("0.0.0.0", "this-network"),
    ],
)
def test_non_public_addresses_are_refused(ip: str, kind: str) -> None:
    with pytest.raises(AddressRefused, match=kind):
        check_address("example.test", ipaddress.ip_address(ip), [])


# Each of these passed the policy once: IPv6 forms carrying a non-public IPv4, and special-purpose ranges the
# standard library's is_global list did not know.
ATTACK_ADDRESSES = [
    ("::127.0.0.1", "IPv4-compatible"),
    ("::a9fe:a9fe", "IPv4-compatible"),
    ("64:ff9b::7f00:1", r"carrying 127\.0\.0\.1.*loopback"),
    ("64:ff9b::a9fe:a9fe", r"carrying 169\.254\.169\.254.*link-local"),
    ("64:ff9b:1::a00:1", "local-use IPv4/IPv6 translation"),
    ("2002:7f00:1::1", r"carrying 127\.0\.0\.1.*loopback"),
    ("2002:a00:1::", r"carrying 10\.0\.0\.1.*private"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", r"carrying 127\.0\.0\.1.*loopback"),  # Teredo, client inverted
    ("::ffff:169.254.169.254", "link-local"),
    ("192.0.0.192", "IETF protocol assignment"),
    ("192.0.0.170", "IETF protocol assignment"),
    ("192.88.99.1", "6to4 relay anycast"),
    ("198.18.0.1", "benchmarking"),
    ("192.31.196.1", "AS112"),
    ("240.0.0.1", "reserved"),
    ("224.0.0.251", "multicast"),
    ("255.255.255.255", "broadcast|reserved"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("3fff::1", "documentation"),
    ("5f00::1", "segment routing"),
    ("100::1", "discard-only"),
    ("2001:db8::1", "documentation"),
    ("2001:2::1", "IETF protocol assignment"),
    ("2620:4f:8000::1", "AS112"),
    ("4000::1", "not global unicast"),
]
PUBLIC_ADDRESSES = [
    "93.184.215.14",
    "8.8.8.8",
    "1.1.1.1",
    "151.101.1.69",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001:82a::200e",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize(("ip", "kind"), ATTACK_ADDRESSES)
def test_special_purpose_and_ipv4_carrying_attack_addresses_are_refused(ip: str, kind: str) -> None:
    with pytest.raises(AddressRefused, match=kind):
        check_address("attacker.example", ipaddress.ip_address(ip), [])


@pytest.mark.parametrize("ip", PUBLIC_ADDRESSES)
def test_public_addresses_pass(ip: str) -> None:
    check_address("example.com", ipaddress.ip_address(ip), [])


async def test_a_bracketed_ipv4_compatible_loopback_url_is_refused(
    tool_settings: ToolSettings, tmp_path: Path
) -> None:
    registry = _client(tool_settings, lambda r: httpx.Response(200), {})
    with pytest.raises(AddressRefused, match="IPv4-compatible"):
        await run_tool(registry, "http_client", {"url": "http://[::127.0.0.1]:8000/"}, ToolContext(tmp_path))


def test_the_allowlist_opens_hosts_and_networks() -> None:
    check_address("localhost", ipaddress.ip_address("127.0.0.1"), ["localhost"])
    check_address("svc", ipaddress.ip_address("10.1.2.3"), ["10.0.0.0/8"])
    check_address("x", ipaddress.ip_address("127.0.0.1"), ["127.0.0.1"])
    with pytest.raises(AddressRefused):
        check_address("svc", ipaddress.ip_address("10.1.2.3"), ["192.168.0.0/16", "other"])


def test_metadata_host_names_are_refused_before_dns() -> None:
    with pytest.raises(AddressRefused, match="cloud metadata host"):
        check_host_name("metadata.google.internal", [])
    check_host_name("example.com", [])


def _client(
    settings: ToolSettings, handler: Callable[[httpx.Request], httpx.Response], addresses: dict[str, str]
) -> Registry:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(addresses[host])]

    return Registry([HttpClient(settings, transport=httpx.MockTransport(handler), resolver=resolve)])


async def test_requests_go_to_the_checked_address_with_the_original_host(
    tool_settings: ToolSettings, tmp_path: Path
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="hello", headers={"x-a": "1"})

    registry = _client(tool_settings, handler, {"example.com": "93.184.215.14"})
    out = await run_tool(registry, "http_client", {"url": "http://example.com/p?q=1"}, ToolContext(tmp_path))
    assert (out["status_code"], out["body"], out["truncated"]) == (200, "hello", False)
    assert out["headers"]["x-a"] == "1"  # type: ignore[index,call-overload]
    assert seen[0].url.host == "93.184.215.14"
    assert seen[0].headers["host"] == "example.com"
    assert seen[0].url.path == "/p"


async def test_a_name_resolving_to_a_private_address_is_refused(
    tool_settings: ToolSettings, tmp_path: Path
) -> None:
    registry = _client(tool_settings, lambda r: httpx.Response(200), {"internal.example": "10.0.0.5"})
    with pytest.raises(AddressRefused, match="private"):
        await run_tool(registry, "http_client", {"url": "http://internal.example/"}, ToolContext(tmp_path))


async def test_a_redirect_to_the_metadata_address_is_refused(
    tool_settings: ToolSettings, tmp_path: Path
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data/"})

    registry = _client(tool_settings, handler, {"example.com": "93.184.215.14"})
    with pytest.raises(AddressRefused, match=r"169\.254\.169\.254"):
        await run_tool(registry, "http_client", {"url": "http://example.com/"}, ToolContext(tmp_path))


async def test_methods_are_limited_by_the_settings(tool_settings: ToolSettings, tmp_path: Path) -> None:
    registry = _client(tool_settings, lambda r: httpx.Response(201), {"example.com": "93.184.215.14"})
    with pytest.raises(AddressRefused, match="method POST is not allowed"):
        await run_tool(
            registry, "http_client", {"url": "http://example.com/", "method": "post"}, ToolContext(tmp_path)
        )
    opened = tool_settings.model_copy(update={"http_allowed_methods": ["GET", "POST"]})
    registry = _client(opened, lambda r: httpx.Response(201), {"example.com": "93.184.215.14"})
    out = await run_tool(
        registry,
        "http_client",
        {"url": "http://example.com/", "method": "POST", "body": "{}"},
        ToolContext(tmp_path),
    )
    assert out["status_code"] == 201


async def test_the_response_body_is_capped(tool_settings: ToolSettings, tmp_path: Path) -> None:
    capped = tool_settings.model_copy(update={"http_max_response_bytes": 10})
    registry = _client(
        capped, lambda r: httpx.Response(200, content=b"x" * 1000), {"example.com": "93.184.215.14"}
    )
    out = await run_tool(registry, "http_client", {"url": "http://example.com/"}, ToolContext(tmp_path))
    assert (out["body"], out["truncated"]) == ("x" * 10, True)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "not a url", "http:///nohost"])
async def test_only_http_urls_with_a_host(tool_settings: ToolSettings, tmp_path: Path, url: str) -> None:
    registry = _client(tool_settings, lambda r: httpx.Response(200), {})
    with pytest.raises(InvalidArguments, match="http"):
        await run_tool(registry, "http_client", {"url": url}, ToolContext(tmp_path))
