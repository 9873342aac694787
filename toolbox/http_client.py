"""http_client: one HTTP request with httpx, to public addresses only unless the settings allow more."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from toolbox.address_policy import IPAddress, check_address, check_host_name
from toolbox.egress import check_egress
from toolbox.errors import AddressRefused, InvalidArguments, ToolFailed, ToolTimeout
from toolbox.registry import ToolContext, ToolSpec
from toolbox.settings import ToolSettings

__all__ = ["HttpArgs", "HttpClient", "HttpResult", "Resolver", "system_resolver"]

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
_MAX_REDIRECTS = 5
# Set by the client from the URL and the body, whatever a step passes: a second copy under another case would
# go on the wire as a second header, which servers and proxies disagree about.
_CLIENT_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})
# Sent to the origin the step named, never to another one a redirect points at.
_CREDENTIALS = frozenset({"authorization", "cookie", "proxy-authorization"})


def _without(headers: dict[str, str], names: frozenset[str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in names}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


class HttpArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, description="http:// or https:// URL")
    method: str = Field(default="GET", description="an HTTP method the settings allow")
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()


class HttpResult(BaseModel):
    url: str
    status_code: int
    headers: dict[str, str]
    body: str
    truncated: bool = False


class HttpClient:
    """Each hop (the URL and every redirect) is checked against the tenant's egress allowlist, resolved and
    checked, and the connection goes to the checked address, so a DNS answer that changes between check and
    connect (rebinding) cannot slip through, nor a redirect lead outside the allowlist."""

    def __init__(
        self,
        settings: ToolSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._resolve = resolver
        self.spec = ToolSpec(
            name="http_client",
            description=(
                "Make one HTTP request to a public URL and get status, headers and the (size-capped) body. "
                "Private, loopback and cloud-metadata addresses are refused."
            ),
            args_model=HttpArgs,
            result_model=HttpResult,
            timeout_s=settings.http_timeout_s,
            limits={
                "max_response_bytes": settings.http_max_response_bytes,
                "allowed_methods": list(settings.http_allowed_methods),
            },
        )

    async def run(self, args: HttpArgs, context: ToolContext) -> HttpResult:
        allowed = [m.upper() for m in self._settings.http_allowed_methods]
        if args.method not in allowed:
            raise AddressRefused(
                f"http_client: method {args.method} is not allowed (allowed: {', '.join(allowed)})"
            )
        timeout = httpx.Timeout(self._settings.http_timeout_s)
        url = _parse(args.url)
        headers = _without(args.headers, _CLIENT_HEADERS)
        async with httpx.AsyncClient(
            transport=self._transport, timeout=timeout, follow_redirects=False
        ) as client:
            for _ in range(_MAX_REDIRECTS + 1):
                pinned, host = await self._pin(url, context.egress_hosts)
                try:
                    result = await self._fetch(client, args, headers, url, pinned, host)
                except httpx.TimeoutException:
                    raise ToolTimeout(f"http_client: {url} did not answer within {timeout.read} s") from None
                except httpx.HTTPError as e:
                    raise ToolFailed(
                        f"http_client: request to {url} failed: {type(e).__name__}: {e}"
                    ) from None
                if isinstance(result, HttpResult):
                    return result
                if _origin(result) != _origin(url):
                    headers = _without(headers, _CREDENTIALS)
                url = result
        raise ToolFailed(f"http_client: more than {_MAX_REDIRECTS} redirects")

    async def _pin(self, url: httpx.URL, egress: tuple[str, ...] | None) -> tuple[httpx.URL, str]:
        host = url.host
        allowlist = self._settings.http_allowlist
        check_host_name(host, allowlist)
        check_egress("http_client", host, egress)
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                addresses = await self._resolve(host, url.port or (443 if url.scheme == "https" else 80))
            except OSError as e:
                raise ToolFailed(f"http_client: cannot resolve {host!r}: {e}") from None
        if not addresses:
            raise ToolFailed(f"http_client: {host!r} has no address")
        for ip in addresses:
            check_address(host, ip, allowlist)
        ip = addresses[0]
        return url.copy_with(host=str(ip)), host

    async def _fetch(
        self,
        client: httpx.AsyncClient,
        args: HttpArgs,
        headers: dict[str, str],
        url: httpx.URL,
        pinned: httpx.URL,
        host: str,
    ) -> HttpResult | httpx.URL:
        request = client.build_request(
            args.method,
            pinned,
            headers={**headers, "Host": url.netloc.decode("ascii")},
            content=args.body.encode() if args.body is not None else None,
            extensions={"sni_hostname": host},
        )
        response = await client.send(request, stream=True)
        try:
            if response.is_redirect and "location" in response.headers:
                return _parse(str(url.join(response.headers["location"])))
            body, truncated = await _read_capped(response, self._settings.http_max_response_bytes)
        finally:
            await response.aclose()
        return HttpResult(
            url=str(url),
            status_code=response.status_code,
            headers=dict(response.headers),
            body=body.decode(response.encoding or "utf-8", "replace"),
            truncated=truncated,
        )


def _parse(raw: str) -> httpx.URL:
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as e:
        raise InvalidArguments(f"http_client: invalid URL {raw!r}: {e}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidArguments(f"http_client: only http(s) URLs with a host are allowed, not {raw!r}")
    return url


async def _read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > cap:
            return bytes(body[:cap]), True
    return bytes(body), False
