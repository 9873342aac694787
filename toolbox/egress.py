"""The tenant's egress allowlist for network tools: exact host names, or `*.example.com` for its subdomains.

Checked on every hop a tool makes (a redirect included), after the public-address rules: the allowlist can
only narrow where a tool goes, never open a private address.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolbox.errors import AddressRefused

__all__ = ["check_egress", "host_listed"]


def host_listed(host: str, allowlist: Sequence[str]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allowlist:
        entry = entry.lower().rstrip(".")
        if host == entry or (entry.startswith("*.") and host.endswith(entry[1:]) and host != entry[2:]):
            return True
    return False


def check_egress(tool: str, host: str, allowlist: Sequence[str] | None) -> None:
    if allowlist is not None and not host_listed(host, allowlist):
        raise AddressRefused(
            f"{tool}: host {host!r} is not in the tenant's egress allowlist (tenant policy egress_hosts: "
            f"{', '.join(allowlist) or 'none'})"
        )
