"""Which network addresses tools may reach: public ones only, unless the allowlist opens a host or network."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from toolbox.errors import AddressRefused

__all__ = ["IPAddress", "check_address", "check_host_name"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services answer on link-local addresses (refused anyway) and on these names.
_METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data"})


def _allowed(host: str, ip: IPAddress | None, allowlist: Sequence[str]) -> bool:
    for entry in allowlist:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == host.lower():
            return True
        if ip is not None:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if ip.version == network.version and ip in network:
                return True
    return False


def check_host_name(host: str, allowlist: Sequence[str]) -> None:
    """Refuse well-known metadata host names before any DNS lookup."""
    if host.lower().rstrip(".") in _METADATA_NAMES and not _allowed(host, None, allowlist):
        raise AddressRefused(f"{host!r} is a cloud metadata host; refused")


def check_address(host: str, ip: IPAddress, allowlist: Sequence[str]) -> None:
    """Refuse every address that is not globally routable (private, loopback, link-local incl. cloud metadata
    169.254.169.254, shared, reserved, multicast) unless the host or a network holding it is allowlisted."""
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    effective = mapped or ip
    if effective.is_global and not effective.is_multicast:
        return
    if _allowed(host, effective, allowlist):
        return
    kind = (
        "loopback"
        if effective.is_loopback
        else "link-local (cloud metadata)"
        if effective.is_link_local
        else "private"
        if effective.is_private
        else "non-public"
    )
    raise AddressRefused(
        f"{host!r} resolves to {effective}, a {kind} address; refused (allow it with TROUPE_TOOLS_HTTP_ALLOWLIST)"
    )
