"""Which network addresses tools may reach: public ones only, unless the allowlist opens a host or network.

An address is public when it is in no range of IANA's IPv4 and IPv6 special-purpose address registries (an
explicit list, since the standard library's `is_global` follows whatever registry its Python shipped with),
and an IPv6 address must also be global unicast (2000::/3). IPv6 forms that carry an IPv4 address (mapped,
NAT64, 6to4, Teredo) are judged by the IPv4 addresses they carry, since that is where the packets end up.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from toolbox.errors import AddressRefused

__all__ = ["IPAddress", "check_address", "check_host_name", "refusal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services answer on link-local addresses (refused anyway) and on these names.
_METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data"})

# IANA IPv4 Special-Purpose Address Registry, plus multicast; every entry, the globally reachable anycast
# ones included: no tool has a reason to reach them.
_IPV4_SPECIAL = {
    "0.0.0.0/8": "this-network",
    "10.0.0.0/8": "private",
    "100.64.0.0/10": "shared (carrier-grade NAT)",
    "127.0.0.0/8": "loopback",
    "169.254.0.0/16": "link-local (cloud metadata)",
    "172.16.0.0/12": "private",
    "192.0.0.0/24": "IETF protocol assignment",
    "192.0.2.0/24": "documentation",
    "192.31.196.0/24": "AS112",
    "192.52.193.0/24": "AMT",
    "192.88.99.0/24": "6to4 relay anycast",
    "192.168.0.0/16": "private",
    "192.175.48.0/24": "AS112",
    "198.18.0.0/15": "benchmarking",
    "198.51.100.0/24": "documentation",
    "203.0.113.0/24": "documentation",
    "224.0.0.0/4": "multicast",
    "240.0.0.0/4": "reserved",
    "255.255.255.255/32": "broadcast",
}
# IANA IPv6 Special-Purpose Address Registry (less the forms that carry IPv4, judged by what they carry), plus
# the deprecated site-local range; multicast and everything else outside 2000::/3 is refused as not unicast.
_IPV6_SPECIAL = {
    "::1/128": "loopback",
    "::/128": "unspecified",
    "::/96": "IPv4-compatible (deprecated)",
    "64:ff9b:1::/48": "local-use IPv4/IPv6 translation",
    "100::/64": "discard-only",
    "100:0:0:1::/64": "dummy prefix",
    "2001::/23": "IETF protocol assignment",
    "2001:db8::/32": "documentation",
    "2620:4f:8000::/48": "AS112",
    "3fff::/20": "documentation",
    "5f00::/16": "segment routing (SRv6) SIDs",
    "fc00::/7": "unique-local (private)",
    "fe80::/10": "link-local",
    "fec0::/10": "site-local (deprecated)",
}
_V4_NETWORKS = [(ipaddress.IPv4Network(net), kind) for net, kind in _IPV4_SPECIAL.items()]
_V6_NETWORKS = [(ipaddress.IPv6Network(net), kind) for net, kind in _IPV6_SPECIAL.items()]
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TEREDO = ipaddress.IPv6Network("2001::/32")


def _carried(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address carries (mapped, NAT64, 6to4, Teredo server and client), if any."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip in _TEREDO and ip.teredo is not None:
        return list(ip.teredo)
    return None


def refusal(ip: IPAddress) -> tuple[IPAddress, str] | None:
    """Why `ip` is not public: the address that is not (it or an IPv4 address it carries) and its kind."""
    if isinstance(ip, ipaddress.IPv6Address):
        carried = _carried(ip)
        if carried is not None:
            return next((why for v4 in carried if (why := refusal(v4)) is not None), None)
        kind = next((kind for net, kind in _V6_NETWORKS if ip in net), None)
        if kind is None and ip not in _GLOBAL_UNICAST:
            kind = "multicast" if ip.is_multicast else "reserved (not global unicast)"
    else:
        kind = next((kind for net, kind in _V4_NETWORKS if ip in net), None)
    if kind is None and not ip.is_global:  # the standard library's list, for what a newer registry may add
        kind = "non-public"
    return None if kind is None else (ip, kind)


def _allowed(host: str, ips: Sequence[IPAddress], allowlist: Sequence[str]) -> bool:
    for entry in allowlist:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == host.lower():
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if any(ip.version == network.version and ip in network for ip in ips):
            return True
    return False


def check_host_name(host: str, allowlist: Sequence[str]) -> None:
    """Refuse well-known metadata host names before any DNS lookup."""
    if host.lower().rstrip(".") in _METADATA_NAMES and not _allowed(host, [], allowlist):
        raise AddressRefused(f"{host!r} is a cloud metadata host; refused")


def check_address(host: str, ip: IPAddress, allowlist: Sequence[str]) -> None:
    """Refuse every address that is not public (see the module's docstring) unless the host, or a network
    holding the address or the IPv4 address it carries, is allowlisted."""
    why = refusal(ip)
    if why is None:
        return
    bad, kind = why
    if _allowed(host, [ip, bad], allowlist):
        return
    shown = str(bad) if bad == ip else f"{ip} (carrying {bad})"
    raise AddressRefused(
        f"{host!r} resolves to {shown}, a {kind} address; refused (allow it with TROUPE_TOOLS_HTTP_ALLOWLIST)"
    )
